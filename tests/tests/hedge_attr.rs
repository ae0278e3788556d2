//! `#[hedge]` through the attribute: when another attempt starts, what wins and what
//! is cancelled, `when`, `max`, `after = p95`, the budget, arguments, events, and
//! the composition with `#[timeout]`, `#[limit]` and `#[retry]`. All on the paused
//! clock, exact. (The runtime alone is tested in `hedge.rs`.)

use std::collections::VecDeque;
use std::future::Future;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::Duration;

use steadfast::{Limiter, RetryBudget, TimedOut, hedge, limit, retry, timeout};
use steadfast_tests::Capture;
use tokio::time::{Instant, sleep};
use tracing::Level;

const MS: Duration = Duration::from_millis(1);

#[derive(Debug, Clone, Copy, PartialEq)]
enum Error {
    Busy(u32),
    Fatal(u32),
    TimedOut,
}

impl Error {
    fn is_busy(&self) -> bool {
        matches!(self, Error::Busy(_))
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}

impl From<TimedOut> for Error {
    fn from(_: TimedOut) -> Self {
        Error::TimedOut
    }
}

/// The attempts of one call, planned: attempt k waits the k-th delay (in ms), then
/// returns the k-th result; an attempt beyond the plan panics, so an extra hedge fails
/// the test. It records when each attempt started (since the plan was made), how many
/// ran at once at most, and how many were dropped unfinished. `Sync` (a `Mutex` locked
/// only between awaits, and atomics), so the hedged futures are `Send`.
struct Plan {
    steps: Mutex<VecDeque<(u64, Result<u32, Error>)>>,
    t0: Instant,
    starts: Mutex<Vec<Duration>>,
    running: AtomicUsize,
    peak: AtomicUsize,
    cancelled: AtomicUsize,
}

impl Plan {
    fn new(steps: &[(u64, Result<u32, Error>)]) -> Plan {
        Plan {
            steps: Mutex::new(steps.iter().copied().collect()),
            t0: Instant::now(),
            starts: Mutex::new(Vec::new()),
            running: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
            cancelled: AtomicUsize::new(0),
        }
    }

    /// One attempt: takes the next step of the plan.
    fn attempt(&self) -> impl Future<Output = Result<u32, Error>> + Send + '_ {
        let step = self.steps.lock().unwrap().pop_front();
        let (delay, out) = step.expect("an attempt beyond the plan");
        self.starts.lock().unwrap().push(self.t0.elapsed());
        let running = self.running.fetch_add(1, Relaxed) + 1;
        self.peak.fetch_max(running, Relaxed);
        let guard = Running { plan: self, finished: false };
        async move {
            // Moved in whole (a field alone would be captured otherwise).
            let mut guard = guard;
            sleep(Duration::from_millis(delay)).await;
            guard.finished = true;
            out
        }
    }

    fn starts(&self) -> Vec<Duration> {
        self.starts.lock().unwrap().clone()
    }

    fn cancelled(&self) -> usize {
        self.cancelled.load(Relaxed)
    }

    fn peak(&self) -> usize {
        self.peak.load(Relaxed)
    }

    fn running(&self) -> usize {
        self.running.load(Relaxed)
    }
}

/// Held by an attempt while it runs: counts it as cancelled when dropped unfinished.
struct Running<'a> {
    plan: &'a Plan,
    finished: bool,
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.plan.running.fetch_sub(1, Relaxed);
        if !self.finished {
            self.plan.cancelled.fetch_add(1, Relaxed);
        }
    }
}

fn ms(list: &[u64]) -> Vec<Duration> {
    list.iter().map(|&n| Duration::from_millis(n)).collect()
}

#[hedge(after = 50ms)]
async fn fetch(plan: &Plan) -> Result<u32, Error> {
    plan.attempt().await
}

#[tokio::test(start_paused = true)]
async fn a_slow_first_attempt_is_hedged_at_after_and_the_loser_cancelled() {
    let plan = Plan::new(&[(1_000, Ok(1)), (20, Ok(2))]);
    let start = Instant::now();
    assert_eq!(fetch(&plan).await, Ok(2));
    assert_eq!(start.elapsed(), 70 * MS);
    assert_eq!(plan.starts(), ms(&[0, 50]));
    assert_eq!((plan.cancelled(), plan.running()), (1, 0), "the slow attempt is dropped");
    // The original can still win: the hedge is then the one cancelled.
    let plan = Plan::new(&[(60, Ok(1)), (1_000, Ok(2))]);
    let start = Instant::now();
    assert_eq!(fetch(&plan).await, Ok(1));
    assert_eq!((start.elapsed(), plan.cancelled()), (60 * MS, 1));
}

