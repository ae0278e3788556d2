//! Circuit breakers and retry budgets, one criterion run:
//!
//! - `breaker_success`: the closed-state success path of `#[circuit_breaker]` (its own
//!   breaker, and `using = STATIC`) and of `Breaker::run`, against the bare body, a hand-written atomic
//!   counter, tower-resilience's `CircuitBreakerLayer` and failsafe's futures breaker,
//!   each configured like the default breaker (50 % of at least 10 calls in a 30 s
//!   time-based window, open for 15 s).
//! - `storm_1000`: 1 000 calls of a dependency that is down, each retried up to 3 times
//!   1 ms apart on a paused clock: without protection, with a `RetryBudget`, and with a
//!   `Breaker` (refusals end the retry), through `RetryPolicy` and through the
//!   attributes (`#[retry(budget = ..)]`, `#[retry] #[circuit_breaker]`). The calls that
//!   reach the dependency are counted and printed before the measurement.
//!
//! ```sh
//! cargo bench -p steadfast-benches --bench breaker -- --warm-up-time 1 --measurement-time 3
//! ```

use std::cell::Cell;
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, criterion_group, criterion_main};
use failsafe::futures::CircuitBreaker as _;
use steadfast::{Breaker, CircuitOpen, RetryBudget, RetryPolicy, circuit_breaker, retry};
use steadfast_benches::{bench_call as call, runtime};
use tokio::runtime::Runtime;
use tower::{Service, ServiceExt};
use tower_resilience_circuitbreaker::{CircuitBreakerLayer, SlidingWindowType};

/// The error of the benchmarked body; refusals of every breaker enter it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Error {
    Down,
    Open,
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}

impl std::error::Error for Error {}

impl From<CircuitOpen> for Error {
    fn from(_: CircuitOpen) -> Self {
        Error::Open
    }
}

type Out = Result<u64, Error>;

async fn body(x: &u64, n: u64) -> Out {
    Ok(*x + n)
}

// ---------------------------------------------------------------- breaker_success

static BREAKER: Breaker = Breaker::new();
static SHARED: Breaker = Breaker::new();

/// The attribute with a breaker of its own (the defaults, as `Breaker::new()`).
#[circuit_breaker]
async fn attributed(x: &u64, n: u64) -> Out {
    Ok(*x + n)
}

/// The attribute with a shared `static`.
#[circuit_breaker(using = SHARED)]
async fn attributed_shared(x: &u64, n: u64) -> Out {
    Ok(*x + n)
}

/// A hand-written breaker as one writes it without a library: an "open" flag and a
/// count of consecutive failures, both atomics; no window, no time.
struct Counter {
    open: AtomicBool,
    failures: AtomicU32,
}

static COUNTER: Counter = Counter { open: AtomicBool::new(false), failures: AtomicU32::new(0) };

async fn hand_counter(x: &u64, n: u64) -> Out {
    if COUNTER.open.load(Ordering::Acquire) {
        return Err(Error::Open);
    }
    let out = body(x, n).await;
    match out {
        Ok(_) => {
            if COUNTER.failures.load(Ordering::Relaxed) != 0 {
                COUNTER.failures.store(0, Ordering::Relaxed);
            }
        }
        Err(_) => {
            if COUNTER.failures.fetch_add(1, Ordering::AcqRel) + 1 >= 10 {
                COUNTER.open.store(true, Ordering::Release);
            }
        }
    }
    out
}

