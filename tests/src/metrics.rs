//! A real recorder for the metrics tests: metrics-util's `DebuggingRecorder`, one per
//! [`Recorded`], installed as this thread's recorder (so that tests running at once do
//! not see each other's series) and never freed (so that no later recorder takes its
//! address, by which steadfast keeps its handles).

use std::collections::BTreeMap;

use metrics::LocalRecorderGuard;
use metrics_util::MetricKind;
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};

/// What a thread recorded since [`Recorded::install`]. The debugging recorder's
/// snapshots take what they read (counters and gauges go back to 0): readings are
/// added up here, so that counters and the up-and-down gauges of the limiters read
/// their totals. A gauge that is `set` (the breaker's state) reads right when it was
/// set once since the recorder was installed.
pub struct Recorded {
    snapshotter: Snapshotter,
    totals: BTreeMap<(MetricKind, String), f64>,
    histograms: BTreeMap<String, Vec<f64>>,
    _guard: LocalRecorderGuard<'static>,
}

/// `name{label="value",...}` with labels in the order recorded.
fn series(key: &metrics::Key) -> String {
    let labels: Vec<String> =
        key.labels().map(|l| format!("{}=\"{}\"", l.key(), l.value())).collect();
    format!("{}{{{}}}", key.name(), labels.join(","))
}

impl Recorded {
    /// A fresh recorder for this thread, until dropped.
    pub fn install() -> Self {
        let recorder: &'static DebuggingRecorder = Box::leak(Box::new(DebuggingRecorder::new()));
        let guard = metrics::set_default_local_recorder(recorder);
        Recorded {
            snapshotter: recorder.snapshotter(),
            totals: BTreeMap::new(),
            histograms: BTreeMap::new(),
            _guard: guard,
        }
    }

    fn take(&mut self) {
        for (key, _, _, value) in self.snapshotter.snapshot().into_vec() {
            let name = series(key.key());
            match value {
                DebugValue::Counter(n) => {
                    *self.totals.entry((MetricKind::Counter, name)).or_default() += n as f64
                }
                DebugValue::Gauge(v) => {
                    *self.totals.entry((MetricKind::Gauge, name)).or_default() += v.into_inner()
                }
                DebugValue::Histogram(values) => self
                    .histograms
                    .entry(name)
                    .or_default()
                    .extend(values.into_iter().map(|v| v.into_inner())),
            }
        }
    }

    /// The counter `series` (as `name{label="value",...}`), `None` if never registered.
    pub fn counter(&mut self, series: &str) -> Option<u64> {
        self.take();
        self.totals.get(&(MetricKind::Counter, series.to_owned())).map(|n| *n as u64)
    }

    /// The gauge `series`, `None` if never registered.
    pub fn gauge(&mut self, series: &str) -> Option<f64> {
        self.take();
        self.totals.get(&(MetricKind::Gauge, series.to_owned())).copied()
    }

    /// Every value recorded in the histogram `series`.
    pub fn histogram(&mut self, series: &str) -> Vec<f64> {
        self.take();
        self.histograms.get(series).cloned().unwrap_or_default()
    }

    /// Every series registered so far (counters, gauges and histograms), sorted.
    pub fn series(&mut self) -> Vec<String> {
        self.take();
        let mut all: Vec<String> = self.totals.keys().map(|(_, s)| s.clone()).collect();
        all.extend(self.histograms.keys().cloned());
        all.sort();
        all
    }
}
