//! The feature `metrics`, against a real recorder (metrics-util's debugging recorder,
//! one per test, see `steadfast_tests::metrics`): exact counts for every outcome of
//! every attribute, the durations on the paused clock, the breaker's state through a
//! full cycle, the limiter gauges under load, and no allocation per call.
//!
//! `cargo test -p steadfast-tests --features metrics --test metrics`

use std::cell::Cell;
use std::future::{Future, poll_fn};
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use steadfast::redis::RedisLimiter;
use steadfast::{
    Breaker, KeyedLimiter, Limiter, RetryBudget, circuit_breaker, error_boundary, hedge, limit,
    retry, timeout,
};
use steadfast_tests::Failure;
use steadfast_tests::metrics::Recorded;
use steadfast_tests::redis_server::RedisServer;
use tokio::time::sleep;

fn calls(function: &str, outcome: &str) -> String {
    format!("steadfast_calls_total{{function=\"{function}\",outcome=\"{outcome}\"}}")
}

fn by_function(metric: &str, function: &str) -> String {
    format!("{metric}{{function=\"{function}\"}}")
}

fn by_limiter(metric: &str, limiter: &str) -> String {
    format!("{metric}{{limiter=\"{limiter}\"}}")
}

fn duration(function: &str) -> String {
    by_function("steadfast_call_duration_seconds", function)
}

/// Polls `fut` once.
async fn poll_once<F: Future + Unpin>(fut: &mut F) -> Poll<F::Output> {
    poll_fn(|cx| Poll::Ready(std::pin::Pin::new(&mut *fut).poll(cx))).await
}

// ---------------------------------------------------------------- retry

#[retry(attempts = 3, delay = 10ms, jitter = 0)]
async fn retry_flaky(calls: &Cell<u32>, failures: u32) -> Result<u32, Failure> {
    calls.set(calls.get() + 1);
    if calls.get() <= failures { Err(Failure) } else { Ok(calls.get()) }
}

#[tokio::test(start_paused = true)]
async fn retry_counts_the_call_once_and_every_retry() {
    let mut m = Recorded::install();
    assert_eq!(retry_flaky(&Cell::new(0), 2).await, Ok(3));
    assert_eq!(m.counter(&calls("retry_flaky", "ok")), Some(1));
    assert_eq!(m.counter(&by_function("steadfast_retries_total", "retry_flaky")), Some(2));
    assert_eq!(retry_flaky(&Cell::new(0), 5).await, Err(Failure));
    assert_eq!(m.counter(&calls("retry_flaky", "ok")), Some(1));
    assert_eq!(m.counter(&calls("retry_flaky", "error")), Some(1));
    assert_eq!(m.counter(&by_function("steadfast_retries_total", "retry_flaky")), Some(4));
    assert_eq!(retry_flaky(&Cell::new(0), 0).await, Ok(1));
    assert_eq!(m.counter(&calls("retry_flaky", "ok")), Some(2));
    // 10 ms + 20 ms of backoff for the first two calls, none for the third.
    assert_eq!(m.histogram(&duration("retry_flaky")), [0.03, 0.03, 0.0]);
    // Only the series this function has.
    assert_eq!(
        m.series(),
        [
            duration("retry_flaky"),
            calls("retry_flaky", "error"),
            calls("retry_flaky", "ok"),
            by_function("steadfast_retries_total", "retry_flaky"),
        ]
    );
}

// ---------------------------------------------------------------- timeout

