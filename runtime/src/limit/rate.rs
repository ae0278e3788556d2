//! The rate half of a [`Limiter`](super::Limiter): the line for start times, the clock
//! the arithmetic runs on, and the sleep until a caller's time. What a start time is
//! comes from `window.rs` (the sliding window) or `gcra.rs` (with `burst`).

use std::future::Future;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex as StdMutex, OnceLock};
use std::task::Poll;
use std::time::Duration;

use tokio::sync::{Mutex, Notify};
use tokio::time::Instant;

use super::gcra::Gcra;
use super::limiter::{Invalid, InvalidLimit};
use super::waiter::Waiter;
use super::window::{History, saturating_nanos};
use crate::error::{LimitKind, Rejected};

/// The rate half of a [`Limiter`](super::Limiter).
///
/// NOTE: the record of past starts is behind its own short lock (or one atomic), never
/// held across an `await`; the line is a separate FIFO lock that the head of the line
/// holds while it sleeps until its time. So the fast path and `set_rate` never wait
/// for a sleeping caller, and a caller dropped while it waits has recorded nothing.
pub(super) struct Rate {
    starts: AtomicU32,
    per: AtomicU64,
    admission: Admission,
    /// Callers in line; while there are any, the fast path leaves the next start to them.
    queued: AtomicUsize,
    /// The line for start times: tokio's mutex is FIFO, so times go in arrival order.
    line: Mutex<()>,
    /// Wakes the head of the line when the limit changes.
    changed: Notify,
}

/// How starts are admitted.
#[allow(clippy::large_enum_variant)] // it lives inline in the limiter, by design
enum Admission {
    /// At most `starts` in any window of length `per`.
    Window(StdMutex<History>),
    /// At most `burst` at once, then one every `per / starts`.
    Spaced(Gcra),
}

impl Rate {
    pub(super) const fn new(starts: u32, per: Duration) -> Result<Self, InvalidLimit> {
        match check(starts, per) {
            Ok(()) => {
                let history = StdMutex::new(History::new(starts, per));
                Ok(Self::with(starts, per, Admission::Window(history)))
            }
            Err(invalid) => Err(invalid),
        }
    }

    const fn with(starts: u32, per: Duration, admission: Admission) -> Self {
        Self {
            starts: AtomicU32::new(starts),
            per: AtomicU64::new(saturating_nanos(per)),
            admission,
            queued: AtomicUsize::new(0),
            line: Mutex::const_new(()),
            changed: Notify::const_new(),
        }
    }

    /// This rate as GCRA with `burst` (`Limiter::burst`), before any use.
    pub(super) const fn with_burst(self, burst: u32) -> Result<Self, InvalidLimit> {
        // The parts are moved out whole: atomics cannot be read in a `const fn`.
        let Rate { starts, per, admission: _, queued, line, changed } = self;
        let (starts, per) = (starts.into_inner(), per.into_inner());
        let invalid = if burst == 0 {
            Invalid::ZeroBurst
        } else if burst > starts {
            Invalid::BurstAboveRate
        } else {
            return Ok(Rate {
                starts: AtomicU32::new(starts),
                per: AtomicU64::new(per),
                admission: Admission::Spaced(Gcra::new(starts, per, burst)),
                queued,
                line,
                changed,
            });
        };
        Err(InvalidLimit::new(invalid))
    }

    pub(super) fn kind(&self) -> LimitKind {
        let (starts, per) = self.limit();
        LimitKind::Rate { starts, per }
    }

    /// `(starts, per)` as they are now.
    pub(super) fn limit(&self) -> (u32, Duration) {
        let starts = self.starts.load(Ordering::Relaxed);
        (starts, Duration::from_nanos(self.per.load(Ordering::Relaxed)))
    }

    /// The burst, if starts are spaced.
    pub(super) fn burst(&self) -> Option<u32> {
        match &self.admission {
            Admission::Window(_) => None,
            Admission::Spaced(gcra) => Some(gcra.burst()),
        }
    }

    /// Changes the limit in use: starts already let through count against the new one;
    /// the head of the line re-reckons its time at once.
    pub(super) fn set(&self, starts: u32, per: Duration) -> Result<(), InvalidLimit> {
        check(starts, per)?;
        let now = self.now();
        match &self.admission {
            Admission::Window(history) => {
                let mut history = lock(history);
                *history = history.resized(starts, per);
            }
            Admission::Spaced(gcra) => gcra.set(starts, saturating_nanos(per), now),
        }
        self.starts.store(starts, Ordering::Relaxed);
        self.per.store(saturating_nanos(per), Ordering::Relaxed);
        self.changed.notify_waiters();
        Ok(())
    }

    /// Now, in nanoseconds since [`origin`].
    fn now(&self) -> u64 {
        self.ns(Instant::now())
    }

    fn ns(&self, now: Instant) -> u64 {
        saturating_nanos(now.saturating_duration_since(origin()))
    }

