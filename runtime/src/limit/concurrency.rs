//! The concurrency half of a [`Limiter`](super::Limiter): a FIFO semaphore of slots,
//! and the bookkeeping that lets `set_concurrency` lower the limit while slots are held.

use std::sync::Mutex as StdMutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;
use tokio::sync::{AcquireError, Semaphore, SemaphorePermit};
use tokio::time::Instant;

use super::limiter::{Invalid, InvalidLimit, Limiter, LimiterPermit};
use super::waiter::Waiter;
use crate::error::{LimitKind, Rejected};

/// The concurrency half of a [`Limiter`](super::Limiter).
pub(super) struct Concurrency {
    /// The limit now.
    max: AtomicUsize,
    /// Slots held beyond a lowered limit: each one given back pays one off instead of
    /// returning to the semaphore, so no new body starts until the count is under the
    /// limit.
    owed: AtomicUsize,
    /// Serialises `set`, so that two changes do not interleave their accounting.
    changing: StdMutex<()>,
    /// FIFO: a released slot goes to the longest waiting caller, and `try_acquire` cannot
    /// take a slot while callers are queued.
    pub(super) slots: Semaphore,
}

impl Concurrency {
    pub(super) const fn new(max: usize) -> Result<Self, InvalidLimit> {
        match check(max) {
            Ok(()) => Ok(Self {
                max: AtomicUsize::new(max),
                owed: AtomicUsize::new(0),
                changing: StdMutex::new(()),
                slots: Semaphore::const_new(max),
            }),
            Err(invalid) => Err(invalid),
        }
    }

    /// A concurrency limit like this one, with every slot free (a keyed limiter's new key).
    pub(super) fn fresh(&self) -> Concurrency {
        let max = self.max();
        Self {
            max: AtomicUsize::new(max),
            owed: AtomicUsize::new(0),
            changing: StdMutex::new(()),
            slots: Semaphore::new(max),
        }
    }

    pub(super) fn max(&self) -> usize {
        self.max.load(Ordering::Relaxed)
    }

    pub(super) fn kind(&self) -> LimitKind {
        LimitKind::Concurrency(self.max())
    }

    /// Slots held right now (a slot handed to a queued caller counts from the moment it
    /// is handed over).
    pub(super) fn held(&self) -> usize {
        (self.max() + self.owed.load(Ordering::Relaxed))
            .saturating_sub(self.slots.available_permits())
    }

    /// Gives a slot back: to the semaphore, or to pay off a lowered limit.
    #[inline]
    pub(super) fn release(&self) {
        let paid = self.owed.load(Ordering::Relaxed) > 0
            && self
                .owed
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |owed| owed.checked_sub(1))
                .is_ok();
        if !paid {
            self.slots.add_permits(1);
        }
    }

    /// Changes the limit: raising it lets queued callers in at once; lowering it takes
    /// free slots away and has held ones paid off as they come back.
    pub(super) fn set(&self, max: usize) -> Result<(), InvalidLimit> {
        check(max)?;
        let _changing = self.changing.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let old = self.max.swap(max, Ordering::Relaxed);
        if max > old {
            // Debts first: slots still held beyond the old limit need no new permit.
            let mut more = max - old;
            let _ = self.owed.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |owed| {
                let paid = owed.min(max - old);
                more = max - old - paid;
                Some(owed - paid)
            });
            self.slots.add_permits(more);
        } else {
            let fewer = old - max;
            let taken = self.slots.forget_permits(fewer);
            self.owed.fetch_add(fewer - taken, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Queues for a slot as long as it takes, counted in `limiter`'s `waiting`: the
    /// waiting path of a caller without a budget, smaller than [`Self::acquire`] (the
    /// semaphore's future, the limiter and the count: what a waiting caller boxes).
    pub(super) fn queue<'a>(
        &'a self,
        limiter: &'a Limiter,
    ) -> Queue<'a, impl Future<Output = Result<SemaphorePermit<'a>, AcquireError>> + Send + 'a>
    {
        let waiting = limiter.waiting_count();
        waiting.fetch_add(1, Ordering::Relaxed);
        Queue { acquire: self.slots.acquire(), limiter, _counted: Counted(waiting) }
    }

    pub(super) async fn acquire(
        &self,
        waiter: &mut Waiter<'_>,
    ) -> Result<SemaphorePermit<'_>, Rejected> {
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

pin_project! {
    /// The future of [`Concurrency::queue`]: a slot, then the permit.
    pub(super) struct Queue<'a, A> {
        #[pin]
        acquire: A,
        limiter: &'a Limiter,
        _counted: Counted<'a>,
    }
}

impl<'a, A: Future<Output = Result<SemaphorePermit<'a>, AcquireError>>> Future for Queue<'a, A> {
    type Output = Result<LimiterPermit<'a>, Rejected>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        match std::task::ready!(this.acquire.poll(cx)) {
            Ok(slot) => Poll::Ready(Ok(this.limiter.permit(Some(slot)))),
            // Only a closed semaphore fails, and nothing closes this one; were it ever
            // closed, the caller is refused (and `#[limit]` without `wait` fails open).
            Err(_) => Poll::Ready(Err(Rejected::new(
                LimitKind::Concurrency(this.limiter.concurrency_limit().unwrap_or(0)),
                std::time::Duration::ZERO,
            ))),
        }
    }
}

/// A caller's place in the `waiting` count, left when dropped.
struct Counted<'a>(&'a AtomicUsize);

impl Drop for Counted<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

const fn check(max: usize) -> Result<(), InvalidLimit> {
    if max == 0 {
        Err(InvalidLimit::new(Invalid::ZeroConcurrency))
    } else if max > Semaphore::MAX_PERMITS {
        Err(InvalidLimit::new(Invalid::TooMuchConcurrency))
    } else {
        Ok(())
    }
}
