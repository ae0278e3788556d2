//! Calls with a recorder installed (bench feature `metrics`): steadfast's handles,
//! resolved once per function and recorder, against the hand-written `metrics` macros,
//! which hand the recorder the call's key to look up on every call. The recorder is
//! the Prometheus exporter's, installed for this thread only.
//!
//! ```sh
//! cargo bench -p steadfast-benches --features metrics --bench recorded -- --warm-up-time 1 --measurement-time 3
//! ```
//!
//! The first group repeats three of the `metrics` bench's no-recorder calls in this
//! binary, which also installs a thread-local recorder: see BENCHMARKS.md, "The
//! `metrics` feature", for why they cost more here than there.

use criterion::{Criterion, criterion_group, criterion_main};
use steadfast_benches::{bare, bench_call as call, bounded, hand_metered, retried, runtime};

fn unrecorded(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("no recorder, local recorders in the binary");
    call!(group, rt, "bare", |x, n| bare(x, n).await);
    call!(group, rt, "error_boundary", |x, n| bounded(x, n).await);
    call!(group, rt, "retry", |x, n| retried(x, n).await);
    call!(group, rt, "hand-written metrics macros", |x, n| hand_metered(x, n).await);
    group.finish();
}

fn recorded(c: &mut Criterion) {
    let rt = runtime();
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    metrics::with_local_recorder(&recorder, || {
        let mut group = c.benchmark_group("recorded");
        call!(group, rt, "error_boundary", |x, n| bounded(x, n).await);
        call!(group, rt, "retry", |x, n| retried(x, n).await);
        call!(group, rt, "hand-written metrics macros", |x, n| hand_metered(x, n).await);
        group.finish();
    });
}

criterion_group!(benches, unrecorded, recorded);
criterion_main!(benches);
