//! The success path of each attribute with the `metrics` feature on and no recorder
//! installed, against the same build without the feature: the same benchmarks, built
//! twice, compared by criterion's baselines (a crate's features are fixed at compile
//! time, so one binary cannot hold both builds).
//!
//! ```sh
//! cargo bench -p steadfast-benches --bench metrics -- --warm-up-time 1 --measurement-time 3 --save-baseline metrics-off
//! cargo bench -p steadfast-benches --bench metrics --features metrics -- --warm-up-time 1 --measurement-time 3 --save-baseline metrics-on
//! ```
//!
//! Compare the two saved baselines benchmark by benchmark (the second build has one
//! benchmark more, the hand-written macros, so criterion cannot compare it against the
//! first with `--baseline`). `metrics/bare` (no steadfast code at all) is the control:
//! its change is the noise between the two runs. See BENCHMARKS.md, "The `metrics` feature".

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use steadfast::{Breaker, Hedge};
use steadfast_benches::{bare, bounded, broken, hedged, limited, retried, stacked, timed};
use steadfast_benches::{bench_call as call, runtime};

static BREAKER: Breaker = Breaker::new().name("bench");
static HEDGE: Hedge = Hedge::after(Duration::from_secs(1)).name("bench");

fn success(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("metrics");
    call!(group, rt, "bare", |x, n| bare(x, n).await);
    call!(group, rt, "retry", |x, n| retried(x, n).await);
    call!(group, rt, "timeout", |x, n| timed(x, n).await);
    call!(group, rt, "error_boundary", |x, n| bounded(x, n).await);
    call!(group, rt, "limit", |x, n| limited(x, n).await);
    call!(group, rt, "stack", |x, n| stacked(x, n).await);
    call!(group, rt, "circuit_breaker", |x, n| broken(x, n).await);
    call!(group, rt, "hedge", |x, n| hedged(x, n).await);
    // The runtime halves of `#[circuit_breaker]` and `#[hedge]`, which record nothing
    // on the success path: a second control.
    call!(group, rt, "breaker (Breaker::run)", |x, n| {
        BREAKER.run(async { Ok::<u64, steadfast_benches::Error>(*x + n) }).await
    });
    call!(group, rt, "hedge (Hedge::run)", |x, n| {
        HEDGE.run(|| async { Ok::<u64, steadfast_benches::Error>(*x + n) }).await
    });
    // Hand-written instrumentation of the same body with the `metrics` macros: what
    // an application pays without steadfast for the two series of every call.
    #[cfg(feature = "metrics")]
    call!(group, rt, "hand-written metrics macros", |x, n| {
        steadfast_benches::hand_metered(x, n).await
    });
    group.finish();
}

criterion_group!(benches, success);
criterion_main!(benches);
