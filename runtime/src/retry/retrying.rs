//! [`Retrying`]: a [`RetryPolicy`] with its predicate, Retry-After hint and per-retry
//! hook, run over a closure (async, or blocking), and the traits those take.

use std::fmt::Display;
use std::future::Future;
use std::time::Duration;

use super::RetryPolicy;
use super::state::{Computed, Guard, Listed, RetrySite, RetryState, Schedule, sleep};

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
pub struct Retrying<W, H, R = NoHook, S = Delays> {
    pub(super) policy: RetryPolicy,
    pub(super) name: &'static str,
    pub(super) when: W,
    pub(super) retry_after: H,
    pub(super) on_retry: R,
    pub(super) schedule: S,
}

impl<W, H, R, S> Retrying<W, H, R, S> {
    /// Retries only the errors for which `when` returns `true`.
    pub fn when<W2>(self, when: W2) -> Retrying<W2, H, R, S> {
        let Retrying { policy, name, retry_after, on_retry, schedule, .. } = self;
        Retrying { policy, name, when, retry_after, on_retry, schedule }
    }

    /// Sleeps the delays of `schedule` instead of the computed ones: the k-th retry
    /// sleeps its k-th item, capped by `max_delay` (if set), jittered only if a jitter
    /// was set on the policy; retrying stops when it runs out, or at `attempts` if
    /// that was set. Each run starts from a clone of `schedule`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use steadfast::RetryPolicy;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let ms = Duration::from_millis;
    /// let mut calls = 0;
    /// let started = tokio::time::Instant::now();
    /// let out: Result<(), &str> = RetryPolicy::new()
    ///     .when(|_: &&str| true)
    ///     .schedule([ms(10), ms(50), ms(250)])
    ///     .run(|| { calls += 1; async { Err("down") } })
    ///     .await;
    /// assert_eq!((out, calls), (Err("down"), 4)); // the first call and three retries
    /// assert_eq!(started.elapsed(), ms(310));
    /// # }
    /// ```
    pub fn schedule<I>(self, schedule: I) -> Retrying<W, H, R, List<I>>
    where
        I: IntoIterator<Item = Duration> + Clone,
    {
        let Retrying { policy, name, when, retry_after, on_retry, .. } = self;
        Retrying { policy, name, when, retry_after, on_retry, schedule: List(schedule) }
    }

    /// `Some(d)` from `retry_after` replaces the computed delay (a server's
    /// Retry-After); it is still bounded by `max_elapsed`, and by
    /// [`max_retry_after`](RetryPolicy::max_retry_after) if set.
    pub fn retry_after<H2>(self, retry_after: H2) -> Retrying<W, H2, R, S> {
        let Retrying { policy, name, when, on_retry, schedule, .. } = self;
        Retrying { policy, name, when, retry_after, on_retry, schedule }
    }

