//! `#[retry]`: the delay schedule and the loop that re-runs a failed operation.

use std::fmt::Display;
use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use tokio::time::Instant;

use crate::__private::{Loggable, Outcome};

/// How delays grow from one retry to the next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backoff {
    /// `delay · factor^(k-1)` before the k-th retry.
    Exponential,
    /// `delay · k` before the k-th retry.
    Linear,
    /// `delay` before every retry.
    Constant,
}

/// When and how long to wait between attempts: the schedule of `#[retry]`.
///
/// Built with `const` methods, so a policy can be a `static`. Out-of-range values are
/// clamped, never a panic: `attempts(0)` acts as 1, a `factor` below 1 (or NaN) as 1,
/// a `jitter` outside `[0, 1]` is clamped into it; [`RetryPolicy::check`] tells
/// whether a policy needed any of that.
///
/// ```
/// use std::time::Duration;
/// use steadfast::RetryPolicy;
///
/// # #[derive(Debug)] struct Busy;
/// # impl std::fmt::Display for Busy { fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str("busy") } }
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// const POLICY: RetryPolicy = RetryPolicy::new()
///     .attempts(4)
///     .delay(Duration::from_millis(100))
///     .jitter(0.0);
///
/// let mut calls = 0;
/// let started = tokio::time::Instant::now();
/// let result = POLICY
///     .run(|| {
///         calls += 1;
///         let n = calls;
///         async move { if n < 3 { Err(Busy) } else { Ok(n) } }
///     })
///     .await;
/// assert_eq!(result.unwrap(), 3);
/// // slept 100 ms, then 200 ms
/// assert_eq!(started.elapsed(), Duration::from_millis(300));
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    attempts: u32,
    delay: Duration,
    backoff: Backoff,
    factor: f64,
    max_delay: Duration,
    jitter: f64,
    max_elapsed: Option<Duration>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self::new()
    }
}

/// A policy value that [`RetryPolicy::check`] had to clamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum InvalidPolicy {
    /// `attempts` was 0.
    ZeroAttempts,
    /// `factor` was below 1 or not a number.
    Factor,
    /// `jitter` was outside `[0, 1]` or not a number.
    Jitter,
}

impl Display for InvalidPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            InvalidPolicy::ZeroAttempts => "retry policy: `attempts` must be at least 1",
            InvalidPolicy::Factor => "retry policy: `factor` must be a number of at least 1.0",
            InvalidPolicy::Jitter => "retry policy: `jitter` must be between 0.0 and 1.0",
        })
    }
}

impl std::error::Error for InvalidPolicy {}

impl RetryPolicy {
    /// The defaults of `#[retry]`: 3 attempts, 100 ms first delay, exponential backoff
    /// with factor 2, delays capped at 10 s, jitter 0.5, no `max_elapsed`.
    pub const fn new() -> Self {
        Self {
            attempts: 3,
            delay: Duration::from_millis(100),
            backoff: Backoff::Exponential,
            factor: 2.0,
            max_delay: Duration::from_secs(10),
            jitter: 0.5,
            max_elapsed: None,
        }
    }

    /// Total attempts, the first included.
    pub const fn attempts(mut self, attempts: u32) -> Self {
        self.attempts = attempts;
        self
    }

    /// The first delay.
    pub const fn delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// How delays grow.
    pub const fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// The growth factor of [`Backoff::Exponential`].
    pub const fn factor(mut self, factor: f64) -> Self {
        self.factor = factor;
        self
    }

    /// No single computed delay is longer than this, jitter included.
    pub const fn max_delay(mut self, max_delay: Duration) -> Self {
        self.max_delay = max_delay;
        self
    }

    /// Each delay `d` is drawn uniformly from `[d·(1−J), d·(1+J)]`; 0 gives exact delays.
    pub const fn jitter(mut self, jitter: f64) -> Self {
        self.jitter = jitter;
        self
    }

    /// No attempt starts later than this after the first one started.
    pub const fn max_elapsed(mut self, max_elapsed: Duration) -> Self {
        self.max_elapsed = Some(max_elapsed);
        self
    }

    /// Total attempts (at least 1).
    pub const fn max_attempts(&self) -> u32 {
        if self.attempts == 0 { 1 } else { self.attempts }
    }

    /// `Err` if a value is out of range (and is being clamped).
    pub fn check(&self) -> Result<(), InvalidPolicy> {
        if self.attempts == 0 {
            Err(InvalidPolicy::ZeroAttempts)
        } else if self.factor.is_nan() || self.factor < 1.0 {
            Err(InvalidPolicy::Factor)
        } else if !(0.0..=1.0).contains(&self.jitter) {
            Err(InvalidPolicy::Jitter)
        } else {
            Ok(())
        }
    }

