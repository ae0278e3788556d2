//! Shared limits on how many bodies run at once and how many start per window: the
//! [`Limiter`], the [`Limit`] trait behind `#[limit(using = ..)]`, and the helpers that
//! the attribute's expansion calls.

#![forbid(unsafe_code)]

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::sync::{Mutex, Semaphore, SemaphorePermit};
use tokio::time::Instant;

use crate::{LimitKind, Rejected};

/// Up to this many starts per window, a rate limiter remembers each start exactly.
const EXACT_STARTS: usize = 64;

/// Above [`EXACT_STARTS`], a rate limiter counts starts in this many buckets per window
/// (plus one: a window that is not aligned to the buckets overlaps one more).
const BUCKETS: u64 = 64;

/// A caller that waited longer than this for its slot is reported at DEBUG level.
const LONG_WAIT: Duration = Duration::from_secs(1);

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
/// [`tokio::sync::Mutex`] around the record of past starts). The caller at the head of the
/// line computes the earliest time `t`, no earlier than now or than the latest start, at
/// which the window `(t - per, t]` holds fewer than `starts` recorded starts. If `t` is now,
/// it records the start and goes; otherwise it sleeps until `t`, still at the head, then
/// records the time it was let through and goes. Since starts are recorded in order,
/// checking the window that ends at each new start is enough for every window. A caller
/// dropped before its time has recorded nothing, so the next in line gets that time.
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
/// A `Limiter` never allocates and its size does not depend on the limits: 704 bytes on
/// a 64-bit target, whatever the rate.
///
/// - Up to 64 starts per window, it keeps the exact times of the last `starts` starts in a
///   ring: start times are exactly as early as the limit allows.
/// - Above that, it counts starts in 65 buckets of `per / 64` (rounded up) and counts a
///   bucket that overlaps a window in full. That never lets more than `starts` bodies
///   start in a window, but may delay starts by up to `per / 64` per window, plus the
///   timer's resolution (1 ms) when a late wake-up pushes a start into the next bucket.
///
/// # Cancellation and panics
///
/// No slot is ever lost: a permit is given back when the body returns, fails, panics
/// (the permit is dropped while unwinding) or is dropped while it runs; a caller dropped
/// while it waits leaves the queue at once and never runs.
pub struct Limiter {
    concurrency: Option<Concurrency>,
    rate: Option<Rate>,
    /// Permits alive, for limiters with a rate limit or none (a concurrency-only
    /// limiter reads them off its semaphore).
    in_flight: AtomicUsize,
    /// Callers waiting right now; only callers that do wait touch it.
    waiting: AtomicUsize,
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
    /// If `n` is 0 or above [`Semaphore::MAX_PERMITS`]. In a `static` or `const`, that is
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
    /// [`InvalidLimit`] if `concurrency` is 0 or above [`Semaphore::MAX_PERMITS`], or if
    /// `starts` is 0 or `per` is zero.
    pub fn try_new(
        concurrency: Option<usize>,
        rate: Option<(u32, Duration)>,
    ) -> Result<Limiter, InvalidLimit> {
        let concurrency = concurrency.map(Concurrency::new).transpose()?;
        let rate = rate.map(|(starts, per)| Rate::new(starts, per)).transpose()?;
        Ok(Limiter::from_parts(concurrency, rate))
    }

    const fn from_parts(concurrency: Option<Concurrency>, rate: Option<Rate>) -> Limiter {
        Limiter { concurrency, rate, in_flight: AtomicUsize::new(0), waiting: AtomicUsize::new(0) }
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
            (Some(concurrency), None) => concurrency.max - concurrency.slots.available_permits(),
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

    /// The concurrency limit, if any.
    pub const fn concurrency_limit(&self) -> Option<usize> {
        match &self.concurrency {
            Some(concurrency) => Some(concurrency.max),
            None => None,
        }
    }

    /// The rate limit as `(starts, per)`, if any.
    pub const fn rate_limit(&self) -> Option<(u32, Duration)> {
        match &self.rate {
            Some(rate) => Some((rate.starts, rate.per)),
            None => None,
        }
    }

    /// The fast path: a permit if one can be had at once, without waiting, queueing or
    /// allocating; `None` (having taken nothing) if the caller has to wait.
    #[inline(always)]
    fn try_acquire_now(&self) -> Option<LimiterPermit<'_>> {
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

    /// The permit of a caller that got its slot (if there is a concurrency limit) and
    /// its start time (if there is a rate limit).
    #[inline(always)]
    fn permit<'a>(&'a self, slot: Option<SemaphorePermit<'a>>) -> LimiterPermit<'a> {
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
    async fn acquire_permit(&self, wait: Option<Duration>) -> Result<LimiterPermit<'_>, Rejected> {
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
    /// Names the limits, as in `concurrency limit of 8 and rate limit of 100 per 1s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.concurrency, &self.rate) {
            (Some(concurrency), Some(rate)) => {
                write!(f, "{} and {}", concurrency.kind(), rate.kind())
            }
            (Some(concurrency), None) => concurrency.kind().fmt(f),
            (None, Some(rate)) => rate.kind().fmt(f),
            (None, None) => f.write_str("no limit"),
        }
    }
}

impl fmt::Debug for Limiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Limiter")
            .field("concurrency", &self.concurrency_limit())
            .field("rate", &self.rate_limit())
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
        if self.limiter.counts_in_flight() {
            self.limiter.in_flight.fetch_sub(1, Ordering::Relaxed);
        }
        if let Some(concurrency) = &self.limiter.concurrency {
            concurrency.slots.add_permits(1);
        }
    }
}

impl fmt::Debug for LimiterPermit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LimiterPermit").field("limiter", &format_args!("{}", self.limiter)).finish()
    }
}

/// A [`Limiter`] was given a limit that lets nothing through: returned by
/// [`Limiter::try_new`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidLimit {
    reason: Invalid,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Invalid {
    ZeroConcurrency,
    TooMuchConcurrency,
    ZeroStarts,
    ZeroWindow,
}

impl InvalidLimit {
    const fn new(reason: Invalid) -> Self {
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
        }
    }
}

impl fmt::Display for InvalidLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for InvalidLimit {}

/// The concurrency half of a [`Limiter`].
struct Concurrency {
    max: usize,
    /// FIFO: a released slot goes to the longest waiting caller, and `try_acquire` cannot
    /// take a slot while callers are queued.
    slots: Semaphore,
}

impl Concurrency {
    const fn new(max: usize) -> Result<Self, InvalidLimit> {
        if max == 0 {
            Err(InvalidLimit::new(Invalid::ZeroConcurrency))
        } else if max > Semaphore::MAX_PERMITS {
            Err(InvalidLimit::new(Invalid::TooMuchConcurrency))
        } else {
            Ok(Self { max, slots: Semaphore::const_new(max) })
        }
    }

    const fn kind(&self) -> LimitKind {
        LimitKind::Concurrency(self.max)
    }

