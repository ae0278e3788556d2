// How it is recorded: the runtime calls the small functions below at the outcome
// points of each attribute; without the feature they are empty and inline to nothing.
//
// How a call's outcome is found: the annotated function counts itself once, when its
// outermost layer returns (`call_start`/`call_end`, emitted by the macro around the
// whole stack). An `Err` is an `error` unless a layer of this call produced it: the
// conversions of `__private` (`on_timeout`, `on_rejected`, `on_circuit_open`,
// `on_panic`) `mark` the current thread, and `call_end` reads the mark back in the
// same poll (nothing awaits between an error leaving a layer and the call returning,
// except where a retry sleeps or a hedge races on: both `forget` it first).
//
// Handles: see `recorder.rs`.

#[cfg(feature = "metrics")]
mod recorder;

#[cfg(feature = "metrics")]
pub use recorder::describe;

/// `steadfast_calls_total`: calls of an annotated function, by `function` and `outcome`.
pub const CALLS_TOTAL: &str = "steadfast_calls_total";
/// `steadfast_call_duration_seconds`: how long calls took, from the first poll to the
/// return (every attempt, backoff sleep and wait for a slot included), by `function`.
pub const CALL_DURATION_SECONDS: &str = "steadfast_call_duration_seconds";
/// `steadfast_retries_total`: retries (attempts after the first), by `function`.
pub const RETRIES_TOTAL: &str = "steadfast_retries_total";
/// `steadfast_retry_budget_exhausted_total`: retries not made because the
/// [`RetryBudget`](crate::RetryBudget) was empty, by `function`.
pub const RETRY_BUDGET_EXHAUSTED_TOTAL: &str = "steadfast_retry_budget_exhausted_total";
/// `steadfast_hedges_total`: hedged attempts started (attempts after the first), by
/// `function`.
pub const HEDGES_TOTAL: &str = "steadfast_hedges_total";
/// `steadfast_limit_in_flight`: bodies running with a slot of the limiter, by `limiter`.
pub const LIMIT_IN_FLIGHT: &str = "steadfast_limit_in_flight";
/// `steadfast_limit_waiting`: callers waiting for a slot of the limiter, by `limiter`.
pub const LIMIT_WAITING: &str = "steadfast_limit_waiting";
/// `steadfast_circuit_state`: the breaker's state, 0 closed, 1 half-open, 2 open, by
/// `function`.
pub const CIRCUIT_STATE: &str = "steadfast_circuit_state";

/// How a call ended: the `outcome` label of `steadfast_calls_total`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[allow(dead_code)] // without the feature, only the conversions name the variants
pub(crate) enum Outcome {
    Ok = 0,
    Error = 1,
    Timeout = 2,
    Rejected = 3,
    CircuitOpen = 4,
    Panic = 5,
}

impl Outcome {
    #[allow(dead_code)]
    pub(crate) const ALL: [Outcome; 6] = [
        Outcome::Ok,
        Outcome::Error,
        Outcome::Timeout,
        Outcome::Rejected,
        Outcome::CircuitOpen,
        Outcome::Panic,
    ];

    /// The label value.
    #[allow(dead_code)]
    pub(crate) const fn label(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Error => "error",
            Outcome::Timeout => "timeout",
            Outcome::Rejected => "rejected",
            Outcome::CircuitOpen => "circuit_open",
            Outcome::Panic => "panic",
        }
    }
}

/// The state of a breaker as `steadfast_circuit_state` reports it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[allow(dead_code)]
pub(crate) enum Circuit {
    Closed = 0,
    HalfOpen = 1,
    Open = 2,
}

/// A call in progress, from [`call_start`] to [`call_end`]: with a recorder installed
/// at its start, the handles of its function and its start (16 bytes; zero-sized
/// without the feature). Dropped without `call_end` while a panic unwinds, it counts
/// the call as a `panic`; dropped otherwise (the call was cancelled), it counts nothing.
#[doc(hidden)]
#[must_use]
pub struct CallStart {
    #[cfg(feature = "metrics")]
    inner: Option<(&'static recorder::Handles, clock::Nanos)>,
}

impl std::fmt::Debug for CallStart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CallStart")
    }
}