    /// The delay before the `retry`-th retry (1-based) without jitter, capped by
    /// `max_delay`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use steadfast::RetryPolicy;
    ///
    /// let p = RetryPolicy::new().max_delay(Duration::from_millis(300));
    /// let ms = |k| p.base_delay(k).as_millis();
    /// assert_eq!([ms(1), ms(2), ms(3)], [100, 200, 300]);
    /// ```
    pub fn base_delay(&self, retry: u32) -> Duration {
        let retry = retry.max(1);
        let delay = match self.backoff {
            Backoff::Constant => self.delay,
            Backoff::Linear => self.delay.saturating_mul(retry),
            Backoff::Exponential => {
                let factor = if self.factor >= 1.0 { self.factor } else { 1.0 };
                scale(self.delay, factor.powf(f64::from(retry - 1)), self.max_delay)
            }
        };
        delay.min(self.max_delay)
    }

    /// The delay before the `retry`-th retry with jitter applied (uniform in
    /// `[d·(1−J), d·(1+J)]`), capped by `max_delay`.
    pub fn jittered_delay(&self, retry: u32) -> Duration {
        let base = self.base_delay(retry);
        let jitter = if self.jitter.is_nan() { 0.0 } else { self.jitter.clamp(0.0, 1.0) };
        if jitter == 0.0 {
            return base;
        }
        let spread = 1.0 - jitter + 2.0 * jitter * unit_random();
        scale(base, spread, self.max_delay).min(self.max_delay)
    }

    /// Runs `op` until it succeeds or the policy gives up; every error is retried.
    /// See [`Retrying`] for `when`, `retry_after` and naming the operation.
    pub async fn run<T, E, Op, Fut>(&self, op: Op) -> Result<T, E>
    where
        Op: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: Display,
    {
        self.when(AnyError).run(op).await
    }

    /// Retries only the errors for which `when` returns `true`.
    pub fn when<W>(self, when: W) -> Retrying<W, NoHint> {
        Retrying { policy: self, name: "retry", when, retry_after: NoHint }
    }

    /// Uses `retry_after`'s `Some(d)` instead of the computed delay (see [`Retrying`]).
    pub fn retry_after<H>(self, retry_after: H) -> Retrying<AnyError, H> {
        Retrying { policy: self, name: "retry", when: AnyError, retry_after }
    }
}

/// `d · by`, rounded to the nanosecond and capped at `cap` (also for overflow and NaN).
fn scale(d: Duration, by: f64, cap: Duration) -> Duration {
    let nanos = d.as_nanos() as f64 * by;
    if nanos.is_nan() || nanos >= cap.as_nanos() as f64 {
        cap
    } else {
        Duration::from_nanos(nanos.round() as u64)
    }
}

/// A uniform number in `[0, 1)`. `RandomState` is seeded from the OS once per thread
/// and stepped on every call: enough for jitter, without a dependency.
fn unit_random() -> f64 {
    let bits = std::collections::hash_map::RandomState::new().build_hasher().finish();
    (bits >> 11) as f64 / (1_u64 << 53) as f64
}

/// A [`RetryPolicy`] with a predicate and a Retry-After hint, ready to [`run`](Self::run).
///
/// ```
/// use std::time::Duration;
/// use steadfast::RetryPolicy;
///
/// #[derive(Debug)]
/// enum ApiError { Throttled(Duration), NotFound }
/// impl std::fmt::Display for ApiError {
///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { write!(f, "{self:?}") }
/// }
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let mut calls = 0;
/// let started = tokio::time::Instant::now();
/// let result: Result<(), ApiError> = RetryPolicy::new()
///     .when(|e: &ApiError| matches!(e, ApiError::Throttled(_)))
///     .retry_after(|e: &ApiError| match e { ApiError::Throttled(d) => Some(*d), _ => None })
///     .name("get_user")
///     .run(|| {
///         calls += 1;
///         let first = calls == 1;
///         async move { if first { Err(ApiError::Throttled(Duration::from_secs(2))) } else { Err(ApiError::NotFound) } }
///     })
///     .await;
/// assert!(matches!(result, Err(ApiError::NotFound))); // not retried: `when` is false
/// assert_eq!(calls, 2);
/// assert_eq!(started.elapsed(), Duration::from_secs(2)); // the server's hint
/// # }
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Retrying<W, H> {
    policy: RetryPolicy,
    name: &'static str,
    when: W,
    retry_after: H,
}