#[tokio::test(start_paused = true)]
async fn a_fast_call_is_never_hedged() {
    for delay in [0, 1, 49] {
        let plan = Plan::new(&[(delay, Ok(1))]);
        let start = Instant::now();
        assert_eq!(fetch(&plan).await, Ok(1));
        assert_eq!(start.elapsed(), Duration::from_millis(delay));
        assert_eq!(plan.starts(), ms(&[0]));
    }
}

#[hedge(after = 50ms, max = 3, when = Error::is_busy)]
async fn fetch_when(plan: &Plan) -> Result<u32, Error> {
    plan.attempt().await
}

#[hedge(after = 50ms, when = |e| e.is_busy())]
async fn fetch_when_closure(plan: &Plan) -> Result<u32, Error> {
    plan.attempt().await
}

#[tokio::test(start_paused = true)]
async fn when_starts_the_next_attempt_at_once_or_ends_the_call() {
    let plan = Plan::new(&[(5, Err(Error::Busy(1))), (10, Ok(2))]);
    let start = Instant::now();
    assert_eq!(fetch_when(&plan).await, Ok(2));
    assert_eq!((start.elapsed(), plan.starts()), (15 * MS, ms(&[0, 5])));
    // An error for which `when` is false ends the call, with the hedge in flight dropped.
    let plan = Plan::new(&[(1_000, Ok(1)), (10, Err(Error::Fatal(2)))]);
    let start = Instant::now();
    assert_eq!(fetch_when(&plan).await, Err(Error::Fatal(2)));
    assert_eq!((start.elapsed(), plan.cancelled()), (60 * MS, 1));
    // Every attempt failed: the last error.
    let plan = Plan::new(&[(5, Err(Error::Busy(1))), (5, Err(Error::Busy(2)))]);
    assert_eq!(fetch_when_closure(&plan).await, Err(Error::Busy(2)));
    assert_eq!(plan.starts(), ms(&[0, 5]));
    let plan = Plan::new(&[(5, Err(Error::Fatal(1)))]);
    assert_eq!(fetch_when_closure(&plan).await, Err(Error::Fatal(1)));
}

#[hedge(after = 10ms, max = 3)]
async fn fetch_three(plan: &Plan) -> Result<u32, Error> {
    plan.attempt().await
}

#[tokio::test(start_paused = true)]
async fn max_caps_the_attempts_in_flight() {
    let plan = Plan::new(&[(1_000, Ok(1)), (1_000, Ok(2)), (1_000, Ok(3))]);
    let start = Instant::now();
    assert_eq!(fetch_three(&plan).await, Ok(1));
    assert_eq!(start.elapsed(), 1_000 * MS);
    assert_eq!(plan.starts(), ms(&[0, 10, 20]));
    assert_eq!((plan.peak(), plan.cancelled()), (3, 2));
    // The default is two.
    let plan = Plan::new(&[(1_000, Ok(1)), (1_000, Ok(2))]);
    assert_eq!(fetch(&plan).await, Ok(1));
    assert_eq!(plan.starts(), ms(&[0, 50]));
}

#[hedge(after = p95)]
async fn learnt(plan: &Plan) -> Result<u32, Error> {
    plan.attempt().await
}

#[tokio::test(start_paused = true)]
async fn p95_waits_for_twenty_calls_then_hedges_near_the_quantile() {
    // 19 calls of 1..=19 ms, then a slow 20th: none is hedged.
    for k in 1..=19 {
        let plan = Plan::new(&[(k, Ok(1))]);
        assert_eq!(learnt(&plan).await, Ok(1));
    }
    let plan = Plan::new(&[(1_000, Ok(1))]);
    let start = Instant::now();
    assert_eq!(learnt(&plan).await, Ok(1));
    assert_eq!((start.elapsed(), plan.starts()), (1_000 * MS, ms(&[0])));
    // 20 latencies now: 1..=19 ms and 1 s. Their p95 (the 19th of 20) is 19 ms.
    let plan = Plan::new(&[(1_000, Ok(1)), (5, Ok(2))]);
    let start = Instant::now();
    assert_eq!(learnt(&plan).await, Ok(2));
    assert_eq!((start.elapsed(), plan.starts()), (24 * MS, ms(&[0, 19])));
}