    /// A rate with these limits and no history (a keyed limiter's new key).
    pub(super) fn fresh(&self) -> Rate {
        let (starts, per) = self.limit();
        let admission = match &self.admission {
            Admission::Window(_) => Admission::Window(StdMutex::new(History::new(starts, per))),
            Admission::Spaced(gcra) => {
                Admission::Spaced(Gcra::new(starts, saturating_nanos(per), gcra.burst()))
            }
        };
        Rate::with(starts, per, admission)
    }

    /// Admits a start at `now` if it is allowed; `Err(earliest)` (having recorded
    /// nothing) otherwise.
    #[inline]
    fn admit_at(&self, now: u64) -> Result<(), u64> {
        match &self.admission {
            Admission::Spaced(gcra) => gcra.try_admit(now),
            Admission::Window(history) => {
                let mut history = lock(history);
                let start = history.earliest_start(now);
                if start > now {
                    return Err(start);
                }
                history.record(now);
                Ok(())
            }
        }
    }

    /// Records a start now if nobody is in line and the limit has room; `false`
    /// (having recorded nothing) if the caller has to wait.
    #[inline]
    pub(super) fn try_admit(&self) -> bool {
        self.queued.load(Ordering::Relaxed) == 0 && self.admit_at(self.now()).is_ok()
    }

    /// Waits in line, then for this caller's start time, and records it.
    pub(super) async fn admit(&self, waiter: &mut Waiter<'_>) -> Result<(), Rejected> {
        let _queued = Queued::join(&self.queued);
        let _line = match self.line.try_lock() {
            Ok(line) => line,
            Err(_) if waiter.may_not_wait() => {
                return Err(Rejected::new(self.kind(), waiter.waited()));
            }
            Err(_) => {
                let lock = self.line.lock();
                let locked = match waiter.start(Instant::now) {
                    None => Some(lock.await),
                    Some(deadline) => tokio::time::timeout_at(deadline, lock).await.ok(),
                };
                locked.ok_or_else(|| Rejected::new(self.kind(), waiter.waited()))?
            }
        };
        loop {
            // Registered before the time is reckoned, so no change is missed.
            let changed = self.changed.notified();
            let mut changed = std::pin::pin!(changed);
            changed.as_mut().enable();
            let now = Instant::now();
            let Err(start) = self.admit_at(self.ns(now)) else { return Ok(()) };
            let deadline = waiter.start(|| now);
            // `None`: beyond the range of the clock, that is never.
            let at = origin().checked_add(Duration::from_nanos(start));
            if deadline.is_some_and(|deadline| at.is_none_or(|at| at > deadline)) {
                // No point sleeping: the start time lies beyond the caller's patience.
                return Err(Rejected::new(self.kind(), waiter.waited_at(now)));
            }
            // The time is reckoned again when the caller wakes: the timer may fire late
            // (it rounds up to a millisecond), and the start is recorded when it happens.
            match at {
                Some(at) => {
                    let mut sleep = std::pin::pin!(tokio::time::sleep_until(at));
                    std::future::poll_fn(|cx| {
                        if sleep.as_mut().poll(cx).is_ready()
                            || changed.as_mut().poll(cx).is_ready()
                        {
                            Poll::Ready(())
                        } else {
                            Poll::Pending
                        }
                    })
                    .await;
                }
                None => changed.await,
            }
        }
    }
}

/// The zero of every rate limiter's arithmetic: a while before the first limiter was
/// used (a `const` cannot read a clock, and a per-limiter base would be a `OnceLock`,
/// which a `const fn` cannot drop). NOTE: the margin covers tokio clocks that started
/// earlier (a paused clock of another runtime in the same process); an instant before
/// the origin would count as the origin.
pub(super) fn origin() -> Instant {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    *ORIGIN.get_or_init(|| {
        let now = Instant::now();
        [86_400, 3_600, 60, 1]
            .into_iter()
            .find_map(|secs| now.checked_sub(Duration::from_secs(secs)))
            .unwrap_or(now)
    })
}

const fn check(starts: u32, per: Duration) -> Result<(), InvalidLimit> {
    if starts == 0 {
        Err(InvalidLimit::new(Invalid::ZeroStarts))
    } else if per.is_zero() {
        Err(InvalidLimit::new(Invalid::ZeroWindow))
    } else {
        Ok(())
    }
}

/// The history's lock; a panic cannot leave the record half-written (no code that
/// could panic runs under it), so a poisoned lock is used as it is.
fn lock(history: &StdMutex<History>) -> std::sync::MutexGuard<'_, History> {
    history.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A caller's place in [`Rate::queued`], left when it is dropped.
struct Queued<'a>(&'a AtomicUsize);

impl<'a> Queued<'a> {
    fn join(queued: &'a AtomicUsize) -> Self {
        queued.fetch_add(1, Ordering::Relaxed);
        Queued(queued)
    }
}

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}