impl<W, H> Retrying<W, H> {
    /// Retries only the errors for which `when` returns `true`.
    pub fn when<W2>(self, when: W2) -> Retrying<W2, H> {
        Retrying { policy: self.policy, name: self.name, when, retry_after: self.retry_after }
    }

    /// `Some(d)` from `retry_after` replaces the computed delay (a server's
    /// Retry-After); it is still bounded by `max_elapsed`.
    pub fn retry_after<H2>(self, retry_after: H2) -> Retrying<W, H2> {
        Retrying { policy: self.policy, name: self.name, when: self.when, retry_after }
    }

    /// The name logged in the `function` field of retry events.
    pub fn name(mut self, name: &'static str) -> Self {
        self.name = name;
        self
    }

    /// Runs `op` until it succeeds, returns an error that `when` rejects, or the
    /// policy gives up; then returns the last result unchanged. Dropping the future
    /// stops at once.
    pub async fn run<T, E, Op, Fut>(&self, mut op: Op) -> Result<T, E>
    where
        Op: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: Display,
        W: RetryWhen<E>,
        H: RetryAfter<E>,
    {
        let site = RetrySite::new(self.policy, self.name);
        let mut state = RetryState::new(&site);
        loop {
            let result = op().await;
            match state.after(&result, |e| self.when.retry(e), |e| self.retry_after.hint(e)) {
                Some(delay) => tokio::time::sleep(delay).await,
                None => return result,
            }
        }
    }
}

/// Which errors to retry: any `Fn(&E) -> bool`, or [`AnyError`].
pub trait RetryWhen<E> {
    /// `true` if this error should be retried.
    fn retry(&self, error: &E) -> bool;
}

impl<E, F: Fn(&E) -> bool> RetryWhen<E> for F {
    fn retry(&self, error: &E) -> bool {
        self(error)
    }
}

/// Retry every error (the default `when`).
#[derive(Debug, Clone, Copy, Default)]
pub struct AnyError;

impl<E> RetryWhen<E> for AnyError {
    fn retry(&self, _: &E) -> bool {
        true
    }
}

/// A Retry-After hint source: any `Fn(&E) -> Option<Duration>`, or none.
pub trait RetryAfter<E> {
    /// The server's requested delay for this error, if any.
    fn hint(&self, error: &E) -> Option<Duration>;
}

impl<E, F: Fn(&E) -> Option<Duration>> RetryAfter<E> for F {
    fn hint(&self, error: &E) -> Option<Duration> {
        self(error)
    }
}

/// No Retry-After hint: always the computed delay.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoHint;

impl<E> RetryAfter<E> for NoHint {
    fn hint(&self, _: &E) -> Option<Duration> {
        None
    }
}

/// The default `when`: retry every error.
#[doc(hidden)]
pub fn any_error<E: ?Sized>(_: &E) -> bool {
    true
}

/// The default `retry_after`: no hint.
#[doc(hidden)]
pub fn no_hint<E: ?Sized>(_: &E) -> Option<Duration> {
    None
}

/// What a retried call keeps for its whole life: the schedule and the name in its
/// events. The `#[retry]` expansion puts it in a `static` when every argument is a
/// literal, so that each call's state holds a reference only.
#[doc(hidden)]
#[derive(Debug)]
pub struct RetrySite {
    policy: RetryPolicy,
    function: &'static str,
}

impl RetrySite {
    /// The site of `function`, retried by `policy`.
    #[inline]
    pub const fn new(policy: RetryPolicy, function: &'static str) -> Self {
        Self { policy, function }
    }
}

/// The bookkeeping of one retried call: which attempt this is and, for a policy with
/// `max_elapsed`, when the first started (`S = Option<Instant>`; `()` keeps nothing).
/// The `#[retry]` expansion runs its own loop around it (so that `&mut` arguments can
/// be reborrowed for every attempt) and asks it after each attempt. It is 16 bytes
/// without a start time, so a retried future is barely larger than a hand-written
/// loop's.
#[doc(hidden)]
#[derive(Debug)]
pub struct RetryState<'a, S = Option<Instant>> {
    site: &'a RetrySite,
    attempt: u32,
    started: S,
}

/// When the first attempt started, if anyone needs to know.
#[doc(hidden)]
pub trait Started {
    /// The time since the first attempt started, `None` if it was not noted.
    fn elapsed(&self) -> Option<Duration>;
}

impl Started for () {
    #[inline]
    fn elapsed(&self) -> Option<Duration> {
        None
    }
}