static BUDGET: RetryBudget = RetryBudget::new().min_per_second(0).ratio(0.5);

#[hedge(after = 50ms, budget = BUDGET)]
async fn budgeted(plan: &Plan) -> Result<u32, Error> {
    plan.attempt().await
}

#[tokio::test(start_paused = true)]
async fn the_budget_stops_hedges() {
    // The first call deposits half a hedge: not enough to hedge it.
    let plan = Plan::new(&[(1_000, Ok(1))]);
    assert_eq!(budgeted(&plan).await, Ok(1));
    assert_eq!(plan.starts(), ms(&[0]));
    // The second brings it to one: hedged, and the budget is empty again.
    let plan = Plan::new(&[(1_000, Ok(1)), (10, Ok(2))]);
    assert_eq!(budgeted(&plan).await, Ok(2));
    assert_eq!(plan.starts(), ms(&[0, 50]));
    assert_eq!(BUDGET.available(), 0);
    // The third finds it empty: its only attempt runs to the end.
    let plan = Plan::new(&[(1_000, Ok(1))]);
    let start = Instant::now();
    assert_eq!(budgeted(&plan).await, Ok(1));
    assert_eq!((start.elapsed(), plan.starts()), (1_000 * MS, ms(&[0])));
}

#[hedge(after = 50ms, max = 3)]
async fn logged(plan: &Plan) -> Result<u32, Error> {
    plan.attempt().await
}

#[tokio::test(start_paused = true)]
async fn each_hedge_emits_a_debug_event() {
    let capture = Capture::start();
    assert_eq!(logged(&Plan::new(&[(10, Ok(1))])).await, Ok(1));
    assert!(capture.steadfast().is_empty(), "a call that is not hedged logs nothing");
    let plan = Plan::new(&[(1_000, Ok(1)), (5, Err(Error::Busy(2))), (500, Ok(3))]);
    assert_eq!(logged(&plan).await, Ok(3));
    let events = capture.steadfast();
    assert_eq!(events.len(), 2, "{events:?}");
    for (event, attempt, reason) in [(&events[0], "2", "slow"), (&events[1], "3", "failed")] {
        assert_eq!(event.level, Level::DEBUG);
        assert_eq!(event.field("function"), Some("logged"));
        assert_eq!(event.field("attempt"), Some(attempt));
        assert_eq!(event.field("after_ms"), Some("50"));
        assert_eq!(event.field("reason"), Some(reason));
    }
}

// ---------------------------------------------------------------- arguments

static CLONES: AtomicUsize = AtomicUsize::new(0);

/// An owned argument that counts its clones.
#[derive(Debug, PartialEq)]
struct Key(String);

impl Clone for Key {
    fn clone(&self) -> Self {
        CLONES.fetch_add(1, Relaxed);
        Key(self.0.clone())
    }
}

#[hedge(after = 10ms)]
async fn owned(key: Key, mut tries: u32, (a, b): (u32, u32), plan: &Plan) -> Result<String, Error> {
    tries += a + b;
    let n = plan.attempt().await?;
    Ok(format!("{}:{tries}:{n}", key.0))
}

#[tokio::test(start_paused = true)]
async fn owned_arguments_are_cloned_for_each_attempt_references_shared() {
    CLONES.store(0, Relaxed);
    let plan = Plan::new(&[(1_000, Ok(1)), (5, Ok(2))]);
    assert_eq!(owned(Key("k".into()), 1, (2, 3), &plan).await, Ok("k:6:2".to_owned()));
    assert_eq!(CLONES.load(Relaxed), 2, "one clone per attempt");
    let plan = Plan::new(&[(5, Ok(1))]);
    assert_eq!(owned(Key("k".into()), 0, (0, 0), &plan).await, Ok("k:0:1".to_owned()));
    assert_eq!(CLONES.load(Relaxed), 3, "a call that is not hedged clones once");
}

struct Client {
    name: &'static str,
}

impl Client {
    #[hedge(after = 10ms)]
    async fn by_ref(&self, plan: &Plan) -> Result<String, Error> {
        Ok(format!("{}{}", self.name, plan.attempt().await?))
    }

