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
pub use crate::limit::{
    KeyCopy, KeyedAcquire, KeyedSite, LimitKey, key_copy, limit, limit_keyed,
    limit_keyed_or_reject, limit_named, limit_named_or_reject, limit_or_reject, limit_per_key,
    limit_per_key_or_reject,
};
// Around the whole stack: counts the call once, by outcome (feature `metrics`).
pub use crate::metrics::{CallStart, Ended, EndedOther, EndedResult, call_end, call_start};
use crate::metrics::{Outcome as Counted, mark};

/// What the `metrics` feature adds to an annotated function's future at most: the
/// call's start (16 bytes), a limiter's place in its gauges (8) and, for a limiter
/// shared by `using = STATIC`, the static's name (16); 0 without it. For the
/// future-size tests, which run with whatever features the build unified.
pub const METRICS_FUTURE_BYTES: usize = if cfg!(feature = "metrics") { 40 } else { 0 };
#[cfg(feature = "backoff")]
pub use crate::retry::BackoffState;
pub use crate::retry::{Attempts, RetrySite, RetryState, any_error, no_hint, sleep};
// For `on_retry = ..`, `schedule = ..` and `#[retry]` on a plain `fn`.
pub use crate::boundary::catch_panic_blocking;
pub use crate::retry::{Computed, Listed, RetryInfo, Schedule, Started, sleep_blocking};
pub use crate::timeout::{timed_out, timeout_in};
// The public types the expansions name, so that every generated path goes through here.
pub use crate::{Backoff, ErrorBoundary, KeyedLimiter, Limiter, RetryPolicy};
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
    mark(Counted::Timeout);
    O::from_error(O::Error::from_timed_out(error))
}

/// `Err(E::from(rejected))` for the function's return type `O`.
#[inline]
pub fn on_rejected<O: Outcome>(error: Rejected) -> O
where
    O::Error: FromRejected,
{
    mark(Counted::Rejected);
    O::from_error(O::Error::from_rejected(error))
}

/// `Err(E::from(panicked))` for the function's return type `O`.
#[inline]
pub fn on_panic<O: Outcome>(error: Panicked) -> O
where
    O::Error: FromPanicked,
{
    mark(Counted::Panic);
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

/// Whether a retry delay needs a timer: a zero one does not. By value, so that the
/// expansion never borrows the delay (a borrowed local is kept in the future for
/// the whole sleep).
#[inline(always)]
pub const fn is_wait(delay: std::time::Duration) -> bool {
    !delay.is_zero()
}

/// An owned argument handed to every attempt of `#[retry]`.
#[diagnostic::on_unimplemented(
    message = "`#[retry]` runs the body once per attempt, so this owned argument of type `{Self}` must be `Clone`: take it by reference (`&{Self}`) instead, or implement `Clone` for it",
    label = "cloned for every attempt but the last"
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

/// A copy of an owned argument for one attempt. The expansion calls it in the one
/// closure it hands to [`first_attempt`], so a non-`Clone` argument is reported
/// once, at the argument.
#[inline(always)]
pub fn clone_arg<T: RetryArg>(arg: &T) -> T {
    arg.clone_for_attempt()
}

/// [`RetryArg`] for an argument the body needs mutably (a `mut` binding, an `FnMut`
/// closure): the hint is `&mut`, since `&` would not do.
#[diagnostic::on_unimplemented(
    message = "`#[retry]` runs the body once per attempt, so this owned argument of type `{Self}` must be `Clone`: take it by mutable reference (`&mut {Self}`) instead, or implement `Clone` for it",
    label = "cloned for every attempt but the last",
    note = "the body uses it mutably (a `mut` binding, or an `FnMut` closure), so `&{Self}` would not do; every attempt reborrows a `&mut` argument"
)]
pub trait RetryArgMut {
    /// A copy for the next attempt.
    fn clone_for_attempt(&self) -> Self;
}

impl<T: Clone> RetryArgMut for T {
    #[inline(always)]
    fn clone_for_attempt(&self) -> Self {
        self.clone()
    }
}

/// [`clone_arg`] for an argument the body needs mutably.
#[inline(always)]
pub fn clone_arg_mut<T: RetryArgMut>(arg: &T) -> T {
    arg.clone_for_attempt()
}

/// An owned argument of a retried call between attempts: the original, kept until
/// the last attempt takes it, and how to clone it (`clone_arg` in a closure, which
/// is zero-sized).
pub struct KeptArg<T, C> {
    original: Option<T>,
    clone: C,
}

/// One attempt's own copy of an owned argument. It is not `Copy` even when `T` is, so
/// that taking it moves it out and the future need not keep room for it while the
/// attempt runs.
pub struct AttemptArg<T>(T);

