//! The success path of each attribute and of the full stack, in ns per call: the bare
//! body, the attribute, the hand-written equivalent and the peer crates, one
//! criterion group per scenario, all in the same run.
//!
//! ```sh
//! cargo bench -p steadfast-benches --bench success -- --warm-up-time 1 --measurement-time 3
//! ```
//!
//! No clock is ever paused in this binary, so tokio's clock reads stay on their fast
//! path (the `test-util` feature that the `scenarios` bench needs is compiled in).

use std::hint::black_box;

use backon::{ExponentialBuilder, Retryable};
use std::time::Instant;

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, criterion_group, criterion_main};
use steadfast_benches::{
    CONCURRENCY, DELAY, Error, Out, TIMEOUT, bare, bounded, hand_boundary, hand_limit, hand_retry,
    hand_stacked, hand_timeout, limited, retried, stacked, timed,
};
use steadfast_benches::{bench_call as call, runtime};
use tokio::runtime::Runtime;
use tower::{BoxError, Service, ServiceBuilder, ServiceExt};

fn retry(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("retry");
    call!(group, rt, "bare", |x, n| bare(x, n).await);
    call!(group, rt, "steadfast", |x, n| retried(x, n).await);
    call!(group, rt, "hand-written loop", |x, n| hand_retry(x, n).await);
    call!(group, rt, "backon", |x, n| {
        (|| bare(x, n))
            .retry(ExponentialBuilder::default().with_min_delay(DELAY).with_max_times(2))
            .await
    });
    call!(group, rt, "tokio-retry", |x, n| {
        tokio_retry::Retry::start([DELAY, 2 * DELAY], || bare(x, n)).await
    });
    group.finish();
}

fn timeout(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("timeout");
    call!(group, rt, "bare", |x, n| bare(x, n).await);
    call!(group, rt, "steadfast", |x, n| timed(x, n).await);
    call!(group, rt, "tokio::time::timeout (hand-written)", |x, n| hand_timeout(x, n).await);
    let svc = tower::timeout::Timeout::new(body_service(), TIMEOUT);
    tower_call(&mut group, &rt, "tower Timeout", svc);
    // What `#[timeout]` adds to the bare call on its success path: one read of tokio's
    // clock (the deadline counts from the first poll). tokio's read is std's behind
    // one atomic load while no clock was ever paused; both are here for comparison.
    call!(group, rt, "clock read: tokio Instant::now", |x, n| {
        black_box(tokio::time::Instant::now());
        bare(x, n).await
    });
    call!(group, rt, "clock read: std Instant::now", |x, n| {
        black_box(Instant::now());
        bare(x, n).await
    });
    group.finish();
}

fn error_boundary(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("error_boundary");
    call!(group, rt, "bare", |x, n| bare(x, n).await);
    call!(group, rt, "steadfast", |x, n| bounded(x, n).await);
    call!(group, rt, "hand-written match and log", |x, n| hand_boundary(x, n).await);
    group.finish();
}

fn limit(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("limit");
    call!(group, rt, "bare", |x, n| bare(x, n).await);
    call!(group, rt, "steadfast", |x, n| limited(x, n).await);
    call!(group, rt, "tokio Semaphore (hand-written)", |x, n| hand_limit(x, n).await);
    let svc = tower::limit::ConcurrencyLimit::new(body_service(), CONCURRENCY);
    tower_call(&mut group, &rt, "tower ConcurrencyLimit", svc);
    group.finish();
}

fn stack(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("stack");
    call!(group, rt, "bare", |x, n| bare(x, n).await);
    call!(group, rt, "steadfast", |x, n| stacked(x, n).await);
    call!(group, rt, "hand-written", |x, n| hand_stacked(x, n).await);
    // tower's layers in the same order: log the final error, retry, time out each
    // attempt, hold a permit per attempt.
    let svc = ServiceBuilder::new()
        .map_result(|out: Result<u64, BoxError>| {
            if let Err(error) = &out {
                tracing::error!(context = "benchmark", %error, "failed");
            }
            out
        })
        .retry(Attempts(3))
        .timeout(TIMEOUT)
        .concurrency_limit(CONCURRENCY)
        .service(body_service());
    tower_call(&mut group, &rt, "tower ServiceBuilder", svc);
    group.finish();
}

/// Benchmarks calls of a tower service: `ready`, then `call`, with one service
/// owned by the loop (as a tower user keeps one per connection).
fn tower_call<S>(group: &mut BenchmarkGroup<'_, WallTime>, rt: &Runtime, name: &str, svc: S)
where
    S: Service<(u64, u64), Response = u64> + Clone,
    S::Error: Into<BoxError>,
{
    group.bench_function(name, |b| {
        b.to_async(rt).iter_custom(|iters| {
            let mut svc = svc.clone();
            async move {
                let start = Instant::now();
                for _ in 0..iters {
                    let ready = svc.ready().await.map_err(Into::into).expect("ready");
                    let request = (*black_box(&1_u64), black_box(2_u64));
                    black_box(ready.call(request).await.map_err(Into::into)).expect("success");
                }
                start.elapsed()
            }
        })
    });
}

/// The body as a tower service over `(x, n)`.
fn body_service()
-> impl Service<(u64, u64), Response = u64, Error = Error, Future = impl Future<Output = Out> + Send>
+ Clone
+ Send {
    tower::service_fn(|(x, n): (u64, u64)| async move { bare(&x, n).await })
}

/// tower's retry policy for the stack: `attempts` in all, exponential delays from
/// [`DELAY`], no jitter.
#[derive(Clone)]
struct Attempts(u32);

impl<Res, E> tower::retry::Policy<(u64, u64), Res, E> for Attempts {
    type Future = tokio::time::Sleep;

    fn retry(&mut self, _: &mut (u64, u64), result: &mut Result<Res, E>) -> Option<Self::Future> {
        match result {
            Ok(_) => None,
            Err(_) if self.0 <= 1 => None,
            Err(_) => {
                self.0 -= 1;
                let retry = 3 - self.0;
                Some(tokio::time::sleep(DELAY * 2_u32.pow(retry - 1)))
            }
        }
    }

    fn clone_request(&mut self, request: &(u64, u64)) -> Option<(u64, u64)> {
        Some(*request)
    }
}

criterion_group!(benches, retry, timeout, error_boundary, limit, stack);
criterion_main!(benches);
