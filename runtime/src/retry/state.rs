//! The per-call side of `#[retry]`: the site a call retries under, the state it keeps
//! between attempts, the decision after each attempt, and the sleep between them.

use std::fmt::Display;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep};
use tracing::Level;

use super::RetryPolicy;
use super::retrying::RetryInfo;
use crate::__private::{Loggable, Outcome};
use crate::budget::{RetryBudget, withdraw_retry};

/// What a retried call keeps for its whole life: the schedule and the name in its
/// events. The `#[retry]` expansion puts it in a `static` when every argument is a
/// literal, so that each call's state holds a reference only.
#[doc(hidden)]
#[derive(Debug)]
pub struct RetrySite {
    pub(super) policy: RetryPolicy,
    function: &'static str,
}

impl RetrySite {
    /// The site of `function`, retried by `policy`.
    #[inline]
    pub const fn new(policy: RetryPolicy, function: &'static str) -> Self {
        Self { policy, function }
    }

    /// Reports every schedule value that is out of range and is being clamped (one
    /// ERROR event each). The macro rejects such literals, so only values written as
    /// expressions (or built by hand) get here.
    #[cold]
    #[inline(never)]
    fn report_clamped(&self) {
        for clamp in self.policy.clamps() {
            tracing::error!(
                target: "steadfast",
                function = self.function,
                argument = clamp.argument,
                value = %clamp.given,
                used = %clamp.used,
                "invalid retry argument: clamped to the nearest valid value",
            );
        }
    }

    /// Once per call, at its first attempt: the policy's budget, if any, earns its
    /// share of this call.
    #[inline]
    pub(super) fn deposit(&self) {
        if let Some(budget) = self.policy.budget {
            budget.0.deposit();
        }
    }

    /// Once per call: a policy that needs clamping says so.
    #[inline]
    fn check(&self) {
        if self.policy.needs_clamping() {
            self.report_clamped();
        }
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

// Blocking retries measure on std's clock: tokio's does not move while a thread sleeps
// under a paused runtime.
impl Started for Option<std::time::Instant> {
    #[inline]
    fn elapsed(&self) -> Option<Duration> {
        self.map(|started| started.elapsed())
    }
}

impl<'a> RetryState<'a> {
    /// Reads the clock only if `max_elapsed` is set: the success path costs no timer.
    #[inline]
    pub fn new(site: &'a RetrySite) -> Self {
        site.check();
        let started = site.policy.max_elapsed.map(|_| Instant::now());
        Self { site, attempt: 1, started }
    }
}

impl<'a> RetryState<'a> {
    /// Notes the start also when `hook` is true (an `on_retry` hook reports
    /// `elapsed`), not only for `max_elapsed`.
    #[inline]
    pub fn timed(site: &'a RetrySite, hook: bool) -> Self {
        site.check();
        let timed = hook || site.policy.max_elapsed.is_some();
        Self { site, attempt: 1, started: timed.then(Instant::now) }
    }
}

impl<'a> RetryState<'a, Option<std::time::Instant>> {
    /// For a blocking retry: the start on std's clock.
    #[inline]
    pub fn blocking(site: &'a RetrySite) -> Self {
        site.check();
        Self { site, attempt: 1, started: Some(std::time::Instant::now()) }
    }
}

impl<'a> RetryState<'a, ()> {
    /// For a policy known to have no `max_elapsed`: no start time is kept.
    #[inline]
    pub fn untimed(site: &'a RetrySite) -> Self {
        site.check();
        Self { site, attempt: 1, started: () }
    }
}

impl<S: Started> RetryState<'_, S> {
    /// After a failed attempt: `Some(delay)` to sleep and retry, `None` to return the
    /// error. `on_retry` is called before the sleep.
    #[cold]
    pub(super) fn failed<E: Display + ?Sized>(
        &mut self,
        error: &E,
        when: &impl Fn(&E) -> bool,
        retry_after: &impl Fn(&E) -> Option<Duration>,
        on_retry: &impl Fn(&E, &RetryInfo),
        schedule: &mut impl Schedule,
        guard: Guard<'_>,
    ) -> Option<Duration> {
        let policy = &self.site.policy;
        let max_attempts = policy.max_attempts();
        // NOTE: `when` is not asked about the last attempt's error: nothing would be
        // retried after it.
        if self.attempt >= max_attempts || !when(error) {
            return None;
        }
        // The k-th retry takes the k-th delay of the schedule, also when a hint replaces it.
        let computed = schedule.delay(policy, self.attempt)?;
        let delay = match retry_after(error) {
            // A hint past `max_retry_after` ends retrying: a shorter wait would only
            // be refused again.
            Some(hint) if policy.max_retry_after.is_some_and(|max| hint > max) => return None,
            Some(hint) => hint,
            None => computed,
        };
        if let (Some(budget), Some(elapsed)) = (policy.max_elapsed, self.started.elapsed()) {
            // The next attempt would start after the budget: give up now, unslept.
            if elapsed.saturating_add(delay) > budget {
                return None;
            }
        }
        // NOTE: the budget is asked last, so that nothing is withdrawn for a retry that
        // another rule would not make.
        if !guard.allows(delay, policy.budget.map(|b| b.0), self.site.function, self.attempt) {
            return None;
        }
        let elapsed = self.started.elapsed().unwrap_or_default();
        on_retry(error, &RetryInfo { attempt: self.attempt, max_attempts, delay, elapsed });
        if let Some(level) = policy.level {
            log_retry(level, self.site.function, self.attempt, Some(max_attempts), delay, &error);
        }
        crate::metrics::retried(self.site.function);
        self.attempt += 1;
        Some(delay)
    }
}

/// Where the delay of each retry comes from: the policy's own arithmetic
/// ([`Computed`]), or a list of delays ([`Listed`]).
#[doc(hidden)]
pub trait Schedule {
    /// The delay before the `retry`-th retry, `None` when the schedule has run out.
    fn delay(&mut self, policy: &RetryPolicy, retry: u32) -> Option<Duration>;
}

/// The delays of the policy's `backoff`, `delay`, `factor`, `max_delay`, `jitter`.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, Default)]
pub struct Computed;

impl Schedule for Computed {
    #[inline]
    fn delay(&mut self, policy: &RetryPolicy, retry: u32) -> Option<Duration> {
        Some(policy.jittered_delay(retry))
    }
}

/// The delays of an iterator, one per retry, capped by `max_delay` and jittered only
/// if the policy's jitter was set.
#[doc(hidden)]
#[derive(Debug, Clone)]
pub struct Listed<I>(pub I);

impl<I: Iterator<Item = Duration>> Schedule for Listed<I> {
    #[inline]
    fn delay(&mut self, policy: &RetryPolicy, _: u32) -> Option<Duration> {
        self.0.next().map(|d| policy.listed_delay(d))
    }
}

impl<S: Started> RetryState<'_, S> {
    /// [`Attempts::after`] with an `on_retry` hook and a schedule of its own (for
    /// `on_retry = ..` and `schedule = ..`): `Some(delay)` to sleep and retry.
    #[doc(hidden)]
    #[inline]
    pub fn after_with<O: Outcome>(
        &mut self,
        result: &O,
        when: impl Fn(&O::Error) -> bool,
        retry_after: impl Fn(&O::Error) -> Option<Duration>,
        on_retry: impl Fn(&O::Error, &RetryInfo),
        schedule: &mut impl Schedule,
    ) -> Option<Duration>
    where
        O::Error: Loggable,
    {
        self.after_with_guarded(result, when, retry_after, on_retry, schedule, Guard::none())
    }

