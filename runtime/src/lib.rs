//! Resilience patterns for async functions, as attributes: [`retry`], [`timeout`](macro@timeout),
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
//! [`ErrorBoundary`], [`Limiter`] and [`KeyedLimiter`].

mod boundary;
mod error;
mod limit;
mod retry;
mod timeout;

#[doc(hidden)]
pub mod __private;

pub use boundary::ErrorBoundary;
pub use error::{LimitKind, Panicked, Rejected, TimedOut};
pub use limit::{
    InvalidLimit, KeyedLimit, KeyedLimiter, KeyedPermit, Limit, Limiter, LimiterPermit,
};
pub use retry::{
    AnyError, Backoff, InvalidPolicy, NoHint, RetryAfter, RetryPolicy, RetryWhen, Retrying,
};
/// Re-runs the whole body while it returns `Err` and the policy allows.
///
/// | argument | meaning | default |
/// |---|---|---|
/// | `attempts = N` | total attempts, the first included (N ≥ 1) | 3 |
/// | `delay = D` | the first delay | 100ms |
/// | `backoff = exponential \| linear \| constant` | the k-th retry sleeps `delay·factor^(k-1)`, `delay·k` or `delay` | exponential |
/// | `factor = F` | growth factor of `exponential` (F ≥ 1.0) | 2.0 |
/// | `max_delay = D` | no computed delay is longer, jitter included | 10s |
/// | `jitter = J` | each delay d is drawn uniformly from [d·(1−J), d·(1+J)], then capped by `max_delay`; 0 gives exact delays | 0.5 |
/// | `max_elapsed = D` | no attempt starts later than D after the first started; a delay that would pass it is not slept | none |
/// | `when = PRED` | `Fn(&E) -> bool`: errors for which it is false are returned at once | every error |
/// | `retry_after = HINT` | `Fn(&E) -> Option<Duration>`: `Some(d)` replaces the computed delay (not capped by `max_delay`, bounded by `max_elapsed`) | none |
/// | `policy = EXPR` | feature `backoff`: a `backoff::backoff::Backoff` decides the delays instead of the arguments above | — |
///
/// Durations are written `250ms`, `1.5s`, `2m`, `1h`, `500us`, `10ns`, `0`, as a
/// string (`"250ms"`), or as any `Duration` expression, evaluated at each call.
///
/// Every attempt runs the whole body with its arguments as passed: references are
/// reused, `&mut` references reborrowed (so `&mut self` methods work), owned arguments
/// cloned for each attempt (a non-`Clone` owned argument is a compile error naming
/// it). After the last attempt the last error is returned unchanged. Each retry emits a
/// WARN event (target `steadfast`) with `function`, `attempt`, `max_attempts`,
/// `delay_ms` and `error`. Dropping the future stops retrying at once. The success
/// path allocates nothing and reads no clock (unless `max_elapsed` is set).
///
/// ```
/// use std::time::Duration;
/// use steadfast::retry;
///
/// #[derive(Debug)]
/// enum ApiError { Unavailable, Throttled(Duration), NotFound }
///
/// impl ApiError {
///     fn is_transient(&self) -> bool { !matches!(self, ApiError::NotFound) }
///     fn retry_after(&self) -> Option<Duration> {
///         match self { ApiError::Throttled(d) => Some(*d), _ => None }
///     }
/// }
/// impl std::fmt::Display for ApiError {
///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { write!(f, "{self:?}") }
/// }
///
/// struct Connection { handshakes: u32 }
///
/// impl Connection {
///     // `&mut self` is reborrowed for every attempt.
///     #[retry(attempts = 4, delay = 100ms, jitter = 0, when = ApiError::is_transient,
///             retry_after = ApiError::retry_after)]
///     async fn handshake(&mut self) -> Result<u32, ApiError> {
///         self.handshakes += 1;
///         match self.handshakes {
///             1 => Err(ApiError::Unavailable),
///             2 => Err(ApiError::Throttled(Duration::from_secs(2))),
///             n => Ok(n),
///         }
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let start = tokio::time::Instant::now();
/// let mut conn = Connection { handshakes: 0 };
/// assert_eq!(conn.handshake().await.unwrap(), 3);
/// // 100 ms of backoff, then the server's 2 s.
/// assert_eq!(start.elapsed(), Duration::from_millis(2100));
/// # }
/// ```
pub use steadfast_macros::retry;

/// Cancels the body if it has not finished within the duration, and returns
/// `Err(E::from(TimedOut))`.
///
/// | argument | meaning |
/// |---|---|
/// | `D` | the duration: `800ms`, `1.5s`, `"2s"`, or any `Duration` expression |
///
/// `E` must implement `From<TimedOut>` (`std::io::Error`, `anyhow::Error` and
/// `Box<dyn Error + Send + Sync>` do). [`TimedOut`] displays as "`f` timed out after
/// 800ms". A timeout emits a WARN event (target `steadfast`) with `function` and
/// `timeout_ms`. No timer is armed when the body finishes on its first poll; the
/// deadline is set the first time it waits. Stacked under `#[retry]` each attempt gets
/// its own deadline; above it, all attempts share one.
///
/// ```
/// use std::time::Duration;
/// use steadfast::timeout;
///
/// #[timeout(800ms)]
/// async fn load(delay_ms: u64) -> std::io::Result<u64> {
///     tokio::time::sleep(Duration::from_millis(delay_ms)).await;
///     Ok(delay_ms)
/// }
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// assert_eq!(load(100).await.unwrap(), 100);
/// let err = load(5_000).await.unwrap_err();
/// assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
/// assert_eq!(err.to_string(), "`load` timed out after 800ms");
/// # }
/// ```
pub use steadfast_macros::timeout;

