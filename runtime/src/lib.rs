//! Resilience patterns for async functions, as attributes: retry with backoff (and
//! retry budgets), timeouts, error boundaries, concurrency/rate limits (per key, and
//! fleet-wide in Redis), circuit breakers and hedged requests.
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
//! | [`#[retry]`][retry] | re-runs the whole body while it returns `Err` and the policy allows: backoff, jitter, `when`, Retry-After hints, a shared retry budget | none: the last error, unchanged |
//! | [`#[timeout(D)]`](macro@timeout) | drops (cancels) the body if it has not finished within `D` | [`TimedOut`] |
//! | [`#[error_boundary]`][error_boundary] | logs every `Err` that leaves, once, with context and `source()` chain; `catch_panic` turns panics into errors | [`Panicked`], with `catch_panic` |
//! | [`#[limit]`][limit] | at most N bodies at once, at most N starts per window (or evenly spaced, `burst`), FIFO; per function, per `key`, or for a whole fleet (`using` a `RedisLimiter`); sheds load with `wait` | [`Rejected`], with `wait` |
//! | [`#[hedge]`][hedge] | races another attempt against a slow or failed one (`after = 50ms`, `after = p95`); the first `Ok` wins, the others are cancelled | none: the last error when all fail |
//! | [`#[circuit_breaker]`][circuit_breaker] | stops calling a dependency that keeps failing: refuses calls for `open_for`, then lets trial calls through | [`CircuitOpen`] |
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
//! [`#[hedge]`][hedge] and [`#[circuit_breaker]`][circuit_breaker] stack the same
//! way: under `#[retry]`, each attempt is one call of the breaker (an open breaker
//! ends the retry); above `#[limit]`, each hedged attempt holds its own slot; under
//! `#[timeout]`, all hedged attempts share the deadline.
//!
//! # Errors
//!
//! The function returns `Result<T, E>` (any alias). Errors the attributes create
//! enter `E` through `From`: [`TimedOut`] for `#[timeout]`, [`Rejected`] for
//! `#[limit(wait = ..)]`, [`Panicked`] for `#[error_boundary(catch_panic)]`,
//! [`CircuitOpen`] for `#[circuit_breaker]`. Only what
//! the given arguments can produce is required. A missing conversion is a compile
//! error at the signature that says what to add.
//!
//! # Testing with a paused clock
//!
//! Every wait uses tokio's clock, so `#[tokio::test(start_paused = true)]` runs
//! backoff sleeps, timeouts, rate spacing, hedge delays and a breaker's `open_for`
//! instantly and exactly (a fleet-wide `RedisLimiter` keeps its window on Redis's
//! clock instead).
//!
//! # Without macros
//!
//! Everything is plain Rust in this crate: [`RetryPolicy`], [`timeout()`](fn@timeout),
//! [`ErrorBoundary`], [`Limiter`] and [`KeyedLimiter`]; [`Breaker`] (a circuit
//! breaker: [`Breaker::run`]), [`Hedge`] (hedged requests: [`Hedge::run`]) and
//! [`RetryBudget`] (a cap on retries and hedges relative to calls) are shared `static`s
//! with `const` builders.
//!
//! # Feature flags
//!
//! | feature | what it adds |
//! |---|---|
//! | `backoff` | `#[retry(policy = ..)]` with any `backoff::backoff::Backoff`, and the re-export `steadfast::backoff`; off by default (the `backoff` crate is unmaintained, RUSTSEC-2025-0012) |
//! | `redis` | [`redis::RedisLimiter`]: one limit for every replica of a service, kept in Redis (`#[limit(using = self.fleet)]`); off by default |
//! | `metrics` | records calls by outcome, durations, retries, hedges, limiter gauges and the breaker's state through the `metrics` facade: see the module `steadfast::metrics` (documented with the feature) for every metric and its labels; off by default |
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
/// What steadfast records through the [`metrics`](https://docs.rs/metrics) facade
/// (feature `metrics`): nothing until the application installs a recorder (an
/// exporter for Prometheus, OpenTelemetry, StatsD…), then this for every annotated
/// function:
///
/// | metric | kind | labels |
/// |---|---|---|
/// | `steadfast_calls_total` | counter | `function`, `outcome` = `ok` \| `error` \| `timeout` \| `rejected` \| `circuit_open` \| `panic` |
/// | `steadfast_call_duration_seconds` | histogram | `function` |
/// | `steadfast_retries_total` | counter | `function` |
/// | `steadfast_retry_budget_exhausted_total` | counter | `function` |
/// | `steadfast_hedges_total` | counter | `function` |
/// | `steadfast_limit_in_flight`, `steadfast_limit_waiting` | gauges | `limiter` |
/// | `steadfast_circuit_state` | gauge: 0 closed, 1 half-open, 2 open | `function` |
///
/// A call is counted once, with the outcome of the whole stack: `#[retry]
/// #[timeout]` whose first attempt timed out and whose second answered is one `ok`
/// call and one retry. An `Err` counts as `timeout`, `rejected`, `circuit_open` or
/// `panic` when a layer of that call produced it, as `error` otherwise; a panic that
/// unwinds through the call counts as `panic`; a cancelled call counts nothing. A
/// shared [`Limiter`] or [`Breaker`] reports under its
/// `name(..)`, others under the function's name. The README's "Metrics" section has
/// the details and a sample scrape.
///
/// ```
/// use steadfast::{metrics, retry};
///
/// #[retry(attempts = 3, delay = 10ms)]
/// async fn fetch() -> Result<u32, std::io::Error> { Ok(7) }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// // After installing a recorder (an exporter's `install()`), optionally:
/// metrics::describe();
/// // ... `steadfast_calls_total{function="fetch",outcome="ok"}` counts this call:
/// assert_eq!(fetch().await.unwrap(), 7);
/// assert_eq!(metrics::CALLS_TOTAL, "steadfast_calls_total");
/// # }
/// ```
#[cfg(feature = "metrics")]
#[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
pub mod metrics;
#[cfg(not(feature = "metrics"))]
#[allow(dead_code)]
mod metrics;
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
/// | `backoff = exponential \| linear \| constant \| fibonacci` | the k-th retry sleeps `delay·factor^(k-1)`, `delay·k`, `delay` or `delay·fib(k)` (1, 1, 2, 3, 5, …) | exponential |
/// | `factor = F` | growth factor of `exponential` (F ≥ 1.0) | 2.0 |
/// | `max_delay = D` | no computed delay is longer, jitter included | 10s |
/// | `jitter = J` | each delay d is drawn uniformly from [d·(1−J), d·(1+J)], then capped by `max_delay`; 0 gives exact delays. `jitter = full`: uniform in [0, d]; `jitter = equal`: in [d/2, d] | 0.5 |
/// | `max_elapsed = D` | no attempt starts later than D after the first started; a delay that would pass it is not slept | none |
/// | `schedule = EXPR` | any `IntoIterator<Item = Duration>`, evaluated at each call: the k-th retry sleeps its k-th item, capped by `max_delay` and jittered only if they are written; retrying stops when it runs out (or at `attempts`, if written). Not with `delay`/`backoff`/`factor` | — |
/// | `when = PRED` | `Fn(&E) -> bool`: errors for which it is false are returned at once | every error |
/// | `retry_after = HINT` | `Fn(&E) -> Option<Duration>`: `Some(d)` replaces the computed delay (not capped by `max_delay`, bounded by `max_elapsed`) | none |
/// | `max_retry_after = D` | a `retry_after` hint longer than D ends retrying at once, with that error | none |
/// | `on_retry = HOOK` | `Fn(&E, &`[`RetryInfo`]`)`, a path or a closure, called before each backoff sleep with the error just retried | none |
/// | `attempt = NAME` | binds `NAME: u32`, the attempt number (1-based), in the body | — |
/// | `level = L` | the level of the retry events: `error`, `warn`, `info`, `debug`, `trace` or `off` | warn |
/// | `policy = EXPR` | feature `backoff`: a `backoff::backoff::Backoff` decides the delays instead of the schedule arguments | — |
/// | `budget = B` | a shared [`RetryBudget`] (a `static`, a receiver field, an `Arc`): every call deposits, every retry withdraws one; a retry that finds it empty is not made, the last error returns at once with a WARN event `retry budget exhausted` | none |
///
/// Durations are written `250ms`, `1.5s`, `2m`, `1h`, `500us`, `10ns`, `0`, as a
/// string (`"250ms"`), or as any `Duration` expression, evaluated at each call.
///
/// Every attempt runs the whole body with its arguments as passed: references are
/// reused, `&mut` references reborrowed (so `&mut self` methods work), owned arguments
/// cloned for each attempt (a non-`Clone` owned argument is a compile error naming
/// it, suggesting `&T`, or `&mut T` for one the body needs mutably such as an `FnMut`).
/// After the last attempt the last error is returned unchanged. Each retry emits a
/// WARN event (target `steadfast`; see `level`) with `function`, `attempt`,
/// `max_attempts`, `delay_ms` and `error`. `when` is not asked about the last attempt's
/// error. A zero delay arms no timer. Delays saturate (at `max_delay`, else
/// `Duration::MAX`), never wrap. Values written as expressions that are out of range
/// at run time (`attempts` 0, `factor` < 1, `jitter` outside [0, 1], `max_delay` <
/// `delay`) are clamped to the nearest valid value with an ERROR event naming the
/// argument and the value used. Dropping the future stops retrying at once. The
/// success path allocates nothing and reads no clock (unless `max_elapsed` or
/// `on_retry` is set). [`jitter::seed`] makes the current thread's draws reproducible.
///
/// `#[retry]` also applies to a plain `fn` returning `Result`: it then sleeps with
/// `std::thread::sleep`, with the same arguments, events and errors (do not call such
/// a function on an async runtime's worker thread). On an `#[async_trait]` impl, it
/// wraps the future inside the method's `Box::pin(async move { .. })`.
///
/// The value form is [`RetryPolicy`] (with [`RetryPolicy::on_retry`],
/// [`RetryPolicy::schedule`], [`RetryPolicy::run_blocking`]).
///
/// ```
/// use std::time::Duration;
/// use steadfast::{RetryInfo, retry};
///
/// # #[derive(Debug)] struct Busy;
/// # impl std::fmt::Display for Busy { fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str("busy") } }
/// fn count(_: &Busy, info: &RetryInfo) {
///     assert!(info.attempt() < info.max_attempts());
/// }
///
/// // The attempt number in the body, a hook, a list of delays, quiet events.
/// #[retry(schedule = [Duration::from_millis(10), Duration::from_millis(50)],
///         on_retry = count, attempt = n, level = debug)]
/// async fn poll_job() -> Result<u32, Busy> {
///     if n < 3 { Err(Busy) } else { Ok(n) }
/// }
///
/// // A plain `fn`: the same schedule, slept with `std::thread::sleep`.
/// #[retry(attempts = 3, delay = 1ms, backoff = fibonacci, jitter = full)]
/// fn read_config(path: &str) -> Result<String, std::io::Error> {
///     std::fs::read_to_string(path)
/// }
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let start = tokio::time::Instant::now();
/// assert_eq!(poll_job().await.unwrap(), 3);
/// assert_eq!(start.elapsed(), Duration::from_millis(60));
/// assert!(read_config("/nonexistent/steadfast.toml").is_err()); // after 3 attempts
/// # }
/// ```
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
/// `E` needs `From<Panicked>` (the panic hook still runs). It also applies to a plain
/// `fn` returning `Result` (alone or over a blocking `#[retry]`), and to the methods of
/// an `#[async_trait]` impl.
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
/// | `burst = B` | with `rate`: at most B starts at once, then one every `per / N` (GCRA, as nginx's `limit_req`); 1 ≤ B ≤ N |
/// | `wait = D` | a caller without a slot after D returns `Err(E::from(Rejected))` without running the body; `0ms` rejects at once when full |
/// | `key = EXPR` | the limits apply per value of EXPR (`Hash + Eq + Clone + Send + Sync + 'static`), each key with its own window, slots and FIFO line; a place (`user.id`) is cloned, another expression moved in |
/// | `using = EXPR` | take slots from a shared limiter: a `static` [`Limiter`], `self.field`, or anything implementing [`Limit`], such as a fleet-wide `steadfast::redis::RedisLimiter` (feature `redis`), instead of `concurrency`/`rate`/`burst`; with `key`, a [`KeyedLimiter`] or any [`KeyedLimit`] |
///
/// Without `using`, the limit belongs to the function: one limiter per annotated
/// function, shared by every caller and task (and every instantiation of a generic
/// function). A slot is released when the body returns, fails, panics or is cancelled;
/// a caller cancelled while queued never runs. Inside `#[retry]` a slot is held per
/// attempt, never across the backoff sleep; under `#[timeout]` the queue time counts.
/// A rejection emits a WARN event with `waited_ms`; waiting longer than 1 s a DEBUG
/// event. Without `wait`, the function may return any type.
///
/// Keyed, a key with nothing in flight, nobody waiting and no start within `per` is
/// forgotten, so memory follows the active keys. A shared [`Limiter`] can also change
/// while it is in use: [`Limiter::set_concurrency`] and [`Limiter::set_rate`].
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
/// // Evenly spaced, per user: one start every 500 ms for each user.
/// #[limit(rate = 2, per = 1s, burst = 1, key = user)]
/// async fn notify(user: u64) -> u64 {
///     user
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
///
/// let start = tokio::time::Instant::now();
/// tokio::join!(notify(1), notify(1), notify(2)); // user 2 is not held up by user 1
/// assert_eq!(start.elapsed(), Duration::from_millis(500));
/// # }
/// ```
pub use steadfast_macros::limit;