    /// [`after_with`](Self::after_with) with a [`Guard`].
    #[doc(hidden)]
    #[inline]
    pub fn after_with_guarded<O: Outcome>(
        &mut self,
        result: &O,
        when: impl Fn(&O::Error) -> bool,
        retry_after: impl Fn(&O::Error) -> Option<Duration>,
        on_retry: impl Fn(&O::Error, &RetryInfo),
        schedule: &mut impl Schedule,
        guard: Guard<'_>,
    ) -> Option<Duration>
    where
        O::Error: Loggable,
    {
        let error = result.error()?;
        self.failed(error, &when, &retry_after, &on_retry, schedule, guard)
    }
}

/// What may stop a retry besides its schedule, decided after the delay is known: the
/// attempt was refused by an open circuit breaker (below the retry) that lets trial
/// calls through only after the next delay, or the retry budget is empty.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, Default)]
pub struct Guard<'b> {
    refused: Option<Duration>,
    budget: Option<&'b RetryBudget>,
}

impl<'b> Guard<'b> {
    /// Nothing but the schedule decides.
    #[inline(always)]
    pub const fn none() -> Self {
        Self { refused: None, budget: None }
    }

    /// The attempt was refused by an open breaker whose trial calls start after
    /// `retry_after` (`None`: it was not refused).
    #[inline(always)]
    pub const fn refused(mut self, retry_after: Option<Duration>) -> Self {
        self.refused = retry_after;
        self
    }

    /// Each retry withdraws one from `budget`.
    #[inline(always)]
    pub const fn budget(mut self, budget: &'b RetryBudget) -> Self {
        self.budget = Some(budget);
        self
    }

