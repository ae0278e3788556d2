//! The rate half of a [`Limiter`](super::Limiter): the line for start times, and the
//! sleep until a caller's time. What a start time is comes from `window.rs`.

use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

use super::limiter::{Invalid, InvalidLimit};
use super::waiter::Waiter;
use super::window::History;
use crate::error::{LimitKind, Rejected};

/// The rate half of a [`Limiter`].
pub(super) struct Rate {
    pub(super) starts: u32,
    pub(super) per: Duration,
    /// The lock is also the line for start times: only its holder computes a start time,
    /// and it keeps the lock while it sleeps until that time. So start times are handed
    /// out in arrival order (tokio's mutex is FIFO), and a caller dropped while it waits
    /// has recorded nothing that would need to be given back.
    history: Mutex<History>,
}

impl Rate {
    pub(super) const fn new(starts: u32, per: Duration) -> Result<Self, InvalidLimit> {
        if starts == 0 {
            Err(InvalidLimit::new(Invalid::ZeroStarts))
        } else if per.is_zero() {
            Err(InvalidLimit::new(Invalid::ZeroWindow))
        } else {
            Ok(Self { starts, per, history: Mutex::const_new(History::new(starts, per)) })
        }
    }

    pub(super) const fn kind(&self) -> LimitKind {
        LimitKind::Rate { starts: self.starts, per: self.per }
    }

    /// Records a start now if the line is empty and the window has room; `false`
    /// (having recorded nothing) if the caller has to wait.
    pub(super) fn try_admit(&self) -> bool {
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
    pub(super) async fn admit(&self, waiter: &mut Waiter<'_>) -> Result<(), Rejected> {
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