/// Logs every `Err` that leaves the function, once, with context; optionally turns
/// panics into errors.
///
/// | argument | meaning | default |
/// |---|---|---|
/// | `"context"` or `context = "…"` | a message logged with every error | none |
/// | `level = error \| warn \| info \| debug \| trace` | the level of the event | error |
/// | `catch_panic` | a panic in any poll of the body becomes `Err(E::from(Panicked))` | off |
///
/// The event (target `steadfast`) carries `function`, `context`, `error` (its
/// `Display`) and `sources` (the `source()` chain, also for `anyhow::Error` and
/// `Box<dyn Error>`). The error is returned unchanged. The success path logs nothing
/// and allocates nothing. Without `catch_panic`, panics propagate untouched; with it,
/// `E` needs `From<Panicked>` (the panic hook still runs).
///
/// ```
/// use steadfast::{Panicked, error_boundary};
///
/// #[derive(Debug)]
/// enum JobError { Failed, Panicked(Panicked) }
/// impl std::fmt::Display for JobError {
///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { write!(f, "{self:?}") }
/// }
/// impl From<Panicked> for JobError {
///     fn from(p: Panicked) -> Self { JobError::Panicked(p) }
/// }
///
/// #[error_boundary("nightly job", level = warn, catch_panic)]
/// async fn nightly(input: &[u32]) -> Result<u32, JobError> {
///     if input.is_empty() { return Err(JobError::Failed) }
///     Ok(input[3]) // panics on short input
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// assert!(matches!(nightly(&[]).await, Err(JobError::Failed)));    // logged at WARN
/// assert!(matches!(nightly(&[1]).await, Err(JobError::Panicked(_)))); // caught and logged
/// assert_eq!(nightly(&[1, 2, 3, 4]).await.unwrap(), 4);            // nothing logged
/// # }
/// ```
pub use steadfast_macros::error_boundary;

/// Limits how many bodies run at once and how many start per window; callers beyond
/// the limit wait in FIFO order (or are turned away with `wait`).
///
/// | argument | meaning |
/// |---|---|
/// | `concurrency = N` | at most N bodies in flight (a constant) |
/// | `rate = N, per = D` | at most N bodies start in any window of length D (constants, together) |
/// | `wait = D` | a caller without a slot after D returns `Err(E::from(Rejected))` without running the body; `0ms` rejects at once when full |
/// | `using = EXPR` | take slots from a shared limiter: a `static` [`Limiter`], `self.field`, or anything implementing [`Limit`] (instead of `concurrency`/`rate`) |
///
/// Without `using`, the limit belongs to the function: one limiter per annotated
/// function, shared by every caller and task (and every instantiation of a generic
/// function). A slot is released when the body returns, fails, panics or is cancelled;
/// a caller cancelled while queued never runs. Inside `#[retry]` a slot is held per
/// attempt, never across the backoff sleep; under `#[timeout]` the queue time counts.
/// A rejection emits a WARN event with `waited_ms`; waiting longer than 1 s a DEBUG
/// event. Without `wait`, the function may return any type.
///
/// A shared [`Limiter`] can do more than the arguments: [`Limiter::burst`] spaces
/// starts evenly (GCRA), [`Limiter::set_concurrency`] and [`Limiter::set_rate`] change
/// it while it is in use, and [`KeyedLimiter`] holds limits per key (a user, an IP).
///
/// ```
/// use std::time::Duration;
/// use steadfast::{Limiter, Rejected, limit};
///
/// static DB: Limiter = Limiter::concurrency(2);
///
/// #[limit(using = DB)]
/// async fn query(ms: u64) -> u64 {
///     tokio::time::sleep(Duration::from_millis(ms)).await;
///     ms
/// }
///
/// #[limit(using = DB, wait = 0ms)]
/// async fn try_query() -> Result<(), Rejected> {
///     Ok(())
/// }
///
/// #[limit(concurrency = 4, rate = 10, per = 1s)]
/// async fn crawl(page: u32) -> u32 {
///     page
/// }
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let start = tokio::time::Instant::now();
/// let (a, b, c) = tokio::join!(query(100), query(100), query(100));
/// assert_eq!(a + b + c, 300);
/// assert_eq!(start.elapsed(), Duration::from_millis(200)); // two at a time
///
/// let busy = tokio::spawn(query(50));
/// tokio::task::yield_now().await;
/// let busy2 = tokio::spawn(query(50));
/// tokio::task::yield_now().await;
/// assert!(try_query().await.is_err()); // both slots taken: shed at once
/// let _ = (busy.await, busy2.await);
///
/// let start = tokio::time::Instant::now();
/// for page in 0..11 {
///     crawl(page).await;
/// }
/// assert_eq!(start.elapsed(), Duration::from_secs(1)); // the 11th waits for the window
/// # }
/// ```
pub use steadfast_macros::limit;
pub use timeout::timeout;

/// The `backoff` crate, for `#[retry(policy = ..)]` (feature `backoff`).
#[cfg(feature = "backoff")]
pub use backoff;
