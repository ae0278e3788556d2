//! Hedged requests: race another attempt against a slow one ("The Tail at Scale",
//! Dean & Barroso, 2013).
//!
//! The rules are documented on [`Hedge`], the public face of this module.

mod latency;
mod race;
mod retry_budget;

use std::future::Future;
use std::time::Duration;

pub use race::HedgeAttempt;
pub use race::Hedged;

use crate::retry::{AnyError, RetryWhen};
use latency::Latencies;

/// The most attempts one call may run (`max` is clamped to it).
const MAX_ATTEMPTS: usize = 5;

/// When the next attempt is due.
#[derive(Debug, Clone, Copy)]
enum After {
    Fixed(Duration),
    Quantile(f64),
}

/// A hedging policy, with the window of recent latencies it learns from: `const`, so
/// it lives in a `static` shared by every call of a call site (what `#[hedge]` does).
///
/// It runs one attempt of a call (a closure that creates the attempt's
/// future) and starts another when the newest attempt has run `after` without
/// finishing, or at once when an attempt fails with an error for which `when` is
/// true. The rules:
///
/// - At most `max` attempts per call (2 by default, 2 ≤ `max` ≤ 5, gRPC's limit for
///   hedging), so at most `max` run at once. The first starts on the first poll.
/// - The first `Ok` wins; every other attempt is dropped (cancelled) at once.
/// - An error for which `when` is false ends the call with that error (the other
///   attempts are dropped); `when` defaults to every error. When every attempt has
///   failed, the call returns the last error.
/// - `after` is a [`Duration`] ([`Hedge::after`]), or a quantile of this call site's
///   recent successful latencies ([`Hedge::quantile`], [`Hedge::percentile`],
///   [`Hedge::p999`]): the last 1 024 latencies of winning attempts, each measured
///   from that attempt's own start, as tower's `hedge` measures them. No hedge on
///   time until 20 calls have completed (tower's `min_data_points`).
/// - With a budget ([`HedgeWith::budget`]), every call deposits into it and every
///   hedge withdraws one; a hedge that finds it empty is not started (the attempts in
///   flight run on; a failed last attempt returns its error).
/// - Each hedge emits a DEBUG event (target `steadfast`) with `function` (the
///   [`name`](Hedge::name)), `attempt` (the number of the attempt started, from 2),
///   `after_ms` (the delay in force; 0 while a quantile has too few latencies) and
///   `reason` (`slow` or `failed`).
/// - Dropping the future drops every attempt: nothing runs in the background.
///
/// Cost: a call that finishes before `after` arms at most one timer (none when it
/// finishes on its first poll) and allocates nothing; every hedge allocates its
/// attempt, and the first hedge of a call the list of hedges (the first attempt is
/// held inline, and so is any attempt started while that slot is free). With a
/// quantile, each call records its latency in a ring of atomics; a call that has to
/// wait reads the clock twice for it, one that is ready on its first poll reads none
/// and records zero.
///
/// ```
/// use std::time::Duration;
/// use steadfast::Hedge;
///
/// static REPLICAS: Hedge = Hedge::after(Duration::from_millis(50)).max(3).name("get_key");
///
/// async fn replica(delay_ms: u64) -> Result<u64, std::io::Error> {
///     tokio::time::sleep(Duration::from_millis(delay_ms)).await;
///     Ok(delay_ms)
/// }
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let started = tokio::time::Instant::now();
/// let mut delays = [1_000, 20].into_iter();
/// // The first replica is slow: a second attempt starts at 50 ms and wins at 70 ms.
/// let value = REPLICAS.run(|| replica(delays.next().unwrap())).await.unwrap();
/// assert_eq!(value, 20);
/// assert_eq!(started.elapsed(), Duration::from_millis(70));
/// # }
/// ```
pub struct Hedge {
    after: After,
    max: u32,
    name: &'static str,
    window: Latencies,
}

impl std::fmt::Debug for Hedge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hedge")
            .field("after", &self.after)
            .field("max", &self.max)
            .field("name", &self.name)
            .field("latencies_recorded", &self.window.recorded())
            .finish()
    }
}

impl Hedge {
    const fn new(after: After) -> Self {
        Self { after, max: 2, name: "hedge", window: Latencies::new() }
    }