    async fn acquire(&self, waiter: &mut Waiter<'_>) -> Result<SemaphorePermit<'_>, Rejected> {
        // Fast path: no clock read, no queueing.
        if let Ok(slot) = self.slots.try_acquire() {
            return Ok(slot);
        }
        if waiter.may_not_wait() {
            return Err(Rejected::new(self.kind(), waiter.waited()));
        }
        let acquire = self.slots.acquire();
        // The semaphore is never closed: `acquire` fails only by running out of time.
        let slot = match waiter.start(Instant::now) {
            None => acquire.await.ok(),
            Some(deadline) => {
                tokio::time::timeout_at(deadline, acquire).await.ok().and_then(Result::ok)
            }
        };
        slot.ok_or_else(|| Rejected::new(self.kind(), waiter.waited()))
    }
}

/// The rate half of a [`Limiter`].
struct Rate {
    starts: u32,
    per: Duration,
    /// The lock is also the line for start times: only its holder computes a start time,
    /// and it keeps the lock while it sleeps until that time. So start times are handed
    /// out in arrival order (tokio's mutex is FIFO), and a caller dropped while it waits
    /// has recorded nothing that would need to be given back.
    history: Mutex<History>,
}

impl Rate {
    const fn new(starts: u32, per: Duration) -> Result<Self, InvalidLimit> {
        if starts == 0 {
            Err(InvalidLimit::new(Invalid::ZeroStarts))
        } else if per.is_zero() {
            Err(InvalidLimit::new(Invalid::ZeroWindow))
        } else {
            Ok(Self { starts, per, history: Mutex::const_new(History::new(starts, per)) })
        }
    }

    const fn kind(&self) -> LimitKind {
        LimitKind::Rate { starts: self.starts, per: self.per }
    }

    /// Records a start now if the line is empty and the window has room; `false`
    /// (having recorded nothing) if the caller has to wait.
    fn try_admit(&self) -> bool {
        let Ok(mut history) = self.history.try_lock() else {
            return false;
        };
        let (_, now) = history.clock(Instant::now());
        if history.earliest_start(now) > now {
            return false;
        }
        history.record(now);
        true
    }

    /// Waits for this caller's start time and records it.
    async fn admit(&self, waiter: &mut Waiter<'_>) -> Result<(), Rejected> {
        let mut history = match self.history.try_lock() {
            Ok(history) => history,
            Err(_) if waiter.may_not_wait() => {
                return Err(Rejected::new(self.kind(), waiter.waited()));
            }
            Err(_) => {
                let lock = self.history.lock();
                let locked = match waiter.start(Instant::now) {
                    None => Some(lock.await),
                    Some(deadline) => tokio::time::timeout_at(deadline, lock).await.ok(),
                };
                locked.ok_or_else(|| Rejected::new(self.kind(), waiter.waited()))?
            }
        };
        let now = Instant::now();
        let (base, now_ns) = history.clock(now);
        let start = history.earliest_start(now_ns);
        if start > now_ns {
            let deadline = waiter.start(|| now);
            // `None`: beyond the range of the clock, that is never.
            let at = base.checked_add(Duration::from_nanos(start));
            if deadline.is_some_and(|deadline| at.is_none_or(|at| at > deadline)) {
                // No point sleeping: the start time lies beyond the caller's patience.
                return Err(Rejected::new(self.kind(), waiter.waited_at(now)));
            }
            match at {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
            // Record when the caller is let through: the timer may fire late (it rounds up
            // to a millisecond), and a start recorded earlier than it happened could let a
            // later window hold one start too many.
            let (_, woke) = history.clock(Instant::now());
            history.record(woke.max(start));
        } else {
            history.record(now_ns);
        }
        Ok(())
    }
}

/// The starts a rate limit has let through, as nanoseconds since `base`.
struct History {
    /// The tokio clock's time at the first start; `None` until then (no clock in `const`).
    base: Option<Instant>,
    starts: u32,
    per: u64,
    log: Log,
}

/// The record of past starts, fixed in size whatever the rate.
#[allow(clippy::large_enum_variant)] // it lives inline in the limiter, by design
enum Log {
    /// The last `min(starts, len)` start times, oldest at `oldest`, in a ring of `starts`.
    Exact { times: [u64; EXACT_STARTS], oldest: usize, len: usize },
    /// Starts counted in buckets of `width` nanoseconds: bucket `b` holds the starts in
    /// `[b × width, (b + 1) × width)` and lives at `counts[b % 65]` (a bucket lies in
    /// one window, so it never counts more than `starts`: a `u32`). `newest` is the
    /// bucket of `last`, the latest start, and ends at `newest_end`; older buckets are
    /// up to 64 behind it. `total` is the sum of `counts`: below `starts`, no window
    /// can be full. (`newest_end` and `total` spare the common call a division and a
    /// walk over the buckets.)
    Buckets {
        counts: [u32; BUCKETS as usize + 1],
        width: u64,
        newest: u64,
        newest_end: u64,
        last: u64,
        total: u64,
    },
}

impl History {
    const fn new(starts: u32, per: Duration) -> Self {
        let per = saturating_nanos(per);
        let log = if starts as usize <= EXACT_STARTS {
            Log::Exact { times: [0; EXACT_STARTS], oldest: 0, len: 0 }
        } else {
            // Rounded up, so that a window (`per`) spans at most 64 buckets plus a partial one.
            let width = per.div_ceil(BUCKETS);
            let counts = [0; BUCKETS as usize + 1];
            Log::Buckets { counts, width, newest: 0, newest_end: width, last: 0, total: 0 }
        };
        Self { base: None, starts, per, log }
    }

    /// The base instant and `now` in nanoseconds since it.
    fn clock(&mut self, now: Instant) -> (Instant, u64) {
        let base = *self.base.get_or_insert(now);
        (base, saturating_nanos(now.saturating_duration_since(base)))
    }

    /// The earliest start time at or after `now` (and the latest start) that keeps every
    /// window of length `per` within `starts` starts.
    fn earliest_start(&self, now: u64) -> u64 {
        let starts = self.starts as usize;
        match &self.log {
            Log::Exact { len: 0, .. } => now,
            Log::Exact { times, oldest, len } => {
                let latest = times[(oldest + len - 1) % starts];
                let start = now.max(latest);
                if *len < starts {
                    start
                } else {
                    // Times are sorted, so the window ending at `start` holds fewer than
                    // `starts` starts exactly when the oldest of the last `starts` left it.
                    start.max(times[*oldest].saturating_add(self.per))
                }
            }
            // Fewer starts in all the buckets than a window may hold: no walk needed.
            Log::Buckets { total, last, .. } if *total < u64::from(self.starts) => now.max(*last),
            Log::Buckets { counts, width, newest, last, .. } => {
                let start = now.max(*last);
                // Walk back from the newest bucket: the first bucket at which the count
                // reaches `starts` must lie wholly before the new start's window.
                let mut count = 0_u64;
                for back in 0..=BUCKETS {
                    let Some(bucket) = newest.checked_sub(back) else { break };
                    count += u64::from(counts[bucket_slot(bucket)]);
                    if count >= u64::from(self.starts) {
                        // The window (t - per, t] begins in bucket `bucket + 1` or later.
                        let clear =
                            (bucket + 1).saturating_mul(*width).saturating_add(self.per - 1);
                        return start.max(clear);
                    }
                }
                start
            }
        }
    }

