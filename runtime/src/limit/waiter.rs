//! One caller's wait: its budget, since when it waits, and its place in the count of
//! [`Limiter::waiting`](super::Limiter::waiting).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::time::Instant;

/// One caller's waiting: since when (the clock is read only once the caller has to wait),
/// how long it may wait, and its place in [`Limiter::waiting`], left when it is dropped.
pub(super) struct Waiter<'a> {
    pub(super) waiting: &'a AtomicUsize,
    pub(super) budget: Option<Duration>,
    /// Whether the caller counts in [`Limiter::waiting`].
    pub(super) counted: bool,
    /// When it started to wait; only noted (and the clock read) if it has a budget.
    pub(super) since: Option<Instant>,
}

impl Waiter<'_> {
    /// Whether the caller must be turned away rather than wait at all (`Some(ZERO)`).
    pub(super) fn may_not_wait(&self) -> bool {
        self.budget == Some(Duration::ZERO)
    }

    /// Marks the caller as waiting from `now()` on, unless it already is, and returns
    /// its deadline (`None`: it may wait as long as needed, and the clock is not read).
    pub(super) fn start(&mut self, now: impl FnOnce() -> Instant) -> Option<Instant> {
        if !self.counted {
            self.counted = true;
            self.waiting.fetch_add(1, Ordering::Relaxed);
        }
        let budget = self.budget?;
        self.since.get_or_insert_with(now).checked_add(budget)
    }

    /// How long the caller has waited so far; zero (and no clock read) if it never did.
    pub(super) fn waited(&self) -> Duration {
        self.since.map_or(Duration::ZERO, |since| since.elapsed())
    }

    /// [`Self::waited`] with the current time known.
    pub(super) fn waited_at(&self, now: Instant) -> Duration {
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