#[timeout(50ms)]
async fn timeout_sleepy(ms: u64) -> Result<(), Failure> {
    sleep(Duration::from_millis(ms)).await;
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn timeout_counts_ok_and_timeout_with_their_durations() {
    let mut m = Recorded::install();
    assert_eq!(timeout_sleepy(10).await, Ok(()));
    assert_eq!(timeout_sleepy(100).await, Err(Failure));
    assert_eq!(timeout_sleepy(100).await, Err(Failure));
    assert_eq!(m.counter(&calls("timeout_sleepy", "ok")), Some(1));
    assert_eq!(m.counter(&calls("timeout_sleepy", "timeout")), Some(2));
    assert_eq!(m.counter(&calls("timeout_sleepy", "error")), None);
    assert_eq!(m.histogram(&duration("timeout_sleepy")), [0.01, 0.05, 0.05]);
}

/// Each attempt has 50 ms; `sleeps` says how long each attempt takes (0: fails at once).
#[retry(attempts = 2, delay = 0ms)]
#[timeout(50ms)]
async fn retry_timeout(sleeps: &[u64], attempt: &Cell<usize>) -> Result<(), Failure> {
    let ms = sleeps[attempt.get()];
    attempt.set(attempt.get() + 1);
    if ms == 0 {
        return Err(Failure);
    }
    sleep(Duration::from_millis(ms)).await;
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn the_outcome_is_the_last_attempts_and_a_retried_timeout_is_not_one() {
    let mut m = Recorded::install();
    // Timed out, then answered: ok.
    assert_eq!(retry_timeout(&[100, 10], &Cell::new(0)).await, Ok(()));
    assert_eq!(m.counter(&calls("retry_timeout", "ok")), Some(1));
    // Timed out twice: the call timed out.
    assert_eq!(retry_timeout(&[100, 100], &Cell::new(0)).await, Err(Failure));
    assert_eq!(m.counter(&calls("retry_timeout", "timeout")), Some(1));
    // Timed out, then failed on its own: an error, not a timeout.
    assert_eq!(retry_timeout(&[100, 0], &Cell::new(0)).await, Err(Failure));
    assert_eq!(m.counter(&calls("retry_timeout", "error")), Some(1));
    // Failed, then timed out: a timeout.
    assert_eq!(retry_timeout(&[0, 100], &Cell::new(0)).await, Err(Failure));
    assert_eq!(m.counter(&calls("retry_timeout", "timeout")), Some(2));
    assert_eq!(m.counter(&by_function("steadfast_retries_total", "retry_timeout")), Some(4));
    assert_eq!(m.histogram(&duration("retry_timeout")), [0.06, 0.1, 0.05, 0.05]);
}

// ---------------------------------------------------------------- error_boundary

#[error_boundary(catch_panic)]
async fn boundary_caught(panics: bool) -> Result<(), Failure> {
    if panics {
        panic!("boom");
    }
    Err(Failure)
}

#[timeout(1s)]
async fn uncaught_panic() -> Result<(), Failure> {
    panic!("boom")
}

#[tokio::test]
async fn a_caught_panic_and_an_unwinding_one_count_as_panics() {
    let mut m = Recorded::install();
    assert_eq!(boundary_caught(true).await, Err(Failure));
    assert_eq!(boundary_caught(false).await, Err(Failure));
    assert_eq!(m.counter(&calls("boundary_caught", "panic")), Some(1));
    assert_eq!(m.counter(&calls("boundary_caught", "error")), Some(1));
    // The current-thread runtime polls the task on this thread, under this recorder.
    assert!(tokio::spawn(uncaught_panic()).await.unwrap_err().is_panic());
    assert_eq!(m.counter(&calls("uncaught_panic", "panic")), Some(1));
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_call_is_not_counted() {
    let mut m = Recorded::install();
    let mut call = Box::pin(timeout_sleepy(20));
    assert!(poll_once(&mut call).await.is_pending());
    drop(call);
    assert_eq!(m.series(), Vec::<String>::new());
}

// ---------------------------------------------------------------- limit

#[limit(concurrency = 1, wait = 0ms)]
async fn limit_shedding(ms: u64) -> Result<(), Failure> {
    sleep(Duration::from_millis(ms)).await;
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn a_rejection_counts_as_rejected() {
    let mut m = Recorded::install();
    let (first, second) = tokio::join!(limit_shedding(10), limit_shedding(10));
    assert_eq!((first, second), (Ok(()), Err(Failure)));
    assert_eq!(m.counter(&calls("limit_shedding", "ok")), Some(1));
    assert_eq!(m.counter(&calls("limit_shedding", "rejected")), Some(1));
    // The rejected caller never waited, and the limiter is idle again.
    assert_eq!(m.gauge(&by_limiter("steadfast_limit_in_flight", "limit_shedding")), Some(0.0));
    assert_eq!(m.gauge(&by_limiter("steadfast_limit_waiting", "limit_shedding")), None);
}

#[limit(concurrency = 2)]
async fn limit_loaded(ms: u64) -> Result<(), Failure> {
    sleep(Duration::from_millis(ms)).await;
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn the_limiter_gauges_follow_the_load() {
    let mut m = Recorded::install();
    let in_flight = by_limiter("steadfast_limit_in_flight", "limit_loaded");
    let waiting = by_limiter("steadfast_limit_waiting", "limit_loaded");
    let tasks: Vec<_> = (0..5).map(|_| tokio::spawn(limit_loaded(100))).collect();
    sleep(Duration::from_millis(1)).await;
    assert_eq!((m.gauge(&in_flight), m.gauge(&waiting)), (Some(2.0), Some(3.0)));
    sleep(Duration::from_millis(100)).await; // the first two finished
    assert_eq!((m.gauge(&in_flight), m.gauge(&waiting)), (Some(2.0), Some(1.0)));
    sleep(Duration::from_millis(100)).await;
    assert_eq!((m.gauge(&in_flight), m.gauge(&waiting)), (Some(1.0), Some(0.0)));
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!((m.gauge(&in_flight), m.gauge(&waiting)), (Some(0.0), Some(0.0)));
    assert_eq!(m.counter(&calls("limit_loaded", "ok")), Some(5));
    // Waits of 0, 0, 100, 100 and 200 ms on top of 100 ms of work.
    let mut took = m.histogram(&duration("limit_loaded"));
    took.sort_by(f64::total_cmp);
    assert_eq!(took, [0.1, 0.1, 0.2, 0.2, 0.3]);
}

#[limit(concurrency = 1)]
async fn limit_instant(suspend: bool) -> Result<(), Failure> {
    if suspend {
        tokio::task::yield_now().await;
    }
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn a_body_done_in_its_first_poll_is_never_counted_in_flight() {
    let mut m = Recorded::install();
    let in_flight = by_limiter("steadfast_limit_in_flight", "limit_instant");
    assert_eq!(limit_instant(false).await, Ok(()));
    assert_eq!(m.gauge(&in_flight), None, "no second question to the facade");
    let mut call = Box::pin(limit_instant(true));
    assert!(poll_once(&mut call).await.is_pending());
    assert_eq!(m.gauge(&in_flight), Some(1.0), "counted from its first `Pending`");
    assert_eq!(call.await, Ok(()));
    assert_eq!(m.gauge(&in_flight), Some(0.0));
    assert_eq!(m.counter(&calls("limit_instant", "ok")), Some(2));
}

static SHARED_POOL: Limiter = Limiter::concurrency(1);

#[limit(using = SHARED_POOL)]
async fn pool_reader(ms: u64) -> Result<(), Failure> {
    sleep(Duration::from_millis(ms)).await;
    Ok(())
}

#[limit(using = crate::SHARED_POOL, wait = 1s)]
async fn pool_writer(ms: u64) -> Result<(), Failure> {
    sleep(Duration::from_millis(ms)).await;
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn a_shared_limiter_reports_under_the_name_of_its_static() {
    let mut m = Recorded::install();
    let reader = tokio::spawn(pool_reader(10));
    let writer = tokio::spawn(pool_writer(10));
    sleep(Duration::from_millis(1)).await;
    assert_eq!(m.gauge(&by_limiter("steadfast_limit_in_flight", "SHARED_POOL")), Some(1.0));
    assert_eq!(m.gauge(&by_limiter("steadfast_limit_waiting", "SHARED_POOL")), Some(1.0));
    reader.await.unwrap().unwrap();
    writer.await.unwrap().unwrap();
    assert_eq!(m.gauge(&by_limiter("steadfast_limit_in_flight", "SHARED_POOL")), Some(0.0));
    assert_eq!(m.gauge(&by_limiter("steadfast_limit_waiting", "SHARED_POOL")), Some(0.0));
    assert_eq!(m.counter(&calls("pool_reader", "ok")), Some(1));
    assert_eq!(m.counter(&calls("pool_writer", "ok")), Some(1));
    // No series under the functions' names.
    assert!(m.series().iter().all(|s| !s.contains("limiter=\"pool_")), "{:?}", m.series());
}

static LAZY_POOL: std::sync::LazyLock<Limiter> =
    std::sync::LazyLock::new(|| Limiter::concurrency(1));

#[limit(using = &*LAZY_POOL)]
async fn lazy_pool_user(ms: u64) -> Result<(), Failure> {
    sleep(Duration::from_millis(ms)).await;
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn a_limiter_in_a_lazy_static_reports_under_the_statics_name() {
    let mut m = Recorded::install();
    let waiting = by_limiter("steadfast_limit_waiting", "LAZY_POOL");
    let (a, b, seen) = tokio::join!(lazy_pool_user(10), lazy_pool_user(10), async {
        sleep(Duration::from_millis(5)).await;
        m.gauge(&waiting)
    });
    assert_eq!((a, b, seen), (Ok(()), Ok(()), Some(1.0)));
    assert_eq!(m.gauge(&by_limiter("steadfast_limit_in_flight", "LAZY_POOL")), Some(0.0));
}

static NAMED_POOL: Limiter = Limiter::concurrency(1).name("db");

#[limit(using = NAMED_POOL)]
async fn named_pool_user(ms: u64) -> Result<(), Failure> {
    sleep(Duration::from_millis(ms)).await;
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn a_limiter_named_by_hand_keeps_its_name() {
    let mut m = Recorded::install();
    let (a, b) = tokio::join!(named_pool_user(10), named_pool_user(10));
    assert_eq!((a, b), (Ok(()), Ok(())));
    assert_eq!(m.gauge(&by_limiter("steadfast_limit_in_flight", "db")), Some(0.0));
    assert_eq!(m.gauge(&by_limiter("steadfast_limit_waiting", "db")), Some(0.0));
    assert_eq!(m.gauge(&by_limiter("steadfast_limit_in_flight", "NAMED_POOL")), None);
}

struct Pool {
    limiter: Limiter,
}

impl Pool {
    /// Not a `static`: the function's name labels the gauges.
    #[limit(using = self.limiter)]
    async fn query(&self, ms: u64) -> Result<(), Failure> {
        sleep(Duration::from_millis(ms)).await;
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn a_limiter_in_a_field_reports_under_the_functions_name() {
    let mut m = Recorded::install();
    let pool = Pool { limiter: Limiter::concurrency(1) };
    let (a, b) = tokio::join!(pool.query(10), pool.query(10));
    assert_eq!((a, b), (Ok(()), Ok(())));
    assert_eq!(m.gauge(&by_limiter("steadfast_limit_in_flight", "query")), Some(0.0));
    assert_eq!(m.gauge(&by_limiter("steadfast_limit_waiting", "query")), Some(0.0));
}

static PER_USER: KeyedLimiter<u32> = KeyedLimiter::concurrency(1);

#[limit(using = PER_USER, key = user)]
async fn per_user_shared(user: u32, ms: u64) -> Result<(), Failure> {
    sleep(Duration::from_millis(ms)).await;
    Ok(())
}

#[limit(concurrency = 1, key = user, wait = 5ms)]
async fn per_user_own(user: u32, ms: u64) -> Result<(), Failure> {
    sleep(Duration::from_millis(ms)).await;
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn keyed_limiters_report_their_gauges_across_keys() {
    let mut m = Recorded::install();
    let in_flight = by_limiter("steadfast_limit_in_flight", "PER_USER");
    let waiting = by_limiter("steadfast_limit_waiting", "PER_USER");
    // Users 1 and 2 run at once; the second call of user 1 waits.
    let tasks: Vec<_> =
        [1, 1, 2].into_iter().map(|user| tokio::spawn(per_user_shared(user, 10))).collect();
    sleep(Duration::from_millis(1)).await;
    assert_eq!((m.gauge(&in_flight), m.gauge(&waiting)), (Some(2.0), Some(1.0)));
    sleep(Duration::from_millis(10)).await;
    assert_eq!((m.gauge(&in_flight), m.gauge(&waiting)), (Some(1.0), Some(0.0)));
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!((m.gauge(&in_flight), m.gauge(&waiting)), (Some(0.0), Some(0.0)));
    assert_eq!(m.counter(&calls("per_user_shared", "ok")), Some(3));

    // The function's own keyed limits: under its name; a rejection counts as one.
    let in_flight = by_limiter("steadfast_limit_in_flight", "per_user_own");
    let tasks: Vec<_> =
        [7, 7, 8].into_iter().map(|user| tokio::spawn(per_user_own(user, 10))).collect();
    sleep(Duration::from_millis(1)).await;
    assert_eq!(m.gauge(&in_flight), Some(2.0));
    let outs: Vec<_> = futures_join(tasks).await;
    assert_eq!(outs, [Ok(()), Err(Failure), Ok(())]);
    assert_eq!(m.gauge(&in_flight), Some(0.0));
    assert_eq!(m.gauge(&by_limiter("steadfast_limit_waiting", "per_user_own")), Some(0.0));
    assert_eq!(m.counter(&calls("per_user_own", "ok")), Some(2));
    assert_eq!(m.counter(&calls("per_user_own", "rejected")), Some(1));
}

async fn futures_join<T>(tasks: Vec<tokio::task::JoinHandle<T>>) -> Vec<T> {
    let mut outs = Vec::new();
    for task in tasks {
        outs.push(task.await.unwrap());
    }
    outs
}

// A fleet-wide limiter through the attribute: the same gauges, counted where the
// calls are made (each replica reports its own callers). Real clock and a real
// `redis-server`, skipped without one (as in tests/redis.rs).
static FLEET: tokio::sync::OnceCell<RedisLimiter> = tokio::sync::OnceCell::const_new();

#[limit(using = FLEET.get().expect("built by the test"))]
async fn fleet_call(ms: u64) -> Result<(), Failure> {
    sleep(Duration::from_millis(ms)).await;
    Ok(())
}

#[tokio::test]
async fn a_redis_limiter_reports_its_in_flight_and_waiting_callers() {
    let Some(server) = RedisServer::start() else { return };
    let client = steadfast::redis::Client::open(server.url()).unwrap();
    let limiter = RedisLimiter::builder(client, "metrics_fleet").concurrency(1).build();
    FLEET.set(limiter.await.unwrap()).ok().unwrap();
    let mut m = Recorded::install();
    let in_flight = by_limiter("steadfast_limit_in_flight", "fleet_call");
    let waiting = by_limiter("steadfast_limit_waiting", "fleet_call");
    let (a, b, seen) = tokio::join!(fleet_call(300), fleet_call(300), async {
        sleep(Duration::from_millis(150)).await;
        (m.gauge(&in_flight), m.gauge(&waiting))
    });
    assert_eq!((a, b), (Ok(()), Ok(())));
    assert_eq!(seen, (Some(1.0), Some(1.0)), "one holds the fleet's slot, one waits");
    assert_eq!((m.gauge(&in_flight), m.gauge(&waiting)), (Some(0.0), Some(0.0)));
    assert_eq!(m.counter(&calls("fleet_call", "ok")), Some(2));
}

// ---------------------------------------------------------------- circuit breaker

static PAYMENTS: Breaker =
    Breaker::new().min_calls(2).failure_rate(0.5).open_for(Duration::from_secs(10));

#[circuit_breaker(using = PAYMENTS)]
async fn pay(fail: bool, ms: u64) -> Result<(), Failure> {
    sleep(Duration::from_millis(ms)).await;
    if fail { Err(Failure) } else { Ok(()) }
}

#[tokio::test(start_paused = true)]
async fn the_circuit_state_goes_open_half_open_closed_under_the_statics_name() {
    let state = by_function("steadfast_circuit_state", "PAYMENTS");
    let mut m = Recorded::install();
    assert_eq!(pay(true, 1).await, Err(Failure));
    assert_eq!(m.gauge(&state), None, "closed from the start: nothing changed yet");
    assert_eq!(pay(true, 1).await, Err(Failure));
    assert_eq!(m.gauge(&state), Some(2.0), "open");
    assert_eq!(pay(false, 1).await, Err(Failure));
    assert_eq!(m.counter(&calls("pay", "error")), Some(2));
    assert_eq!(m.counter(&calls("pay", "circuit_open")), Some(1));
    assert_eq!(m.counter(&calls("pay", "ok")), None);
    assert_eq!(m.gauge(&by_function("steadfast_circuit_state", "pay")), None);
    drop(m);

    // A gauge that is set reads right once per recorder: a fresh one per state.
    sleep(Duration::from_secs(10)).await;
    let mut m = Recorded::install();
    let mut trial = pin!(pay(false, 5));
    assert!(poll_once(&mut trial).await.is_pending());
    assert_eq!(m.gauge(&state), Some(1.0), "half-open while the trial runs");
    drop(m);

    let mut m = Recorded::install();
    assert_eq!(trial.await, Ok(()));
    assert_eq!(m.gauge(&state), Some(0.0), "closed: the trial succeeded");
    assert_eq!(m.counter(&calls("pay", "ok")), Some(1));
}

#[circuit_breaker(min_calls = 1, open_for = 5s)]
async fn own_breaker(fail: bool) -> Result<(), Failure> {
    if fail { Err(Failure) } else { Ok(()) }
}

#[tokio::test(start_paused = true)]
async fn a_functions_own_breaker_reports_under_the_functions_name() {
    let state = by_function("steadfast_circuit_state", "own_breaker");
    let mut m = Recorded::install();
    assert_eq!(own_breaker(true).await, Err(Failure));
    assert_eq!(m.gauge(&state), Some(2.0));
    assert_eq!(own_breaker(false).await, Err(Failure));
    assert_eq!(m.counter(&calls("own_breaker", "error")), Some(1));
    assert_eq!(m.counter(&calls("own_breaker", "circuit_open")), Some(1));
    drop(m);
    sleep(Duration::from_secs(5)).await;
    let mut m = Recorded::install();
    assert_eq!(own_breaker(false).await, Ok(()));
    assert_eq!(m.gauge(&state), Some(0.0), "half-open, then closed by the trial");
    assert_eq!(m.counter(&calls("own_breaker", "ok")), Some(1));
}

// ---------------------------------------------------------------- hedge, retry budget

#[hedge(after = 20ms, max = 3)]
async fn search(attempt: &Cell<u32>) -> Result<u32, Failure> {
    attempt.set(attempt.get() + 1);
    let n = attempt.get();
    sleep(Duration::from_millis(if n == 3 { 5 } else { 100 })).await;
    Ok(n)
}

#[tokio::test(start_paused = true)]
async fn every_hedged_attempt_is_counted() {
    let mut m = Recorded::install();
    assert_eq!(search(&Cell::new(0)).await, Ok(3));
    assert_eq!(m.counter(&by_function("steadfast_hedges_total", "search")), Some(2));
    assert_eq!(m.counter(&calls("search", "ok")), Some(1));
    assert_eq!(m.histogram(&duration("search")), [0.045]);
}

/// The first attempt takes `first_ms`, the second `second_ms`; each has 20 ms.
#[hedge(after = 10ms)]
#[timeout(20ms)]
async fn racing(attempt: &Cell<u32>, first_ms: u64, second_ms: u64) -> Result<u32, Failure> {
    attempt.set(attempt.get() + 1);
    let n = attempt.get();
    sleep(Duration::from_millis(if n == 1 { first_ms } else { second_ms })).await;
    Ok(n)
}

#[retry(attempts = 1)]
async fn fails_at(ms: u64) -> Result<(), Failure> {
    sleep(Duration::from_millis(ms)).await;
    Err(Failure)
}

#[tokio::test(start_paused = true)]
async fn a_hedged_attempt_that_timed_out_lends_its_outcome_to_no_one() {
    let mut m = Recorded::install();
    // At 20 ms the first attempt times out while the second (started at 10 ms) runs
    // on until 25 ms; at 22 ms another call on this thread fails on its own.
    let attempts = Cell::new(0);
    let (hedged, other) = tokio::join!(racing(&attempts, 100, 15), fails_at(22));
    assert_eq!((hedged, other), (Ok(2), Err(Failure)));
    assert_eq!(m.counter(&calls("racing", "ok")), Some(1));
    assert_eq!(m.counter(&calls("fails_at", "error")), Some(1));
    assert_eq!(m.counter(&calls("fails_at", "timeout")), None);
    // Both attempts time out: the call did.
    assert_eq!(racing(&Cell::new(0), 100, 100).await, Err(Failure));
    assert_eq!(m.counter(&calls("racing", "timeout")), Some(1));
    assert_eq!(m.counter(&by_function("steadfast_hedges_total", "racing")), Some(2));
}

static THRIFTY: RetryBudget =
    RetryBudget::new().ratio(0.0).min_per_second(1).window(Duration::from_secs(2));

#[retry(attempts = 4, delay = 0ms, budget = THRIFTY)]
async fn budgeted() -> Result<(), Failure> {
    Err(Failure)
}

#[tokio::test(start_paused = true)]
async fn every_retry_refused_by_the_budget_is_counted() {
    let mut m = Recorded::install();
    // Two retries in the budget (1 per second over 2 s), three wanted per call.
    assert_eq!(budgeted().await, Err(Failure));
    assert_eq!(m.counter(&by_function("steadfast_retries_total", "budgeted")), Some(2));
    let exhausted = by_function("steadfast_retry_budget_exhausted_total", "budgeted");
    assert_eq!(m.counter(&exhausted), Some(1));
    assert_eq!(budgeted().await, Err(Failure));
    assert_eq!(m.counter(&by_function("steadfast_retries_total", "budgeted")), Some(2));
    assert_eq!(m.counter(&exhausted), Some(2));
    assert_eq!(m.counter(&calls("budgeted", "error")), Some(2));
}

// ---------------------------------------------------------------- no allocation per call

/// A recorder whose handles never allocate when used: what the measurement below
/// needs (the debugging recorder's histograms allocate as they fill).
#[derive(Default)]
struct Quiet {
    registered: AtomicU64,
}

struct Sum(AtomicU64);

impl metrics::CounterFn for Sum {
    fn increment(&self, by: u64) {
        self.0.fetch_add(by, Ordering::Relaxed);
    }
    fn absolute(&self, value: u64) {
        self.0.store(value, Ordering::Relaxed);
    }
}

impl metrics::GaugeFn for Sum {
    fn increment(&self, _: f64) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
    fn decrement(&self, _: f64) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
    fn set(&self, _: f64) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

impl metrics::HistogramFn for Sum {
    fn record(&self, _: f64) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

impl metrics::Recorder for Quiet {
    fn describe_counter(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }
    fn describe_gauge(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }
    fn describe_histogram(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }
    fn register_counter(&self, _: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Counter {
        self.registered.fetch_add(1, Ordering::Relaxed);
        metrics::Counter::from_arc(Arc::new(Sum(AtomicU64::new(0))))
    }
    fn register_gauge(&self, _: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Gauge {
        self.registered.fetch_add(1, Ordering::Relaxed);
        metrics::Gauge::from_arc(Arc::new(Sum(AtomicU64::new(0))))
    }
    fn register_histogram(
        &self,
        _: &metrics::Key,
        _: &metrics::Metadata<'_>,
    ) -> metrics::Histogram {
        self.registered.fetch_add(1, Ordering::Relaxed);
        metrics::Histogram::from_arc(Arc::new(Sum(AtomicU64::new(0))))
    }
}

#[error_boundary]
#[retry(attempts = 2, delay = 0ms)]
#[timeout(1s)]
#[limit(concurrency = 4)]
async fn quiet_stack(fail_first: &Cell<bool>) -> Result<u64, Failure> {
    if fail_first.replace(false) { Err(Failure) } else { Ok(3) }
}

#[test]
fn a_recorded_call_allocates_nothing_once_its_handles_are_resolved() {
    let recorder: &'static Quiet = Box::leak(Box::default());
    let _local = metrics::set_default_local_recorder(recorder);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
    let _context = runtime.enter();
    let mut cx = Context::from_waker(Waker::noop());
    // A retried call: the calls counter, the histogram and the retries counter.
    let run = |cx: &mut Context<'_>| {
        let fail_first = Cell::new(true);
        let mut fut = pin!(quiet_stack(&fail_first));
        assert_eq!(fut.as_mut().poll(cx), Poll::Ready(Ok(3)));
    };
    run(&mut cx);
    let registered = recorder.registered.load(Ordering::Relaxed);
    // The body never suspends, so it is never counted in flight (see below).
    assert_eq!(registered, 3, "calls{{ok}}, duration, retries");
    let allocations = allocation_counter::measure(|| {
        for _ in 0..100 {
            run(&mut cx);
        }
    });
    assert_eq!(allocations.count_total, 0);
    assert_eq!(recorder.registered.load(Ordering::Relaxed), registered, "resolved once");
}
