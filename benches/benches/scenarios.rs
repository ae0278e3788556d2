//! Scenarios beyond a single successful call, one criterion group each, all in the
//! same run:
//!
//! - `limit_contention`: 64 tasks calling a function limited to 8 at once, on a
//!   two-worker runtime; the body yields once, so callers queue. Time per batch of 64.
//! - `retry_two_failures`: a body that fails twice, then succeeds, on a paused clock
//!   (100 ms and 200 ms of virtual sleep per call, no wall-clock sleeping): the cost
//!   of the failure path, the retry events and two timer registrations.
//! - `rate_10k`: a function limited to 10 000 starts per second, called under the
//!   limit: every call is let through at once. The paused clock is advanced by two
//!   windows (outside the measurement) before each chunk of 10 000 calls.
//! - `rate_fast`: the rate fast path on the real clock (no clock is paused in the process
//!   yet): a limit of a start per nanosecond, which no loop reaches, so that every call
//!   is let through at once, as an application under its limit runs it.
//! - `rate_10k_saturated`: the same limit, called back to back far over it on a paused
//!   clock, so most calls wait for their start time: the cost of the waiting path.
//!
//! ```sh
//! cargo bench -p steadfast-benches --bench scenarios -- --warm-up-time 1 --measurement-time 3
//! ```

use std::cell::{Cell, RefCell};
use std::hint::black_box;
use std::num::NonZeroU32;
use std::rc::Rc;
use std::time::{Duration, Instant as WallInstant};

use backon::{ExponentialBuilder, Retryable};
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, criterion_group, criterion_main};
use governor::clock::FakeRelativeClock;
use governor::{Quota, RateLimiter};
use steadfast_benches::{
    CONCURRENCY, DELAY, FAST_RATE, Out, RATE, RATE_WINDOW, bare, fast_hand_rate, fast_rate_limited,
    fast_rate_spaced, flaky, flaky_body, hand_flaky, hand_limit_yielding, hand_rate,
    limited_yielding, rate_limited, rate_spaced, yielding,
};
use tokio::runtime::Runtime;
use tokio::time::Instant;
use tower::limit::RateLimit;
use tower::util::ServiceFn;
use tower::{Service, ServiceExt};

fn paused_runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("a runtime")
}

// ---------------------------------------------------------------- retry_two_failures

/// Runs `$call` once on the paused clock and checks that it slept 100 + 200 ms (to the
/// timer's millisecond: backon computes delays in floating point and comes out 1 ms
/// longer) and succeeded on the third attempt, so that every variant does the same work.
macro_rules! check_retry {
    ($rt:expr, $name:literal, |$calls:ident| $call:expr) => {
        $rt.block_on(async {
            let $calls = &Cell::new(0);
            let start = Instant::now();
            assert_eq!($call.await, Ok(3), $name);
            let slept = start.elapsed();
            assert!(
                slept >= 3 * DELAY && slept <= 3 * DELAY + Duration::from_millis(1),
                "{}: {slept:?}",
                $name
            );
        })
    };
}

fn retry_two_failures(c: &mut Criterion) {
    let rt = paused_runtime();
    let backon = || ExponentialBuilder::default().with_min_delay(DELAY).with_max_times(2);
    check_retry!(rt, "steadfast", |calls| flaky(calls));
    check_retry!(rt, "hand-written", |calls| hand_flaky(calls));
    check_retry!(rt, "backon", |calls| (|| flaky_body(calls)).retry(backon()));
    check_retry!(rt, "tokio-retry", |calls| {
        tokio_retry::Retry::start([DELAY, 2 * DELAY], || flaky_body(calls))
    });

    let mut group = c.benchmark_group("retry_two_failures");
    macro_rules! call {
        ($name:literal, |$calls:ident| $call:expr) => {
            group.bench_function($name, |b| {
                b.to_async(&rt).iter(|| async {
                    let $calls = &Cell::new(0);
                    black_box($call)
                })
            });
        };
    }
    // The floor: the three attempts' bodies, without waiting.
    call!("bare (3 calls, no sleep)", |calls| {
        let _ = flaky_body(calls).await;
        let _ = flaky_body(calls).await;
        flaky_body(calls).await
    });
    call!("steadfast", |calls| flaky(calls).await);
    call!("hand-written loop", |calls| hand_flaky(calls).await);
    call!("backon", |calls| (|| flaky_body(calls)).retry(backon()).await);
    call!("tokio-retry", |calls| {
        tokio_retry::Retry::start([DELAY, 2 * DELAY], || flaky_body(calls)).await
    });
    group.finish();
}

// ---------------------------------------------------------------- limit_contention

const TASKS: usize = 64;

