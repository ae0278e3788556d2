//! Resilience patterns for async functions, as attributes: retry with backoff,
//! timeouts, error boundaries and concurrency/rate limits.
//!
//! ```
//! use steadfast::{error_boundary, limit, retry, timeout};
//! # use std::sync::atomic::{AtomicU32, Ordering};
//! # #[derive(Debug)]
//! # enum ApiError { Unavailable, NotFound, TimedOut(steadfast::TimedOut) }
//! # impl ApiError {
//! #     fn is_transient(&self) -> bool { !matches!(self, ApiError::NotFound) }
//! # }
//! # impl std::fmt::Display for ApiError {
//! #     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { write!(f, "{self:?}") }
//! # }
//! # impl From<steadfast::TimedOut> for ApiError {
//! #     fn from(e: steadfast::TimedOut) -> Self { ApiError::TimedOut(e) }
//! # }
//! # type UserId = u64;
//! # type Profile = String;
//! # /// Unavailable for its first `outages` calls, then answers; 404 for user 0.
//! # struct Client { outages: u32, calls: AtomicU32 }
//! # impl Client {
//! #     async fn get(&self, id: UserId) -> Result<Profile, ApiError> {
//! #         let call = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
//! #         if id == 0 { return Err(ApiError::NotFound) }
//! #         if call <= self.outages { return Err(ApiError::Unavailable) }
//! #         Ok(format!("user {id}"))
//! #     }
//! # }
//!
//! #[error_boundary("loading profile")]
//! #[retry(attempts = 4, delay = 100ms, max_delay = 2s, when = ApiError::is_transient)]
//! #[timeout(800ms)]
//! #[limit(concurrency = 8)]
//! async fn load_profile(api: &Client, id: UserId) -> Result<Profile, ApiError> {
//!     api.get(id).await
//! }
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! let api = Client { outages: 2, calls: AtomicU32::new(0) };
//! assert_eq!(load_profile(&api, 7).await.unwrap(), "user 7"); // two retries, then Ok
//! assert_eq!(api.calls.load(Ordering::SeqCst), 3);
//!
//! let api = Client { outages: 0, calls: AtomicU32::new(0) };
//! assert!(matches!(load_profile(&api, 0).await, Err(ApiError::NotFound))); // not transient:
//! assert_eq!(api.calls.load(Ordering::SeqCst), 1);                       // no retry, logged once
//! # }
//! ```
//!
//! | attribute | what it does | error it adds to `E` |
//! |---|---|---|
//! | [`#[retry]`][retry] | re-runs the whole body while it returns `Err` and the policy allows: backoff, jitter, `when`, Retry-After hints | none: the last error, unchanged |
//! | [`#[timeout(D)]`](macro@timeout) | drops (cancels) the body if it has not finished within `D` | [`TimedOut`] |
//! | [`#[error_boundary]`][error_boundary] | logs every `Err` that leaves, once, with context and `source()` chain; `catch_panic` turns panics into errors | [`Panicked`], with `catch_panic` |
//! | [`#[limit]`][limit] | at most N bodies at once, at most N starts per window, FIFO; sheds load with `wait` | [`Rejected`], with `wait` |
//!
//! A worked example with exact timings, on tokio's paused clock:
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
//! [`ErrorBoundary`], [`Limiter`] and [`KeyedLimiter`]; [`Breaker`] (a circuit breaker: [`Breaker::run`])
//! and [`RetryBudget`] (a cap on retries relative to calls) are shared `static`s with
//! `const` builders.
//!
//! # Feature flags
//!
//! | feature | what it adds |
//! |---|---|
//! | `backoff` | `#[retry(policy = ..)]` with any `backoff::backoff::Backoff`, and the re-export `steadfast::backoff`; off by default (the `backoff` crate is unmaintained, RUSTSEC-2025-0012) |
//! | `redis` | [`redis::RedisLimiter`]: one limit for every replica of a service, kept in Redis (`#[limit(using = self.fleet)]`); off by default |
//!
//! # Stability
//!
//! Before 1.0, minor versions (0.x) may break; patch versions do not. The attribute
//! names and their argument grammar, and the public types of this crate, change only
//! in a minor version and with a note in the changelog. `__private` (what the
//! expansions call) is not public API; event field sets may grow.

