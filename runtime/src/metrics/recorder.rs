//! The recording itself (feature `metrics`): handles resolved once per name and
//! recorder, kept in a fixed table, so that a call with a recorder installed allocates
//! nothing and a call without one reads one thread-local and one atomic.

use std::sync::OnceLock;
use std::time::Duration;

use metrics::{
    Counter, Gauge, Histogram, Key, KeyName, Label, Metadata, Recorder, SharedString, Unit,
};

use super::{
    CALL_DURATION_SECONDS, CALLS_TOTAL, CIRCUIT_STATE, HEDGES_TOTAL, LIMIT_IN_FLIGHT,
    LIMIT_WAITING, Outcome, RETRIES_TOTAL, RETRY_BUDGET_EXHAUSTED_TOTAL,
};

static METADATA: Metadata<'static> =
    Metadata::new("steadfast", metrics::Level::INFO, Some(module_path!()));

/// The counters other than the calls.
#[derive(Clone, Copy)]
pub(super) enum Count {
    Retry,
    BudgetExhausted,
    Hedge,
}

/// The gauges.
#[derive(Clone, Copy, Debug)]
pub(super) enum Level {
    InFlight,
    Waiting,
    Circuit,
}

#[derive(Clone, Copy)]
pub(super) enum Change {
    Add(f64),
    Set(f64),
}

/// Whether a recorder is installed (global, or local to this thread).
///
/// NOTE: `metrics` answers with its `NoopRecorder`, a zero-sized type, when none is;
/// any zero-sized recorder is taken for it (a recorder that records keeps its
/// storage somewhere, in itself or behind a pointer it holds).
#[inline]
pub(super) fn live() -> bool {
    metrics::with_recorder(|r| size_of_val(r) != 0)
}

/// Runs `f` with the installed recorder and the handles of `name` for it (`None`
/// when the table is full: `f` then registers its handle itself); nothing without a
/// recorder.
#[inline]
fn with(name: &'static str, f: impl FnOnce(&dyn Recorder, Option<&'static Handles>)) {
    metrics::with_recorder(|r| {
        if size_of_val(r) != 0 {
            let id = (r as *const dyn Recorder).cast::<()>() as usize;
            f(r, Handles::of(name, id));
        }
    });
}

/// Counts one call of `function` that ended with `outcome` after `took`.
pub(super) fn call(function: &'static str, outcome: Outcome, took: Duration) {
    with(function, |r, h| {
        let calls = h.map(|h| &h.calls[outcome as usize]);
        counter(r, calls, || {
            key(CALLS_TOTAL, [("function", function), ("outcome", outcome.label())])
        })
        .increment(1);
        let duration = h.map(|h| &h.duration);
        match duration {
            Some(slot) => slot.get_or_init(|| histogram(r, function)).record(took.as_secs_f64()),
            None => histogram(r, function).record(took.as_secs_f64()),
        }
    });
}

/// Counts one `count` of `function`.
pub(super) fn count(function: &'static str, count: Count) {
    with(function, |r, h| {
        let name = match count {
            Count::Retry => RETRIES_TOTAL,
            Count::BudgetExhausted => RETRY_BUDGET_EXHAUSTED_TOTAL,
            Count::Hedge => HEDGES_TOTAL,
        };
        let slot = h.map(|h| match count {
            Count::Retry => &h.retries,
            Count::BudgetExhausted => &h.budget_exhausted,
            Count::Hedge => &h.hedges,
        });
        counter(r, slot, || key(name, [("function", function)])).increment(1);
    });
}

/// Changes the gauge `level` of `name` (a limiter's or a breaker's).
pub(super) fn gauge(name: &'static str, level: Level, change: Change) {
    with(name, |r, h| {
        let (metric, label) = match level {
            Level::InFlight => (LIMIT_IN_FLIGHT, "limiter"),
            Level::Waiting => (LIMIT_WAITING, "limiter"),
            Level::Circuit => (CIRCUIT_STATE, "function"),
        };
        let register = || r.register_gauge(&key(metric, [(label, name)]), &METADATA);
        let apply = |g: &Gauge| match change {
            Change::Add(d) => g.increment(d),
            Change::Set(v) => g.set(v),
        };
        match h {
            Some(h) => {
                let slot = match level {
                    Level::InFlight => &h.in_flight,
                    Level::Waiting => &h.waiting,
                    Level::Circuit => &h.circuit,
                };
                apply(slot.get_or_init(register));
            }
            None => apply(&register()),
        }
    });
}

fn key<const N: usize>(name: &'static str, labels: [(&'static str, &'static str); N]) -> Key {
    Key::from_parts(name, labels.map(|(k, v)| Label::new(k, v)).to_vec())
}

/// A counter's handle: kept in `slot`, or registered for this one use.
fn counter<'a>(
    r: &dyn Recorder,
    slot: Option<&'a OnceLock<Counter>>,
    key: impl FnOnce() -> Key,
) -> CounterRef<'a> {
    match slot {
        Some(slot) => CounterRef::Kept(slot.get_or_init(|| r.register_counter(&key(), &METADATA))),
        None => CounterRef::Once(r.register_counter(&key(), &METADATA)),
    }
}

