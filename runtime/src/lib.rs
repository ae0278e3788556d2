//! Resilience patterns for async functions, as attributes: [`retry`], [`timeout`],
//! [`error_boundary`] and [`limit`].
//!
//! ```
//! use std::time::Duration;
//! use steadfast::{error_boundary, retry, timeout};
//!
//! #[derive(Debug)]
//! enum ApiError { Timeout(steadfast::TimedOut), Unavailable }
//! impl std::fmt::Display for ApiError {
//!     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { write!(f, "{self:?}") }
//! }
//! impl std::error::Error for ApiError {}
//! impl From<steadfast::TimedOut> for ApiError {
//!     fn from(e: steadfast::TimedOut) -> Self { ApiError::Timeout(e) }
//! }
//!
//! #[error_boundary("loading profile")]
//! #[retry(attempts = 3, delay = 100ms, jitter = 0)]
//! #[timeout(800ms)]
//! async fn load_profile(id: u64) -> Result<String, ApiError> {
//!     if id == 0 { return Err(ApiError::Unavailable) }
//!     Ok(format!("user {id}"))
//! }
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! assert_eq!(load_profile(7).await.unwrap(), "user 7");
//! let started = tokio::time::Instant::now();
//! assert!(load_profile(0).await.is_err()); // 3 attempts, 100 ms + 200 ms apart
//! assert_eq!(started.elapsed(), Duration::from_millis(300));
//! # }
//! ```
//!
//! # Stacking
//!
//! Stacked attributes compose in reading order: the top one is the outermost layer,
//! and the whole stack on one function expands in one pass into one wrapper.
//!
//! ```text
//! #[error_boundary]      ┌ error_boundary ─────────────────────────────────┐
//! #[retry]               │ ┌ retry (loop) ───────────────────────────────┐ │
//! #[timeout(1s)]         │ │ ┌ timeout: 1 s per attempt ───────────────┐ │ │
//! #[limit(concurrency=8)]│ │ │ ┌ limit: a slot per attempt ──────────┐ │ │ │
//! async fn f() { body }  │ │ │ │ body                                │ │ │ │
//! ```
//!
//! `#[retry] #[timeout(1s)]` gives every attempt its own second;
//! `#[timeout(5s)] #[retry]` gives all attempts together five seconds.
//!
//! # Errors
//!
//! The function returns `Result<T, E>` (any alias). Errors the attributes create
//! enter `E` through `From`: [`TimedOut`] for `#[timeout]`, [`Rejected`] for
//! `#[limit(wait = ..)]`, [`Panicked`] for `#[error_boundary(catch_panic)]`. Only what
//! the given arguments can produce is required. A missing conversion is a compile
//! error at the signature that says what to add.
//!
//! # Testing with a paused clock
//!
//! Every wait uses tokio's clock, so `#[tokio::test(start_paused = true)]` runs
//! backoff sleeps, timeouts and rate spacing instantly and exactly.
//!
//! # Without macros
//!
//! Everything is plain Rust in this crate: [`RetryPolicy`], [`timeout()`](fn@timeout),
//! [`ErrorBoundary`] and [`Limiter`].

mod boundary;
mod error;
mod limit;
mod retry;
mod timeout;

#[doc(hidden)]
pub mod __private;

pub use boundary::ErrorBoundary;
pub use error::{LimitKind, Panicked, Rejected, TimedOut};
pub use limit::{InvalidLimit, Limit, Limiter, LimiterPermit};
pub use retry::{
    AnyError, Backoff, InvalidPolicy, NoHint, RetryAfter, RetryPolicy, RetryWhen, Retrying,
};
pub use steadfast_macros::{error_boundary, limit, retry, timeout};
pub use timeout::timeout;

/// The `backoff` crate, for `#[retry(policy = ..)]` (feature `backoff`).
#[cfg(feature = "backoff")]
pub use backoff;