    /// Records a start at `at`, which is no earlier than any recorded start.
    fn record(&mut self, at: u64) {
        let starts = self.starts as usize;
        match &mut self.log {
            Log::Exact { times, oldest, len } => {
                if *len < starts {
                    times[(*oldest + *len) % starts] = at;
                    *len += 1;
                } else {
                    times[*oldest] = at;
                    *oldest = (*oldest + 1) % starts;
                }
            }
            Log::Buckets { counts, width, newest, newest_end, last, total } => {
                // `at` is no earlier than `last`, which lies in bucket `newest`.
                let bucket = if at < *newest_end { *newest } else { at / *width };
                if bucket > *newest {
                    // Clear the slots of the buckets skipped over: they hold starts that
                    // are now more than a window old.
                    if bucket - *newest > BUCKETS {
                        *counts = [0; BUCKETS as usize + 1];
                        *total = 0;
                    } else {
                        for skipped in *newest + 1..=bucket {
                            let count = &mut counts[bucket_slot(skipped)];
                            *total = total.saturating_sub(u64::from(*count));
                            *count = 0;
                        }
                    }
                    *newest = bucket;
                    *newest_end = bucket.saturating_add(1).saturating_mul(*width);
                }
                let count = &mut counts[bucket_slot(bucket)];
                *count = count.saturating_add(1);
                *total = total.saturating_add(1);
                *last = at;
            }
        }
    }
}

/// Where bucket `bucket` lives in `Log::Buckets::counts`.
fn bucket_slot(bucket: u64) -> usize {
    // Below 65, so the cast is lossless.
    (bucket % (BUCKETS + 1)) as usize
}

/// `duration` in nanoseconds, `u64::MAX` (584 years) if longer.
const fn saturating_nanos(duration: Duration) -> u64 {
    let nanos = duration.as_nanos();
    if nanos > u64::MAX as u128 { u64::MAX } else { nanos as u64 }
}

/// One caller's waiting: since when (the clock is read only once the caller has to wait),
/// how long it may wait, and its place in [`Limiter::waiting`], left when it is dropped.
struct Waiter<'a> {
    waiting: &'a AtomicUsize,
    budget: Option<Duration>,
    /// Whether the caller counts in [`Limiter::waiting`].
    counted: bool,
    /// When it started to wait; only noted (and the clock read) if it has a budget.
    since: Option<Instant>,
}

impl Waiter<'_> {
    /// Whether the caller must be turned away rather than wait at all (`Some(ZERO)`).
    fn may_not_wait(&self) -> bool {
        self.budget == Some(Duration::ZERO)
    }

    /// Marks the caller as waiting from `now()` on, unless it already is, and returns
    /// its deadline (`None`: it may wait as long as needed, and the clock is not read).
    fn start(&mut self, now: impl FnOnce() -> Instant) -> Option<Instant> {
        if !self.counted {
            self.counted = true;
            self.waiting.fetch_add(1, Ordering::Relaxed);
        }
        let budget = self.budget?;
        self.since.get_or_insert_with(now).checked_add(budget)
    }

    /// How long the caller has waited so far; zero (and no clock read) if it never did.
    fn waited(&self) -> Duration {
        self.since.map_or(Duration::ZERO, |since| since.elapsed())
    }

    /// [`Self::waited`] with the current time known.
    fn waited_at(&self, now: Instant) -> Duration {
        self.since.map_or(Duration::ZERO, |since| now.saturating_duration_since(since))
    }
}

impl Drop for Waiter<'_> {
    fn drop(&mut self) {
        if self.counted {
            self.waiting.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// The trait behind `#[limit(using = EXPR)]`: anything that hands out slots.
///
/// [`Limiter`] implements it, and so do references to and `Arc`s of implementations.
/// Implement it for a limit kept elsewhere, such as one shared by a fleet in a database:
///
/// ```
/// use std::time::Duration;
/// use steadfast::{Limit, LimitKind, Rejected};
/// use tokio::sync::{Semaphore, SemaphorePermit};
///
/// /// Connections of a pool, used as slots.
/// struct Pool {
///     connections: Semaphore,
/// }
///
/// impl Limit for Pool {
///     type Permit<'a> = SemaphorePermit<'a>;
///
///     async fn acquire(&self, wait: Option<Duration>) -> Result<SemaphorePermit<'_>, Rejected> {
///         let rejected = || Rejected::new(LimitKind::Other("pool"), wait.unwrap_or_default());
///         let permit = match wait {
///             None => self.connections.acquire().await,
///             Some(wait) => tokio::time::timeout(wait, self.connections.acquire())
///                 .await
///                 .map_err(|_| rejected())?,
///         };
///         // Only a closed semaphore fails, and this one is never closed.
///         permit.map_err(|_| rejected())
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let pool = Pool { connections: Semaphore::new(1) };
/// let held = pool.acquire(None).await.unwrap();
/// let err = pool.acquire(Some(Duration::from_millis(10))).await.unwrap_err();
/// assert_eq!(err.to_string(), "rejected by the limit `pool` after waiting 10ms");
/// drop(held);
/// # }
/// ```
pub trait Limit {
    /// Held while the body runs; dropping it releases the slot.
    type Permit<'a>: Send
    where
        Self: 'a;

    /// Waits for a slot.
    ///
    /// `wait: None` waits as long as needed and should not return `Err`: the
    /// `#[limit(using = ..)]` expansion without `wait` has no way to report it, so it
    /// logs an ERROR event and runs the call without a slot (fails open).
    /// `Some(d)` gives up after `d` in total and returns [`Rejected`], naming the limit
    /// that was full and how long the caller waited; `Some(Duration::ZERO)` rejects at
    /// once when the limit is full.
    ///
    /// The future is dropped if the caller is cancelled; it must then leave no trace (no
    /// slot held, no place in a queue).
    fn acquire(
        &self,
        wait: Option<Duration>,
    ) -> impl Future<Output = Result<Self::Permit<'_>, Rejected>> + Send;

    /// Describes the limit in events, as [`Limiter`]'s `Display` does
    /// (`concurrency limit of 8`). By default, the type's name.
    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(std::any::type_name::<Self>())
    }
}

impl Limit for Limiter {
    type Permit<'a> = LimiterPermit<'a>;

    /// Waits for a concurrency slot, then for a start time. With `wait: None` it never
    /// returns `Err`. With `Some(d)`, a caller whose start time would come after `d` is
    /// rejected at once rather than after sleeping; a caller still queued behind others
    /// when `d` runs out is rejected then.
    ///
    /// A caller that gets its permit at once allocates nothing. One that has to wait
    /// boxes its place in line (one allocation), so that the future stays a few words
    /// long whatever the limits: the waiting machinery is not carried by every call.
    fn acquire(
        &self,
        wait: Option<Duration>,
    ) -> impl Future<Output = Result<LimiterPermit<'_>, Rejected>> + Send {
        LimiterAcquire { limiter: self, wait, waiting: None }
    }

    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// The future of [`Limiter`]'s [`Limit::acquire`]: the fast path on its first poll,
/// the boxed waiting path after that.
struct LimiterAcquire<'a> {
    limiter: &'a Limiter,
    wait: Option<Duration>,
    waiting: Option<Waiting<'a>>,
}

/// A caller's place in line, boxed: only callers that wait have one.
type Waiting<'a> = Pin<Box<dyn Future<Output = Result<LimiterPermit<'a>, Rejected>> + Send + 'a>>;

impl<'a> Future for LimiterAcquire<'a> {
    type Output = Result<LimiterPermit<'a>, Rejected>;

    // Always inlined: returned through memory, the permit costs a store-forwarding
    // stall that is a third of the fast path.
    #[inline(always)]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if self.waiting.is_none() {
            if let Some(permit) = self.limiter.try_acquire_now() {
                return Poll::Ready(Ok(permit));
            }
        }
        self.poll_waiting(cx)
    }
}

impl<'a> LimiterAcquire<'a> {
    /// The slow path, out of line so that the fast path inlines into the caller.
    #[cold]
    #[inline(never)]
    fn poll_waiting(&mut self, cx: &mut Context<'_>) -> Poll<Result<LimiterPermit<'a>, Rejected>> {
        let (limiter, wait) = (self.limiter, self.wait);
        let waiting = self.waiting.get_or_insert_with(|| Box::pin(limiter.acquire_permit(wait)));
        waiting.as_mut().poll(cx)
    }
}

impl<L: Limit + ?Sized> Limit for &L {
    type Permit<'a>
        = L::Permit<'a>
    where
        Self: 'a;