    /// Starts another attempt when the newest one has run `after` without finishing.
    ///
    /// ```
    /// use std::time::Duration;
    /// static HEDGE: steadfast::Hedge = steadfast::Hedge::after(Duration::from_millis(50));
    /// ```
    pub const fn after(after: Duration) -> Self {
        Self::new(After::Fixed(after))
    }

    /// Starts another attempt when the newest one has run longer than the quantile
    /// `q` (0 < q ≤ 1; 0.95 for p95) of this policy's recent successful latencies.
    /// No hedge on time until 20 calls have completed. A `q` outside (0, 1] is
    /// clamped into it (NaN becomes 0.95) with an ERROR event at each call. A call
    /// ready on its first poll counts as zero: when most calls are, the quantile is
    /// zero and a call that has to wait is hedged at once.
    ///
    /// ```
    /// static HEDGE: steadfast::Hedge = steadfast::Hedge::quantile(0.95);
    /// ```
    pub const fn quantile(q: f64) -> Self {
        Self::new(After::Quantile(q))
    }

    /// [`quantile`](Self::quantile)`(p / 100)`: `percentile(95)` is p95; meant for
    /// `50..=99` (values above 100 are clamped with an ERROR event).
    ///
    /// ```
    /// static HEDGE: steadfast::Hedge = steadfast::Hedge::percentile(99).max(3);
    /// ```
    pub const fn percentile(p: u8) -> Self {
        Self::quantile(p as f64 / 100.0)
    }

    /// The 99.9th percentile: [`quantile`](Self::quantile)`(0.999)`.
    ///
    /// ```
    /// static HEDGE: steadfast::Hedge = steadfast::Hedge::p999();
    /// ```
    pub const fn p999() -> Self {
        Self::quantile(0.999)
    }

    /// At most `max` attempts per call, the first included (2 ≤ `max` ≤ 5; default
    /// 2). A value outside is clamped with an ERROR event at each call.
    ///
    /// ```
    /// use std::time::Duration;
    /// static HEDGE: steadfast::Hedge = steadfast::Hedge::after(Duration::from_millis(20)).max(3);
    /// ```
    pub const fn max(mut self, max: u32) -> Self {
        self.max = max;
        self
    }

    /// The name in the `function` field of the events (default `hedge`).
    ///
    /// ```
    /// use std::time::Duration;
    /// static HEDGE: steadfast::Hedge = steadfast::Hedge::after(Duration::from_millis(20)).name("search");
    /// ```
    pub const fn name(mut self, name: &'static str) -> Self {
        self.name = name;
        self
    }

    /// The delay after which a call starting now would hedge: `after`, or the current
    /// quantile; `None` while a quantile has fewer than 20 latencies to go on.
    ///
    /// ```
    /// use std::time::Duration;
    /// use steadfast::Hedge;
    ///
    /// assert_eq!(Hedge::after(Duration::from_millis(50)).current_delay(), Some(Duration::from_millis(50)));
    /// assert_eq!(Hedge::percentile(95).current_delay(), None); // nothing learnt yet
    /// ```
    pub fn current_delay(&self) -> Option<Duration> {
        self.delay().0
    }