impl Started for Option<Instant> {
    #[inline]
    fn elapsed(&self) -> Option<Duration> {
        self.map(|started| started.elapsed())
    }
}

impl<'a> RetryState<'a> {
    /// Reads the clock only if `max_elapsed` is set: the success path costs no timer.
    #[inline]
    pub fn new(site: &'a RetrySite) -> Self {
        let started = site.policy.max_elapsed.map(|_| Instant::now());
        Self { site, attempt: 1, started }
    }
}

impl<'a> RetryState<'a, ()> {
    /// For a policy known to have no `max_elapsed`: no start time is kept.
    #[inline]
    pub const fn untimed(site: &'a RetrySite) -> Self {
        Self { site, attempt: 1, started: () }
    }
}

impl<S: Started> RetryState<'_, S> {
    #[cold]
    fn failed<E: Display + ?Sized>(
        &mut self,
        error: &E,
        when: &impl Fn(&E) -> bool,
        retry_after: &impl Fn(&E) -> Option<Duration>,
    ) -> Option<Duration> {
        let policy = &self.site.policy;
        let max_attempts = policy.max_attempts();
        if self.attempt >= max_attempts || !when(error) {
            return None;
        }
        let delay = match retry_after(error) {
            Some(hint) => hint,
            None => policy.jittered_delay(self.attempt),
        };
        if let (Some(budget), Some(elapsed)) = (policy.max_elapsed, self.started.elapsed()) {
            // The next attempt would start after the budget: give up now, unslept.
            if elapsed.saturating_add(delay) > budget {
                return None;
            }
        }
        log_retry(self.site.function, self.attempt, max_attempts, delay, &error);
        self.attempt += 1;
        Some(delay)
    }

    /// The attempt about to run (1-based).
    pub fn attempt(&self) -> u32 {
        self.attempt
    }
}

/// After an attempt, decides whether to retry. Implemented by the state of the
/// built-in schedule and (with the `backoff` feature) of a `backoff` policy.
#[doc(hidden)]
pub trait Attempts {
    /// `Some(delay)` to sleep and retry, `None` to return `result` as it is.
    fn after<O: Outcome>(
        &mut self,
        result: &O,
        when: impl Fn(&O::Error) -> bool,
        retry_after: impl Fn(&O::Error) -> Option<Duration>,
    ) -> Option<Duration>
    where
        O::Error: Loggable;

    /// Whether the attempt about to run is the last one the schedule allows, so that
    /// its owned arguments can be moved into it instead of cloned.
    fn is_last(&self) -> bool;
}

impl<S: Started> Attempts for RetryState<'_, S> {
    #[inline]
    fn after<O: Outcome>(
        &mut self,
        result: &O,
        when: impl Fn(&O::Error) -> bool,
        retry_after: impl Fn(&O::Error) -> Option<Duration>,
    ) -> Option<Duration>
    where
        O::Error: Loggable,
    {
        let error = result.error()?;
        self.failed(error, &when, &retry_after)
    }

    fn is_last(&self) -> bool {
        self.attempt >= self.site.policy.max_attempts()
    }
}

fn log_retry(
    function: &'static str,
    attempt: u32,
    max_attempts: u32,
    delay: Duration,
    error: &dyn Display,
) {
    tracing::warn!(
        target: "steadfast",
        function,
        attempt,
        max_attempts,
        delay_ms = delay.as_millis() as u64,
        error = %error,
        "attempt failed, retrying",
    );
}

/// The state of a `#[retry(policy = ..)]` call: the `backoff` crate's policy decides
/// the delays (and, on std's clock, its own `max_elapsed_time`).
#[cfg(feature = "backoff")]
#[doc(hidden)]
#[derive(Debug)]
pub struct BackoffState<B> {
    backoff: B,
    function: &'static str,
    attempt: u32,
}

#[cfg(feature = "backoff")]
impl<B: backoff::backoff::Backoff> BackoffState<B> {
    pub fn new(mut backoff: B, function: &'static str) -> Self {
        backoff.reset();
        Self { backoff, function, attempt: 1 }
    }
}

#[cfg(feature = "backoff")]
impl<B: backoff::backoff::Backoff> Attempts for BackoffState<B> {
    fn after<O: Outcome>(
        &mut self,
        result: &O,
        when: impl Fn(&O::Error) -> bool,
        retry_after: impl Fn(&O::Error) -> Option<Duration>,
    ) -> Option<Duration>
    where
        O::Error: Loggable,
    {
        let error = result.error()?;
        if !when(error) {
            return None;
        }
        let computed = self.backoff.next_backoff()?;
        let delay = retry_after(error).unwrap_or(computed);
        log_retry(self.function, self.attempt, 0, delay, error);
        self.attempt += 1;
        Some(delay)
    }