impl<T> AttemptArg<T> {
    /// The argument, for the body.
    #[inline(always)]
    pub fn take(self) -> T {
        self.0
    }
}

/// What the later attempts draw `original` from, and the first attempt's copy (the
/// original itself when this attempt is also the `last`).
#[inline(always)]
pub fn first_attempt<T, C: Fn(&T) -> T>(
    original: T,
    last: bool,
    clone: C,
) -> (KeptArg<T, C>, AttemptArg<T>) {
    if last {
        (KeptArg { original: None, clone }, AttemptArg(original))
    } else {
        let copy = AttemptArg(clone(&original));
        (KeptArg { original: Some(original), clone }, copy)
    }
}

impl<T, C: Fn(&T) -> T> KeptArg<T, C> {
    /// The next attempt's copy: a clone, or the original for the `last` attempt;
    /// `None` once the original has been taken.
    #[inline(always)]
    pub fn next(&mut self, last: bool) -> Option<AttemptArg<T>> {
        let arg = if last { self.original.take() } else { self.original.as_ref().map(&self.clone) };
        arg.map(AttemptArg)
    }
}

// ---------------------------------------------------------------- retry: hooks, schedules

/// An `on_retry` hook, with a message that names the argument and its signature.
#[diagnostic::on_unimplemented(
    message = "`on_retry` must be a `Fn(&E, &steadfast::RetryInfo)` for the function's error type `E`: `{Self}` is not",
    label = "called before each backoff sleep with the error and a `&steadfast::RetryInfo`",
    note = "write a closure `|error, info| ..` or the path of a `fn(&E, &steadfast::RetryInfo)`"
)]
pub trait OnRetryHook<E: ?Sized>: Fn(&E, &RetryInfo) {}

impl<E: ?Sized, F: Fn(&E, &RetryInfo)> OnRetryHook<E> for F {}

/// No `on_retry`.
#[inline(always)]
pub fn no_hook<E: ?Sized>(_: &E, _: &RetryInfo) {}

/// The hook of `on_retry = HOOK`, checked against the error type of `_result`.
#[inline(always)]
pub fn on_retry_hook<O: Outcome, H: OnRetryHook<O::Error>>(_result: &O, hook: H) -> H {
    hook
}

/// [`Attempts::after`] with an `on_retry` hook and the delays of `schedule`.
#[inline]
pub fn after_with<O: Outcome, S: Started>(
    state: &mut RetryState<'_, S>,
    result: &O,
    when: impl Fn(&O::Error) -> bool,
    retry_after: impl Fn(&O::Error) -> Option<std::time::Duration>,
    on_retry: impl Fn(&O::Error, &RetryInfo),
    schedule: &mut impl Schedule,
) -> Option<std::time::Duration>
where
    O::Error: Loggable,
{
    state.after_with(result, when, retry_after, on_retry, schedule)
}

/// [`after_with`] with a [`Guard`]: `#[retry(schedule|on_retry, budget)]`, or a retry
/// over a circuit breaker.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub fn after_with_guarded<O: Outcome, S: Started>(
    state: &mut RetryState<'_, S>,
    result: &O,
    when: impl Fn(&O::Error) -> bool,
    retry_after: impl Fn(&O::Error) -> Option<std::time::Duration>,
    on_retry: impl Fn(&O::Error, &RetryInfo),
    schedule: &mut impl Schedule,
    guard: Guard<'_>,
) -> Option<std::time::Duration>
where
    O::Error: Loggable,
{
    state.after_with_guarded(result, when, retry_after, on_retry, schedule, guard)
}

/// The delays of `schedule = EXPR`, one per retry.
#[inline(always)]
pub fn listed<I: IntoIterator<Item = std::time::Duration>>(schedule: I) -> Listed<I::IntoIter> {
    Listed(schedule.into_iter())
}

/// The policy a `schedule = ..` runs under (see `RetryPolicy::for_schedule`).
#[inline(always)]
pub const fn for_schedule(policy: RetryPolicy) -> RetryPolicy {
    policy.for_schedule()
}

/// Runs the body of a plain `fn` under `#[retry]`/`#[error_boundary]` (in a closure, so
/// that its `return` and `?` end the run, not the wrapper).
#[inline(always)]
pub fn call<T>(body: impl FnOnce() -> T) -> T {
    body()
}

/// The attempt about to run (1-based), for `attempt = NAME`.
#[inline(always)]
pub fn attempt_number(state: &impl Attempts) -> u32 {
    state.attempt()
}