/// Races another attempt of the body against a slow one ("The Tail at Scale"): when
/// the newest attempt has run `after` without finishing, or has failed, another
/// starts; the first `Ok` wins and the others are cancelled.
///
/// | argument | meaning | default |
/// |---|---|---|
/// | `after = D` | another attempt when the newest has run D without finishing: `50ms`, `"50ms"`, or any `Duration` expression (evaluated at each call) | required |
/// | `after = pNN` | the same after this function's own NN-th percentile latency (`p50` … `p99`, `p999`) over its last 1 024 successful calls; no hedge on time until 20 calls have completed | — |
/// | `max = N` | attempts per call, the first included, so at most N at once (2 ≤ N ≤ 5, a constant) | 2 |
/// | `when = PRED` | `Fn(&E) -> bool`: an error for which it is true starts the next attempt at once; one for which it is false ends the call with that error | every error |
/// | `budget = B` | a shared [`RetryBudget`] (or any [`HedgeBudget`]): every call deposits, every hedge withdraws one; a hedge that finds it empty is not made | none |
///
/// - The first `Ok` wins and every other attempt is dropped (cancelled) at once. When
///   every attempt has failed, the last error is returned.
/// - The attempts run at the same time: references are shared by them, and each
///   attempt gets its own clone of every owned argument (a non-`Clone` one is a compile
///   error naming it; a call that is never hedged clones each owned argument once —
///   take it by reference to avoid that). A `&mut` argument or `&mut self` is a compile
///   error; a by-value `self` is shared, as `&self` would be.
/// - Each hedge emits a DEBUG event (target `steadfast`) with `function`, `attempt`
///   (from 2), `after_ms` and `reason` (`slow` or `failed`).
/// - A call that finishes before `after` arms at most one timer (none when it is ready
///   on its first poll) and allocates nothing; each hedge allocates its attempt.
/// - Stacked in reading order: `#[timeout]` above bounds all attempts together,
///   `#[limit]` below gives each attempt its own slot, `#[retry]` above retries the
///   hedged call as a whole. The future is `Send` when the body's is.
///
/// Without the attribute: [`Hedge`], a `static` with the same arguments, and
/// [`Hedge::run`] over a closure that starts an attempt.
///
/// ```
/// use std::time::Duration;
/// use steadfast::{RetryBudget, hedge};
///
/// static REPLICA_BUDGET: RetryBudget = RetryBudget::new();
///
/// /// Reads `key` from a replica; replica 0 is slow for the first call.
/// #[hedge(after = 50ms, max = 3, budget = REPLICA_BUDGET)]
/// async fn read(key: String, slow: &std::sync::atomic::AtomicBool) -> std::io::Result<String> {
///     let ms = if slow.swap(false, std::sync::atomic::Ordering::Relaxed) { 1_000 } else { 20 };
///     tokio::time::sleep(Duration::from_millis(ms)).await;
///     Ok(format!("{key} after {ms} ms"))
/// }
///
/// #[hedge(after = p95)]
/// async fn search(query: &str) -> Result<usize, std::io::Error> {
///     Ok(query.len())
/// }
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let slow = std::sync::atomic::AtomicBool::new(true);
/// let start = tokio::time::Instant::now();
/// // The first attempt is slow: the second starts at 50 ms and wins at 70 ms.
/// assert_eq!(read("k".to_owned(), &slow).await.unwrap(), "k after 20 ms");
/// assert_eq!(start.elapsed(), Duration::from_millis(70));
/// // Quantiles need 20 calls before they hedge.
/// assert_eq!(search("rust").await.unwrap(), 4);
/// # }
/// ```
pub use steadfast_macros::hedge;

