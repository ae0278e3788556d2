//! The state machine of a [`Breaker`]: admission, recording, and the transitions
//! closed → open → half-open → closed (or back to open).
//!
//! The closed state is lock-free: admission is one atomic load, recording one
//! compare-and-swap on a window bucket (plus a judgement of the window when a failure
//! is in it). Every transition, and everything in the half-open state, happens under
//! the `trials` mutex, which no call in the closed state touches unless it trips the
//! breaker.

use std::sync::atomic::Ordering;
use std::sync::{MutexGuard, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use super::window::{BUCKETS, Counts, bucket_of, duration_nanos};
use super::{Breaker, BreakerState};
use crate::CircuitOpen;
use crate::metrics::Circuit;

/// Kinds in the low two bits of the state word.
pub(super) const CLOSED: u64 = 0;
const OPEN: u64 = 1;
const HALF_OPEN: u64 = 2;
/// Open until [`Breaker::reset`].
const ISOLATED: u64 = 3;
const KIND_MASK: u64 = 3;

#[inline]
const fn kind(word: u64) -> u64 {
    word & KIND_MASK
}

/// The word of the next period (generation + 1) of kind `kind`.
#[inline]
const fn next(word: u64, kind: u64) -> u64 {
    ((word >> 2).wrapping_add(1) << 2) | kind
}

/// The trial calls of the current half-open period.
pub(crate) struct Trials {
    /// Trials let through and not dropped.
    admitted: u32,
    /// Trials that succeeded.
    succeeded: u32,
}

impl Trials {
    pub(crate) const fn new() -> Self {
        Self { admitted: 0, succeeded: 0 }
    }
}

/// What a call that was let through must report when it finishes.
#[derive(Clone, Copy)]
pub(crate) struct Ticket {
    /// The state word when it was admitted.
    word: u64,
    /// When it started, if slow calls are counted.
    started: Option<Instant>,
}

impl Ticket {
    /// Whether this is a trial of the half-open state.
    #[inline]
    pub(crate) fn is_trial(&self) -> bool {
        kind(self.word) == HALF_OPEN
    }
}

impl Breaker {
    /// Lets a call through, or refuses it.
    #[inline]
    pub(crate) fn admit(&self, function: &'static str) -> Result<Ticket, CircuitOpen> {
        if self.config.clamped.any() && !self.reported.load(Ordering::Relaxed) {
            self.report_clamped(function);
        }
        let word = self.state.load(Ordering::Acquire);
        if kind(word) == CLOSED {
            let started = self.config.slow_call.map(|_| Instant::now());
            return Ok(Ticket { word, started });
        }
        self.admit_slow(function)
    }

    #[cold]
    fn admit_slow(&self, function: &'static str) -> Result<Ticket, CircuitOpen> {
        let now = Instant::now();
        let t = self.epoch.nanos(now);
        let word = self.state.load(Ordering::Acquire);
        if kind(word) == OPEN {
            // Refused without the lock while the open period lasts.
            let until = self.open_until.load(Ordering::Acquire);
            if t < until {
                return Err(self.refuse(function, Duration::from_nanos(until - t)));
            }
        }
        let mut trials = self.lock();
        let word = self.state.load(Ordering::Acquire);
        let word = match kind(word) {
            CLOSED => return Ok(Ticket { word, started: self.config.slow_call.map(|_| now) }),
            ISOLATED => {
                drop(trials);
                return Err(self.refuse(function, Duration::MAX));
            }
            OPEN => {
                let until = self.open_until.load(Ordering::Acquire);
                if t < until {
                    drop(trials);
                    return Err(self.refuse(function, Duration::from_nanos(until - t)));
                }
                *trials = Trials::new();
                let half_open = next(word, HALF_OPEN);
                self.state.store(half_open, Ordering::Release);
                tracing::info!(target: "steadfast", function, "circuit half-open: letting trial calls through");
                self.report(function, Circuit::HalfOpen);
                half_open
            }
            _ => word,
        };
        if trials.admitted < self.config.half_open_calls {
            trials.admitted += 1;
            return Ok(Ticket { word, started: self.config.slow_call.map(|_| now) });
        }
        drop(trials);
        Err(self.refuse(function, Duration::ZERO))
    }

    #[cold]
    fn refuse(&self, function: &'static str, retry_after: Duration) -> CircuitOpen {
        tracing::debug!(
            target: "steadfast",
            function,
            retry_after_ms = u64::try_from(retry_after.as_millis()).unwrap_or(u64::MAX),
            "call refused: the circuit is open",
        );
        let open = CircuitOpen::new(retry_after);
        if function.is_empty() { open } else { open.in_function(function) }
    }

    /// Records a call that finished; `failed` as its classifier says (slow calls are
    /// added here).
    #[inline]
    pub(crate) fn finish(&self, ticket: Ticket, failed: bool, function: &'static str) {
        let now = Instant::now();
        let failed = failed || self.is_slow(ticket, now);
        if ticket.is_trial() {
            self.finish_trial(ticket, failed, now, function);
        } else {
            self.finish_closed(ticket, failed, now, function);
        }
    }

    #[inline]
    fn is_slow(&self, ticket: Ticket, now: Instant) -> bool {
        match (self.config.slow_call, ticket.started) {
            (Some(limit), Some(started)) => now.saturating_duration_since(started) > limit,
            _ => false,
        }
    }

    #[inline]
    fn finish_closed(&self, ticket: Ticket, failed: bool, now: Instant, function: &'static str) {
        // NOTE: a call admitted in an earlier closed period (the breaker opened and
        // closed since) is not recorded in the new, empty window.
        if self.state.load(Ordering::Acquire) != ticket.word {
            return;
        }
        let k = bucket_of(self.epoch.nanos(now), self.config.bucket);
        self.window.add(k, 1, u64::from(failed));
        if failed {
            self.last_failure.fetch_max(k + 1, Ordering::AcqRel);
        } else {
            // A success can trip the breaker only if a failure is in the window (it can
            // bring the calls up to `min_calls`); the usual success stops here.
            let last = self.last_failure.load(Ordering::Acquire);
            if last == 0 || k.saturating_sub(last - 1) >= BUCKETS {
                return;
            }
        }
        let counts = self.window.counts(k);
        if self.trips(counts) {
            self.trip(ticket.word, counts, now, function);
        }
    }

    /// Whether a closed window with these counts opens the breaker.
    #[inline]
    pub(crate) fn trips(&self, counts: Counts) -> bool {
        counts.total >= u64::from(self.config.min_calls)
            && counts.marked as f64 >= self.config.failure_rate * counts.total as f64
    }

    #[cold]
    fn trip(&self, word: u64, counts: Counts, now: Instant, function: &'static str) {
        let _trials = self.lock();
        if self.state.load(Ordering::Acquire) != word {
            return; // another call tripped it first
        }
        self.open(word, now);
        self.report(function, Circuit::Open);
        tracing::warn!(
            target: "steadfast",
            function,
            failure_rate = counts.marked as f64 / counts.total as f64,
            calls = counts.total,
            "circuit opened",
        );
    }

    /// Opens for `open_for` from `now`; the caller holds the lock.
    fn open(&self, word: u64, now: Instant) {
        let t = self.epoch.nanos(now);
        let until = t.saturating_add(duration_nanos(self.config.open_for));
        self.open_until.store(until, Ordering::Release);
        self.state.store(next(word, OPEN), Ordering::Release);
    }

    #[cold]
    fn finish_trial(&self, ticket: Ticket, failed: bool, now: Instant, function: &'static str) {
        let mut trials = self.lock();
        if self.state.load(Ordering::Acquire) != ticket.word {
            return;
        }
        if failed {
            let calls = trials.succeeded + 1;
            self.open(ticket.word, now);
            self.report(function, Circuit::Open);
            tracing::warn!(
                target: "steadfast",
                function,
                failure_rate = 1.0 / f64::from(calls),
                calls,
                "circuit opened: a trial call failed",
            );
            return;
        }
        trials.succeeded += 1;
        if trials.succeeded >= self.config.half_open_calls {
            self.close(ticket.word);
            self.report(function, Circuit::Closed);
            tracing::info!(target: "steadfast", function, "circuit closed: the trial calls succeeded");
        }
    }

    /// A call dropped before it finished: not recorded, but a trial gives its place back.
    #[cold]
    pub(crate) fn cancelled(&self, ticket: Ticket) {
        let mut trials = self.lock();
        if self.state.load(Ordering::Acquire) == ticket.word {
            trials.admitted = trials.admitted.saturating_sub(1);
        }
    }

    /// Closes with an empty window; the caller holds the lock.
    fn close(&self, word: u64) {
        self.window.clear();
        self.last_failure.store(0, Ordering::Release);
        self.state.store(next(word, CLOSED), Ordering::Release);
    }

    pub(super) fn hold_open(&self) {
        let _trials = self.lock();
        let word = self.state.load(Ordering::Acquire);
        self.open_until.store(u64::MAX, Ordering::Release);
        self.state.store(next(word, ISOLATED), Ordering::Release);
        self.report("", Circuit::Open);
        tracing::info!(target: "steadfast", function = self.config.name, "circuit isolated: held open until reset");
    }

    pub(super) fn close_by_hand(&self) {
        let _trials = self.lock();
        let word = self.state.load(Ordering::Acquire);
        self.close(word);
        self.report("", Circuit::Closed);
        if kind(word) != CLOSED {
            tracing::info!(target: "steadfast", function = self.config.name, "circuit closed: reset");
        }
    }

    pub(super) fn current_state(&self) -> BreakerState {
        match kind(self.state.load(Ordering::Acquire)) {
            CLOSED => BreakerState::Closed,
            HALF_OPEN => BreakerState::HalfOpen,
            ISOLATED => BreakerState::Open,
            _ => {
                let t = self.epoch.nanos(Instant::now());
                if t < self.open_until.load(Ordering::Acquire) {
                    BreakerState::Open
                } else {
                    BreakerState::HalfOpen
                }
            }
        }
    }

    /// The `steadfast_circuit_state` gauge (feature `metrics`): under the breaker's
    /// [`name`](Breaker::name) if it has one, else under the name of the `static` an
    /// attribute shares it by (`using = PAYMENTS`), else under the function's;
    /// `isolate`/`reset` of a breaker with neither name no function.
    #[inline]
    fn report(&self, function: &'static str, state: Circuit) {
        #[cfg(feature = "metrics")]
        let function = self.label.get().copied().unwrap_or(function);
        let name = if self.config.name.is_empty() { function } else { self.config.name };
        if !name.is_empty() {
            crate::metrics::circuit(name, state);
        }
    }

    /// The transition lock. A panic never happens while it is held (only counters and
    /// atomics change under it), so a poisoned lock is still consistent.
    fn lock(&self) -> MutexGuard<'_, Trials> {
        self.trials.lock().unwrap_or_else(PoisonError::into_inner)
    }

    #[cold]
    fn report_clamped(&self, function: &'static str) {
        if self.reported.swap(true, Ordering::Relaxed) {
            return;
        }
        let c = &self.config;
        if let Some(used) = c.clamped.failure_rate {
            tracing::error!(target: "steadfast", function, argument = "failure_rate", value = used,
                "circuit breaker: `failure_rate` must be in (0, 1]; clamped");
        }
        if c.clamped.min_calls {
            tracing::error!(target: "steadfast", function, argument = "min_calls", value = c.min_calls,
                "circuit breaker: `min_calls` must be at least 1; clamped");
        }
        if c.clamped.window {
            tracing::error!(target: "steadfast", function, argument = "window", value = ?c.window,
                "circuit breaker: `window` must be at least 1ms; clamped");
        }
        if c.clamped.half_open_calls {
            tracing::error!(target: "steadfast", function, argument = "half_open_calls",
                value = c.half_open_calls,
                "circuit breaker: `half_open_calls` must be at least 1; clamped");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_ok(b: &Breaker) -> bool {
        match b.admit("t") {
            Ok(ticket) => {
                b.finish(ticket, false, "t");
                true
            }
            Err(_) => false,
        }
    }

    fn run_err(b: &Breaker) -> bool {
        match b.admit("t") {
            Ok(ticket) => {
                b.finish(ticket, true, "t");
                true
            }
            Err(_) => false,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_success_can_complete_min_calls_and_trip() {
        let b = Breaker::new().min_calls(4);
        run_err(&b);
        run_err(&b);
        run_ok(&b);
        assert_eq!(b.state(), BreakerState::Closed);
        run_ok(&b); // 2 of 4 failed: ≥ 0.5
        assert_eq!(b.state(), BreakerState::Open);
        assert!(!run_ok(&b));
    }

    #[tokio::test(start_paused = true)]
    async fn generations_keep_periods_apart() {
        let b = Breaker::new().min_calls(1);
        let straggler = b.admit("t").unwrap();
        run_err(&b);
        assert_eq!(b.state(), BreakerState::Open);
        b.reset();
        // Admitted before the breaker opened: not recorded in the new window.
        b.finish(straggler, true, "t");
        assert_eq!(b.state(), BreakerState::Closed);
        assert_eq!(b.window.counts(0), Counts::default());
    }

    #[tokio::test(start_paused = true)]
    async fn a_cancelled_trial_gives_its_place_back() {
        let b = Breaker::new().min_calls(1).open_for(Duration::from_secs(1));
        run_err(&b);
        tokio::time::sleep(Duration::from_secs(1)).await;
        let trial = b.admit("t").unwrap();
        assert!(trial.is_trial());
        assert!(b.admit("t").is_err(), "one trial at a time");
        b.cancelled(trial);
        assert!(run_ok(&b), "the next caller takes the trial");
        assert_eq!(b.state(), BreakerState::Closed);
    }

    #[test]
    fn next_counts_generations() {
        assert_eq!(kind(next(CLOSED, OPEN)), OPEN);
        assert_eq!(next(next(CLOSED, OPEN), CLOSED) >> 2, 2);
        assert_ne!(next(CLOSED, CLOSED), CLOSED);
    }
}
