//! `#[retry]`: the delay schedule and the loop that re-runs a failed operation.

mod delay;
pub mod jitter;
mod retrying;
mod state;

use std::fmt::Display;
use std::future::Future;
use std::time::Duration;

use tracing::Level;

use crate::budget::{BudgetRef, RetryBudget};

pub use retrying::{
    AnyError, Delay, Delays, List, NoHint, NoHook, OnRetry, RetryAfter, RetryInfo, RetryWhen,
    Retrying, any_error, no_hint,
};
#[cfg(feature = "backoff")]
pub use state::BackoffState;
pub use state::{
    Attempts, Computed, Guard, Listed, RetrySite, RetryState, Schedule, Started, sleep,
    sleep_blocking,
};

/// How delays grow from one retry to the next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backoff {
    /// `delay · factor^(k-1)` before the k-th retry.
    Exponential,
    /// `delay · k` before the k-th retry.
    Linear,
    /// `delay` before every retry.
    Constant,
    /// `delay · fib(k)` (1, 1, 2, 3, 5, …) before the k-th retry.
    Fibonacci,
}

/// How a delay `d` is randomised (see [`RetryPolicy::jitter`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum JitterMode {
    /// Uniform in `[d·(1−J), d·(1+J)]`.
    Spread,
    /// Uniform in `[0, d]` (AWS's "full jitter").
    Full,
    /// Uniform in `[d/2, d]` (AWS's "equal jitter").
    Equal,
}

/// When and how long to wait between attempts: the schedule of `#[retry]`.
///
/// Built with `const` methods, so a policy can be a `static`. Out-of-range values are
/// clamped, never a panic: `attempts(0)` acts as 1, a `factor` below 1 (or NaN) as 1,
/// a `jitter` outside `[0, 1]` is clamped into it, a `max_delay` written shorter than
/// `delay` acts as `delay`; [`RetryPolicy::check`] tells whether a policy needed any
/// of that, and [`run`](Self::run) reports it with an ERROR event per call. Delays
/// are computed in integer nanoseconds where the schedule allows (constant, linear,
/// a whole `factor`) and saturate at `max_delay`, else at `Duration::MAX`.
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
    jitter_mode: JitterMode,
    max_retry_after: Option<Duration>,
    // `None`: no retry events.
    level: Option<Level>,
    // Whether `max_delay` was written: the default (10 s) gives way to a longer
    // `delay` silently, a written one below `delay` is clamped with an event.
    max_delay_set: bool,
    // Whether `attempts` and a jitter were written: a `schedule` uses them only then.
    attempts_set: bool,
    jitter_set: bool,
    // The shared budget every call deposits into and every retry withdraws from.
    budget: Option<BudgetRef>,
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
    /// `max_delay` was written shorter than `delay`.
    MaxDelay,
}