    fn acquire(
        &self,
        wait: Option<Duration>,
    ) -> impl Future<Output = Result<Self::Permit<'_>, Rejected>> + Send {
        L::acquire(self, wait)
    }

    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        L::describe(self, f)
    }
}

impl<L: Limit + ?Sized> Limit for Arc<L> {
    type Permit<'a>
        = L::Permit<'a>
    where
        Self: 'a;

    fn acquire(
        &self,
        wait: Option<Duration>,
    ) -> impl Future<Output = Result<Self::Permit<'_>, Rejected>> + Send {
        L::acquire(self, wait)
    }

    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        L::describe(self, f)
    }
}

/// Runs `body` holding a slot of `limiter`; waits as long as needed.
///
/// `body` is not polled before the slot is held. The slot is freed when `body` finishes,
/// panics or is dropped. A caller that waited longer than a second is reported by a
/// DEBUG event (target `steadfast`) with `function`, `waited_ms` and `limit`.
///
/// A limiter that breaks the [`Limit`] contract by rejecting `acquire(None)` (say, a
/// fleet-wide limiter whose store is unreachable) cannot be reported through the
/// function's return type, which need not be a `Result` here: the call then runs
/// without a slot (fails open) and an ERROR event says so. It never panics.
#[doc(hidden)]
#[allow(clippy::type_complexity)] // the acquiring future has no name
pub fn limit<'a, L: Limit + ?Sized, F: Future>(
    limiter: &'a L,
    function: &'static str,
    body: F,
) -> Limited<
    'a,
    L,
    impl Future<Output = Result<L::Permit<'a>, Rejected>> + 'a,
    L::Permit<'a>,
    F,
    FailOpen,
> {
    Limited::new(limiter, function, limiter.acquire(None), body, FailOpen)
}

/// Runs `body` holding a slot of `limiter`, waiting at most `wait` for it; without a slot
/// by then, returns `on_rejected` of the [`Rejected`] error (attributed to `function`)
/// without polling `body`.
///
/// A rejection is reported by a WARN event (target `steadfast`) with `function`,
/// `waited_ms` and `limit`; a wait longer than a second by a DEBUG event, as in [`limit`].
#[doc(hidden)]
#[allow(clippy::type_complexity)] // the acquiring future has no name
pub fn limit_or_reject<'a, L: Limit + ?Sized, F: Future>(
    limiter: &'a L,
    function: &'static str,
    wait: Duration,
    on_rejected: fn(Rejected) -> F::Output,
    body: F,
) -> Limited<
    'a,
    L,
    impl Future<Output = Result<L::Permit<'a>, Rejected>> + 'a,
    L::Permit<'a>,
    F,
    Reject<F::Output>,
> {
    Limited::new(limiter, function, limiter.acquire(Some(wait)), body, Reject(on_rejected))
}

/// What a [`Limited`] call does when the limiter refuses it a slot.
#[doc(hidden)]
pub trait Refused<O> {
    /// `Some(output)` to return without running the body, `None` to run it anyway.
    fn refused(&self, rejected: Rejected, function: &'static str) -> Option<O>;
}

/// Without a wait budget: run without a slot, loudly.
#[doc(hidden)]
pub struct FailOpen;

impl<O> Refused<O> for FailOpen {
    #[cold]
    fn refused(&self, rejected: Rejected, function: &'static str) -> Option<O> {
        tracing::error!(
            target: "steadfast",
            function,
            limit = %rejected.limit(),
            "the limiter refused a call without a wait budget; running it without a slot \
             (give `wait = ..` to reject instead)",
        );
        None
    }
}

/// With a wait budget: return the rejection through the function's return type.
#[doc(hidden)]
pub struct Reject<O>(fn(Rejected) -> O);

impl<O> Refused<O> for Reject<O> {
    #[cold]
    fn refused(&self, rejected: Rejected, function: &'static str) -> Option<O> {
        tracing::warn!(
            target: "steadfast",
            function,
            waited_ms = millis(rejected.waited()),
            limit = %rejected.limit(),
            "rejected: no slot within the wait",
        );
        Some((self.0)(rejected.in_function(function)))
    }
}

pin_project! {
    /// The future of [`limit`] and [`limit_or_reject`]: a slot, then the body. It holds
    /// the body once, and the acquiring future only until the slot is there (an
    /// `async fn` would hold the body twice).
    #[doc(hidden)]
    pub struct Limited<'a, L: ?Sized, A, P, F, R> {
        limiter: &'a L,
        function: &'static str,
        refused: R,
        #[pin]
        state: Slot<A, P>,
        #[pin]
        body: F,
    }
}

pin_project! {
    /// Where a [`Limited`] call is.
    #[project = SlotProj]
    #[doc(hidden)]
    pub enum Slot<A, P> {
        // `since`: when `acquire` first returned `Pending`, noted only for the DEBUG
        // event on a long wait (so a waiting caller reads no clock when it is off).
        Acquiring { #[pin] acquire: A, since: Option<Instant> },
        // `None`: the limiter refused and the call runs without a slot (fails open).
        Running { permit: Option<P> },
        Done,
    }
}

impl<'a, L: ?Sized, A, P, F, R> Limited<'a, L, A, P, F, R> {
    #[inline]
    fn new(limiter: &'a L, function: &'static str, acquire: A, body: F, refused: R) -> Self {
        let state = Slot::Acquiring { acquire, since: None };
        Limited { limiter, function, refused, state, body }
    }
}

impl<L, A, P, F, R> Future for Limited<'_, L, A, P, F, R>
where
    L: Limit + ?Sized,
    A: Future<Output = Result<P, Rejected>>,
    F: Future,
    R: Refused<F::Output>,
{
    type Output = F::Output;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let mut this = self.project();
        if let SlotProj::Acquiring { acquire, since } = this.state.as_mut().project() {
            let acquired = match acquire.poll(cx) {
                Poll::Ready(acquired) => acquired,
                Poll::Pending => {
                    // Only for the DEBUG event on a long wait: no clock read without it.
                    if since.is_none() && long_waits_are_reported() {
                        *since = Some(Instant::now());
                    }
                    return Poll::Pending;
                }
            };
            let permit = match acquired {
                Ok(permit) => {
                    if let Some(since) = since {
                        report_long_wait(*this.limiter, this.function, since.elapsed());
                    }
                    Some(permit)
                }
                Err(rejected) => match this.refused.refused(rejected, this.function) {
                    Some(out) => {
                        this.state.set(Slot::Done);
                        return Poll::Ready(out);
                    }
                    None => None,
                },
            };
            // The body's first poll, with the permit in hand: a body that finishes at
            // once frees the slot without the state ever changing. (A future is not
            // polled again once it is ready; if this one were, it would take a slot
            // again and poll the finished body, which a finished `async` block answers
            // with a panic, and the slot would be freed while unwinding.)
            if let Poll::Ready(out) = this.body.as_mut().poll(cx) {
                drop(permit);
                return Poll::Ready(out);
            }
            this.state.set(Slot::Running { permit });
            return Poll::Pending;
        }
        match this.state.as_mut().project() {
            SlotProj::Running { .. } => {
                let out = std::task::ready!(this.body.poll(cx));
                // The slot is freed as soon as the body is done.
                this.state.set(Slot::Done);
                Poll::Ready(out)
            }
            _ => panic!("`Limited` polled after completion"),
        }
    }
}

/// Whether the DEBUG event about a long wait for a slot would be seen.
fn long_waits_are_reported() -> bool {
    tracing::enabled!(target: "steadfast", tracing::Level::DEBUG)
}