    /// A by-value `self` is shared by the attempts, as `&self` would be.
    #[hedge(after = 10ms)]
    async fn by_value(self, plan: &Plan) -> Result<String, Error> {
        Ok(format!("{}{}", self.name, plan.attempt().await?))
    }
}

#[tokio::test(start_paused = true)]
async fn methods_share_the_receiver() {
    let plan = Plan::new(&[(1_000, Ok(1)), (5, Ok(2))]);
    assert_eq!(Client { name: "a" }.by_ref(&plan).await, Ok("a2".to_owned()));
    let plan = Plan::new(&[(1_000, Ok(1)), (5, Ok(2))]);
    assert_eq!(Client { name: "b" }.by_value(&plan).await, Ok("b2".to_owned()));
    assert_eq!(plan.starts(), ms(&[0, 10]));
}

#[hedge(after = cfg_after(), max = 3)]
async fn evaluated(key: String, plan: &Plan) -> Result<String, Error> {
    Ok(format!("{key}{}", plan.attempt().await?))
}

fn cfg_after() -> Duration {
    Duration::from_millis(25)
}

#[tokio::test(start_paused = true)]
async fn after_may_be_an_expression_evaluated_at_each_call() {
    let plan = Plan::new(&[(1_000, Ok(1)), (1_000, Ok(2)), (5, Ok(3))]);
    assert_eq!(evaluated("k".into(), &plan).await, Ok("k3".to_owned()));
    assert_eq!(plan.starts(), ms(&[0, 25, 50]));
}

#[test]
fn the_future_is_send_when_the_body_is() {
    fn assert_send<T: Send>(_: &T) {}
    let plan = Plan::new(&[]);
    assert_send(&fetch(&plan));
    assert_send(&learnt(&plan));
    assert_send(&owned(Key("k".into()), 1, (2, 3), &plan));
    assert_send(&evaluated("k".into(), &plan));
    assert_send(&limited(&plan));
    assert_send(&retried(&plan));
    assert_send(&bounded(&plan));
    assert_send(&hedged_retries(&plan));
}

// ---------------------------------------------------------------- composition

#[timeout(100ms)]
#[hedge(after = 30ms, max = 3)]
async fn bounded(plan: &Plan) -> Result<u32, Error> {
    plan.attempt().await
}

#[tokio::test(start_paused = true)]
async fn a_timeout_above_bounds_all_attempts_together() {
    let plan = Plan::new(&[(1_000, Ok(1)), (1_000, Ok(2)), (1_000, Ok(3))]);
    let start = Instant::now();
    assert_eq!(bounded(&plan).await, Err(Error::TimedOut));
    assert_eq!(start.elapsed(), 100 * MS);
    assert_eq!(plan.starts(), ms(&[0, 30, 60]));
    assert_eq!((plan.cancelled(), plan.running()), (3, 0), "every attempt is cancelled");
}

static POOL: Limiter = Limiter::concurrency(2);

#[hedge(after = 30ms, max = 3)]
#[limit(using = POOL)]
async fn limited(plan: &Plan) -> Result<u32, Error> {
    plan.attempt().await
}

#[tokio::test(start_paused = true)]
async fn a_limit_below_gives_each_attempt_its_own_slot() {
    for _ in 0..2 {
        let plan = Plan::new(&[(1_000, Ok(1)), (1_000, Ok(2))]);
        let start = Instant::now();
        let watch = async {
            sleep(70 * MS).await;
            // Two attempts hold a slot each; the third (due at 60 ms) waits for one.
            (POOL.in_flight(), POOL.waiting())
        };
        let (out, seen) = tokio::join!(limited(&plan), watch);
        assert_eq!((out, seen), (Ok(1), (2, 1)));
        assert_eq!(start.elapsed(), 1_000 * MS);
        assert_eq!(plan.starts(), ms(&[0, 30]));
        // The loser's slot and the waiting hedge are given back with the call.
        assert_eq!((POOL.in_flight(), POOL.waiting()), (0, 0));
    }
}

#[retry(attempts = 2, delay = 100ms, jitter = 0)]
#[hedge(after = 30ms)]
async fn retried(plan: &Plan) -> Result<u32, Error> {
    plan.attempt().await
}