// ---------------------------------------------------------------- circuit breaker, retry budget

pub use crate::breaker::BreakerCall;
pub use crate::budget::{IsRetryBudget, budget_exhausted, budget_of, withdraw_retry};
// A retry's decision beside its schedule: a refusal of the breaker below it, a budget.
pub use crate::retry::Guard;
pub use crate::{Breaker, CircuitOpen, RetryBudget};

/// `E: From<CircuitOpen>`, with a message that says what to add.
#[diagnostic::on_unimplemented(
    message = "`#[circuit_breaker]` needs the error type `{Self}` to implement `From<steadfast::CircuitOpen>`",
    label = "a call refused by the open breaker enters this type through `From`",
    note = "add `impl From<steadfast::CircuitOpen> for {Self}`, or return `anyhow::Error` or `Box<dyn Error + Send + Sync>`"
)]
pub trait FromCircuitOpen {
    /// `E::from(circuit_open)`.
    fn from_circuit_open(error: CircuitOpen) -> Self;
}

impl<E: From<CircuitOpen>> FromCircuitOpen for E {
    #[inline]
    fn from_circuit_open(error: CircuitOpen) -> Self {
        E::from(error)
    }
}

/// What `#[circuit_breaker(using = B)]` accepts: a [`Breaker`], or a reference or `Arc`
/// to one.
#[diagnostic::on_unimplemented(
    message = "`#[circuit_breaker(using = ..)]` needs a `steadfast::Breaker`, not `{Self}`",
    label = "not a `Breaker`",
    note = "share one: `static PAYMENTS: steadfast::Breaker = steadfast::Breaker::new();` and `using = PAYMENTS`"
)]
pub trait IsBreaker {
    /// The breaker.
    fn breaker(&self) -> &Breaker;
}

impl IsBreaker for Breaker {
    #[inline(always)]
    fn breaker(&self) -> &Breaker {
        self
    }
}

impl<B: IsBreaker + ?Sized> IsBreaker for &B {
    #[inline(always)]
    fn breaker(&self) -> &Breaker {
        (**self).breaker()
    }
}

impl<B: IsBreaker + ?Sized> IsBreaker for std::sync::Arc<B> {
    #[inline(always)]
    fn breaker(&self) -> &Breaker {
        (**self).breaker()
    }
}

/// The breaker behind `#[circuit_breaker(using = B)]` (`B` is taken by reference).
#[inline(always)]
pub fn breaker_of<B: IsBreaker + ?Sized>(breaker: &B) -> &Breaker {
    breaker.breaker()
}

/// [`breaker_of`] for `using = PATH`: the breaker, which learns `label` (the last
/// segment of the path, the `static`'s name) as the `function` label of its
/// `steadfast_circuit_state` gauge (feature `metrics`; without it, [`breaker_of`]).
#[inline(always)]
pub fn breaker_named<'a, B: IsBreaker + ?Sized>(
    breaker: &'a B,
    label: &'static str,
) -> &'a Breaker {
    let breaker = breaker.breaker();
    #[cfg(feature = "metrics")]
    if breaker.label.get().is_none() {
        let _ = breaker.label.set(label);
    }
    #[cfg(not(feature = "metrics"))]
    let _ = label;
    breaker
}

/// The time until trial calls of a refusal, for the [`Guard`] of a `#[retry]` above
/// the breaker.
#[inline(always)]
pub const fn refusal(open: &CircuitOpen) -> Option<::core::time::Duration> {
    Some(open.retry_after())
}

/// `Err(E::from(circuit_open))` for the function's return type `O`.
#[inline]
pub fn on_circuit_open<O: Outcome>(error: CircuitOpen) -> O
where
    O::Error: FromCircuitOpen,
{
    mark(Counted::CircuitOpen);
    O::from_error(O::Error::from_circuit_open(error))
}

/// `body` through `breaker` as a call of `function`: resolves to `Ok(output)` once the
/// body ran (recorded as `failed` says), or `Err(CircuitOpen)` at once when refused
/// (already reported at DEBUG and naming `function`; pass it to [`on_circuit_open`]).
#[inline]
pub fn breaker_call<'a, F, C>(
    breaker: &'a Breaker,
    function: &'static str,
    failed: C,
    body: F,
) -> BreakerCall<'a, F, C>
where
    F: ::core::future::Future,
    C: Fn(&F::Output) -> bool,
{
    breaker.call(function, failed, body)
}

/// The classifier without `when`: every `Err` is a failure.
#[inline(always)]
pub fn every_error<O: Outcome>(out: &O) -> bool {
    out.error().is_some()
}