    fn is_last(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn schedules() {
        let p = RetryPolicy::new().jitter(0.0);
        let delays = |p: RetryPolicy| (1..=5).map(|k| p.jittered_delay(k)).collect::<Vec<_>>();
        assert_eq!(delays(p), [ms(100), ms(200), ms(400), ms(800), ms(1600)]);
        assert_eq!(
            delays(p.backoff(Backoff::Linear)),
            [ms(100), ms(200), ms(300), ms(400), ms(500)]
        );
        assert_eq!(delays(p.backoff(Backoff::Constant)), [ms(100); 5]);
        assert_eq!(
            delays(p.factor(1.5)),
            [
                ms(100),
                ms(150),
                ms(225),
                ms(337) + Duration::from_micros(500),
                ms(506) + Duration::from_micros(250)
            ]
        );
        assert_eq!(delays(p.max_delay(ms(250))), [ms(100), ms(200), ms(250), ms(250), ms(250)]);
    }

    #[test]
    fn huge_and_invalid_values_clamp_instead_of_panicking() {
        let p = RetryPolicy::new().jitter(0.0).factor(1e300).max_delay(Duration::MAX);
        assert_eq!(p.base_delay(1000), Duration::MAX);
        let p = RetryPolicy::new().jitter(f64::NAN).factor(f64::NAN).attempts(0);
        assert_eq!(p.base_delay(3), ms(100));
        assert_eq!(p.jittered_delay(3), ms(100));
        assert_eq!(p.max_attempts(), 1);
        assert_eq!(p.check(), Err(InvalidPolicy::ZeroAttempts));
        assert_eq!(RetryPolicy::new().factor(0.5).check(), Err(InvalidPolicy::Factor));
        assert_eq!(RetryPolicy::new().jitter(1.5).check(), Err(InvalidPolicy::Jitter));
        assert_eq!(RetryPolicy::new().check(), Ok(()));
        assert_eq!(RetryPolicy::new().linear_overflow_check(), Duration::from_secs(10));
    }

    impl RetryPolicy {
        fn linear_overflow_check(self) -> Duration {
            self.backoff(Backoff::Linear).delay(Duration::MAX).jitter(0.0).base_delay(u32::MAX)
        }
    }

    #[test]
    fn jitter_stays_in_range_varies_and_respects_max_delay() {
        let p = RetryPolicy::new().jitter(0.5).delay(ms(1000)).backoff(Backoff::Constant);
        let draws: Vec<_> = (0..2000).map(|_| p.jittered_delay(1)).collect();
        assert!(draws.iter().all(|d| (ms(500)..=ms(1500)).contains(d)));
        let distinct: std::collections::HashSet<_> = draws.iter().collect();
        assert!(distinct.len() > 1000, "jitter must vary: {} distinct", distinct.len());
        assert!(draws.iter().any(|d| *d < ms(700)) && draws.iter().any(|d| *d > ms(1300)));
        let capped = p.max_delay(ms(1100));
        assert!((0..2000).all(|_| capped.jittered_delay(1) <= ms(1100)));
    }

    #[derive(Debug, PartialEq)]
    struct Fail(u32);
    impl Display for Fail {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "fail {}", self.0)
        }
    }

    #[tokio::test(start_paused = true)]
    async fn run_returns_the_last_error_after_all_attempts() {
        let start = Instant::now();
        let mut n = 0;
        let out: Result<(), Fail> = RetryPolicy::new()
            .jitter(0.0)
            .run(|| {
                n += 1;
                let k = n;
                async move { Err(Fail(k)) }
            })
            .await;
        assert_eq!(out, Err(Fail(3)));
        assert_eq!(start.elapsed(), ms(300));
    }

    #[tokio::test(start_paused = true)]
    async fn max_elapsed_stops_before_a_delay_that_would_pass_it() {
        let start = Instant::now();
        let mut n = 0;
        let out: Result<(), Fail> = RetryPolicy::new()
            .attempts(10)
            .jitter(0.0)
            .max_elapsed(ms(650))
            .run(|| {
                n += 1;
                let k = n;
                async move {
                    tokio::time::sleep(ms(10)).await;
                    Err(Fail(k))
                }
            })
            .await;
        // attempts start at 0, 110, 320; the next would start at 730 > 650.
        assert_eq!(out, Err(Fail(3)));
        assert_eq!(start.elapsed(), ms(330));
    }
}
