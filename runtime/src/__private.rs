//! What the attribute expansions call. Not public API: no semver guarantees.
//!
//! Conversions into the function's return type are passed to the runtime as
//! function pointers built here, where the return type is known; the runtime
//! functions themselves carry no bounds on it. A missing `From` or a non-`Result`
//! return type is therefore reported once, at the signature, with the messages of
//! the diagnostic traits below.

pub use crate::boundary::{
    SourceOf, SourceViaDeref, SourceViaDisplay, SourceViaError, catch_panic,
};
pub use crate::limit::{limit, limit_keyed, limit_keyed_or_reject, limit_or_reject};
#[cfg(feature = "backoff")]
pub use crate::retry::BackoffState;
pub use crate::retry::{Attempts, RetrySite, RetryState, any_error, no_hint};
pub use crate::timeout::{timed_out, timeout_in};
// The public types the expansions name, so that every generated path goes through here.
pub use crate::{Backoff, ErrorBoundary, KeyedLimiter, Limiter, RetryPolicy};
pub use tokio::time::sleep;
pub use tracing::Level;

use crate::{Panicked, Rejected, TimedOut};

/// The return type of an annotated function: a `Result`.
#[diagnostic::on_unimplemented(
    message = "a steadfast attribute needs the function to return `Result<T, E>`, not `{Self}`",
    label = "this must be a `Result` (or an alias of one, such as `io::Result<T>`)",
    note = "retries, timeouts, rejections and caught panics are reported through the `Err` variant"
)]
pub trait Outcome {
    /// The error type `E` of `Result<T, E>`.
    type Error;
    /// The error, if this is an `Err`.
    fn error(&self) -> Option<&Self::Error>;
    /// `Err(error)`.
    fn from_error(error: Self::Error) -> Self;
}

impl<T, E> Outcome for Result<T, E> {
    type Error = E;
    #[inline]
    fn error(&self) -> Option<&E> {
        self.as_ref().err()
    }
    #[inline]
    fn from_error(error: E) -> Self {
        Err(error)
    }
}

/// Type-checks the unreachable "return edge" of the expansion against [`Outcome`].
#[inline(always)]
pub fn outcome<O: Outcome>(out: O) -> O {
    out
}

/// `E: From<TimedOut>`, with a message that says what to add.
#[diagnostic::on_unimplemented(
    message = "`#[timeout]` needs the error type `{Self}` to implement `From<steadfast::TimedOut>`",
    label = "the timeout error enters this type through `From`",
    note = "add `impl From<steadfast::TimedOut> for {Self}`, or return an error type that has it: `std::io::Error`, `anyhow::Error`, `Box<dyn Error + Send + Sync>`"
)]
pub trait FromTimedOut {
    /// `E::from(timed_out)`.
    fn from_timed_out(error: TimedOut) -> Self;
}

impl<E: From<TimedOut>> FromTimedOut for E {
    #[inline]
    fn from_timed_out(error: TimedOut) -> Self {
        E::from(error)
    }
}

/// `E: From<Rejected>`, with a message that says what to add.
#[diagnostic::on_unimplemented(
    message = "`#[limit(wait = ..)]` needs the error type `{Self}` to implement `From<steadfast::Rejected>`",
    label = "the rejection enters this type through `From`",
    note = "add `impl From<steadfast::Rejected> for {Self}`, return `anyhow::Error` or `Box<dyn Error + Send + Sync>`, or drop `wait` to queue without a bound"
)]
pub trait FromRejected {
    /// `E::from(rejected)`.
    fn from_rejected(error: Rejected) -> Self;
}

impl<E: From<Rejected>> FromRejected for E {
    #[inline]
    fn from_rejected(error: Rejected) -> Self {
        E::from(error)
    }
}

/// `E: From<Panicked>`, with a message that says what to add.
#[diagnostic::on_unimplemented(
    message = "`#[error_boundary(catch_panic)]` needs the error type `{Self}` to implement `From<steadfast::Panicked>`",
    label = "a caught panic enters this type through `From`",
    note = "add `impl From<steadfast::Panicked> for {Self}`, return `anyhow::Error` or `Box<dyn Error + Send + Sync>`, or remove `catch_panic`"
)]
pub trait FromPanicked {
    /// `E::from(panicked)`.
    fn from_panicked(error: Panicked) -> Self;
}

impl<E: From<Panicked>> FromPanicked for E {
    #[inline]
    fn from_panicked(error: Panicked) -> Self {
        E::from(error)
    }
}

/// `Err(E::from(timed_out))` for the function's return type `O`.
#[inline]
pub fn on_timeout<O: Outcome>(error: TimedOut) -> O
where
    O::Error: FromTimedOut,
{
    O::from_error(O::Error::from_timed_out(error))
}

/// `Err(E::from(rejected))` for the function's return type `O`.
#[inline]
pub fn on_rejected<O: Outcome>(error: Rejected) -> O
where
    O::Error: FromRejected,
{
    O::from_error(O::Error::from_rejected(error))
}

/// `Err(E::from(panicked))` for the function's return type `O`.
#[inline]
pub fn on_panic<O: Outcome>(error: Panicked) -> O
where
    O::Error: FromPanicked,
{
    O::from_error(O::Error::from_panicked(error))
}

/// The errors of `#[error_boundary]` and `#[retry]` are logged with `Display`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` must implement `std::fmt::Display`: steadfast logs errors with `Display`",
    label = "the function's error type",
    note = "implement `Display` for `{Self}` (thiserror's `#[error(..)]` does)"
)]
pub trait Loggable: std::fmt::Display {}

impl<E: std::fmt::Display + ?Sized> Loggable for E {}

/// `result`'s error, if any, as `Display` (for the log) and as itself (for the
/// source-chain dispatch in the expansion, which needs the concrete type).
#[inline]
pub fn boundary_error<O: Outcome>(result: &O) -> Option<(&dyn std::fmt::Display, &O::Error)>
where
    O::Error: Loggable + Sized,
{
    result.error().map(|e| (e as &dyn std::fmt::Display, e))
}

/// Logs an error that leaves an `#[error_boundary]` function.
#[cold]
pub fn log_boundary(
    boundary: &crate::ErrorBoundary,
    error: &dyn std::fmt::Display,
    source: Option<&(dyn std::error::Error + 'static)>,
) {
    boundary.log(error, source);
}

/// An owned argument handed to every attempt of `#[retry]`.
#[diagnostic::on_unimplemented(
    message = "`#[retry]` runs the body once per attempt, so this owned argument of type `{Self}` must be `Clone`: take it by reference (`&{Self}`) instead, or implement `Clone` for it",
    label = "cloned for every attempt"
)]
pub trait RetryArg {
    /// A copy for the next attempt.
    fn clone_for_attempt(&self) -> Self;
}

impl<T: Clone> RetryArg for T {
    #[inline(always)]
    fn clone_for_attempt(&self) -> Self {
        self.clone()
    }
}

/// A copy of an owned argument for one attempt.
#[inline(always)]
pub fn clone_arg<T: RetryArg>(arg: &T) -> T {
    arg.clone_for_attempt()
}