/// The classifier with `when = PRED`: an `Err` is a failure when `PRED` is true for it.
#[inline(always)]
pub fn error_when<O: Outcome, W: Fn(&O::Error) -> bool>(out: &O, when: &W) -> bool {
    out.error().is_some_and(when)
}

/// Under `#[retry]`: whether a refusal by an open breaker ends the retry now, i.e. its
/// `retry_after()` is longer than the delay the retry would sleep next anyway.
#[inline]
pub fn refusal_ends_retry(open: &CircuitOpen, next_delay: ::core::time::Duration) -> bool {
    open.retry_after() > next_delay
}

// `#[hedge]`: `hedge(&SITE, after, when, &budget, || attempt_future)`, with
// `static SITE: Hedge = Hedge::after(d) | Hedge::quantile(q)` `.max(n).name("f")`.
pub use crate::hedge::{HedgeAttempt, hedge};
pub use crate::{Hedge, HedgeBudget, NoBudget};

/// The return type of a `#[hedge]` function: a `Result`, whose `Err`s may be hedged.
#[diagnostic::on_unimplemented(
    message = "a steadfast attribute needs the function to return `Result<T, E>`, not `{Self}`",
    label = "this must be a `Result` (or an alias of one, such as `io::Result<T>`)",
    note = "the attempts of a hedged call race until one returns `Ok`"
)]
pub trait HedgeOutcome {
    /// `T` of `Result<T, E>`.
    type Ok;
    /// `E` of `Result<T, E>`.
    type Error;
    /// Itself, as a `Result`.
    fn into_result(self) -> Result<Self::Ok, Self::Error>;
    /// The `Result` as itself.
    fn from_result(result: Result<Self::Ok, Self::Error>) -> Self;
}

impl<T, E> HedgeOutcome for Result<T, E> {
    type Ok = T;
    type Error = E;
    #[inline(always)]
    fn into_result(self) -> Self {
        self
    }
    #[inline(always)]
    fn from_result(result: Self) -> Self {
        result
    }
}

/// The output of a `#[hedge]` call as the function's return type `O` (the identity: it
/// only ties the output to the signature, so a non-`Result` is reported once).
#[inline(always)]
pub fn hedge_output<O: HedgeOutcome>(result: Result<O::Ok, O::Error>) -> O {
    O::from_result(result)
}

/// One attempt of a `#[hedge]` call: the layers below it as a future of the function's
/// return type, which must be a `Result` (reported at the signature when it is not,
/// and only there: the types that follow from it are then errors the compiler does not
/// repeat).
#[inline(always)]
pub fn hedge_attempt<F>(attempt: F) -> HedgeAttempt<F> {
    HedgeAttempt::new(attempt)
}

/// An owned argument handed to every attempt of `#[hedge]`.
#[diagnostic::on_unimplemented(
    message = "`#[hedge]` runs attempts of the body at the same time, so this owned argument of type `{Self}` must be `Clone`: take it by reference (`&{Self}`) instead, or implement `Clone` for it",
    label = "cloned for every attempt"
)]
pub trait HedgeArg {
    /// The copy one attempt owns.
    fn clone_for_attempt(&self) -> Self;
}

impl<T: Clone> HedgeArg for T {
    #[inline(always)]
    fn clone_for_attempt(&self) -> Self {
        self.clone()
    }
}

/// One attempt's own copy of an owned argument (the original stays with the call, for
/// the next attempt).
#[inline(always)]
pub fn hedge_arg<T: HedgeArg>(arg: &T) -> T {
    arg.clone_for_attempt()
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    #[test]
    fn kept_args_clone_until_the_last_attempt_takes_the_original() {
        let clones = Cell::new(0);
        let clone = |s: &String| {
            clones.set(clones.get() + 1);
            s.clone()
        };
        let (mut kept, first) = first_attempt("a".to_owned(), false, clone);
        assert_eq!((first.take(), clones.get()), ("a".to_owned(), 1));
        assert_eq!(kept.next(false).map(AttemptArg::take), Some("a".to_owned()));
        assert_eq!(clones.get(), 2);
        assert_eq!(kept.next(true).map(AttemptArg::take), Some("a".to_owned()));
        assert_eq!(clones.get(), 2, "the last attempt takes the original");
        // Nothing left: the expansion then ends with the last result.
        assert!(kept.next(false).is_none() && kept.next(true).is_none());
    }

    #[test]
    fn a_first_attempt_that_is_the_last_takes_the_original() {
        let (mut kept, only) = first_attempt(vec![1], true, |_: &Vec<i32>| unreachable!());
        assert_eq!(only.take(), [1]);
        assert!(kept.next(true).is_none());
    }
}