fn tower_call<S>(group: &mut BenchmarkGroup<'_, WallTime>, rt: &Runtime, name: &str, svc: &S)
where
    S: Service<(u64, u64), Response = u64> + Clone,
    S::Error: std::fmt::Debug,
{
    group.bench_function(name, |b| {
        b.to_async(rt).iter_custom(|iters| {
            let mut svc = svc.clone();
            async move {
                let start = Instant::now();
                for _ in 0..iters {
                    let ready = svc.ready().await.expect("ready");
                    let request = (*black_box(&1_u64), black_box(2_u64));
                    black_box(ready.call(request).await).expect("success");
                }
                start.elapsed()
            }
        })
    });
}

fn breaker_success(c: &mut Criterion) {
    let rt = runtime();
    let x = 1_u64;

    let tower_layer = CircuitBreakerLayer::builder()
        .failure_rate_threshold(0.5)
        .sliding_window_type(SlidingWindowType::TimeBased)
        .sliding_window_duration(Duration::from_secs(30))
        .minimum_number_of_calls(10)
        .wait_duration_in_open(Duration::from_secs(15))
        .build()
        .expect("a valid configuration");
    let mut tower_service = tower_layer
        .layer_fn(tower::service_fn(|(x, n): (u64, u64)| async move { Ok::<u64, Error>(x + n) }));

    // Its count-based window (the last 100 calls), for comparison: the time-based one
    // keeps a record per call of the window.
    let tower_counted = CircuitBreakerLayer::builder()
        .failure_rate_threshold(0.5)
        .sliding_window_size(100)
        .minimum_number_of_calls(10)
        .wait_duration_in_open(Duration::from_secs(15))
        .build()
        .expect("a valid configuration")
        .layer_fn(tower::service_fn(|(x, n): (u64, u64)| async move { Ok::<u64, Error>(x + n) }));

    let failsafe = failsafe::Config::new()
        .failure_policy(failsafe::failure_policy::success_rate_over_time_window(
            0.5,
            10,
            Duration::from_secs(30),
            failsafe::backoff::constant(Duration::from_secs(15)),
        ))
        .build();

    // Every variant succeeds with the same value before it is measured.
    rt.block_on(async {
        assert_eq!(BREAKER.run(body(&x, 2)).await, Ok(3));
        assert_eq!(hand_counter(&x, 2).await, Ok(3));
        let svc = tower_service.ready().await.expect("ready");
        assert_eq!(svc.call((x, 2)).await.expect("ok"), 3);
        assert_eq!(failsafe.call(body(&x, 2)).await.expect("ok"), 3);
    });

    let failsafe = &failsafe;
    let mut group = c.benchmark_group("breaker_success");
    call!(group, rt, "bare", |x, n| body(x, n).await);
    call!(group, rt, "steadfast #[circuit_breaker]", |x, n| attributed(x, n).await);
    call!(group, rt, "steadfast #[circuit_breaker(using)]", |x, n| attributed_shared(x, n).await);
    call!(group, rt, "steadfast Breaker::run", |x, n| BREAKER.run(body(x, n)).await);
    // The floor of any time-based window: one read of tokio's clock per call.
    call!(group, rt, "clock read", |x, n| {
        black_box(tokio::time::Instant::now());
        body(x, n).await
    });
    call!(group, rt, "hand-written atomic counter", |x, n| hand_counter(x, n).await);
    call!(group, rt, "failsafe", |x, n| failsafe.call(body(x, n)).await.map_err(|_| Error::Down));
    // One service owned by the loop, `ready` then `call` (as in the `success` bench).
    tower_call(&mut group, &rt, "tower-resilience (time-based)", &tower_service);
    tower_call(&mut group, &rt, "tower-resilience (count-based)", &tower_counted);
    group.finish();
}

// ---------------------------------------------------------------- storm_1000

const CALLS: usize = 1_000;

/// How a storm is protected.
#[derive(Clone, Copy)]
enum Guard {
    Nothing,
    Budget,
    Breaker,
    /// `#[retry(budget = ..)]`.
    BudgetAttribute,
    /// `#[retry] #[circuit_breaker(using = ..)]`.
    BreakerAttribute,
}

/// A fresh budget and breaker for every storm, reached by the attributes through
/// `self`.
struct Dependency {
    budget: RetryBudget,
    breaker: Breaker,
    reached: Cell<u32>,
}

impl Dependency {
    #[retry(attempts = 4, delay = 1ms, jitter = 0, budget = self.budget)]
    async fn budgeted(&self) -> Out {
        self.reached.set(self.reached.get() + 1);
        Err(Error::Down)
    }

    #[retry(attempts = 4, delay = 1ms, jitter = 0)]
    #[circuit_breaker(using = self.breaker)]
    async fn broken(&self) -> Out {
        self.reached.set(self.reached.get() + 1);
        Err(Error::Down)
    }
}

/// 1 000 calls of a dependency that always fails, each with up to 4 attempts 1 ms
/// apart, on a paused clock; returns the attempts that reached the dependency.
async fn storm(guard: Guard) -> u32 {
    if let Guard::BudgetAttribute | Guard::BreakerAttribute = guard {
        let dep = Dependency {
            budget: RetryBudget::new(),
            breaker: Breaker::new(),
            reached: Cell::new(0),
        };
        for _ in 0..CALLS {
            let out = match guard {
                Guard::BudgetAttribute => dep.budgeted().await,
                _ => dep.broken().await,
            };
            black_box(out).expect_err("the dependency is down");
        }
        return dep.reached.get();
    }
    let budget = RetryBudget::new();
    let breaker = Breaker::new();
    let reached = Cell::new(0_u32);
    let policy = RetryPolicy::new().attempts(4).delay(Duration::from_millis(1)).jitter(0.0);
    let retrying = policy.when(|e: &Error| *e == Error::Down).name("storm");
    for _ in 0..CALLS {
        let attempt = Cell::new(0_u32);
        let _ = retrying
            .run(|| {
                attempt.set(attempt.get() + 1);
                let first = attempt.get() == 1;
                let reached = &reached;
                let budget = &budget;
                let breaker = &breaker;
                async move {
                    let dependency = async {
                        reached.set(reached.get() + 1);
                        Err::<u64, Error>(Error::Down)
                    };
                    match guard {
                        Guard::Nothing => dependency.await,
                        Guard::Budget => {
                            if first {
                                budget.deposit();
                            } else if !budget.try_withdraw() {
                                return Err(Error::Open);
                            }
                            dependency.await
                        }
                        Guard::Breaker => breaker.run(dependency).await,
                        Guard::BudgetAttribute | Guard::BreakerAttribute => unreachable!(),
                    }
                }
            })
            .await;
    }
    reached.get()
}

fn paused_runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("a runtime")
}