impl Display for InvalidPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            InvalidPolicy::ZeroAttempts => "retry policy: `attempts` must be at least 1",
            InvalidPolicy::Factor => "retry policy: `factor` must be a number of at least 1.0",
            InvalidPolicy::Jitter => "retry policy: `jitter` must be between 0.0 and 1.0",
            InvalidPolicy::MaxDelay => "retry policy: `max_delay` must not be shorter than `delay`",
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
            jitter_mode: JitterMode::Spread,
            max_retry_after: None,
            level: Some(Level::WARN),
            max_delay_set: false,
            attempts_set: false,
            jitter_set: false,
            budget: None,
        }
    }

    /// Total attempts, the first included.
    pub const fn attempts(mut self, attempts: u32) -> Self {
        self.attempts = attempts;
        self.attempts_set = true;
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

    /// No single computed delay is longer than this, jitter included. The default,
    /// 10 s, gives way to a longer [`delay`](Self::delay); a `max_delay` set below
    /// `delay` is clamped up to it (and reported).
    pub const fn max_delay(mut self, max_delay: Duration) -> Self {
        self.max_delay = max_delay;
        self.max_delay_set = true;
        self
    }

    /// Each delay `d` is drawn uniformly from `[d·(1−J), d·(1+J)]`; 0 gives exact delays.
    /// Draws can be made reproducible with [`jitter::seed`](crate::jitter::seed).
    pub const fn jitter(mut self, jitter: f64) -> Self {
        self.jitter = jitter;
        self.jitter_mode = JitterMode::Spread;
        self.jitter_set = true;
        self
    }

    /// Each delay `d` is drawn uniformly from `[0, d]`: AWS's "full jitter".
    ///
    /// ```
    /// use std::time::Duration;
    /// use steadfast::RetryPolicy;
    ///
    /// let p = RetryPolicy::new().delay(Duration::from_secs(1)).full_jitter();
    /// assert!((0..100).all(|_| p.jittered_delay(1) <= Duration::from_secs(1)));
    /// ```
    pub const fn full_jitter(mut self) -> Self {
        self.jitter_mode = JitterMode::Full;
        self.jitter_set = true;
        self
    }

    /// Each delay `d` is drawn uniformly from `[d/2, d]`: AWS's "equal jitter".
    pub const fn equal_jitter(mut self) -> Self {
        self.jitter_mode = JitterMode::Equal;
        self.jitter_set = true;
        self
    }

    /// A Retry-After hint longer than this ends retrying at once, with that error
    /// (waiting less than the server asked would only be refused again).
    pub const fn max_retry_after(mut self, max_retry_after: Duration) -> Self {
        self.max_retry_after = Some(max_retry_after);
        self
    }

    /// The level of the retry events (`Some(Level::WARN)` by default); `None` emits
    /// none. The ERROR events of clamped values are not affected.
    pub const fn level(mut self, level: Option<Level>) -> Self {
        self.level = level;
        self
    }

    /// Every run deposits into `budget` (its first attempt) and every retry withdraws
    /// one from it: a retry that finds it empty is not made, the last error returns at
    /// once with a WARN event `retry budget exhausted` (`function`, `attempt`). The
    /// value form of `#[retry(budget = B)]`.
    ///
    /// ```
    /// use std::cell::Cell;
    /// use std::time::Duration;
    /// use steadfast::{RetryBudget, RetryPolicy};
    ///
    /// // 1 retry per second over 2 s, and none earned by calls.
    /// static RETRIES: RetryBudget = RetryBudget::new().min_per_second(1).ratio(0.0).window(Duration::from_secs(2));
    /// const POLICY: RetryPolicy = RetryPolicy::new().attempts(4).delay(Duration::ZERO).budget(&RETRIES);
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let calls = Cell::new(0);
    /// for _ in 0..3 {
    ///     let _: Result<(), &str> = POLICY.run(|| { calls.set(calls.get() + 1); async { Err("down") } }).await;
    /// }
    /// // 3 first attempts, and the 2 retries the budget holds (of 9 wanted).
    /// assert_eq!(calls.get(), 5);
    /// # }
    /// ```
    pub const fn budget(mut self, budget: &'static RetryBudget) -> Self {
        self.budget = Some(BudgetRef(budget));
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
        } else if self.max_delay_set && self.max_delay < self.delay {
            Err(InvalidPolicy::MaxDelay)
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
        delay::base(&self.clamped(), retry)
    }

    /// The delay before the `retry`-th retry with jitter applied (uniform in
    /// `[d·(1−J), d·(1+J)]`), capped by `max_delay`. A delay that saturated at
    /// `Duration::MAX` is not jittered.
    pub fn jittered_delay(&self, retry: u32) -> Duration {
        let policy = self.clamped();
        policy.jitter_of(delay::base(&policy, retry))
    }

    /// One delay of a `schedule`: capped by `max_delay`, jittered if a jitter was set.
    pub(super) fn listed_delay(&self, listed: Duration) -> Duration {
        let policy = self.clamped();
        let capped = listed.min(policy.max_delay);
        if policy.jitter_set { policy.jitter_of(capped) } else { capped }
    }

    /// The policy a `schedule` runs under: no `delay` (so no `max_delay` below it),
    /// the default `max_delay` lifted (only a written one caps), and no attempt
    /// limit unless `attempts` was written.
    pub(crate) const fn for_schedule(mut self) -> Self {
        self.delay = Duration::ZERO;
        if !self.max_delay_set {
            self.max_delay = Duration::MAX;
        }
        if !self.attempts_set {
            self.attempts = u32::MAX;
        }
        self
    }

    fn jitter_of(&self, base: Duration) -> Duration {
        let policy = self;
        match policy.jitter_mode {
            JitterMode::Spread => delay::jittered(base, policy.jitter, policy.max_delay),
            JitterMode::Full => delay::between(base, Duration::ZERO, base),
            JitterMode::Equal => delay::between(base, base / 2, base),
        }
    }

    /// Whether any value is out of range ([`check`](Self::check) says which);
    /// cheap enough for every call.
    #[inline]
    pub(crate) fn needs_clamping(&self) -> bool {
        self.attempts == 0
            || self.factor.is_nan()
            || self.factor < 1.0
            || !(0.0..=1.0).contains(&self.jitter)
            || (self.max_delay_set && self.max_delay < self.delay)
    }

    /// The policy with every value moved to the nearest valid one: `attempts` at
    /// least 1, `factor` at least 1 (NaN: 1), `jitter` into `[0, 1]` (NaN: 0), and
    /// `max_delay` at least `delay` (the default 10 s gives way silently).
    fn clamped(&self) -> Self {
        let mut policy = *self;
        policy.attempts = self.max_attempts();
        if policy.factor.is_nan() || policy.factor < 1.0 {
            policy.factor = 1.0;
        }
        policy.jitter = if policy.jitter.is_nan() { 0.0 } else { policy.jitter.clamp(0.0, 1.0) };
        policy.max_delay = policy.max_delay.max(policy.delay);
        policy
    }

    /// Each value that [`clamped`](Self::clamped) changes (and reports), with the
    /// value given and the value used.
    fn clamps(&self) -> impl Iterator<Item = Clamp> {
        let used = self.clamped();
        let shown = |d: Duration| format!("{d:?}");
        [
            (self.attempts != used.attempts)
                .then(|| Clamp::new("attempts", self.attempts, used.attempts)),
            (self.factor.to_bits() != used.factor.to_bits())
                .then(|| Clamp::new("factor", self.factor, used.factor)),
            (self.jitter.to_bits() != used.jitter.to_bits())
                .then(|| Clamp::new("jitter", self.jitter, used.jitter)),
            (self.max_delay_set && self.max_delay != used.max_delay)
                .then(|| Clamp::new("max_delay", shown(self.max_delay), shown(used.max_delay))),
        ]
        .into_iter()
        .flatten()
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

    /// [`run`](Self::run) for a blocking closure, sleeping with `std::thread::sleep`
    /// (see [`Retrying::run_blocking`]).
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use steadfast::RetryPolicy;
    ///
    /// let mut calls = 0;
    /// let started = Instant::now();
    /// let out: Result<u32, String> = RetryPolicy::new()
    ///     .delay(Duration::from_millis(5))
    ///     .jitter(0.0)
    ///     .run_blocking(|| {
    ///         calls += 1;
    ///         if calls < 3 { Err(format!("busy {calls}")) } else { Ok(calls) }
    ///     });
    /// assert_eq!(out, Ok(3));
    /// assert!(started.elapsed() >= Duration::from_millis(15)); // 5 ms, then 10 ms
    /// ```
    pub fn run_blocking<T, E, Op>(&self, op: Op) -> Result<T, E>
    where
        Op: FnMut() -> Result<T, E>,
        E: Display,
    {
        self.when(AnyError).run_blocking(op)
    }

    /// Retries only the errors for which `when` returns `true`.
    pub fn when<W>(self, when: W) -> Retrying<W, NoHint> {
        self.retrying().when(when)
    }

    /// Uses `retry_after`'s `Some(d)` instead of the computed delay (see [`Retrying`]).
    pub fn retry_after<H>(self, retry_after: H) -> Retrying<AnyError, H> {
        self.retrying().retry_after(retry_after)
    }

    /// Calls `on_retry(&error, &info)` before each backoff sleep (see [`RetryInfo`]).
    ///
    /// ```
    /// use std::cell::RefCell;
    /// use std::time::Duration;
    /// use steadfast::{RetryInfo, RetryPolicy};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let seen = RefCell::new(Vec::new());
    /// let _ = RetryPolicy::new()
    ///     .jitter(0.0)
    ///     .on_retry(|e: &String, info: &RetryInfo| {
    ///         seen.borrow_mut().push((e.clone(), info.attempt(), info.delay(), info.elapsed()));
    ///     })
    ///     .run(|| async { Err::<(), _>("down".to_owned()) })
    ///     .await;
    /// let ms = Duration::from_millis;
    /// assert_eq!(
    ///     seen.into_inner(),
    ///     [("down".to_owned(), 1, ms(100), ms(0)), ("down".to_owned(), 2, ms(200), ms(100))]
    /// );
    /// # }
    /// ```
    pub fn on_retry<R>(self, on_retry: R) -> Retrying<AnyError, NoHint, R> {
        self.retrying().on_retry(on_retry)
    }

    /// Sleeps the delays of `schedule` (see [`Retrying::schedule`]).
    pub fn schedule<I>(self, schedule: I) -> Retrying<AnyError, NoHint, NoHook, List<I>>
    where
        I: IntoIterator<Item = Duration> + Clone,
    {
        self.retrying().schedule(schedule)
    }

    fn retrying(self) -> Retrying<AnyError, NoHint> {
        Retrying {
            policy: self,
            name: "retry",
            when: AnyError,
            retry_after: NoHint,
            on_retry: NoHook,
            schedule: Delays,
        }
    }
}

/// One clamped value, for its ERROR event.
struct Clamp {
    argument: &'static str,
    given: String,
    used: String,
}

impl Clamp {
    fn new(argument: &'static str, given: impl Display, used: impl Display) -> Self {
        Self { argument, given: given.to_string(), used: used.to_string() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::time::Instant;

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
        assert_eq!(
            RetryPolicy::new().delay(ms(500)).max_delay(ms(100)).check(),
            Err(InvalidPolicy::MaxDelay)
        );
        // The default `max_delay` gives way to a longer `delay`.
        assert_eq!(RetryPolicy::new().delay(Duration::from_secs(30)).check(), Ok(()));
        let linear = RetryPolicy::new().backoff(Backoff::Linear).jitter(0.0);
        assert_eq!(linear.delay(Duration::MAX).base_delay(u32::MAX), Duration::MAX);
        assert_eq!(
            linear.delay(Duration::MAX / 2).max_delay(Duration::MAX).base_delay(3),
            Duration::MAX
        );
    }

    #[test]
    fn clamping_names_each_argument_with_the_value_used() {
        let p = RetryPolicy::new()
            .attempts(0)
            .factor(0.5)
            .jitter(1.5)
            .delay(ms(500))
            .max_delay(ms(100));
        assert!(p.needs_clamping());
        let clamps: Vec<_> = p.clamps().map(|c| (c.argument, c.given, c.used)).collect();
        let owned = |a: &'static str, g: &str, u: &str| (a, g.to_owned(), u.to_owned());
        assert_eq!(
            clamps,
            [
                owned("attempts", "0", "1"),
                owned("factor", "0.5", "1"),
                owned("jitter", "1.5", "1"),
                owned("max_delay", "100ms", "500ms"),
            ]
        );
        assert_eq!(p.base_delay(1), ms(500));
        assert_eq!(p.base_delay(3), ms(500), "factor 0.5 acts as 1");
        let fine = RetryPolicy::new().delay(Duration::from_secs(30));
        assert!(!fine.needs_clamping());
        assert_eq!(fine.clamps().count(), 0);
        assert!(RetryPolicy::new().jitter(-0.1).needs_clamping());
        assert!(RetryPolicy::new().factor(f64::NAN).needs_clamping());
    }

    /// tokio-retry2's `exponential_backoff::saturates_at_maximum_value`, ported:
    /// `ExponentialBackoff::from_millis(u64::MAX - 1)` sleeps `u64::MAX − 1` ms, then
    /// saturates at `u64::MAX` ms (its largest delay; here, `max_delay`).
    #[test]
    fn tokio_retry2_saturates_at_maximum_value() {
        let p = RetryPolicy::new()
            .delay(Duration::from_millis(u64::MAX - 1))
            .factor(2.0)
            .max_delay(Duration::from_millis(u64::MAX))
            .jitter(0.0);
        assert_eq!(p.jittered_delay(1), Duration::from_millis(u64::MAX - 1));
        assert_eq!(p.jittered_delay(2), Duration::from_millis(u64::MAX));
        assert_eq!(p.jittered_delay(3), Duration::from_millis(u64::MAX));
        // Factor 1 is exact too (f64 would round u64::MAX − 1 ms up to u64::MAX ms).
        let flat = p.factor(1.0).max_delay(Duration::MAX);
        assert_eq!(flat.jittered_delay(1_000), Duration::from_millis(u64::MAX - 1));
        let constant = flat.backoff(Backoff::Constant);
        assert_eq!(constant.jittered_delay(7), Duration::from_millis(u64::MAX - 1));
    }

    /// backon's `test_exponential_max_delay_without_default_2`, ported: factor 10¹⁰
    /// from 10¹⁰ s with jitter and no maximum: the first delay is jittered around
    /// 10¹⁰ s, the second saturates at `Duration::MAX` — every time, jitter or not.
    #[test]
    fn backon_exponential_max_delay_without_default_2() {
        let p = RetryPolicy::new()
            .attempts(3)
            .delay(Duration::from_secs(10_000_000_000))
            .factor(10_000_000_000.0)
            .max_delay(Duration::MAX)
            .jitter(0.5);
        for _ in 0..1000 {
            let v = p.jittered_delay(1);
            assert!(v >= Duration::from_secs(5_000_000_000), "current: {v:?}");
            assert!(v <= Duration::from_secs(15_000_000_000), "current: {v:?}");
            assert_eq!(p.jittered_delay(2), Duration::MAX);
        }
        assert_eq!(p.max_attempts(), 3); // two retries, then none
    }

    #[test]
    fn a_jittered_delay_at_a_huge_cap_never_truncates() {
        // Past u64 nanoseconds: the old `from_nanos(x as u64)` gave 584 years.
        let p = RetryPolicy::new()
            .backoff(Backoff::Constant)
            .delay(Duration::from_secs(u64::MAX / 4))
            .max_delay(Duration::MAX)
            .jitter(0.5);
        for _ in 0..1000 {
            let v = p.jittered_delay(1);
            assert!(v >= Duration::from_secs(u64::MAX / 8), "{v:?}");
        }
        let capped = p.delay(Duration::MAX);
        assert!((0..1000).all(|_| capped.jittered_delay(1) == Duration::MAX));
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