/// Stops calling a dependency that keeps failing: once too many recent calls failed,
/// calls return `Err(E::from(CircuitOpen))` at once, without running the body, until
/// `open_for` has passed; then trial calls decide whether it closes again.
///
/// | argument | meaning | default |
/// |---|---|---|
/// | `failure_rate = R` | opens when, among the calls recorded in the last `window`, at least `min_calls` were recorded and the share of failures is ≥ R (0 < R ≤ 1) | 0.5 |
/// | `min_calls = N` | calls needed in the window before it is judged (N ≥ 1); judged as soon as N are recorded | 10 |
/// | `window = D` | time-based sliding window | 30s |
/// | `open_for = D` | how long it stays open before trial calls | 15s |
/// | `half_open_calls = N` | trial calls let through when half-open; all must succeed to close it | 1 |
/// | `slow_call = D` | a call taking longer counts as a failure even if it returns `Ok` | none |
/// | `when = PRED` | `Fn(&E) -> bool`: which errors are failures; other errors count as successes (the dependency answered) | every error |
/// | `using = B` | a shared [`Breaker`] (a `static`, a receiver field, an `Arc<Breaker>`); then no other argument | — |
///
/// Without `using`, the breaker belongs to the function: one [`Breaker`] in a `static`,
/// shared by every caller and task (and every instantiation of a generic function);
/// its settings are constants. `E` needs `From<CircuitOpen>`; [`CircuitOpen`] carries the
/// function's name and [`retry_after()`](CircuitOpen::retry_after), the time until trial
/// calls. A cancelled call (its future dropped) is not recorded; a panic is recorded as
/// a failure and goes on unwinding. Events (target `steadfast`): WARN when it opens
/// (`function`, `failure_rate`, `calls`), INFO when it goes half-open and when it
/// closes, DEBUG for each refused call. The closed-state success path allocates
/// nothing and takes no lock. See [`Breaker`] for the window and the states.
///
/// Under [`#[retry]`](macro@retry) (`#[retry] #[circuit_breaker]`), each attempt is a
/// call of the breaker; an attempt it refuses ends the retry at once with that error,
/// unless its `retry_after()` is no longer than the delay the retry would sleep next
/// anyway. A retry never runs the body of an open breaker and never spins against it,
/// and refusals are never recorded as failures.
///
/// ```
/// use std::time::Duration;
/// use steadfast::{BreakerState, CircuitOpen, circuit_breaker, retry};
///
/// #[derive(Debug)]
/// enum ApiError { Down, NotFound, Open(CircuitOpen) }
/// impl From<CircuitOpen> for ApiError {
///     fn from(e: CircuitOpen) -> Self { ApiError::Open(e) }
/// }
/// impl std::fmt::Display for ApiError {
///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { write!(f, "{self:?}") }
/// }
/// impl ApiError {
///     fn is_outage(&self) -> bool { matches!(self, ApiError::Down) }
/// }
///
/// #[circuit_breaker(min_calls = 4, window = 10s, open_for = 5s, when = ApiError::is_outage)]
/// async fn fetch(up: bool) -> Result<u32, ApiError> {
///     if up { Ok(1) } else { Err(ApiError::Down) }
/// }
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// for _ in 0..4 {
///     let _ = fetch(false).await; // 4 of 4 failed: it opens
/// }
/// let Err(ApiError::Open(open)) = fetch(true).await else { panic!("refused") };
/// assert_eq!(open.retry_after(), Duration::from_secs(5));
/// assert_eq!(open.function(), Some("fetch"));
///
/// tokio::time::sleep(Duration::from_secs(5)).await;
/// assert_eq!(fetch(true).await.unwrap(), 1); // the trial call succeeds: closed again
/// # }
/// ```
///
/// A breaker shared by several functions, under a retry:
///
/// ```
/// use std::time::Duration;
/// use steadfast::{Breaker, BreakerState, CircuitOpen, circuit_breaker, retry};
///
/// static PAYMENTS: Breaker = Breaker::new().min_calls(2).open_for(Duration::from_secs(30));
///
/// #[derive(Debug)]
/// enum PayError { Down, Open(CircuitOpen) }
/// impl From<CircuitOpen> for PayError {
///     fn from(e: CircuitOpen) -> Self { PayError::Open(e) }
/// }
/// impl std::fmt::Display for PayError {
///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { write!(f, "{self:?}") }
/// }
///
/// #[retry(attempts = 5, delay = 100ms, jitter = 0)]
/// #[circuit_breaker(using = PAYMENTS)]
/// async fn charge(_cents: u64) -> Result<u64, PayError> {
///     Err(PayError::Down)
/// }
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let started = tokio::time::Instant::now();
/// // Two attempts fail (100 ms, then 200 ms of backoff) and open the breaker; the third
/// // is refused, and the retry ends at once instead of sleeping against a breaker
/// // open for 30 s.
/// assert!(matches!(charge(5).await, Err(PayError::Open(_))));
/// assert_eq!(started.elapsed(), Duration::from_millis(300));
/// assert_eq!(PAYMENTS.state(), BreakerState::Open);
/// # }
/// ```
pub use steadfast_macros::circuit_breaker;
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