/// Where an annotated function's call starts (the macro emits it before the stack).
#[doc(hidden)]
#[inline]
pub fn call_start(function: &'static str) -> CallStart {
    #[cfg(feature = "metrics")]
    return CallStart { inner: recorder::handles(function).map(|h| (h, clock::now())) };
    #[cfg(not(feature = "metrics"))]
    {
        let _ = function;
        CallStart {}
    }
}

/// Where it returns: counts the call by its outcome (`failed`: the output is an `Err`)
/// and records its duration.
#[doc(hidden)]
#[inline(always)]
pub fn call_end(call: CallStart, failed: bool) {
    #[cfg(feature = "metrics")]
    {
        let mut call = call;
        let inner = call.inner.take();
        std::mem::forget(call); // nothing left to drop
        // The mark is taken even without a recorder, so that none is left behind.
        let outcome = if failed { take_mark() } else { Outcome::Ok };
        if let Some((handles, started)) = inner {
            recorder::call(handles, outcome, clock::since(started));
        }
    }
    #[cfg(not(feature = "metrics"))]
    let _ = (call, failed);
}

#[cfg(feature = "metrics")]
impl Drop for CallStart {
    #[inline]
    fn drop(&mut self) {
        if let Some((handles, started)) = self.inner.take() {
            unfinished(handles, started);
        }
    }
}

/// A call dropped before [`call_end`]: a panic if one unwinds, else cancelled.
#[cfg(feature = "metrics")]
#[cold]
#[inline(never)]
fn unfinished(handles: &'static recorder::Handles, started: clock::Nanos) {
    if std::thread::panicking() {
        recorder::call(handles, Outcome::Panic, clock::since(started));
    }
}

/// A call's start in 8 bytes: nanoseconds on tokio's clock from a process-wide epoch
/// (signed: a paused clock of a later runtime may read earlier than the epoch).
#[cfg(feature = "metrics")]
mod clock {
    use std::sync::OnceLock;
    use std::time::Duration;

    use tokio::time::Instant;

    pub(super) type Nanos = i64;

    static EPOCH: OnceLock<Instant> = OnceLock::new();

    #[inline]
    pub(super) fn now() -> Nanos {
        let now = Instant::now();
        let epoch = *EPOCH.get_or_init(|| now);
        let nanos = |d: Duration| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX);
        match now.checked_duration_since(epoch) {
            Some(after) => nanos(after),
            None => -nanos(epoch - now),
        }
    }

    #[inline]
    pub(super) fn since(start: Nanos) -> Duration {
        Duration::from_nanos(now().saturating_sub(start).max(0).unsigned_abs())
    }
}

/// The output of an annotated function, asked whether it is an `Err` by autoref
/// specialisation: [`EndedResult`] for a `Result`, [`EndedOther`] (never) for any
/// other type.
#[doc(hidden)]
pub struct Ended<'a, T>(pub &'a T);

/// [`Ended`] of a `Result`.
#[doc(hidden)]
pub trait EndedResult {
    /// Whether it is an `Err`.
    fn steadfast_failed(&self) -> bool;
}

impl<T, E> EndedResult for Ended<'_, Result<T, E>> {
    #[inline(always)]
    fn steadfast_failed(&self) -> bool {
        self.0.is_err()
    }
}

/// [`Ended`] of any other type: never failed.
#[doc(hidden)]
pub trait EndedOther {
    /// `false`.
    fn steadfast_failed(&self) -> bool;
}

impl<T> EndedOther for &Ended<'_, T> {
    #[inline(always)]
    fn steadfast_failed(&self) -> bool {
        false
    }
}

#[cfg(feature = "metrics")]
thread_local! {
    /// The outcome a layer of the call being polled on this thread produced: 0 none,
    /// else `Outcome as u8`.
    static MARK: std::cell::Cell<u8> = const { std::cell::Cell::new(0) };
}