#[tokio::test(start_paused = true)]
async fn a_retry_above_retries_the_hedged_call_as_a_whole() {
    // Both attempts of the first hedged call fail; after 100 ms the whole call runs again.
    let plan = Plan::new(&[(5, Err(Error::Busy(1))), (5, Err(Error::Busy(2))), (10, Ok(3))]);
    let start = Instant::now();
    assert_eq!(retried(&plan).await, Ok(3));
    assert_eq!(start.elapsed(), 120 * MS);
    assert_eq!(plan.starts(), ms(&[0, 5, 110]));
}

#[hedge(after = 30ms)]
#[retry(attempts = 2, delay = 100ms, jitter = 0)]
async fn hedged_retries(plan: &Plan) -> Result<u32, Error> {
    plan.attempt().await
}

#[tokio::test(start_paused = true)]
async fn a_hedge_above_a_retry_races_whole_retry_loops() {
    // The first loop fails at 5 ms and sleeps 100 ms before its retry; at 30 ms (it has
    // not finished) a second loop starts, succeeds at 40 ms, and the first is dropped
    // in its sleep.
    let plan = Plan::new(&[(5, Err(Error::Busy(1))), (10, Ok(2))]);
    let start = Instant::now();
    assert_eq!(hedged_retries(&plan).await, Ok(2));
    assert_eq!(start.elapsed(), 40 * MS);
    assert_eq!(plan.starts(), ms(&[0, 30]));
}

// ---------------------------------------------------------------- #[async_trait]

#[async_trait::async_trait]
trait Replicas: Send + Sync {
    async fn get(&self, key: String, plan: &Plan) -> Result<String, Error>;
    async fn consume(self, plan: &Plan) -> Result<String, Error>;
}

struct Cluster;

#[async_trait::async_trait]
impl Replicas for Cluster {
    #[hedge(after = 10ms, when = |e| e.is_busy())]
    async fn get(&self, key: String, plan: &Plan) -> Result<String, Error> {
        Ok(format!("{key}{}", plan.attempt().await?))
    }

    #[hedge(after = 10ms)]
    async fn consume(self, plan: &Plan) -> Result<String, Error> {
        let _ = &self;
        Ok(format!("{}", plan.attempt().await?))
    }
}

#[tokio::test(start_paused = true)]
async fn async_trait_methods_are_hedged_inside_the_boxed_future() {
    let plan = Plan::new(&[(1_000, Ok(1)), (5, Ok(2))]);
    let start = Instant::now();
    let call = Cluster.get("k".into(), &plan);
    fn is_send<T: Send>(_: &T) {}
    is_send(&call);
    assert_eq!(call.await, Ok("k2".to_owned()));
    assert_eq!((start.elapsed(), plan.starts(), plan.cancelled()), (15 * MS, ms(&[0, 10]), 1));
    let plan = Plan::new(&[(5, Err(Error::Busy(1))), (5, Ok(2))]);
    assert_eq!(Cluster.consume(&plan).await, Ok("2".to_owned()));
    assert_eq!(plan.starts(), ms(&[0, 5]));
}

// ---------------------------------------------------------------- the fast path

#[hedge(after = 50ms)]
async fn fast(x: &u64, n: u64) -> Result<u64, Error> {
    Ok(*x + n)
}

static FAST_BUDGET: RetryBudget = RetryBudget::new();

#[hedge(after = p95, max = 3, when = Error::is_busy, budget = FAST_BUDGET)]
async fn fast_learnt(x: &u64, n: u64) -> Result<u64, Error> {
    Ok(*x + n)
}

/// Allocations made while polling `make()`'s future to completion (it must finish on
/// the first poll), after one warm-up call.
fn allocations<F: Future<Output = Result<u64, Error>>>(make: impl Fn() -> F) -> u64 {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
    let _context = runtime.enter();
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    let mut run = || {
        let mut fut = std::pin::pin!(make());
        match fut.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(out) => assert_eq!(out, Ok(3)),
            std::task::Poll::Pending => panic!("the fast path must finish on the first poll"),
        }
    };
    run();
    allocation_counter::measure(run).count_total
}

#[test]
fn the_fast_path_allocates_nothing() {
    let x = 1;
    assert_eq!(allocations(|| fast(&x, 2)), 0, "after = 50ms");
    // Enough calls to learn a quantile and refresh it several times.
    let many = || async {
        for _ in 0..299 {
            fast_learnt(&x, 2).await?;
        }
        fast_learnt(&x, 2).await
    };
    assert_eq!(allocations(many), 0, "after = p95 with when and a budget");
}