    /// Whether the retry after a sleep of `delay` is made; `policy` is the policy's own
    /// budget, used when the guard has none. Withdraws from the budget when it is.
    #[inline]
    fn allows(
        self,
        delay: Duration,
        policy: Option<&RetryBudget>,
        function: &'static str,
        attempt: u32,
    ) -> bool {
        // A breaker still open after the sleep would only refuse again: end now, with
        // its refusal (never a spin against it).
        if self.refused.is_some_and(|after| after > delay) {
            return false;
        }
        match self.budget.or(policy) {
            Some(budget) => withdraw_retry(budget, function, attempt),
            None => true,
        }
    }
}

/// The backoff sleep of a blocking retry (`#[retry]` on a plain `fn`): a zero delay
/// does not sleep.
#[doc(hidden)]
#[inline]
pub fn sleep_blocking(delay: Duration) {
    if !delay.is_zero() {
        std::thread::sleep(delay);
    }
}

/// After an attempt, decides whether to retry. Implemented by the state of the
/// built-in schedule and (with the `backoff` feature) of a `backoff` policy.
#[doc(hidden)]
pub trait Attempts {
    /// `Some(delay)` to sleep and retry, `None` to return `result` as it is.
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
        self.after_guarded(result, when, retry_after, Guard::none())
    }

    /// [`after`](Self::after), also stopped by `guard` (a refusal, a budget).
    fn after_guarded<O: Outcome>(
        &mut self,
        result: &O,
        when: impl Fn(&O::Error) -> bool,
        retry_after: impl Fn(&O::Error) -> Option<Duration>,
        guard: Guard<'_>,
    ) -> Option<Duration>
    where
        O::Error: Loggable;

    /// Whether the attempt about to run is the last one the schedule allows, so that
    /// its owned arguments can be moved into it instead of cloned.
    fn is_last(&self) -> bool;

    /// The attempt about to run (or running), 1-based.
    fn attempt(&self) -> u32;
}

impl<S: Started> Attempts for RetryState<'_, S> {
    #[inline]
    fn after_guarded<O: Outcome>(
        &mut self,
        result: &O,
        when: impl Fn(&O::Error) -> bool,
        retry_after: impl Fn(&O::Error) -> Option<Duration>,
        guard: Guard<'_>,
    ) -> Option<Duration>
    where
        O::Error: Loggable,
    {
        let error = result.error()?;
        self.failed(error, &when, &retry_after, &|_, _| {}, &mut Computed, guard)
    }

    #[inline]
    fn is_last(&self) -> bool {
        self.attempt >= self.site.policy.max_attempts()
    }
    #[inline]
    fn attempt(&self) -> u32 {
        self.attempt
    }
}

/// The event of a retry (WARN unless the policy says otherwise). `max_attempts` is
/// left out when the schedule does not know it (a `backoff` policy).
fn log_retry(
    level: Level,
    function: &'static str,
    attempt: u32,
    max_attempts: Option<u32>,
    delay: Duration,
    error: &dyn Display,
) {
    let delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
    // `event!` needs its level as a constant: one call site per level.
    macro_rules! at {
        ($($level:ident)*) => {
            match (level, max_attempts) {
                $(
                    (Level::$level, Some(max_attempts)) => tracing::event!(
                        target: "steadfast", Level::$level,
                        function, attempt, max_attempts, delay_ms, error = %error,
                        "attempt failed, retrying",
                    ),
                    (Level::$level, None) => tracing::event!(
                        target: "steadfast", Level::$level,
                        function, attempt, delay_ms, error = %error,
                        "attempt failed, retrying",
                    ),
                )*
            }
        };
    }
    at!(ERROR WARN INFO DEBUG TRACE);
}

/// Sleeps `delay` on tokio's clock before the next attempt; a zero delay arms no
/// timer (tokio would round it up to its next 1 ms tick) and is ready at once.
#[doc(hidden)]
#[inline]
pub fn sleep(delay: Duration) -> Pause {
    Pause { timer: if delay.is_zero() { None } else { Some(tokio::time::sleep(delay)) } }
}

pin_project! {
    /// The backoff sleep of [`sleep`]: `None` for a zero delay.
    #[doc(hidden)]
    #[must_use = "a sleep does nothing unless awaited"]
    pub struct Pause {
        #[pin]
        timer: Option<Sleep>,
    }
}

impl Future for Pause {
    type Output = ();

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        match self.project().timer.as_pin_mut() {
            Some(timer) => timer.poll(cx),
            None => Poll::Ready(()),
        }
    }
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
    /// A call of `function` retried by `backoff`, reset to its first delay.
    pub fn new(mut backoff: B, function: &'static str) -> Self {
        backoff.reset();
        Self { backoff, function, attempt: 1 }
    }
}