// docs.rs builds with `--cfg docsrs` (see `[package.metadata.docs.rs]`): every
// feature-gated public item carries `#[cfg_attr(docsrs, doc(cfg(feature = "..")))]`
// so its page shows the feature it needs. Items behind `redis` and `metrics` follow
// the same pattern.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod boundary;
mod breaker;
mod budget;
mod error;
mod hedge;
mod limit;
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub mod redis;
mod retry;
mod timeout;

#[doc(hidden)]
pub mod __private;

pub use boundary::ErrorBoundary;
pub use breaker::{Breaker, BreakerState};
pub use budget::RetryBudget;
pub use error::{CircuitOpen, LimitKind, Panicked, Rejected, TimedOut};
pub use hedge::{Hedge, HedgeBudget, HedgeWith, Hedged, NoBudget};
pub use limit::{
    InvalidLimit, KeyedLimit, KeyedLimiter, KeyedPermit, Limit, Limiter, LimiterPermit,
};
pub use retry::{
    AnyError, Backoff, Delay, Delays, InvalidPolicy, List, NoHint, NoHook, OnRetry, RetryAfter,
    RetryInfo, RetryPolicy, RetryWhen, Retrying, jitter,
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
/// `delay_ms` and `error`. `when` is not asked about the last attempt's error. A zero
/// delay arms no timer. Delays saturate (at `max_delay`, else `Duration::MAX`), never
/// wrap. Values written as expressions that are out of range at run time (`attempts`
/// 0, `factor` < 1, `jitter` outside [0, 1], `max_delay` < `delay`) are clamped to the
/// nearest valid value with an ERROR event naming the argument and the value used.
/// Dropping the future stops retrying at once. The success path allocates nothing
/// and reads no clock (unless `max_elapsed` is set).
///
/// The value form, [`RetryPolicy`], also has [`Backoff::Fibonacci`], a schedule from
/// any list of delays ([`RetryPolicy::schedule`]), full and equal jitter, a per-retry
/// hook ([`RetryPolicy::on_retry`] with [`RetryInfo`]), the events' `level`,
/// `max_retry_after`, reproducible jitter ([`jitter::seed`]) and blocking retries
/// ([`RetryPolicy::run_blocking`]).
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
/// `timeout_ms`. D counts from the first poll of the call (as `tokio::time::timeout`
/// counts from its call), so synchronous work before the body's first `.await`
/// counts too; the timer fires even when the body keeps tokio's cooperative budget
/// exhausted. No timer is armed when the body finishes on its first poll. Without the
/// attribute: [`timeout()`](fn@timeout) for a future of `Result<T, E>`, [`deadline`]
/// for any future (`Result<F::Output, TimedOut>`). Stacked
/// under `#[retry]` each attempt gets its own deadline; above it, all attempts share
/// one.
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
/// | `using = EXPR` | take slots from a shared limiter: a `static` [`Limiter`], `self.field`, or anything implementing [`Limit`], such as a fleet-wide `steadfast::redis::RedisLimiter` (feature `redis`) (instead of `concurrency`/`rate`) |
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
pub use timeout::{Deadline, TimeoutOutput, deadline, timeout};

/// The `backoff` crate, for `#[retry(policy = ..)]` (feature `backoff`).
#[cfg(feature = "backoff")]
#[cfg_attr(docsrs, doc(cfg(feature = "backoff")))]
pub use backoff;

#[cfg(test)]
mod tests {
    use std::fmt::Debug;

    /// Semver hygiene: every public type of the crate root is `Debug` (users put them
    /// in their own `#[derive(Debug)]` types).
    #[test]
    fn every_public_type_is_debug() {
        fn debug<T: Debug + ?Sized>() {}
        debug::<crate::ErrorBoundary>();
        debug::<crate::LimitKind>();
        debug::<crate::Panicked>();
        debug::<crate::Rejected>();
        debug::<crate::TimedOut>();
        debug::<crate::InvalidLimit>();
        debug::<crate::Limiter>();
        debug::<crate::LimiterPermit<'static>>();
        debug::<crate::AnyError>();
        debug::<crate::Backoff>();
        debug::<crate::InvalidPolicy>();
        debug::<crate::NoHint>();
        debug::<crate::RetryPolicy>();
        debug::<crate::Retrying<crate::AnyError, crate::NoHint>>();
        #[cfg(feature = "redis")]
        {
            debug::<crate::redis::RedisLimiter>();
            debug::<crate::redis::RedisLimiterBuilder>();
            debug::<crate::redis::RedisPermit<'static>>();
            debug::<crate::redis::Unavailable>();
        }
    }
}