fn report_long_wait<L: Limit + ?Sized>(limiter: &L, function: &'static str, waited: Duration) {
    if waited > LONG_WAIT {
        tracing::debug!(
            target: "steadfast",
            function,
            waited_ms = millis(waited),
            limit = %Describe(limiter),
            "got a slot after a long wait",
        );
    }
}

/// [`Limit::describe`] as `Display`, for events.
struct Describe<'a, L: ?Sized>(&'a L);

impl<L: Limit + ?Sized> fmt::Display for Describe<'_, L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.describe(f)
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Mutex as StdMutex;
    use std::sync::atomic::AtomicBool;

    use tokio::time::{sleep, timeout};

    use super::*;

    const MS: Duration = Duration::from_millis(1);
    const SEC: Duration = Duration::from_secs(1);

    /// Lets every task that can run do so, without moving the paused clock.
    async fn settle() {
        for _ in 0..32 {
            tokio::task::yield_now().await;
        }
    }

    /// Checks that no window of length `per` holds more than `max` of `starts`.
    fn assert_sliding_window(starts: &mut [Duration], max: u32, per: Duration) {
        starts.sort_unstable();
        let max = max as usize;
        for (i, pair) in starts.windows(max + 1).enumerate() {
            let (first, last) = (pair[0], pair[max]);
            assert!(
                last - first >= per,
                "starts {i} and {} are {:?} apart: {} starts in a window of {per:?}",
                i + max,
                last - first,
                max + 1
            );
        }
    }

    /// A deterministic stream of numbers in `1..=max`.
    fn gaps(mut seed: u64, max: u64) -> impl FnMut() -> u32 {
        move || {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            u32::try_from((seed >> 33) % max + 1).unwrap()
        }
    }

    /// `n` arrival times spaced by pseudo-random whole-millisecond gaps (the tokio
    /// timer's resolution) of 1 to `max_gap_ms`.
    fn staggered(n: usize, seed: u64, max_gap_ms: u64) -> Vec<Duration> {
        let mut gap = gaps(seed, max_gap_ms);
        let mut at = Duration::ZERO;
        (0..n)
            .map(|_| {
                at += gap() * MS;
                at
            })
            .collect()
    }

    /// Spawns one call through `limiter` per arrival (relative to now) and returns when
    /// each body started, in arrival order.
    async fn start_times(limiter: &'static Limiter, arrivals: &[Duration]) -> Vec<Duration> {
        let t0 = Instant::now();
        let tasks: Vec<_> = arrivals
            .iter()
            .map(|&arrival| {
                tokio::spawn(async move {
                    sleep(arrival).await;
                    limit(limiter, "call", async move { t0.elapsed() }).await
                })
            })
            .collect();
        let mut starts = Vec::new();
        for task in tasks {
            starts.push(task.await.unwrap());
        }
        starts
    }

    /// The earliest first-in-first-out schedule: each start no earlier than its
    /// arrival, the previous start, and the start `starts` places earlier plus `per`.
    fn fifo_schedule(arrivals: &[Duration], starts: usize, per: Duration) -> Vec<Duration> {
        let mut schedule: Vec<Duration> = Vec::new();
        for (i, &arrival) in arrivals.iter().enumerate() {
            let previous = schedule.last().copied().unwrap_or_default();
            let window = i.checked_sub(starts).map_or(Duration::ZERO, |j| schedule[j] + per);
            schedule.push(arrival.max(previous).max(window));
        }
        schedule
    }

    fn assert_send<T: Send>(_: &T) {}

    #[test]
    fn futures_are_send_and_limiter_is_sync() {
        fn is_sync<T: Send + Sync>() {}
        is_sync::<Limiter>();
        static L: Limiter = Limiter::concurrency(1).and_rate(1, SEC);
        assert_send(&L.acquire(None));
        assert_send(&limit(&L, "f", async {}));
        assert_send(&limit_or_reject(&L, "f", SEC, |_| (), async {}));
        let shared = Arc::new(Limiter::rate(1, SEC));
        assert_send(&limit(&shared, "f", async {}));
        assert_send(&limit(&&L, "f", async {}));
    }

    #[test]
    fn limiter_is_small_whatever_the_rate() {
        let size = std::mem::size_of::<Limiter>();
        assert!(size < 1024, "size_of::<Limiter>() = {size}");
        assert_eq!(size, std::mem::size_of_val(&Limiter::rate(100_000, SEC)));
    }

    #[tokio::test(start_paused = true)]
    async fn concurrency_three_runs_twenty_calls_in_seven_rounds() {
        static L: Limiter = Limiter::concurrency(3);
        let t0 = Instant::now();
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let order = Arc::new(StdMutex::new(Vec::new()));
        let tasks: Vec<_> = (0..20)
            .map(|i| {
                let (running, peak, order) = (running.clone(), peak.clone(), order.clone());
                tokio::spawn(limit(&L, "call", async move {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    assert!(L.in_flight() <= 3);
                    order.lock().unwrap().push((i, t0.elapsed()));
                    sleep(100 * MS).await;
                    running.fetch_sub(1, Ordering::SeqCst);
                }))
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(t0.elapsed(), 700 * MS);
        assert_eq!(peak.load(Ordering::SeqCst), 3);
        let order = order.lock().unwrap();
        let expected: Vec<_> = (0..20).map(|i| (i, (i as u32 / 3) * 100 * MS)).collect();
        assert_eq!(*order, expected, "(caller, start) in arrival order, three per round");
        assert_eq!((L.in_flight(), L.waiting()), (0, 0));
    }

    #[tokio::test(start_paused = true)]
    async fn concurrency_one_serves_queued_callers_in_arrival_order() {
        static L: Limiter = Limiter::concurrency(1);
        let holder = L.acquire(None).await.unwrap();
        let order = Arc::new(StdMutex::new(Vec::new()));
        let tasks: Vec<_> = (0..10)
            .map(|i| {
                let order = order.clone();
                tokio::spawn(limit(&L, "call", async move {
                    order.lock().unwrap().push(i);
                    sleep(MS).await;
                }))
            })
            .collect();
        settle().await;
        assert_eq!((L.in_flight(), L.waiting()), (1, 10));
        drop(holder);
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(*order.lock().unwrap(), (0..10).collect::<Vec<_>>());
        assert_eq!((L.in_flight(), L.waiting()), (0, 0));
    }

    #[tokio::test(start_paused = true)]
    async fn rate_five_per_second_starts_twelve_callers_by_two_seconds() {
        static L: Limiter = Limiter::rate(5, SEC);
        let t0 = Instant::now();
        let starts = Arc::new(StdMutex::new(Vec::new()));
        let tasks: Vec<_> = (0..12)
            .map(|i| {
                let starts = starts.clone();
                tokio::spawn(limit(&L, "call", async move {
                    starts.lock().unwrap().push((i, t0.elapsed()));
                }))
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(t0.elapsed(), 2 * SEC);
        let starts = starts.lock().unwrap();
        let expected: Vec<_> = (0..12).map(|i| (i, (i as u32 / 5) * SEC)).collect();
        assert_eq!(*starts, expected);
        let mut times: Vec<_> = starts.iter().map(|(_, at)| *at).collect();
        assert_sliding_window(&mut times, 5, SEC);
        assert_eq!((L.in_flight(), L.waiting()), (0, 0));
    }

    #[tokio::test(start_paused = true)]
    async fn rate_with_staggered_arrivals_slides_the_window() {
        static L: Limiter = Limiter::rate(2, SEC);
        let arrivals = [0, 300, 500, 900, 1200, 1400].map(|ms| ms * MS);
        let starts = start_times(&L, &arrivals).await;
        let expected = [0, 300, 1000, 1300, 2000, 2300].map(|ms| ms * MS);
        assert_eq!(starts, expected);
    }

    /// Exact mode: every start is exactly the greedy first-in-first-out schedule.
    #[tokio::test(start_paused = true)]
    async fn rate_exact_mode_follows_the_earliest_fifo_schedule() {
        const STARTS: usize = 7;
        const PER: Duration = Duration::from_millis(100);
        static L: Limiter = Limiter::rate(STARTS as u32, PER);
        let arrivals = staggered(300, 7, 30);
        let mut starts = start_times(&L, &arrivals).await;
        let expected = fifo_schedule(&arrivals, STARTS, PER);
        assert_eq!(starts, expected);
        assert_sliding_window(&mut starts, STARTS as u32, PER);
    }

    #[tokio::test(start_paused = true)]
    async fn high_rate_keeps_the_window_with_bounded_memory() {
        const STARTS: u32 = 100_000;
        static L: Limiter = Limiter::rate(STARTS, SEC);
        assert!(std::mem::size_of_val(&L) < 1024);
        let t0 = Instant::now();
        let starts = Arc::new(StdMutex::new(Vec::with_capacity(300_000)));
        let tasks: Vec<_> = (0..4)
            .map(|_| {
                let starts = starts.clone();
                tokio::spawn(async move {
                    let mut mine = Vec::with_capacity(75_000);
                    for _ in 0..75_000 {
                        let permit = L.acquire(None).await.unwrap();
                        mine.push(t0.elapsed());
                        drop(permit);
                    }
                    starts.lock().unwrap().extend(mine);
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        let mut starts = std::mem::take(&mut *starts.lock().unwrap());
        assert_eq!(starts.len(), 300_000);
        assert_sliding_window(&mut starts, STARTS, SEC);
        // Three windows' worth needs two seconds at least; buckets cost up to `per / 64`,
        // and the timer's resolution (1 ms) up to one more bucket, per window.
        let took = t0.elapsed();
        assert!(took >= 2 * SEC && took <= 2 * SEC + 2 * (SEC / 64 + MS), "took {took:?}");
        assert_eq!((L.in_flight(), L.waiting()), (0, 0));
    }

    #[tokio::test(start_paused = true)]
    async fn bucket_mode_keeps_the_window_with_staggered_arrivals() {
        const STARTS: u32 = 100;
        const PER: Duration = Duration::from_millis(640);
        static L: Limiter = Limiter::rate(STARTS, PER);
        let arrivals = staggered(2_000, 11, 3);
        let mut starts = start_times(&L, &arrivals).await;
        assert!(starts.is_sorted(), "starts follow arrivals");
        assert!(starts.iter().zip(&arrivals).all(|(start, arrival)| start >= arrival));
        // The exact first-in-first-out schedule, which buckets may trail by `per / 64`
        // plus the timer's resolution per window.
        let exact = fifo_schedule(&arrivals, STARTS as usize, PER);
        let slack = PER / 64 + MS;
        for (i, (start, exact)) in starts.iter().zip(&exact).enumerate() {
            let windows = u32::try_from(i / STARTS as usize).unwrap();
            assert!(*start <= *exact + windows * slack, "start {i}: {start:?}, exactly {exact:?}");
        }
        assert_sliding_window(&mut starts, STARTS, PER);
    }

    #[tokio::test(start_paused = true)]
    async fn wait_rejects_after_exactly_the_wait_without_running_the_body() {
        static L: Limiter = Limiter::concurrency(1);
        let _holder = L.acquire(None).await.unwrap();
        let t0 = Instant::now();
        let ran = AtomicBool::new(false);
        let result = limit_or_reject(&L, "load", 300 * MS, Err, async {
            ran.store(true, Ordering::SeqCst);
            Ok(())
        })
        .await;
        let rejected = result.unwrap_err();
        assert_eq!(t0.elapsed(), 300 * MS);
        assert!(!ran.load(Ordering::SeqCst));
        assert_eq!(rejected.limit(), LimitKind::Concurrency(1));
        assert_eq!(rejected.waited(), 300 * MS);
        assert_eq!(rejected.function(), Some("load"));
        assert_eq!((L.in_flight(), L.waiting()), (1, 0));
    }

    #[tokio::test(start_paused = true)]
    async fn zero_wait_rejects_at_once_when_full_and_admits_when_free() {
        static L: Limiter = Limiter::concurrency(1);
        let t0 = Instant::now();
        let first = limit_or_reject(&L, "f", Duration::ZERO, Err, async { Ok(L.in_flight()) });
        assert_eq!(first.await, Ok(1));
        let holder = L.acquire(Some(Duration::ZERO)).await.unwrap();
        let rejected = L.acquire(Some(Duration::ZERO)).await.unwrap_err();
        assert_eq!(rejected, Rejected::new(LimitKind::Concurrency(1), Duration::ZERO));
        assert_eq!(t0.elapsed(), Duration::ZERO);
        drop(holder);
        assert!(L.acquire(Some(Duration::ZERO)).await.is_ok());
        assert_eq!((L.in_flight(), L.waiting()), (0, 0));
    }

    #[tokio::test(start_paused = true)]
    async fn wait_counts_in_total_across_both_limits() {
        static L: Limiter = Limiter::concurrency(1).and_rate(1, SEC);
        let t0 = Instant::now();
        let holder = L.acquire(None).await.unwrap();
        tokio::spawn(async move {
            sleep(400 * MS).await;
            drop(holder);
        });
        // 400 ms for the concurrency slot, then the start time (1 s) is within 1.2 s.
        let permit = L.acquire(Some(1200 * MS)).await.unwrap();
        assert_eq!(t0.elapsed(), SEC);
        drop(permit);
        // Slot free at once, but the next start (2 s) lies beyond 500 ms: rejected now.
        let rejected = L.acquire(Some(500 * MS)).await.unwrap_err();
        assert_eq!(rejected.limit(), LimitKind::Rate { starts: 1, per: SEC });
        assert_eq!(rejected.waited(), Duration::ZERO);
        assert_eq!(t0.elapsed(), SEC);
        // The rejected caller gave its concurrency slot back.
        assert_eq!(L.concurrency.as_ref().map(|c| c.slots.available_permits()), Some(1));
        assert_eq!((L.in_flight(), L.waiting()), (0, 0));
    }

    #[tokio::test(start_paused = true)]
    async fn rate_rejects_at_once_when_the_start_lies_beyond_the_wait() {
        static L: Limiter = Limiter::rate(1, SEC);
        let t0 = Instant::now();
        drop(L.acquire(None).await.unwrap());
        let rejected = L.acquire(Some(999 * MS)).await.unwrap_err();
        assert_eq!(
            rejected,
            Rejected::new(LimitKind::Rate { starts: 1, per: SEC }, Duration::ZERO)
        );
        assert_eq!(t0.elapsed(), Duration::ZERO);
        // The rejection reserved nothing: the next caller gets the 1 s start, and a wait of
        // exactly 1 s is enough.
        drop(L.acquire(Some(SEC)).await.unwrap());
        assert_eq!(t0.elapsed(), SEC);
        assert_eq!((L.in_flight(), L.waiting()), (0, 0));
    }

    #[tokio::test(start_paused = true)]
    async fn rate_rejects_a_queued_caller_when_its_turn_comes_too_late() {
        static L: Limiter = Limiter::rate(1, SEC);
        let t0 = Instant::now();
        drop(L.acquire(None).await.unwrap());
        let second = tokio::spawn(async { L.acquire(None).await.map(drop) });
        settle().await;
        // Queued behind the caller that starts at 1 s; its own start would be 2 s.
        let rejected = L.acquire(Some(1500 * MS)).await.unwrap_err();
        assert_eq!(t0.elapsed(), SEC);
        assert_eq!(rejected, Rejected::new(LimitKind::Rate { starts: 1, per: SEC }, SEC));
        second.await.unwrap().unwrap();
        // A queued caller whose wait runs out while it is still in line.
        let third = tokio::spawn(async { L.acquire(None).await.map(drop) });
        settle().await;
        let rejected = L.acquire(Some(300 * MS)).await.unwrap_err();
        assert_eq!(rejected.waited(), 300 * MS);
        assert_eq!(t0.elapsed(), 1300 * MS);
        third.await.unwrap().unwrap();
        assert_eq!(t0.elapsed(), 2 * SEC);
        assert_eq!((L.in_flight(), L.waiting()), (0, 0));
    }

    #[tokio::test(start_paused = true)]
    async fn no_slot_leaks_however_the_body_ends() {
        static L: Limiter = Limiter::concurrency(1).and_rate(100, SEC);
        let idle = || assert_eq!((L.in_flight(), L.waiting()), (0, 0));

        assert_eq!(limit(&L, "ok", async { Ok::<_, ()>(1) }).await, Ok(1));
        idle();
        assert_eq!(limit(&L, "err", async { Err::<(), _>("failed") }).await, Err("failed"));
        idle();

        let panicked = tokio::spawn(limit(&L, "panics", async { panic!("boom") })).await;
        assert!(panicked.unwrap_err().is_panic());
        idle();

        // Dropped while running: by a timeout, and by aborting its task.
        let cut = timeout(50 * MS, limit(&L, "slow", sleep(10 * SEC))).await;
        assert!(cut.is_err());
        idle();
        let running = tokio::spawn(limit(&L, "slow", sleep(10 * SEC)));
        settle().await;
        assert_eq!(L.in_flight(), 1);
        running.abort();
        assert!(running.await.unwrap_err().is_cancelled());
        idle();

        // Everything was given back: the single slot is free at once.
        assert!(L.acquire(Some(Duration::ZERO)).await.is_ok());
        idle();
    }

    #[tokio::test(start_paused = true)]
    async fn a_caller_cancelled_while_queued_never_runs_and_leaves_the_queue() {
        static L: Limiter = Limiter::concurrency(1);
        let holder = L.acquire(None).await.unwrap();
        let ran = Arc::new(AtomicBool::new(false));
        let queued = tokio::spawn({
            let ran = ran.clone();
            limit(&L, "queued", async move { ran.store(true, Ordering::SeqCst) })
        });
        settle().await;
        assert_eq!((L.in_flight(), L.waiting()), (1, 1));
        queued.abort();
        assert!(queued.await.unwrap_err().is_cancelled());
        assert_eq!((L.in_flight(), L.waiting()), (1, 0));
        drop(holder);
        settle().await;
        assert!(!ran.load(Ordering::SeqCst));
        assert_eq!((L.in_flight(), L.waiting()), (0, 0));
        assert!(L.acquire(Some(Duration::ZERO)).await.is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn a_caller_cancelled_before_its_start_time_gives_it_back() {
        static L: Limiter = Limiter::rate(1, SEC);
        let t0 = Instant::now();
        drop(L.acquire(None).await.unwrap());
        let ran = Arc::new(AtomicBool::new(false));
        let sleeping = tokio::spawn({
            let ran = ran.clone();
            limit(&L, "sleeping", async move { ran.store(true, Ordering::SeqCst) })
        });
        settle().await;
        assert_eq!(L.waiting(), 1);
        sleep(500 * MS).await;
        sleeping.abort();
        assert!(sleeping.await.unwrap_err().is_cancelled());
        assert_eq!(L.waiting(), 0);
        // A later caller gets the start time at 1 s, not 2 s.
        drop(L.acquire(None).await.unwrap());
        assert_eq!(t0.elapsed(), SEC);
        assert!(!ran.load(Ordering::SeqCst));
        assert_eq!((L.in_flight(), L.waiting()), (0, 0));
    }

    #[tokio::test(start_paused = true)]
    async fn a_caller_cancelled_in_line_for_a_start_time_frees_its_place() {
        static L: Limiter = Limiter::rate(1, SEC);
        let t0 = Instant::now();
        drop(L.acquire(None).await.unwrap());
        let first = tokio::spawn(async move { L.acquire(None).await.map(|_| t0.elapsed()) });
        let second = tokio::spawn(async move { L.acquire(None).await.map(|_| t0.elapsed()) });
        let third = tokio::spawn(async move { L.acquire(None).await.map(|_| t0.elapsed()) });
        settle().await;
        assert_eq!(L.waiting(), 3);
        second.abort();
        assert!(second.await.unwrap_err().is_cancelled());
        assert_eq!(L.waiting(), 2);
        assert_eq!(first.await.unwrap(), Ok(SEC));
        assert_eq!(third.await.unwrap(), Ok(2 * SEC));
        assert_eq!((L.in_flight(), L.waiting()), (0, 0));
    }

    #[tokio::test(start_paused = true)]
    async fn in_flight_and_waiting_while_callers_queue_for_concurrency() {
        static L: Limiter = Limiter::concurrency(2);
        // `async` so that each body's sleep begins when the body does.
        let tasks: Vec<_> =
            (0..5).map(|_| tokio::spawn(limit(&L, "f", async { sleep(10 * SEC).await }))).collect();
        settle().await;
        assert_eq!((L.in_flight(), L.waiting()), (2, 3));
        sleep(10 * SEC).await;
        settle().await;
        assert_eq!((L.in_flight(), L.waiting()), (2, 1));
        sleep(10 * SEC).await;
        settle().await;
        assert_eq!((L.in_flight(), L.waiting()), (1, 0));
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!((L.in_flight(), L.waiting()), (0, 0));
    }

    #[tokio::test(start_paused = true)]
    async fn in_flight_and_waiting_while_callers_queue_for_start_times() {
        static L: Limiter = Limiter::rate(2, SEC);
        // `async` so that each body's sleep begins when the body does.
        let tasks: Vec<_> =
            (0..5).map(|_| tokio::spawn(limit(&L, "f", async { sleep(10 * SEC).await }))).collect();
        settle().await;
        // One sleeps until its start time, two queue behind it.
        assert_eq!((L.in_flight(), L.waiting()), (2, 3));
        sleep(SEC).await;
        settle().await;
        assert_eq!((L.in_flight(), L.waiting()), (4, 1));
        sleep(SEC).await;
        settle().await;
        assert_eq!((L.in_flight(), L.waiting()), (5, 0));
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!((L.in_flight(), L.waiting()), (0, 0));
    }

    #[tokio::test(start_paused = true)]
    async fn references_and_arcs_are_limits() {
        let shared = Arc::new(Limiter::concurrency(1));
        let holder = shared.acquire(None).await.unwrap();
        let by_ref = &*shared;
        let rejected = limit_or_reject(&by_ref, "f", Duration::ZERO, Err, async { Ok(()) }).await;
        assert_eq!(rejected.unwrap_err().limit(), LimitKind::Concurrency(1));
        drop(holder);
        assert_eq!(limit(&shared, "f", async { shared.in_flight() }).await, 1);
        assert_eq!(Describe(&shared).to_string(), "concurrency limit of 1");
    }

    #[tokio::test(start_paused = true)]
    async fn without_limits_every_caller_passes_at_once() {
        let limiter = Limiter::try_new(None, None).unwrap();
        let first = limiter.acquire(Some(Duration::ZERO)).await.unwrap();
        let second = limiter.acquire(Some(Duration::ZERO)).await.unwrap();
        assert_eq!(limiter.in_flight(), 2);
        drop((first, second));
        assert_eq!(limiter.to_string(), "no limit");
    }

    #[test]
    fn try_new_rejects_limits_that_let_nothing_through() {
        let message = |result: Result<Limiter, InvalidLimit>| result.unwrap_err().to_string();
        assert_eq!(
            message(Limiter::try_new(Some(0), None)),
            "invalid limit: a concurrency limit must allow at least 1"
        );
        assert_eq!(
            message(Limiter::try_new(Some(usize::MAX), None)),
            "invalid limit: a concurrency limit may allow at most Semaphore::MAX_PERMITS"
        );
        assert_eq!(
            message(Limiter::try_new(None, Some((0, SEC)))),
            "invalid limit: a rate limit must allow at least 1 start"
        );
        assert_eq!(
            message(Limiter::try_new(Some(1), Some((1, Duration::ZERO)))),
            "invalid limit: a rate limit's window must be longer than zero"
        );
        let limiter = Limiter::try_new(Some(3), Some((10, SEC))).unwrap();
        assert_eq!(limiter.concurrency_limit(), Some(3));
        assert_eq!(limiter.rate_limit(), Some((10, SEC)));
    }

    #[test]
    #[should_panic(expected = "a concurrency limit must allow at least 1")]
    fn zero_concurrency_panics() {
        let _ = Limiter::concurrency(std::hint::black_box(0));
    }

    #[test]
    #[should_panic(expected = "a rate limit's window must be longer than zero")]
    fn zero_window_panics() {
        let _ = Limiter::rate(1, std::hint::black_box(Duration::ZERO));
    }

    #[test]
    #[should_panic(expected = "already has a rate limit")]
    fn a_second_rate_panics() {
        let _ = Limiter::rate(1, SEC).and_rate(2, SEC);
    }

    #[test]
    fn display_and_debug_name_the_limits() {
        let limiter = Limiter::concurrency(8).and_rate(100, SEC);
        assert_eq!(limiter.to_string(), "concurrency limit of 8 and rate limit of 100 per 1s");
        assert_eq!(Limiter::rate(5, 250 * MS).to_string(), "rate limit of 5 per 250ms");
        assert_eq!(
            format!("{limiter:?}"),
            "Limiter { concurrency: Some(8), rate: Some((100, 1s)), in_flight: 0, waiting: 0 }"
        );
    }

    /// Keeps the events it sees, with their fields as text.
    #[derive(Clone, Default)]
    struct Capture(Arc<StdMutex<Vec<Captured>>>);

    #[derive(Debug)]
    struct Captured {
        level: tracing::Level,
        target: String,
        fields: BTreeMap<&'static str, String>,
    }

    #[derive(Default)]
    struct Fields(BTreeMap<&'static str, String>);

    impl tracing::field::Visit for Fields {
        fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
            self.0.insert(field.name(), value.to_owned());
        }

        fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn fmt::Debug) {
            self.0.insert(field.name(), format!("{value:?}"));
        }
    }

    impl tracing::Subscriber for Capture {
        fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
            true
        }

        fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
            tracing::span::Id::from_u64(1)
        }

        fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}

        fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}

        fn event(&self, event: &tracing::Event<'_>) {
            let mut fields = Fields::default();
            event.record(&mut fields);
            self.0.lock().unwrap().push(Captured {
                level: *event.metadata().level(),
                target: event.metadata().target().to_owned(),
                fields: fields.0,
            });
        }

        fn enter(&self, _: &tracing::span::Id) {}

        fn exit(&self, _: &tracing::span::Id) {}
    }

    impl Capture {
        fn take(&self) -> Vec<Captured> {
            std::mem::take(&mut *self.0.lock().unwrap())
        }
    }

    fn fields(pairs: &[(&'static str, &str)]) -> BTreeMap<&'static str, String> {
        pairs.iter().map(|(name, value)| (*name, (*value).to_owned())).collect()
    }

    #[tokio::test(start_paused = true)]
    async fn events_report_rejections_and_long_waits() {
        static L: Limiter = Limiter::concurrency(1);
        let capture = Capture::default();
        let _default = tracing::subscriber::set_default(capture.clone());
        // Another test's thread may have cached a callsite's interest without this
        // subscriber; recompute it now that the subscriber exists.
        tracing::callsite::rebuild_interest_cache();

        // The fast path says nothing.
        limit(&L, "quick", async {}).await;
        assert!(capture.take().is_empty());

        let holder = L.acquire(None).await.unwrap();
        let rejected = limit_or_reject(&L, "load", 300 * MS, Err, async { Ok(()) }).await;
        assert_eq!(rejected.unwrap_err().function(), Some("load"));
        let events = capture.take();
        assert_eq!(events.len(), 1, "{events:?}");
        assert_eq!(events[0].level, tracing::Level::WARN);
        assert_eq!(events[0].target, "steadfast");
        assert_eq!(
            events[0].fields,
            fields(&[
                ("function", "load"),
                ("waited_ms", "300"),
                ("limit", "concurrency limit of 1"),
                ("message", "rejected: no slot within the wait"),
            ])
        );

        // A wait of one second exactly is not long.
        tokio::spawn(async move {
            sleep(SEC).await;
            drop(holder);
        });
        limit(&L, "patient", async {}).await;
        assert!(capture.take().is_empty());

        let holder = L.acquire(None).await.unwrap();
        tokio::spawn(async move {
            sleep(1500 * MS).await;
            drop(holder);
        });
        limit_or_reject(&L, "slow", 2 * SEC, |_| (), async {}).await;
        let events = capture.take();
        assert_eq!(events.len(), 1, "{events:?}");
        assert_eq!(events[0].level, tracing::Level::DEBUG);
        assert_eq!(events[0].target, "steadfast");
        assert_eq!(
            events[0].fields,
            fields(&[
                ("function", "slow"),
                ("waited_ms", "1500"),
                ("limit", "concurrency limit of 1"),
                ("message", "got a slot after a long wait"),
            ])
        );
    }

    /// A limit that breaks the contract by rejecting even without a wait.
    struct Refuses;

    impl Limit for Refuses {
        type Permit<'a> = ();

        async fn acquire(&self, wait: Option<Duration>) -> Result<(), Rejected> {
            Err(Rejected::new(LimitKind::Other("refuses"), wait.unwrap_or_default()))
        }
    }

    #[tokio::test(start_paused = true)]
    async fn other_limits_name_themselves() {
        let capture = Capture::default();
        let _default = tracing::subscriber::set_default(capture.clone());
        // Another test's thread may have cached a callsite's interest without this
        // subscriber; recompute it now that the subscriber exists.
        tracing::callsite::rebuild_interest_cache();
        let rejected = limit_or_reject(&Refuses, "f", MS, Err, async { Ok(()) }).await.unwrap_err();
        assert_eq!(rejected.to_string(), "`f` rejected by the limit `refuses` after waiting 1ms");
        assert_eq!(capture.take()[0].fields["limit"], "limit `refuses`");
        assert!(Describe(&Refuses).to_string().ends_with("Refuses"));
        // Without a wait budget there is no error channel: it fails open, loudly.
        assert_eq!(limit(&Refuses, "f", async { 5 }).await, 5);
        let events = capture.take();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].level, tracing::Level::ERROR);
        assert_eq!(events[0].fields["limit"], "limit `refuses`");
    }
}
