//! [`Limiter`]: its constructors, what it reports (`in_flight`, `waiting`), its permit,
//! and [`InvalidLimit`]. The halves it is built of live in `concurrency.rs` and `rate.rs`.

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::SemaphorePermit;

use super::concurrency::Concurrency;
use super::rate::Rate;
use super::shared::Limit;
use super::waiter::Waiter;
use crate::error::Rejected;

/// A shared limit on how many bodies run at once and/or how many start per window.
///
/// A `Limiter` is built by `const` constructors, so it can live in a `static` and be
/// shared by every function that names it in `#[limit(using = ..)]`:
///
/// ```
/// use std::time::Duration;
/// use steadfast::{Limit, Limiter};
///
/// /// At most 10 queries at once, and at most 100 started in any second.
/// static DB: Limiter = Limiter::concurrency(10).and_rate(100, Duration::from_secs(1));
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), steadfast::Rejected> {
/// // What `#[limit(using = DB)]` does around the body, by hand:
/// let permit = DB.acquire(None).await?; // waits as long as needed
/// assert_eq!(DB.in_flight(), 1);
/// drop(permit); // frees the slot for the next caller
/// assert_eq!(DB.in_flight(), 0);
/// # Ok(())
/// # }
/// ```
///
/// For limits known only at run time (read from configuration), use
/// [`Limiter::try_new`], which returns an error instead of panicking.
///
/// # Concurrency
///
/// At most `n` [`LimiterPermit`]s are alive at once. A caller that finds all of them taken
/// queues behind the callers already waiting (first in, first out) until one is dropped.
/// The queue is a [`tokio::sync::Semaphore`]: a free slot is taken without a clock read,
/// a lock or an allocation.
///
/// # Rate
///
/// At most `starts` bodies start in **any** window of length `per`: a sliding window,
/// not fixed intervals, so there is no burst of `2 × starts` around an interval's edge.
/// Times are those of the tokio clock ([`tokio::time::Instant`]), so tests with a paused
/// clock see exact start times.
///
/// Callers get their start times in arrival order, through a line (a FIFO
/// [`tokio::sync::Mutex`]; the record of past starts has its own short lock, never held
/// while anyone sleeps). The caller at the head of the line computes the earliest time
/// `t`, no earlier than now or than the latest start, at which the window `(t - per, t]`
/// holds fewer than `starts` recorded starts. If `t` is now, it records the start and
/// goes; otherwise it sleeps until `t`, still at the head, then records the time it was
/// let through and goes. Since starts are recorded in order, checking the window that
/// ends at each new start is enough for every window. A caller dropped before its time
/// has recorded nothing, so the next in line gets that time.
///
/// With [`burst`](Limiter::burst), starts are spaced instead: at most `burst` at once,
/// then one every `per / starts` (GCRA), through the same line.
///
/// So `Limiter::rate(5, Duration::from_secs(1))` lets 12 callers that arrive together
/// start at 0 s (five), 1 s (five) and 2 s (two).
///
/// # Both
///
/// With both limits (`Limiter::concurrency(8).and_rate(100, per)`), a caller first takes
/// a concurrency slot, then its start time, so it starts at the very time it was given.
/// Its concurrency slot is held (and unavailable to others) while it waits for that time.
///
/// # Memory
///
/// A `Limiter` never allocates and its size does not depend on the limits: 752 bytes on
/// a 64-bit target, whatever the rate.
///
/// - Up to 64 starts per window, it keeps the exact times of the last `starts` starts in a
///   ring: start times are exactly as early as the limit allows.
/// - Above that, it counts starts in 65 buckets of `per / 64` (rounded up) and counts a
///   bucket that overlaps a window in full. That never lets more than `starts` bodies
///   start in a window, but may delay starts by up to `per / 64` per window, plus the
///   timer's resolution (1 ms) when a late wake-up pushes a start into the next bucket.
///
/// # Changes at run time
///
/// [`Limiter::set_concurrency`] and [`Limiter::set_rate`] change a limiter in use, also
/// one in a `static`: raising a limit lets waiters in at once; lowering it lets running
/// bodies finish and admits no new one until the count is under the new limit.
///
/// # Cancellation and panics
///
/// No slot is ever lost: a permit is given back when the body returns, fails, panics
/// (the permit is dropped while unwinding) or is dropped while it runs; a caller dropped
/// while it waits leaves the queue at once and never runs.
pub struct Limiter {
    pub(super) concurrency: Option<Concurrency>,
    pub(super) rate: Option<Rate>,
    /// Permits alive, for limiters with a rate limit or none (a concurrency-only
    /// limiter reads them off its semaphore).
    in_flight: AtomicUsize,
    /// Callers waiting right now; only callers that do wait touch it.
    waiting: AtomicUsize,
    /// The `limiter` label of its gauges (feature `metrics`); empty: the function's name.
    pub(super) name: &'static str,
}

impl Limiter {
    /// A limiter that lets at most `n` bodies run at once; the others wait in line.
    ///
    /// ```
    /// use std::time::Duration;
    /// use steadfast::{Limit, LimitKind, Limiter};
    ///
    /// static ONE_AT_A_TIME: Limiter = Limiter::concurrency(1);
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let first = ONE_AT_A_TIME.acquire(None).await.unwrap();
    /// // Full: a caller that may not wait is turned away at once.
    /// let second = ONE_AT_A_TIME.acquire(Some(Duration::ZERO)).await.unwrap_err();
    /// assert_eq!(second.limit(), LimitKind::Concurrency(1));
    /// drop(first);
    /// assert!(ONE_AT_A_TIME.acquire(Some(Duration::ZERO)).await.is_ok());
    /// # }
    /// ```
    ///
    /// # Panics
    ///
    /// If `n` is 0 or above [`Semaphore::MAX_PERMITS`](tokio::sync::Semaphore::MAX_PERMITS). In a `static` or `const`, that is
    /// a compile-time error:
    ///
    /// ```compile_fail
    /// static NONE: steadfast::Limiter = steadfast::Limiter::concurrency(0);
    /// # fn main() { let _ = &NONE; }
    /// ```
    pub const fn concurrency(n: usize) -> Limiter {
        match Concurrency::new(n) {
            Ok(concurrency) => Limiter::from_parts(Some(concurrency), None),
            Err(invalid) => panic!("{}", invalid.message()),
        }
    }

    /// A limiter that lets at most `starts` bodies start in any window of length `per`;
    /// the others wait in line for their start time.
    ///
    /// ```
    /// use std::time::Duration;
    /// use steadfast::{Limit, Limiter};
    ///
    /// static CRAWL: Limiter = Limiter::rate(2, Duration::from_secs(1));
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let start = tokio::time::Instant::now();
    /// for _ in 0..5 {
    ///     let _permit = CRAWL.acquire(None).await.unwrap();
    /// }
    /// // Two start at once, two after a second, the fifth after two seconds.
    /// assert_eq!(start.elapsed(), Duration::from_secs(2));
    /// # }
    /// ```
    ///
    /// # Panics
    ///
    /// If `starts` is 0 or `per` is zero. In a `static` or `const`, that is a compile-time
    /// error:
    ///
    /// ```compile_fail
    /// use std::time::Duration;
    /// static NEVER: steadfast::Limiter = steadfast::Limiter::rate(0, Duration::from_secs(1));
    /// # fn main() { let _ = &NEVER; }
    /// ```
    pub const fn rate(starts: u32, per: Duration) -> Limiter {
        match Rate::new(starts, per) {
            Ok(rate) => Limiter::from_parts(None, Some(rate)),
            Err(invalid) => panic!("{}", invalid.message()),
        }
    }

    /// Adds a rate limit to a concurrency limiter: both hold.
    ///
    /// ```
    /// use std::time::Duration;
    /// use steadfast::Limiter;
    ///
    /// static API: Limiter = Limiter::concurrency(8).and_rate(100, Duration::from_secs(1));
    /// assert_eq!(API.to_string(), "concurrency limit of 8 and rate limit of 100 per 1s");
    /// ```
    ///
    /// # Panics
    ///
    /// If `starts` is 0, `per` is zero, or this limiter already has a rate limit (a
    /// `Limiter` holds one). In a `static` or `const`, that is a compile-time error.
    #[must_use]
    pub const fn and_rate(self, starts: u32, per: Duration) -> Limiter {
        assert!(self.rate.is_none(), "Limiter::and_rate: this limiter already has a rate limit");
        match Rate::new(starts, per) {
            Ok(rate) => Limiter { rate: Some(rate), ..self },
            Err(invalid) => panic!("{}", invalid.message()),
        }
    }

    /// Spaces the starts of a rate limit evenly: at most `burst` start at once, then one
    /// every `per / starts` (GCRA, the leaky bucket of nginx's `limit_req` and of
    /// governor), instead of the sliding window's `starts` at once. A start is admitted
    /// by one compare-and-swap.
    ///
    /// ```
    /// use std::time::Duration;
    /// use steadfast::Limiter;
    ///
    /// // A start every 100 ms, never two at once.
    /// static SPACED: Limiter = Limiter::rate(10, Duration::from_secs(1)).burst(1);
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let start = tokio::time::Instant::now();
    /// for _ in 0..4 {
    ///     drop(SPACED.acquire(None).await.unwrap());
    /// }
    /// assert_eq!(start.elapsed(), Duration::from_millis(300));
    /// assert_eq!(SPACED.burst_limit(), Some(1));
    /// # }
    /// ```
    ///
    /// # Panics
    ///
    /// If this limiter has no rate limit, or `burst` is 0 or above the rate's `starts`.
    /// In a `static` or `const`, that is a compile-time error:
    ///
    /// ```compile_fail
    /// use std::time::Duration;
    /// static TOO_MANY: steadfast::Limiter = steadfast::Limiter::rate(2, Duration::from_secs(1)).burst(3);
    /// # fn main() { let _ = &TOO_MANY; }
    /// ```
    #[must_use]
    pub const fn burst(self, burst: u32) -> Limiter {
        let Limiter { concurrency, rate, in_flight, waiting, name } = self;
        let Some(rate) = rate else {
            panic!("{}", InvalidLimit::new(Invalid::BurstWithoutRate).message())
        };
        match rate.with_burst(burst) {
            Ok(rate) => Limiter { concurrency, rate: Some(rate), in_flight, waiting, name },
            Err(invalid) => panic!("{}", invalid.message()),
        }
    }

    /// Changes the concurrency limit while the limiter is in use. Raising it lets queued
    /// callers in at once; lowering it lets running bodies finish and admits no new one
    /// until fewer than `n` run.
    ///
    /// ```
    /// use std::time::Duration;
    /// use steadfast::Limiter;
    ///
    /// static POOL: Limiter = Limiter::concurrency(1);
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let first = POOL.acquire(None).await.unwrap();
    /// POOL.set_concurrency(2).unwrap();
    /// let second = POOL.acquire(Some(Duration::ZERO)).await.unwrap();
    /// assert_eq!(POOL.in_flight(), 2);
    /// assert!(POOL.set_concurrency(0).is_err());
    /// # drop((first, second));
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`InvalidLimit`] if `n` is 0 or above `Semaphore::MAX_PERMITS`, or if this limiter
    /// has no concurrency limit.
    pub fn set_concurrency(&self, n: usize) -> Result<(), InvalidLimit> {
        match &self.concurrency {
            Some(concurrency) => concurrency.set(n),
            None => Err(InvalidLimit::new(Invalid::NoConcurrency)),
        }
    }

    /// Changes the rate limit while the limiter is in use: at most `starts` in any `per`
    /// (or, with [`burst`](Self::burst), one every `per / starts`, the burst capped at
    /// `starts`). Starts already let through count against the new limit; a caller
    /// waiting for its start time has it reckoned again at once.
    ///
    /// ```
    /// use std::time::Duration;
    /// use steadfast::Limiter;
    ///
    /// let limiter = Limiter::rate(1, Duration::from_secs(1));
    /// limiter.set_rate(100, Duration::from_secs(1)).unwrap();
    /// assert_eq!(limiter.rate_limit(), Some((100, Duration::from_secs(1))));
    /// assert!(limiter.set_rate(0, Duration::from_secs(1)).is_err());
    /// ```
    ///
    /// # Errors
    ///
    /// [`InvalidLimit`] if `starts` is 0 or `per` is zero, or if this limiter has no rate
    /// limit.
    pub fn set_rate(&self, starts: u32, per: Duration) -> Result<(), InvalidLimit> {
        match &self.rate {
            Some(rate) => rate.set(starts, per),
            None => Err(InvalidLimit::new(Invalid::NoRate)),
        }
    }

    /// A limiter from limits known only at run time: at most `concurrency` bodies at once
    /// and at most `rate = (starts, per)` starts in any window of length `per`.
    ///
    /// With neither, the limiter lets every caller through at once (and still counts
    /// [`in_flight`](Self::in_flight)), which suits a limit that configuration turns off.
    ///
    /// ```
    /// use std::time::Duration;
    /// use steadfast::Limiter;
    ///
    /// let limiter = Limiter::try_new(Some(4), Some((50, Duration::from_secs(1))))?;
    /// assert_eq!(limiter.to_string(), "concurrency limit of 4 and rate limit of 50 per 1s");
    ///
    /// let invalid = Limiter::try_new(Some(0), None).unwrap_err();
    /// assert_eq!(invalid.to_string(), "invalid limit: a concurrency limit must allow at least 1");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`InvalidLimit`] if `concurrency` is 0 or above [`Semaphore::MAX_PERMITS`](tokio::sync::Semaphore::MAX_PERMITS), or if
    /// `starts` is 0 or `per` is zero.
    pub fn try_new(
        concurrency: Option<usize>,
        rate: Option<(u32, Duration)>,
    ) -> Result<Limiter, InvalidLimit> {
        let concurrency = concurrency.map(Concurrency::new).transpose()?;
        let rate = rate.map(|(starts, per)| Rate::new(starts, per)).transpose()?;
        Ok(Limiter::from_parts(concurrency, rate))
    }

    /// A limiter with the limits of this one, unused (a keyed limiter's new key).
    pub(crate) fn fresh(&self) -> Limiter {
        let concurrency = self.concurrency.as_ref().map(Concurrency::fresh);
        Limiter::from_parts(concurrency, self.rate.as_ref().map(Rate::fresh))
    }

    /// Gives back what a permit holds: its count in `in_flight` and its slot.
    #[inline]
    pub(super) fn release(&self) {
        if self.counts_in_flight() {
            self.in_flight.fetch_sub(1, Ordering::Relaxed);
        }
        if let Some(concurrency) = &self.concurrency {
            concurrency.release();
        }
    }

    const fn from_parts(concurrency: Option<Concurrency>, rate: Option<Rate>) -> Limiter {
        let (in_flight, waiting) = (AtomicUsize::new(0), AtomicUsize::new(0));
        Limiter { concurrency, rate, in_flight, waiting, name: "" }
    }

    /// Names the limiter: the `limiter` label of `steadfast_limit_in_flight` and
    /// `steadfast_limit_waiting` (feature `metrics`) for every function that shares it.
    /// Unnamed, a limiter shared by `#[limit(using = STATIC)]` reports under the
    /// static's name (`STATIC`), and any other under the name of the function that
    /// calls through it (right for the limiter of one function).
    ///
    /// ```
    /// static DB: steadfast::Limiter = steadfast::Limiter::concurrency(10).name("DB");
    /// # fn main() { let _ = &DB; }
    /// ```
    #[must_use]
    pub const fn name(self, name: &'static str) -> Limiter {
        Limiter { name, ..self }
    }

    /// Waits for a slot, as [`Limit::acquire`] does (so that no trait import is needed):
    /// `None` waits as long as needed, `Some(d)` gives up after `d` with [`Rejected`].
    ///
    /// ```
    /// use std::time::Duration;
    /// use steadfast::Limiter;
    ///
    /// static POOL: Limiter = Limiter::concurrency(1);
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let held = POOL.acquire(None).await.unwrap();
    /// let shed = POOL.acquire(Some(Duration::ZERO)).await.unwrap_err();
    /// assert_eq!(shed.waited(), Duration::ZERO);
    /// drop(held);
    /// assert!(POOL.acquire(Some(Duration::ZERO)).await.is_ok());
    /// # }
    /// ```
    pub fn acquire(
        &self,
        wait: Option<Duration>,
    ) -> impl Future<Output = Result<LimiterPermit<'_>, Rejected>> + Send + '_ {
        <Self as Limit>::acquire(self, wait)
    }

    /// How many slots are held right now: permits alive, that is bodies running.
    pub fn in_flight(&self) -> usize {
        match (&self.concurrency, &self.rate) {
            // Slots held, read off the semaphore (a slot handed to a queued caller counts
            // from the moment it is handed over).
            (Some(concurrency), None) => concurrency.held(),
            _ => self.in_flight.load(Ordering::Relaxed),
        }
    }

    /// Whether [`Self::in_flight`] is a count of its own. A concurrency-only limiter
    /// reads it off its semaphore instead: two atomic operations fewer per call.
    #[inline]
    fn counts_in_flight(&self) -> bool {
        self.concurrency.is_none() || self.rate.is_some()
    }

    /// How many callers are waiting right now: for a concurrency slot, in line for a start
    /// time, or for the start time they were given.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }

    /// The concurrency limit now, if any.
    pub fn concurrency_limit(&self) -> Option<usize> {
        self.concurrency.as_ref().map(Concurrency::max)
    }

    /// The rate limit now as `(starts, per)`, if any.
    pub fn rate_limit(&self) -> Option<(u32, Duration)> {
        self.rate.as_ref().map(Rate::limit)
    }

    /// The burst, if starts are spaced ([`Limiter::burst`]).
    pub fn burst_limit(&self) -> Option<u32> {
        self.rate.as_ref().and_then(Rate::burst)
    }

    /// The fast path: a permit if one can be had at once, without waiting, queueing or
    /// allocating; `None` (having taken nothing) if the caller has to wait.
    #[inline(always)]
    pub(super) fn try_acquire_now(&self) -> Option<LimiterPermit<'_>> {
        let slot = match &self.concurrency {
            Some(concurrency) => Some(concurrency.slots.try_acquire().ok()?),
            None => None,
        };
        if let Some(rate) = &self.rate {
            // On `false` the slot is given back: the caller queues for both.
            if !rate.try_admit() {
                return None;
            }
        }
        Some(self.permit(slot))
    }

    /// The concurrency half, if it is the only limit.
    #[inline]
    pub(super) fn slot_only(&self) -> Option<&Concurrency> {
        match (&self.concurrency, &self.rate) {
            (Some(concurrency), None) => Some(concurrency),
            _ => None,
        }
    }

    /// How many callers wait, for `Concurrency::queue`.
    pub(super) fn waiting_count(&self) -> &AtomicUsize {
        &self.waiting
    }

    /// The permit of a caller that got its slot (if there is a concurrency limit) and
    /// its start time (if there is a rate limit).
    #[inline(always)]
    pub(super) fn permit<'a>(&'a self, slot: Option<SemaphorePermit<'a>>) -> LimiterPermit<'a> {
        if self.counts_in_flight() {
            self.in_flight.fetch_add(1, Ordering::Relaxed);
        }
        // The permit gives the slot back when dropped: one pointer is all it holds.
        if let Some(slot) = slot {
            slot.forget();
        }
        LimiterPermit { limiter: self }
    }

    /// Takes a concurrency slot, then a start time: the whole state machine of a caller.
    pub(super) async fn acquire_permit(
        &self,
        wait: Option<Duration>,
    ) -> Result<LimiterPermit<'_>, Rejected> {
        let mut waiter =
            Waiter { waiting: &self.waiting, budget: wait, counted: false, since: None };
        // Held while the caller waits for its start time, so the body starts at that time.
        let slot = match &self.concurrency {
            Some(concurrency) => Some(concurrency.acquire(&mut waiter).await?),
            None => None,
        };
        if let Some(rate) = &self.rate {
            rate.admit(&mut waiter).await?;
        }
        Ok(self.permit(slot))
    }
}