fn storm_1000(c: &mut Criterion) {
    let rt = paused_runtime();
    let variants = [
        ("no protection", Guard::Nothing),
        ("budget", Guard::Budget),
        ("breaker", Guard::Breaker),
        ("#[retry(budget)]", Guard::BudgetAttribute),
        ("#[retry] #[circuit_breaker]", Guard::BreakerAttribute),
    ];
    for (name, guard) in variants {
        let reached = rt.block_on(storm(guard));
        println!("storm_1000/{name}: {reached} calls reached the dependency");
    }
    assert_eq!(rt.block_on(storm(Guard::Nothing)), 4_000);
    // All within one 10 s window: 10·10 + 0.2·1 000 retries.
    assert_eq!(rt.block_on(storm(Guard::Budget)), 1_300);
    // Opens after 10 failed attempts (the third call's second); refusals are not retried.
    assert_eq!(rt.block_on(storm(Guard::Breaker)), 10);
    assert_eq!(rt.block_on(storm(Guard::BudgetAttribute)), 1_300);
    assert_eq!(rt.block_on(storm(Guard::BreakerAttribute)), 10);

    let mut group = c.benchmark_group("storm_1000");
    group.sample_size(10);
    for (name, guard) in variants {
        group.bench_function(name, |b| b.iter(|| black_box(rt.block_on(storm(guard)))));
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default();
    targets = breaker_success, storm_1000
}
criterion_main!(benches);