#[cfg(feature = "metrics")]
fn take_mark() -> Outcome {
    let mark = MARK.with(|m| m.replace(0));
    Outcome::ALL
        .get(usize::from(mark))
        .copied()
        .filter(|o| *o != Outcome::Ok)
        .unwrap_or(Outcome::Error)
}

/// A layer produced `outcome` (an error of its own) for the call being polled.
#[inline]
pub(crate) fn mark(outcome: Outcome) {
    #[cfg(feature = "metrics")]
    MARK.with(|m| m.set(outcome as u8));
    #[cfg(not(feature = "metrics"))]
    let _ = outcome;
}

/// The error marked so far will not leave the call (a retry or a hedge goes on).
#[inline]
pub(crate) fn forget() {
    #[cfg(feature = "metrics")]
    MARK.with(|m| m.set(0));
}

/// `function` retries (after a failed attempt, before its backoff sleep).
#[inline]
pub(crate) fn retried(function: &'static str) {
    forget();
    #[cfg(feature = "metrics")]
    recorder::count(function, recorder::Count::Retry);
    #[cfg(not(feature = "metrics"))]
    let _ = function;
}

/// A retry of `function` was not made: the budget was empty.
#[inline]
pub(crate) fn budget_exhausted(function: &'static str) {
    #[cfg(feature = "metrics")]
    recorder::count(function, recorder::Count::BudgetExhausted);
    #[cfg(not(feature = "metrics"))]
    let _ = function;
}

/// `function` started a hedged attempt.
#[inline]
pub(crate) fn hedged(function: &'static str) {
    #[cfg(feature = "metrics")]
    recorder::count(function, recorder::Count::Hedge);
    #[cfg(not(feature = "metrics"))]
    let _ = function;
}

/// The breaker of `function` changed to `state`.
#[inline]
pub(crate) fn circuit(function: &'static str, state: Circuit) {
    #[cfg(feature = "metrics")]
    recorder::circuit(function, f64::from(state as u8));
    #[cfg(not(feature = "metrics"))]
    let _ = (function, state);
}

/// The limiter gauge a [`Held`] counts in.
#[doc(hidden)]
pub const WAITING: u8 = 0;
/// See [`WAITING`].
#[doc(hidden)]
pub const IN_FLIGHT: u8 = 1;

/// A place in one of a limiter's gauges (`G`: [`WAITING`] or [`IN_FLIGHT`]), held
/// while a caller waits or runs, left when dropped. Zero-sized without the feature,
/// a pointer with it.
#[doc(hidden)]
pub struct Held<const G: u8> {
    #[cfg(feature = "metrics")]
    handles: Option<&'static recorder::Handles>,
}

impl<const G: u8> Held<G> {
    /// Holds no place.
    #[inline]
    pub(crate) const fn none() -> Self {
        Held {
            #[cfg(feature = "metrics")]
            handles: None,
        }
    }

    /// Whether it holds no place and may take one (without the feature: never).
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        #[cfg(feature = "metrics")]
        return self.handles.is_none();
        #[cfg(not(feature = "metrics"))]
        false
    }

    /// Takes a place in `limiter`'s gauge.
    #[inline]
    pub(crate) fn enter(limiter: &'static str) -> Self {
        #[cfg(feature = "metrics")]
        return Held {
            handles: if recorder::live() { recorder::enter(limiter, Self::level()) } else { None },
        };
        #[cfg(not(feature = "metrics"))]
        {
            let _ = limiter;
            Held {}
        }
    }

    #[cfg(feature = "metrics")]
    const fn level() -> recorder::Level {
        if G == WAITING { recorder::Level::Waiting } else { recorder::Level::InFlight }
    }
}

#[cfg(feature = "metrics")]
impl<const G: u8> Drop for Held<G> {
    #[inline]
    fn drop(&mut self) {
        if let Some(handles) = self.handles.take() {
            recorder::leave(handles, Self::level());
        }
    }
}

impl<const G: u8> std::fmt::Debug for Held<G> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if G == WAITING { "Held(waiting)" } else { "Held(in_flight)" })
    }
}