    /// Runs `make()`'s attempt, hedged; every error may be hedged. See [`Hedge`] for
    /// the rules.
    ///
    /// ```
    /// use std::time::Duration;
    /// use steadfast::Hedge;
    ///
    /// static HEDGE: Hedge = Hedge::after(Duration::from_millis(50));
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let mut attempt = 0;
    /// let result = HEDGE
    ///     .run(|| {
    ///         attempt += 1;
    ///         let n = attempt;
    ///         // The first attempt fails at once: the second starts without waiting.
    ///         async move { if n == 1 { Err("refused") } else { Ok(n) } }
    ///     })
    ///     .await;
    /// assert_eq!(result, Ok(2));
    /// # }
    /// ```
    #[inline]
    pub fn run<Make, Fut, T, E>(&self, make: Make) -> Hedged<'_, Make, Fut, AnyError, NoBudget>
    where
        Make: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        Hedged::new(self, None, AnyError, &NoBudget, make)
    }

    /// Hedges only the errors for which `when` is true; any other error ends the call.
    ///
    /// ```
    /// use std::time::Duration;
    /// use steadfast::Hedge;
    ///
    /// static HEDGE: Hedge = Hedge::after(Duration::from_millis(50));
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let mut attempts = 0;
    /// let result: Result<(), &str> = HEDGE
    ///     .when(|e: &&str| *e == "busy")
    ///     .run(|| {
    ///         attempts += 1;
    ///         async { Err("not found") }
    ///     })
    ///     .await;
    /// assert_eq!((result, attempts), (Err("not found"), 1));
    /// # }
    /// ```
    #[inline]
    pub fn when<W>(&self, when: W) -> HedgeWith<'_, W, NoBudget> {
        HedgeWith { hedge: self, when, budget: &NoBudget }
    }

    /// Makes every call deposit into `budget` and every hedge withdraw from it.
    ///
    /// ```
    /// use std::time::Duration;
    /// use steadfast::{Hedge, NoBudget};
    ///
    /// static HEDGE: Hedge = Hedge::after(Duration::from_millis(50));
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let out = HEDGE.budget(&NoBudget).run(|| async { Ok::<_, std::io::Error>(1) }).await;
    /// assert_eq!(out.unwrap(), 1);
    /// # }
    /// ```
    #[inline]
    pub fn budget<'a, B: HedgeBudget + ?Sized>(
        &'a self,
        budget: &'a B,
    ) -> HedgeWith<'a, AnyError, B> {
        HedgeWith { hedge: self, when: AnyError, budget }
    }

    /// The delay in force and whether calls record their latency.
    #[inline]
    fn delay(&self) -> (Option<Duration>, bool) {
        match self.after {
            After::Fixed(after) => (Some(after), false),
            After::Quantile(_) => (self.window.quantile(), true),
        }
    }

    #[inline]
    fn record(&self, latency: Duration) {
        self.window.record(latency, self.per_million());
    }

    /// The quantile in millionths, clamped into (0, 1].
    #[inline]
    fn per_million(&self) -> u32 {
        match self.after {
            After::Quantile(q) if q > 0.0 && q <= 1.0 => ((q * 1e6).round() as u32).max(1),
            After::Quantile(q) => invalid_quantile(self.name, q),
            After::Fixed(_) => 1_000_000,
        }
    }

    /// `max`, clamped into `2..=MAX_ATTEMPTS`.
    #[inline]
    fn max_attempts(&self) -> u8 {
        match self.max {
            max @ 2..=5 => max as u8,
            max => invalid_max(self.name, max),
        }
    }
}

#[cold]
fn invalid_max(function: &'static str, max: u32) -> u8 {
    let used = max.clamp(2, MAX_ATTEMPTS as u32) as u8;
    tracing::error!(
        target: "steadfast",
        function,
        argument = "max",
        value = max,
        used,
        "invalid hedge `max`: must be 2 to 5; clamped",
    );
    used
}

#[cold]
fn invalid_quantile(function: &'static str, q: f64) -> u32 {
    let used = if q.is_nan() { 0.95 } else { q.clamp(1e-6, 1.0) };
    tracing::error!(
        target: "steadfast",
        function,
        argument = "after",
        value = q,
        used,
        "invalid hedge quantile: must be in (0, 1]; clamped",
    );
    ((used * 1e6).round() as u32).max(1)
}

/// A [`Hedge`] with a `when` predicate and a budget, ready to [`run`](Self::run).
///
/// ```
/// use std::time::Duration;
/// use steadfast::{Hedge, NoBudget};
///
/// static HEDGE: Hedge = Hedge::after(Duration::from_millis(50)).max(3);
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let out: Result<u8, &str> = HEDGE
///     .when(|e: &&str| *e == "busy")
///     .budget(&NoBudget)
///     .run(|| async { Ok(7) })
///     .await;
/// assert_eq!(out, Ok(7));
/// # }
/// ```
#[derive(Debug)]
pub struct HedgeWith<'a, W, B: ?Sized> {
    hedge: &'a Hedge,
    when: W,
    budget: &'a B,
}