enum CounterRef<'a> {
    Kept(&'a Counter),
    Once(Counter),
}

impl CounterRef<'_> {
    fn increment(&self, by: u64) {
        match self {
            CounterRef::Kept(c) => c.increment(by),
            CounterRef::Once(c) => c.increment(by),
        }
    }
}

fn histogram(r: &dyn Recorder, function: &'static str) -> Histogram {
    r.register_histogram(&key(CALL_DURATION_SECONDS, [("function", function)]), &METADATA)
}

/// Every handle steadfast may need for one name (a function's, a limiter's or a
/// breaker's) and one recorder, each registered the first time it is used, so that
/// the recorder only ever shows the series a name has.
struct Handles {
    name: &'static str,
    recorder: usize,
    calls: [OnceLock<Counter>; 6],
    duration: OnceLock<Histogram>,
    retries: OnceLock<Counter>,
    budget_exhausted: OnceLock<Counter>,
    hedges: OnceLock<Counter>,
    in_flight: OnceLock<Gauge>,
    waiting: OnceLock<Gauge>,
    circuit: OnceLock<Gauge>,
}

/// Names (with their recorder) whose handles are kept. Past that many, handles are
/// registered at each use (correct, but that allocates).
const SLOTS: usize = 512;
/// How far a name's entry may be from its hash.
const PROBES: usize = 16;

static TABLE: [OnceLock<Handles>; SLOTS] = [const { OnceLock::new() }; SLOTS];

impl Handles {
    fn new(name: &'static str, recorder: usize) -> Self {
        Handles {
            name,
            recorder,
            calls: Default::default(),
            duration: OnceLock::new(),
            retries: OnceLock::new(),
            budget_exhausted: OnceLock::new(),
            hedges: OnceLock::new(),
            in_flight: OnceLock::new(),
            waiting: OnceLock::new(),
            circuit: OnceLock::new(),
        }
    }

    /// The same name is the same string in memory (the `&'static str` the expansion
    /// or the static holds): compared by address, never by content. Two copies of a
    /// name take two entries and report the same series.
    fn is(&self, name: &'static str, recorder: usize) -> bool {
        std::ptr::eq(self.name, name) && self.recorder == recorder
    }

    /// The entry of `name` for `recorder`, made on first use; open addressing, so that
    /// a lookup reads the table without a lock.
    #[inline]
    fn of(name: &'static str, recorder: usize) -> Option<&'static Handles> {
        let hash = (name.as_ptr() as usize ^ name.len().rotate_left(17) ^ recorder.rotate_left(32))
            .wrapping_mul(0x9E37_79B9_7F4A_7C15_u64 as usize);
        let start = hash >> (usize::BITS - SLOTS.trailing_zeros());
        (0..PROBES).map(|i| &TABLE[(start + i) % SLOTS]).find_map(|slot| {
            let entry = slot.get_or_init(|| Handles::new(name, recorder));
            entry.is(name, recorder).then_some(entry)
        })
    }
}

/// Registers the description (Prometheus's `# HELP` line) and unit of every steadfast
/// metric with the installed recorder. Optional: the metrics are recorded without it.
///
/// ```
/// // After installing a recorder (an exporter's `install()`):
/// steadfast::metrics::describe();
/// ```
pub fn describe() {
    metrics::with_recorder(|r| {
        let counters = [
            (CALLS_TOTAL, "Calls of an annotated function, by how they ended"),
            (RETRIES_TOTAL, "Retries: attempts after the first"),
            (RETRY_BUDGET_EXHAUSTED_TOTAL, "Retries not made because the retry budget was empty"),
            (HEDGES_TOTAL, "Hedged attempts started: attempts after the first"),
        ];
        for (name, help) in counters {
            r.describe_counter(KeyName::from_const_str(name), None, SharedString::const_str(help));
        }
        r.describe_histogram(
            KeyName::from_const_str(CALL_DURATION_SECONDS),
            Some(Unit::Seconds),
            SharedString::const_str("How long calls took, every attempt and wait included"),
        );
        let gauges = [
            (LIMIT_IN_FLIGHT, "Bodies running with a slot of the limiter"),
            (LIMIT_WAITING, "Callers waiting for a slot of the limiter"),
            (CIRCUIT_STATE, "The circuit breaker's state: 0 closed, 1 half-open, 2 open"),
        ];
        for (name, help) in gauges {
            r.describe_gauge(KeyName::from_const_str(name), None, SharedString::const_str(help));
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_keeps_its_entry_and_another_name_gets_its_own() {
        static A: &str = "table_a";
        static B: &str = "table_b";
        let a = Handles::of(A, 1).expect("room in the table");
        assert!(std::ptr::eq(a, Handles::of(A, 1).unwrap()));
        let b = Handles::of(B, 1).unwrap();
        assert!(!std::ptr::eq(a, b) && b.is(B, 1));
        let other_recorder = Handles::of(A, 2).unwrap();
        assert!(!std::ptr::eq(a, other_recorder) && other_recorder.is(A, 2));
    }
}