    /// Calls `on_retry(&error, &info)` before each backoff sleep, with the error of
    /// the attempt that just failed (see [`RetryInfo`]): for counters, logs, metrics.
    pub fn on_retry<R2>(self, on_retry: R2) -> Retrying<W, H, R2, S> {
        let Retrying { policy, name, when, retry_after, schedule, .. } = self;
        Retrying { policy, name, when, retry_after, on_retry, schedule }
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
        R: OnRetry<E>,
        S: Delay,
    {
        let site = RetrySite::new(self.schedule.policy(self.policy), self.name);
        let mut schedule = self.schedule.start();
        let mut state = RetryState::timed(&site, R::ACTIVE);
        site.deposit();
        loop {
            let result = op().await;
            let Err(error) = &result else { return result };
            match state.failed(
                error,
                &|e: &E| self.when.retry(e),
                &|e: &E| self.retry_after.hint(e),
                &|e: &E, info: &RetryInfo| self.on_retry.on_retry(e, info),
                &mut schedule,
                Guard::none(),
            ) {
                Some(delay) => sleep(delay).await,
                None => return result,
            }
        }
    }

    /// [`run`](Self::run) for a blocking operation: `op` is a plain closure and the
    /// delays are slept with `std::thread::sleep` (and measured, for `max_elapsed`,
    /// on std's clock). Same schedule, `when`, `retry_after`, `on_retry`, events and
    /// errors. Do not call it on an async runtime's worker thread.
    pub fn run_blocking<T, E, Op>(&self, mut op: Op) -> Result<T, E>
    where
        Op: FnMut() -> Result<T, E>,
        E: Display,
        W: RetryWhen<E>,
        H: RetryAfter<E>,
        R: OnRetry<E>,
        S: Delay,
    {
        let site = RetrySite::new(self.schedule.policy(self.policy), self.name);
        let mut schedule = self.schedule.start();
        let mut state = RetryState::blocking(&site);
        site.deposit();
        loop {
            let result = op();
            let Err(error) = &result else { return result };
            match state.failed(
                error,
                &|e: &E| self.when.retry(e),
                &|e: &E| self.retry_after.hint(e),
                &|e: &E, info: &RetryInfo| self.on_retry.on_retry(e, info),
                &mut schedule,
                Guard::none(),
            ) {
                // A zero delay does not sleep (nor yield the thread).
                Some(delay) if delay.is_zero() => {}
                Some(delay) => std::thread::sleep(delay),
                None => return result,
            }
        }
    }
}

/// Where a [`Retrying`]'s delays come from: the policy's ([`Delays`]) or a list
/// ([`List`], from [`Retrying::schedule`]).
pub trait Delay {
    #[doc(hidden)]
    type Schedule: Schedule;
    #[doc(hidden)]
    fn start(&self) -> Self::Schedule;
    #[doc(hidden)]
    fn policy(&self, policy: RetryPolicy) -> RetryPolicy {
        policy
    }
}

/// The delays the policy computes (the default of [`Retrying`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct Delays;

impl Delay for Delays {
    type Schedule = Computed;
    fn start(&self) -> Computed {
        Computed
    }
}

/// A list of delays, from [`Retrying::schedule`].
#[derive(Debug, Clone, Copy)]
pub struct List<I>(I);

impl<I: IntoIterator<Item = Duration> + Clone> Delay for List<I> {
    type Schedule = Listed<I::IntoIter>;
    fn start(&self) -> Self::Schedule {
        Listed(self.0.clone().into_iter())
    }
    fn policy(&self, policy: RetryPolicy) -> RetryPolicy {
        policy.for_schedule()
    }
}

/// What `on_retry` learns about the retry about to happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryInfo {
    pub(super) attempt: u32,
    pub(super) max_attempts: u32,
    pub(super) delay: Duration,
    pub(super) elapsed: Duration,
}

impl RetryInfo {
    /// The attempt that just failed, 1-based.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// Total attempts the schedule allows, the first included.
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The sleep about to start before the next attempt.
    pub fn delay(&self) -> Duration {
        self.delay
    }

    /// The time since the first attempt started (tokio's clock; std's for
    /// [`run_blocking`](Retrying::run_blocking)).
    pub fn elapsed(&self) -> Duration {
        self.elapsed
    }
}

/// A per-retry hook: any `Fn(&E, &RetryInfo)`, or [`NoHook`].
pub trait OnRetry<E> {
    /// Whether there is a hook at all (a `NoHook` run needs no start time).
    const ACTIVE: bool = true;
    /// Called before each backoff sleep with the error that is being retried.
    fn on_retry(&self, error: &E, info: &RetryInfo);
}

impl<E, F: Fn(&E, &RetryInfo)> OnRetry<E> for F {
    fn on_retry(&self, error: &E, info: &RetryInfo) {
        self(error, info)
    }
}

/// No per-retry hook (the default).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoHook;

impl<E> OnRetry<E> for NoHook {
    const ACTIVE: bool = false;
    fn on_retry(&self, _: &E, _: &RetryInfo) {}
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