/// Spawns [`TASKS`] tasks that each make one call, and waits for all of them.
async fn batch<F>(call: fn(&'static u64, u64) -> F)
where
    F: Future<Output = Out> + Send + 'static,
{
    static X: u64 = 1;
    let tasks: Vec<_> = (0..TASKS as u64).map(|n| tokio::spawn(call(&X, n))).collect();
    for task in tasks {
        black_box(task.await.expect("no panic")).expect("success");
    }
}

/// [`batch`] for a tower service: every task calls a clone of `svc` (clones of a
/// `ConcurrencyLimit` share its semaphore).
async fn tower_batch<S>(svc: &S)
where
    S: Service<(u64, u64), Response = u64> + Clone + Send + 'static,
    S::Future: Send,
    S::Error: std::fmt::Debug + Send,
{
    let tasks: Vec<_> = (0..TASKS as u64)
        .map(|n| {
            let mut svc = svc.clone();
            tokio::spawn(async move { svc.ready().await?.call((1, n)).await })
        })
        .collect();
    for task in tasks {
        black_box(task.await.expect("no panic")).expect("success");
    }
}

fn limit_contention(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .expect("a runtime");
    let mut group = c.benchmark_group("limit_contention");
    group.bench_function("bare (no limit)", |b| b.to_async(&rt).iter(|| batch(yielding)));
    group.bench_function("steadfast", |b| b.to_async(&rt).iter(|| batch(limited_yielding)));
    group.bench_function("tokio Semaphore (hand-written)", |b| {
        b.to_async(&rt).iter(|| batch(hand_limit_yielding))
    });
    let svc = tower::limit::ConcurrencyLimit::new(
        tower::service_fn(|(x, n): (u64, u64)| async move { yielding(&x, n).await }),
        CONCURRENCY,
    );
    group.bench_function("tower ConcurrencyLimit", |b| b.to_async(&rt).iter(|| tower_batch(&svc)));
    group.finish();
}

// ---------------------------------------------------------------- rate_10k

/// Calls `make()`'s closure `iters` times, in chunks of at most [`RATE`] calls; before
/// each chunk the paused clock (and `advance`, for a limiter with a clock of its own)
/// moves on by two windows, not measured, so every call of a chunk is under the limit.
/// Checks that no call waited (the virtual clock did not move during a chunk).
fn under_the_limit<F, C>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    rt: &Runtime,
    name: &str,
    advance: &dyn Fn(Duration),
    mut make: impl FnMut() -> C,
) where
    C: FnMut() -> F,
    F: Future<Output = Out>,
{
    group.bench_function(name, |b| {
        b.to_async(rt).iter_custom(|iters| {
            let mut call = make();
            async move {
                let mut measured = Duration::ZERO;
                let mut left = iters;
                while left > 0 {
                    tokio::time::advance(2 * RATE_WINDOW).await;
                    advance(2 * RATE_WINDOW);
                    let chunk = left.min(u64::from(RATE));
                    let virtual_start = Instant::now();
                    let start = WallInstant::now();
                    for _ in 0..chunk {
                        black_box(call().await).expect("success");
                    }
                    measured += start.elapsed();
                    assert_eq!(virtual_start.elapsed(), Duration::ZERO, "{name}: a call waited");
                    left -= chunk;
                }
                measured
            }
        })
    });
}

type Ready = std::future::Ready<Out>;

fn ready_body((x, n): (u64, u64)) -> Ready {
    std::future::ready(Ok(x + n))
}

/// tower's `RateLimit` keeps its state in the service value (clones do not share it):
/// one service for the whole run, borrowed only between awaits.
type TowerRate = Rc<RefCell<RateLimit<ServiceFn<fn((u64, u64)) -> Ready>>>>;

async fn tower_call(svc: &TowerRate) -> Out {
    std::future::poll_fn(|cx| svc.borrow_mut().poll_ready(cx)).await?;
    let call = svc.borrow_mut().call(black_box((1, 2)));
    call.await
}

/// Both rate scenarios share one paused runtime, so that the limiters (statics) see
/// one clock.
fn rate(c: &mut Criterion) {
    let rt = paused_runtime();
    let x = &1_u64;
    // tower's RateLimit arms its sleep when built: inside the runtime.
    let _runtime = rt.enter();
    let tower: TowerRate = Rc::new(RefCell::new(RateLimit::new(
        tower::service_fn(ready_body as fn((u64, u64)) -> Ready),
        tower::limit::rate::Rate::new(u64::from(RATE), RATE_WINDOW),
    )));

    let mut group = c.benchmark_group("rate_10k");
    let tokio_only = &|_| ();
    under_the_limit(&mut group, &rt, "bare", tokio_only, || || bare(black_box(x), black_box(2)));
    under_the_limit(&mut group, &rt, "steadfast", tokio_only, || {
        || rate_limited(black_box(x), black_box(2))
    });
    under_the_limit(&mut group, &rt, "steadfast burst (GCRA)", tokio_only, || {
        || rate_spaced(black_box(x), black_box(2))
    });
    under_the_limit(&mut group, &rt, "hand-written fixed window", tokio_only, || {
        || hand_rate(black_box(x), black_box(2))
    });
    under_the_limit(&mut group, &rt, "tower RateLimit", tokio_only, || || tower_call(&tower));
    // governor keeps its own clock: a fake one, moved on in step with tokio's.
    let clock = FakeRelativeClock::default();
    let quota = Quota::with_period(RATE_WINDOW / RATE)
        .expect("a period")
        .allow_burst(NonZeroU32::new(RATE).expect("not zero"));
    let governor = RateLimiter::direct_with_clock(quota, clock.clone());
    under_the_limit(&mut group, &rt, "governor", &|by| clock.advance(by), || {
        let governor = &governor;
        move || async move {
            governor.check().expect("under the limit");
            bare(black_box(x), black_box(2)).await
        }
    });
    group.finish();

    // Far over the limit: every call waits its turn and the paused clock jumps to each
    // start time. The virtual time per call is printed once, to show the rate each
    // variant achieves (governor is left out: its waiting runs on its own clock).
    let mut group = c.benchmark_group("rate_10k_saturated");
    macro_rules! call {
        ($name:literal, $call:expr) => {
            rt.block_on(async {
                // A full window first, then the steady state: ideally 100 µs per call.
                for _ in 0..RATE {
                    $call.await.expect("success");
                }
                let start = Instant::now();
                for _ in 0..3 * RATE {
                    $call.await.expect("success");
                }
                let per_call = start.elapsed() / (3 * RATE);
                println!("rate_10k_saturated/{}: {per_call:?} of virtual time per call", $name);
            });
            group.bench_function($name, |b| {
                b.to_async(&rt).iter(|| async { black_box($call.await) })
            });
        };
    }
    call!("bare", bare(black_box(x), black_box(2)));
    call!("steadfast", rate_limited(black_box(x), black_box(2)));
    call!("steadfast burst (GCRA)", rate_spaced(black_box(x), black_box(2)));
    call!("hand-written fixed window", hand_rate(black_box(x), black_box(2)));
    call!("tower RateLimit", tower_call(&tower));
    group.finish();
}

// ---------------------------------------------------------------- rate_fast

/// The rate fast path on the real clock: before anything pauses a clock in this
/// process, tokio's `Instant::now()` is `std::time::Instant::now()` (with `test-util`,
/// after one relaxed atomic load), as in an application. Every limit is a start per
/// nanosecond, out of reach of the loop, so no call waits (checked for governor, whose
/// `check` would fail; the others would be seen sleeping on the real clock).
fn rate_fast(c: &mut Criterion) {
    let rt =
        tokio::runtime::Builder::new_current_thread().enable_time().build().expect("a runtime");
    let x = &1_u64;
    let _runtime = rt.enter();
    let tower: TowerRate = Rc::new(RefCell::new(RateLimit::new(
        tower::service_fn(ready_body as fn((u64, u64)) -> Ready),
        tower::limit::rate::Rate::new(u64::from(FAST_RATE), Duration::from_secs(1)),
    )));
    let governor =
        RateLimiter::direct(Quota::per_second(NonZeroU32::new(FAST_RATE).expect("not zero")));
    let mut group = c.benchmark_group("rate_fast");
    group.bench_function("bare", |b| b.to_async(&rt).iter(|| bare(black_box(x), black_box(2))));
    group.bench_function("steadfast", |b| {
        b.to_async(&rt).iter(|| fast_rate_limited(black_box(x), black_box(2)))
    });
    group.bench_function("steadfast burst (GCRA)", |b| {
        b.to_async(&rt).iter(|| fast_rate_spaced(black_box(x), black_box(2)))
    });
    group.bench_function("hand-written fixed window", |b| {
        b.to_async(&rt).iter(|| fast_hand_rate(black_box(x), black_box(2)))
    });
    group.bench_function("tower RateLimit", |b| b.to_async(&rt).iter(|| tower_call(&tower)));
    group.bench_function("governor", |b| {
        b.to_async(&rt).iter(|| async {
            governor.check().expect("under the limit");
            bare(black_box(x), black_box(2)).await
        })
    });
    group.finish();
}

// `rate_fast` first, then `limit_contention`: once a clock has been paused in a
// process, every read of tokio's clock (with `test-util`) goes through a lock, which
// two workers contend for, and which the real-clock fast path is measured without.
criterion_group!(benches, rate_fast, limit_contention, retry_two_failures, rate);
criterion_main!(benches);
