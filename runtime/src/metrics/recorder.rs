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

/// The gauges of a limiter.
#[derive(Clone, Copy, Debug)]
pub(super) enum Level {
    InFlight,
    Waiting,
}

/// Whether a recorder is installed (global, or local to this thread): the only work
/// of a call without one.
#[inline]
pub(super) fn live() -> bool {
    metrics::with_recorder(|r| !is_noop(r))
}

/// Whether the recorder is `metrics`' no-op one.
///
/// NOTE: `metrics` answers with its `NoopRecorder`, a zero-sized type, when none is;
/// any zero-sized recorder is taken for it (a recorder that records keeps its
/// storage somewhere, in itself or behind a pointer it holds).
#[inline]
fn is_noop(r: &dyn Recorder) -> bool {
    size_of_val(r) == 0
}

fn id(r: &dyn Recorder) -> usize {
    (r as *const dyn Recorder).cast::<()>() as usize
}

/// The handles of `name` for the installed recorder; `None` without a recorder (or
/// when the table is full).
#[inline]
pub(super) fn handles(name: &'static str) -> Option<&'static Handles> {
    metrics::with_recorder(|r| if is_noop(r) { None } else { found(name, id(r)) })
}

/// [`Handles::of`], out of line: the check for a recorder stays small.
#[cold]
#[inline(never)]
fn found(name: &'static str, recorder: usize) -> Option<&'static Handles> {
    Handles::of(name, recorder)
}

/// Runs `f` with the installed recorder and the handles of `name` for it, nothing
/// without a recorder. `known`: handles already found for `name` (by a call's start),
/// used as they are if the recorder is still theirs.
#[inline]
fn with(
    name: &'static str,
    known: Option<&'static Handles>,
    f: impl FnOnce(&dyn Recorder, &'static Handles),
) {
    metrics::with_recorder(|r| {
        if is_noop(r) {
            return;
        }
        let id = id(r);
        let handles = match known {
            Some(h) if h.recorder == id => Some(h),
            _ => Handles::of(name, id),
        };
        if let Some(h) = handles {
            f(r, h);
        }
    });
}

/// Counts one call of `h.name` that ended with `outcome` after `took`.
#[cold]
#[inline(never)]
pub(super) fn call(h: &'static Handles, outcome: Outcome, took: Duration) {
    let function = h.name;
    with(function, Some(h), |r, h| {
        h.calls[outcome as usize]
            .get_or_init(|| {
                let key = key(CALLS_TOTAL, [("function", function), ("outcome", outcome.label())]);
                r.register_counter(&key, &METADATA)
            })
            .increment(1);
        h.duration
            .get_or_init(|| {
                let key = key(CALL_DURATION_SECONDS, [("function", function)]);
                r.register_histogram(&key, &METADATA)
            })
            .record(took.as_secs_f64());
    });
}

/// Counts one `count` of `function`.
pub(super) fn count(function: &'static str, count: Count) {
    with(function, None, |r, h| {
        let (name, slot) = match count {
            Count::Retry => (RETRIES_TOTAL, &h.retries),
            Count::BudgetExhausted => (RETRY_BUDGET_EXHAUSTED_TOTAL, &h.budget_exhausted),
            Count::Hedge => (HEDGES_TOTAL, &h.hedges),
        };
        slot.get_or_init(|| r.register_counter(&key(name, [("function", function)]), &METADATA))
            .increment(1);
    });
}

/// Sets the breaker state gauge of `name`.
pub(super) fn circuit(name: &'static str, state: f64) {
    with(name, None, |r, h| {
        h.circuit
            .get_or_init(|| r.register_gauge(&key(CIRCUIT_STATE, [("function", name)]), &METADATA))
            .set(state);
    });
}

/// Adds one to the limiter gauge `level` of `name`, and returns the handles that hold
/// it, to take the one away again from the same gauge.
#[cold]
#[inline(never)]
pub(super) fn enter(name: &'static str, level: Level) -> Option<&'static Handles> {
    let mut entered = None;
    with(name, None, |r, h| {
        let metric = match level {
            Level::InFlight => LIMIT_IN_FLIGHT,
            Level::Waiting => LIMIT_WAITING,
        };
        h.gauge(level)
            .get_or_init(|| r.register_gauge(&key(metric, [("limiter", name)]), &METADATA))
            .increment(1.0);
        entered = Some(h);
    });
    entered
}

/// Takes away what [`enter`] added.
#[cold]
#[inline(never)]
pub(super) fn leave(h: &'static Handles, level: Level) {
    if let Some(gauge) = h.gauge(level).get() {
        gauge.decrement(1.0);
    }
}

fn key<const N: usize>(name: &'static str, labels: [(&'static str, &'static str); N]) -> Key {
    Key::from_parts(name, labels.map(|(k, v)| Label::new(k, v)).to_vec())
}

/// Every handle steadfast may need for one name (a function's, a limiter's or a
/// breaker's) and one recorder, each registered the first time it is used, so that
/// the recorder only ever shows the series a name has. Made once, never freed.
pub(super) struct Handles {
    pub(super) name: &'static str,
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

/// How many names (with their recorder) have handles. Past that many, the calls of
/// further names are not recorded (one ERROR event says so).
const SLOTS: usize = 8192;
/// How far a name's entry may be from its hash.
const PROBES: usize = 64;

static TABLE: [OnceLock<&'static Handles>; SLOTS] = [const { OnceLock::new() }; SLOTS];

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

    fn gauge(&self, level: Level) -> &OnceLock<Gauge> {
        match level {
            Level::InFlight => &self.in_flight,
            Level::Waiting => &self.waiting,
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
        let found = (0..PROBES).map(|i| &TABLE[(start + i) % SLOTS]).find_map(|slot| {
            let entry = *slot.get_or_init(|| Box::leak(Box::new(Handles::new(name, recorder))));
            entry.is(name, recorder).then_some(entry)
        });
        if found.is_none() {
            full(name);
        }
        found
    }
}

#[cold]
fn full(name: &'static str) {
    static REPORTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if !REPORTED.swap(true, std::sync::atomic::Ordering::Relaxed) {
        tracing::error!(
            target: "steadfast",
            function = name,
            "metrics: no room for the handles of more names; this one and later ones are not recorded",
        );
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