impl fmt::Display for Limiter {
    /// Names the limits, as in `concurrency limit of 8 and rate limit of 100 per 1s`
    /// (with `, burst 1` for spaced starts).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.concurrency, &self.rate) {
            (Some(concurrency), Some(rate)) => {
                write!(f, "{} and {}", concurrency.kind(), rate.kind())?;
            }
            (Some(concurrency), None) => concurrency.kind().fmt(f)?,
            (None, Some(rate)) => rate.kind().fmt(f)?,
            (None, None) => f.write_str("no limit")?,
        }
        match self.burst_limit() {
            Some(burst) => write!(f, ", burst {burst}"),
            None => Ok(()),
        }
    }
}

impl fmt::Debug for Limiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("Limiter");
        if !self.name.is_empty() {
            debug.field("name", &self.name);
        }
        debug
            .field("concurrency", &self.concurrency_limit())
            .field("rate", &self.rate_limit())
            .field("burst", &self.burst_limit())
            .field("in_flight", &self.in_flight())
            .field("waiting", &self.waiting())
            .finish()
    }
}

/// A slot of a [`Limiter`], held while the body runs; dropping it frees the slot.
///
/// Returned by [`Limit::acquire`]. It counts in [`Limiter::in_flight`] until dropped,
/// and for a concurrency limit it holds one of the `n` slots.
#[must_use = "the slot is freed as soon as the permit is dropped"]
pub struct LimiterPermit<'a> {
    /// The slot, if the limiter has a concurrency limit, was taken from its semaphore
    /// and forgotten there; it is given back on drop.
    limiter: &'a Limiter,
}