impl<'a, W, B: ?Sized> HedgeWith<'a, W, B> {
    /// Hedges only the errors for which `when` is true (see [`Hedge::when`]).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # static HEDGE: steadfast::Hedge = steadfast::Hedge::after(Duration::from_millis(5));
    /// let hedged = HEDGE.budget(&steadfast::NoBudget).when(|e: &std::io::Error| e.kind() == std::io::ErrorKind::TimedOut);
    /// # drop(hedged);
    /// ```
    pub fn when<W2>(self, when: W2) -> HedgeWith<'a, W2, B> {
        HedgeWith { hedge: self.hedge, when, budget: self.budget }
    }

    /// Makes every call deposit into `budget` and every hedge withdraw from it (see
    /// [`Hedge::budget`]).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # static HEDGE: steadfast::Hedge = steadfast::Hedge::after(Duration::from_millis(5));
    /// let hedged = HEDGE.when(|_: &std::io::Error| true).budget(&steadfast::NoBudget);
    /// # drop(hedged);
    /// ```
    pub fn budget<B2: HedgeBudget + ?Sized>(self, budget: &'a B2) -> HedgeWith<'a, W, B2> {
        HedgeWith { hedge: self.hedge, when: self.when, budget }
    }

    /// Runs `make()`'s attempt, hedged (see [`Hedge::run`]).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # static HEDGE: steadfast::Hedge = steadfast::Hedge::after(Duration::from_millis(5));
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let out = HEDGE.when(|_: &std::io::Error| true).run(|| async { Ok(3) }).await;
    /// assert_eq!(out.unwrap(), 3);
    /// # }
    /// ```
    #[inline]
    pub fn run<Make, Fut, T, E>(self, make: Make) -> Hedged<'a, Make, Fut, W, B>
    where
        Make: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        W: RetryWhen<E>,
        B: HedgeBudget,
    {
        Hedged::new(self.hedge, None, self.when, self.budget, make)
    }
}

/// What hedges withdraw from: steadfast's `RetryBudget` implements it (every call
/// deposits, every hedge withdraws, as for retries), and so can any other budget.
///
/// ```
/// use std::sync::atomic::{AtomicU32, Ordering};
/// use steadfast::HedgeBudget;
///
/// /// At most `n` hedges in the life of the process.
/// struct Tokens(AtomicU32);
///
/// impl HedgeBudget for Tokens {
///     fn deposit(&self) {}
///     fn try_withdraw(&self) -> bool {
///         self.0.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1)).is_ok()
///     }
/// }
///
/// let tokens = Tokens(AtomicU32::new(1));
/// assert!(tokens.try_withdraw());
/// assert!(!tokens.try_withdraw());
/// ```
pub trait HedgeBudget {
    /// Called once per call, when its first attempt starts.
    fn deposit(&self);
    /// Called before each hedge; `false` means the hedge is not made.
    fn try_withdraw(&self) -> bool;
}

impl<B: HedgeBudget + ?Sized> HedgeBudget for &B {
    #[inline]
    fn deposit(&self) {
        (**self).deposit();
    }
    #[inline]
    fn try_withdraw(&self) -> bool {
        (**self).try_withdraw()
    }
}

/// No budget: every hedge is allowed (the default).
///
/// ```
/// use steadfast::{HedgeBudget, NoBudget};
/// assert!(NoBudget.try_withdraw());
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct NoBudget;

impl HedgeBudget for NoBudget {
    #[inline(always)]
    fn deposit(&self) {}
    #[inline(always)]
    fn try_withdraw(&self) -> bool {
        true
    }
}

/// The `#[hedge]` expansion's entry point: a hedged call of `site` (a `static` the
/// expansion defines, which holds `max`, the function name and the latency window).
/// `after` is `Some` for a duration evaluated at each call (`after = expr`), `None`
/// to use the site's own (`after = 50ms` in the static, or `after = pNN`). `make`
/// creates one attempt's future: it clones owned arguments and shares references.
#[doc(hidden)]
#[inline]
pub fn hedge<'a, Make, Fut, T, E, W, B>(
    site: &'a Hedge,
    after: Option<Duration>,
    when: W,
    budget: &'a B,
    make: Make,
) -> Hedged<'a, Make, Fut, W, B>
where
    Make: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
    W: Fn(&E) -> bool,
    B: HedgeBudget + ?Sized,
{
    Hedged::new(site, after, when, budget, make)
}