#[cfg(feature = "backoff")]
impl<B: backoff::backoff::Backoff> Attempts for BackoffState<B> {
    fn after_guarded<O: Outcome>(
        &mut self,
        result: &O,
        when: impl Fn(&O::Error) -> bool,
        retry_after: impl Fn(&O::Error) -> Option<Duration>,
        guard: Guard<'_>,
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
        if !guard.allows(delay, None, self.function, self.attempt) {
            return None;
        }
        // The policy decides when to stop: there is no `max_attempts` to log.
        log_retry(Level::WARN, self.function, self.attempt, None, delay, error);
        crate::metrics::retried(self.function);
        self.attempt += 1;
        Some(delay)
    }

    #[inline]
    fn is_last(&self) -> bool {
        false
    }
    #[inline]
    fn attempt(&self) -> u32 {
        self.attempt
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn after_with_calls_the_hook_and_follows_the_schedule() {
        let site = RetrySite::new(RetryPolicy::new().attempts(5), "f");
        let mut state = RetryState::timed(&site, true);
        let mut listed = Listed([Duration::from_millis(7), Duration::ZERO].into_iter());
        let seen = std::cell::RefCell::new(Vec::new());
        let err: Result<(), &str> = Err("down");
        let hook =
            |_: &&str, info: &RetryInfo| seen.borrow_mut().push((info.attempt(), info.delay()));
        let first = state.after_with(&err, |_| true, |_| None, hook, &mut listed);
        let second = state.after_with(&err, |_| true, |_| None, hook, &mut listed);
        let third = state.after_with(&err, |_| true, |_| None, hook, &mut listed);
        assert_eq!(
            [first, second, third],
            [Some(Duration::from_millis(7)), Some(Duration::ZERO), None]
        );
        assert_eq!(seen.into_inner(), [(1, Duration::from_millis(7)), (2, Duration::ZERO)]);
        assert!(!state.is_last(), "attempt 3 of 5; the schedule, not `attempts`, ran out");
        let start = std::time::Instant::now();
        sleep_blocking(Duration::ZERO);
        sleep_blocking(Duration::from_millis(2));
        assert!(start.elapsed() >= Duration::from_millis(2));
    }

    #[tokio::test(start_paused = true)]
    async fn the_guard_decides_last() {
        let ms = Duration::from_millis;
        let err: Result<(), &str> = Err("down");
        let site = RetrySite::new(RetryPolicy::new().attempts(5).delay(ms(100)).jitter(0.0), "f");
        let mut state = RetryState::untimed(&site);
        // A refusal that ends before the next delay is retried; one that outlasts it is not.
        let short = Guard::none().refused(Some(ms(100)));
        assert_eq!(state.after_guarded(&err, |_| true, |_| None, short), Some(ms(100)));
        let long = Guard::none().refused(Some(ms(201)));
        assert_eq!(state.after_guarded(&err, |_| true, |_| None, long), None);
        assert_eq!(state.attempt, 2, "a retry not made is not counted");

        // The budget: one retry in it. Nothing is withdrawn for a retry another rule ends.
        let budget = RetryBudget::new().ratio(0.0).min_per_second(1).window(Duration::from_secs(1));
        let with_budget = Guard::none().budget(&budget);
        let both = with_budget.refused(Some(Duration::MAX));
        assert_eq!(state.after_guarded(&err, |_| true, |_| None, both), None);
        assert_eq!(state.after_guarded(&err, |_| false, |_| None, with_budget), None);
        assert_eq!(budget.available(), 1);
        assert_eq!(state.after_guarded(&err, |_| true, |_| None, with_budget), Some(ms(200)));
        assert_eq!(budget.available(), 0);
        assert_eq!(state.after_guarded(&err, |_| true, |_| None, with_budget), None);
        assert_eq!(state.attempt, 3);

        // The policy's own budget is used when the guard has none.
        static OWN: RetryBudget = RetryBudget::new().ratio(0.0).min_per_second(0);
        let site = RetrySite::new(RetryPolicy::new().delay(Duration::ZERO).budget(&OWN), "g");
        let mut state = RetryState::untimed(&site);
        assert_eq!(state.after(&err, |_| true, |_| None), None, "an empty budget: no retry");
    }

    #[tokio::test(start_paused = true)]
    async fn a_zero_pause_arms_no_timer() {
        let start = Instant::now();
        for _ in 0..100 {
            sleep(Duration::ZERO).await;
        }
        // tokio's own `sleep(ZERO)` waits for its next 1 ms tick each time.
        assert_eq!(start.elapsed(), Duration::ZERO);
        assert!(sleep(Duration::ZERO).timer.is_none());
        sleep(Duration::from_millis(3)).await;
        assert_eq!(start.elapsed(), Duration::from_millis(3));
    }
}