impl Drop for LimiterPermit<'_> {
    #[inline]
    fn drop(&mut self) {
        self.limiter.release();
    }
}

impl fmt::Debug for LimiterPermit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LimiterPermit").field("limiter", &format_args!("{}", self.limiter)).finish()
    }
}

/// A [`Limiter`] was given a limit that lets nothing through (or one it cannot have):
/// returned by [`Limiter::try_new`], [`Limiter::set_concurrency`] and
/// [`Limiter::set_rate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidLimit {
    reason: Invalid,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Invalid {
    ZeroConcurrency,
    TooMuchConcurrency,
    ZeroStarts,
    ZeroWindow,
    ZeroBurst,
    BurstAboveRate,
    BurstWithoutRate,
    NoConcurrency,
    NoRate,
    /// A `RedisLimiter`'s client cannot make a connection manager (feature `redis`).
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    RedisClient,
}

impl InvalidLimit {
    pub(crate) const fn new(reason: Invalid) -> Self {
        Self { reason }
    }

    /// Also the message of the const constructors' panics, hence `const` and `'static`.
    const fn message(self) -> &'static str {
        match self.reason {
            Invalid::ZeroConcurrency => "invalid limit: a concurrency limit must allow at least 1",
            Invalid::TooMuchConcurrency => {
                "invalid limit: a concurrency limit may allow at most Semaphore::MAX_PERMITS"
            }
            Invalid::ZeroStarts => "invalid limit: a rate limit must allow at least 1 start",
            Invalid::ZeroWindow => "invalid limit: a rate limit's window must be longer than zero",
            Invalid::ZeroBurst => "invalid limit: a burst must allow at least 1 start",
            Invalid::BurstAboveRate => {
                "invalid limit: a burst may not exceed the rate's starts per window"
            }
            Invalid::BurstWithoutRate => "invalid limit: a burst needs a rate limit",
            Invalid::NoConcurrency => {
                "invalid limit: this limiter has no concurrency limit to change"
            }
            Invalid::NoRate => "invalid limit: this limiter has no rate limit to change",
            Invalid::RedisClient => {
                "invalid limit: the Redis client cannot make a connection for this limiter"
            }
        }
    }
}

impl fmt::Display for InvalidLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for InvalidLimit {}
