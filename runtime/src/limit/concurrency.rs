//! The concurrency half of a [`Limiter`](super::Limiter): a FIFO semaphore of slots.

use tokio::sync::{Semaphore, SemaphorePermit};
use tokio::time::Instant;

use super::limiter::{Invalid, InvalidLimit};
use super::waiter::Waiter;
use crate::error::{LimitKind, Rejected};

/// The concurrency half of a [`Limiter`].
pub(super) struct Concurrency {
    pub(super) max: usize,
    /// FIFO: a released slot goes to the longest waiting caller, and `try_acquire` cannot
    /// take a slot while callers are queued.
    pub(super) slots: Semaphore,
}

impl Concurrency {
    pub(super) const fn new(max: usize) -> Result<Self, InvalidLimit> {
        if max == 0 {
            Err(InvalidLimit::new(Invalid::ZeroConcurrency))
        } else if max > Semaphore::MAX_PERMITS {
            Err(InvalidLimit::new(Invalid::TooMuchConcurrency))
        } else {
            Ok(Self { max, slots: Semaphore::const_new(max) })
        }
    }

    pub(super) const fn kind(&self) -> LimitKind {
        LimitKind::Concurrency(self.max)
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
