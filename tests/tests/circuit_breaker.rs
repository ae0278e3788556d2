//! `#[circuit_breaker]` and `#[retry(budget = ..)]` through the attributes, on the
//! paused clock: the breaker's states and window, what counts, shared breakers, the
//! composition with `#[retry]` and a retry storm through one budget. Each test has its
//! functions (and so its breakers) to itself: a per-function breaker is a `static`.

use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use steadfast::{
    Breaker, BreakerState, CircuitOpen, RetryBudget, TimedOut, circuit_breaker, error_boundary,
    retry, timeout,
};
use steadfast_tests::Capture;
use tokio::time::{Instant, sleep};
use tracing::Level;

#[derive(Debug, Clone, Copy, PartialEq)]
enum ApiError {
    Down,
    NotFound,
    TimedOut,
    Open(CircuitOpen),
}

impl ApiError {
    fn is_outage(&self) -> bool {
        matches!(self, ApiError::Down | ApiError::TimedOut)
    }
}

impl From<CircuitOpen> for ApiError {
    fn from(e: CircuitOpen) -> Self {
        ApiError::Open(e)
    }
}

impl From<TimedOut> for ApiError {
    fn from(_: TimedOut) -> Self {
        ApiError::TimedOut
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}

const fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

const fn ms(m: u64) -> Duration {
    Duration::from_millis(m)
}

/// The refusal in `out`, if it is one.
fn refusal<T>(out: Result<T, ApiError>) -> Option<CircuitOpen> {
    match out {
        Err(ApiError::Open(open)) => Some(open),
        _ => None,
    }
}

fn outcome(fail: bool) -> Result<(), ApiError> {
    if fail { Err(ApiError::Down) } else { Ok(()) }
}

// ---------------------------------------------------------------- closed → open

#[tokio::test(start_paused = true)]
async fn opens_at_the_rate_as_soon_as_min_calls_are_in() {
    static RAN: AtomicU32 = AtomicU32::new(0);
    #[circuit_breaker(failure_rate = 0.5, min_calls = 4, open_for = 15s)]
    async fn call(fail: bool) -> Result<(), ApiError> {
        RAN.fetch_add(1, Ordering::Relaxed);
        outcome(fail)
    }
    let capture = Capture::start();
    call(true).await.unwrap_err();
    call(true).await.unwrap_err();
    call(false).await.unwrap();
    // 2 of 3 failed, but only 3 calls are in: not judged yet.
    call(false).await.unwrap();
    // 2 of 4 (≥ 0.5) with `min_calls` in, long before the 30 s window is full: open.
    let open = refusal(call(false).await).expect("refused");
    assert_eq!(open.retry_after(), secs(15));
    assert_eq!(open.function(), Some("call"));
    assert_eq!(open.to_string(), "`call` refused: the circuit is open (trial calls in 15s)");
    assert_eq!(RAN.load(Ordering::Relaxed), 4, "the refused call's body never ran");

    let events = capture.steadfast();
    let opened = events.iter().find(|e| e.level == Level::WARN).expect("a WARN when it opens");
    assert_eq!(opened.field("message"), Some("circuit opened"));
    assert_eq!(opened.field("function"), Some("call"));
    assert_eq!(opened.field("failure_rate"), Some("0.5"));
    assert_eq!(opened.field("calls"), Some("4"));
    let refused = events.iter().filter(|e| e.level == Level::DEBUG).count();
    assert_eq!(refused, 1, "a DEBUG event per refused call");
}

#[tokio::test(start_paused = true)]
async fn stays_closed_below_the_rate() {
    static RAN: AtomicU32 = AtomicU32::new(0);
    #[circuit_breaker(failure_rate = 0.5, min_calls = 4)]
    async fn call(fail: bool) -> Result<(), ApiError> {
        RAN.fetch_add(1, Ordering::Relaxed);
        outcome(fail)
    }
    // One failure in every four calls, 300 calls: at most 2 of 5, never half.
    for i in 0..300 {
        let out = call(i % 4 == 0).await;
        assert!(refusal(out).is_none(), "call {i} refused");
    }
    assert_eq!(RAN.load(Ordering::Relaxed), 300);
    // Failures alone, below `min_calls`, do not open a fresh breaker either.
    #[circuit_breaker(min_calls = 4)]
    async fn fresh() -> Result<(), ApiError> {
        Err(ApiError::Down)
    }
    for _ in 0..3 {
        assert_eq!(fresh().await, Err(ApiError::Down));
    }
    assert_eq!(fresh().await, Err(ApiError::Down), "the 4th runs and opens it");
    assert!(refusal(fresh().await).is_some());
}

#[tokio::test(start_paused = true)]
async fn old_calls_slide_out_of_the_window() {
    // A 20 s window: buckets of 1 s; a call counts until the end of its bucket + 20 s.
    #[circuit_breaker(min_calls = 4, window = 20s)]
    async fn kept(fail: bool) -> Result<(), ApiError> {
        outcome(fail)
    }
    #[circuit_breaker(min_calls = 4, window = 20s)]
    async fn slid(fail: bool) -> Result<(), ApiError> {
        outcome(fail)
    }
    for _ in 0..3 {
        kept(true).await.unwrap_err();
        slid(true).await.unwrap_err();
    }
    sleep(ms(19_999)).await;
    kept(false).await.unwrap(); // 3 of 4 still in the window: open
    assert!(refusal(kept(false).await).is_some());
    sleep(ms(1)).await;
    // At 20 s the three failures have aged out: 1 call is under `min_calls`.
    slid(true).await.unwrap_err();
    for _ in 0..3 {
        slid(false).await.unwrap();
    }
    assert!(refusal(slid(false).await).is_none(), "1 failure of 5 in the window");
}

// ---------------------------------------------------------------- open → half-open → closed

static CYCLE: Breaker = Breaker::new().min_calls(2).open_for(secs(10)).half_open_calls(2);

#[circuit_breaker(using = CYCLE)]
async fn cycled(fail: bool, ran: &Cell<u32>) -> Result<(), ApiError> {
    ran.set(ran.get() + 1);
    outcome(fail)
}

#[tokio::test(start_paused = true)]
async fn half_opens_after_open_for_closes_after_the_trials_and_reopens_after_a_failed_one() {
    let capture = Capture::start();
    let ran = Cell::new(0);
    cycled(true, &ran).await.unwrap_err();
    cycled(true, &ran).await.unwrap_err();
    assert_eq!(CYCLE.state(), BreakerState::Open);
    sleep(ms(9_999)).await;
    assert_eq!(refusal(cycled(false, &ran).await).unwrap().retry_after(), ms(1));
    sleep(ms(1)).await;
    assert_eq!(CYCLE.state(), BreakerState::HalfOpen);

    // Two trials, both must succeed.
    cycled(false, &ran).await.unwrap();
    assert_eq!(CYCLE.state(), BreakerState::HalfOpen);
    cycled(false, &ran).await.unwrap();
    assert_eq!(CYCLE.state(), BreakerState::Closed);
    // Closed with an empty window: one failure is not enough to judge.
    cycled(true, &ran).await.unwrap_err();
    assert_eq!(CYCLE.state(), BreakerState::Closed);
    cycled(true, &ran).await.unwrap_err();
    assert_eq!(CYCLE.state(), BreakerState::Open);

    // A failed trial opens it again for `open_for`, from the trial's end.
    sleep(secs(10)).await;
    cycled(false, &ran).await.unwrap();
    cycled(true, &ran).await.unwrap_err();
    assert_eq!(CYCLE.state(), BreakerState::Open);
    assert_eq!(refusal(cycled(false, &ran).await).unwrap().retry_after(), secs(10));
    assert_eq!(ran.get(), 8, "refused calls never ran");

    let infos: Vec<_> = capture
        .steadfast()
        .into_iter()
        .filter(|e| e.level == Level::INFO)
        .map(|e| e.field("message").unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        infos,
        [
            "circuit half-open: letting trial calls through",
            "circuit closed: the trial calls succeeded",
            "circuit half-open: letting trial calls through",
        ]
    );
}

// ---------------------------------------------------------------- what counts

#[tokio::test(start_paused = true)]
async fn when_decides_which_errors_are_failures() {
    #[circuit_breaker(min_calls = 2, when = ApiError::is_outage)]
    async fn lookup(error: ApiError) -> Result<(), ApiError> {
        Err(error)
    }
    for _ in 0..10 {
        // A 404 is an answer: counted as a success.
        assert_eq!(lookup(ApiError::NotFound).await, Err(ApiError::NotFound));
    }
    assert_eq!(lookup(ApiError::Down).await, Err(ApiError::Down)); // 1 of 11
    #[circuit_breaker(min_calls = 2, when = |e: &ApiError| *e == ApiError::NotFound)]
    async fn strict(error: ApiError) -> Result<(), ApiError> {
        Err(error)
    }
    strict(ApiError::NotFound).await.unwrap_err();
    strict(ApiError::NotFound).await.unwrap_err();
    assert!(refusal(strict(ApiError::Down).await).is_some(), "a closure classifies too");
}

#[tokio::test(start_paused = true)]
async fn slow_successes_count_as_failures() {
    #[circuit_breaker(min_calls = 2, slow_call = 1s)]
    async fn slow(took: Duration) -> Result<(), ApiError> {
        sleep(took).await;
        Ok(())
    }
    slow(secs(1)).await.unwrap(); // not longer than 1 s: a success
    slow(ms(1_001)).await.unwrap(); // 1 slow of 2: ≥ 0.5
    assert!(refusal(slow(Duration::ZERO).await).is_some());
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_call_is_not_recorded() {
    #[circuit_breaker(min_calls = 1)]
    async fn hangs() -> Result<(), ApiError> {
        sleep(secs(5)).await;
        Err(ApiError::Down)
    }
    for _ in 0..3 {
        assert!(tokio::time::timeout(ms(10), hangs()).await.is_err(), "dropped after 10 ms");
    }
    // Not one of the three was recorded: the breaker is still closed and this call runs
    // (and, failing, opens it).
    assert_eq!(hangs().await, Err(ApiError::Down));
    assert!(refusal(hangs().await).is_some());
}

static PANICKY: Breaker = Breaker::new().min_calls(1);

#[circuit_breaker(using = PANICKY)]
async fn panics() -> Result<(), ApiError> {
    panic!("scripted panic")
}

#[tokio::test(start_paused = true)]
async fn a_panic_is_recorded_as_a_failure_and_keeps_unwinding() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if info.payload().downcast_ref::<&str>() != Some(&"scripted panic") {
                default(info);
            }
        }));
    });
    let joined = tokio::spawn(panics()).await;
    let payload = joined.unwrap_err().into_panic();
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"scripted panic"));
    assert_eq!(PANICKY.state(), BreakerState::Open);
    assert!(refusal(panics().await).is_some(), "refused, not run (it would panic)");
}

// ---------------------------------------------------------------- sharing, isolate, reset

static PAYMENTS: Breaker = Breaker::new().min_calls(2);

#[circuit_breaker(using = PAYMENTS)]
async fn charge(fail: bool) -> Result<(), ApiError> {
    outcome(fail)
}

#[circuit_breaker(using = PAYMENTS)]
async fn refund(fail: bool) -> Result<(), ApiError> {
    outcome(fail)
}

#[tokio::test(start_paused = true)]
async fn functions_naming_one_breaker_share_it_and_isolate_and_reset_work() {
    charge(true).await.unwrap_err();
    refund(true).await.unwrap_err();
    assert_eq!(PAYMENTS.state(), BreakerState::Open, "one failure each, one window");
    assert_eq!(refusal(refund(false).await).unwrap().function(), Some("refund"));
    PAYMENTS.reset();
    charge(false).await.unwrap();
    PAYMENTS.isolate();
    let open = refusal(charge(false).await).unwrap();
    assert_eq!(open.retry_after(), Duration::MAX);
    sleep(secs(3600)).await;
    assert!(refusal(refund(false).await).is_some(), "held open until reset");
    PAYMENTS.reset();
    refund(false).await.unwrap();
    assert_eq!(PAYMENTS.state(), BreakerState::Closed);
}

struct Client {
    breaker: Breaker,
    shared: Arc<Breaker>,
}

impl Client {
    #[circuit_breaker(using = self.breaker)]
    async fn get(&self, fail: bool) -> Result<(), ApiError> {
        outcome(fail)
    }

    #[circuit_breaker(using = self.shared)]
    async fn put(&mut self, fail: bool) -> Result<(), ApiError> {
        outcome(fail)
    }
}

#[tokio::test(start_paused = true)]
async fn a_breaker_owned_by_the_receiver() {
    let mut client = Client {
        breaker: Breaker::new().min_calls(1),
        shared: Arc::new(Breaker::new().min_calls(1)),
    };
    client.get(true).await.unwrap_err();
    assert!(refusal(client.get(false).await).is_some());
    assert_eq!(client.shared.state(), BreakerState::Closed, "its own breaker");
    client.put(true).await.unwrap_err();
    assert_eq!(client.shared.state(), BreakerState::Open);
}

// ---------------------------------------------------------------- with #[retry]

static DOWN: Breaker = Breaker::new().min_calls(2).open_for(secs(15));

#[retry(attempts = 5, delay = 100ms, jitter = 0)]
#[circuit_breaker(using = DOWN)]
async fn retried(ran: &Cell<u32>) -> Result<(), ApiError> {
    ran.set(ran.get() + 1);
    Err(ApiError::Down)
}

#[tokio::test(start_paused = true)]
async fn a_retry_over_an_open_breaker_returns_at_once() {
    let ran = Cell::new(0);
    let start = Instant::now();
    // Two failed attempts open it; the third is refused and ends the retry at once.
    let open = refusal(retried(&ran).await).expect("the refusal is returned");
    assert_eq!(ran.get(), 2);
    assert_eq!(start.elapsed(), ms(300), "100 ms and 200 ms of backoff, no more");
    assert_eq!(open.retry_after(), secs(15) - ms(200), "opened at the second attempt");

    // Over an open breaker: no body, no sleep.
    let start = Instant::now();
    for _ in 0..100 {
        assert!(refusal(retried(&ran).await).is_some());
    }
    assert_eq!(start.elapsed(), Duration::ZERO, "never a backoff sleep against it");
    assert_eq!(ran.get(), 2);
    // The refusals were never recorded: after `open_for` the trial runs.
    sleep(secs(15)).await;
    assert_eq!(DOWN.state(), BreakerState::HalfOpen);
}

static BRIEF: Breaker = Breaker::new().min_calls(1).open_for(ms(150));

#[retry(attempts = 4, delay = 100ms, jitter = 0)]
#[circuit_breaker(using = BRIEF)]
async fn flaky(ran: &Cell<u32>) -> Result<u32, ApiError> {
    ran.set(ran.get() + 1);
    if ran.get() == 1 { Err(ApiError::Down) } else { Ok(ran.get()) }
}

#[tokio::test(start_paused = true)]
async fn a_refusal_that_ends_before_the_next_delay_is_retried() {
    let ran = Cell::new(0);
    let start = Instant::now();
    // Attempt 1 fails and opens it for 150 ms; after 100 ms attempt 2 is refused with
    // 50 ms to go, no longer than the next delay (200 ms): the retry sleeps it, and
    // attempt 3 is the trial that closes the breaker.
    assert_eq!(flaky(&ran).await, Ok(2));
    assert_eq!(start.elapsed(), ms(300));
    assert_eq!(ran.get(), 2);
    assert_eq!(BRIEF.state(), BreakerState::Closed);
}

static OUTSIDE: Breaker = Breaker::new().min_calls(2);

#[circuit_breaker(using = OUTSIDE)]
#[retry(attempts = 3, delay = 10ms, jitter = 0)]
async fn retried_inside(ran: &Cell<u32>) -> Result<(), ApiError> {
    ran.set(ran.get() + 1);
    Err(ApiError::Down)
}

#[tokio::test(start_paused = true)]
async fn a_breaker_above_the_retry_records_one_call_per_retried_call() {
    let ran = Cell::new(0);
    assert_eq!(retried_inside(&ran).await, Err(ApiError::Down));
    assert_eq!(ran.get(), 3, "three attempts");
    assert_eq!(OUTSIDE.state(), BreakerState::Closed, "one failed call of `min_calls` 2");
    assert_eq!(retried_inside(&ran).await, Err(ApiError::Down));
    assert_eq!(OUTSIDE.state(), BreakerState::Open);
    let start = Instant::now();
    assert!(refusal(retried_inside(&ran).await).is_some());
    assert_eq!((ran.get(), start.elapsed()), (6, Duration::ZERO), "refused before any attempt");
}

#[tokio::test(start_paused = true)]
async fn a_full_stack_in_one_pass() {
    static RAN: AtomicU32 = AtomicU32::new(0);
    #[error_boundary("fetching")]
    #[retry(attempts = 3, delay = 10ms, jitter = 0, when = ApiError::is_outage)]
    #[timeout(1s)]
    #[circuit_breaker(min_calls = 2, open_for = 1m, when = ApiError::is_outage)]
    async fn fetch(slow: bool) -> Result<u32, ApiError> {
        RAN.fetch_add(1, Ordering::Relaxed);
        if slow {
            sleep(secs(5)).await;
        }
        Ok(1)
    }
    assert_eq!(fetch(false).await, Ok(1));
    let start = Instant::now();
    // Each attempt times out; the timeouts drop the breaker's calls (cancelled, not
    // recorded), so the breaker never opens and all three attempts run.
    assert_eq!(fetch(true).await, Err(ApiError::TimedOut));
    assert_eq!(start.elapsed(), ms(3_000 + 10 + 20));
    assert_eq!(RAN.load(Ordering::Relaxed), 4);
}

// ---------------------------------------------------------------- retry budgets

static STORM: RetryBudget = RetryBudget::new();

#[retry(attempts = 4, delay = 0, budget = STORM)]
async fn storm(reached: &Cell<u32>) -> Result<(), ApiError> {
    reached.set(reached.get() + 1);
    Err(ApiError::Down)
}

#[tokio::test(start_paused = true)]
async fn a_storm_through_one_budget_gets_exactly_the_budget() {
    let capture = Capture::start();
    let reached = Cell::new(0);
    let mut stopped_short = 0;
    for _ in 0..1_000 {
        let before = reached.get();
        assert_eq!(storm(&reached).await, Err(ApiError::Down), "the last error, unchanged");
        stopped_short += u32::from(reached.get() - before < 4);
    }
    // 1 000 first attempts and at most 10·10 + 0.2·1 000 = 300 retries (of 3 000 wanted):
    // exactly that, all at one instant.
    assert_eq!(reached.get(), 1_000 + 300);
    assert_eq!(STORM.available(), 0);
    let exhausted: Vec<_> = capture
        .steadfast()
        .into_iter()
        .filter(|e| e.field("message") == Some("retry budget exhausted"))
        .collect();
    assert!(
        exhausted.iter().all(|e| e.level == Level::WARN && e.field("function") == Some("storm"))
    );
    // One event for each call that found the budget empty, at the attempt that failed.
    assert_eq!(exhausted.len() as u32, stopped_short);
    assert!(stopped_short > 900);
    assert!(exhausted.iter().all(|e| matches!(e.field("attempt"), Some("1" | "2" | "3"))));
}

static SPREAD: RetryBudget = RetryBudget::new().ratio(0.5).min_per_second(2).window(secs(10));

#[retry(attempts = 3, delay = 10ms, backoff = constant, jitter = 0, budget = SPREAD)]
async fn spread(reached: &Cell<u32>) -> Result<(), ApiError> {
    reached.set(reached.get() + 1);
    Err(ApiError::Down)
}

#[tokio::test(start_paused = true)]
async fn a_storm_spread_over_the_window_never_exceeds_the_formula() {
    // 100 calls, one every 50 ms (5 s, inside one 10 s window), each wanting 2 retries.
    let start = Instant::now();
    let reached = Cell::new(0);
    let mut made = Vec::new();
    for i in 0..100_u32 {
        let before = reached.get();
        spread(&reached).await.unwrap_err();
        made.push(reached.get() - before - 1);
        // Never more than the formula for the calls made so far.
        let retries: u32 = made.iter().sum();
        // Half a retry per call, rounded down.
        let calls = i + 1;
        assert!(retries <= 20 + calls / 2, "after call {i}: {retries} retries");
        tokio::time::sleep_until(start + ms(50) * (i + 1)).await;
    }
    // 2·10 + 0.5·100 = 70 of the 200 retries wanted, and not one more.
    assert_eq!(made.iter().sum::<u32>(), 70);
    assert_eq!(made[..10], [2; 10], "the first calls find the reserve");
}

struct Service {
    budget: RetryBudget,
}

impl Service {
    #[retry(attempts = 3, delay = 0, budget = self.budget)]
    async fn call(&self, reached: &Cell<u32>) -> Result<(), ApiError> {
        reached.set(reached.get() + 1);
        Err(ApiError::Down)
    }
}

#[tokio::test(start_paused = true)]
async fn a_budget_owned_by_the_receiver() {
    let service =
        Service { budget: RetryBudget::new().ratio(0.0).min_per_second(1).window(secs(3)) };
    let reached = Cell::new(0);
    for _ in 0..5 {
        service.call(&reached).await.unwrap_err();
    }
    assert_eq!(reached.get(), 5 + 3, "1 per second over 3 s");
}

#[tokio::test(start_paused = true)]
async fn retry_policy_budget_without_the_attribute() {
    static POLICY_BUDGET: RetryBudget =
        RetryBudget::new().ratio(0.0).min_per_second(1).window(secs(2));
    let policy =
        steadfast::RetryPolicy::new().attempts(5).delay(Duration::ZERO).budget(&POLICY_BUDGET);
    let tries = Cell::new(0);
    for _ in 0..4 {
        let out: Result<(), ApiError> = policy
            .run(|| {
                tries.set(tries.get() + 1);
                async { Err(ApiError::Down) }
            })
            .await;
        assert_eq!(out, Err(ApiError::Down));
    }
    assert_eq!(tries.get(), 4 + 2);
}

// ---------------------------------------------------------------- allocation

#[test]
fn the_closed_success_path_of_the_attribute_allocates_nothing() {
    #[circuit_breaker(slow_call = 1s, when = ApiError::is_outage)]
    async fn own(n: u64) -> Result<u64, ApiError> {
        Ok(n + 1)
    }
    #[retry(attempts = 3, delay = 10ms, budget = STORM_FREE)]
    #[circuit_breaker(using = PAYMENTS_FREE)]
    async fn composed(n: u64) -> Result<u64, ApiError> {
        Ok(n + 1)
    }
    static PAYMENTS_FREE: Breaker = Breaker::new();
    static STORM_FREE: RetryBudget = RetryBudget::new();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
    let _context = runtime.enter();
    let poll = |fut: std::pin::Pin<&mut dyn Future<Output = Result<u64, ApiError>>>| match fut
        .poll(&mut std::task::Context::from_waker(std::task::Waker::noop()))
    {
        std::task::Poll::Ready(out) => assert_eq!(out, Ok(2)),
        std::task::Poll::Pending => panic!("finishes on the first poll"),
    };
    poll(std::pin::pin!(own(1)));
    poll(std::pin::pin!(composed(1)));
    assert_eq!(allocation_counter::measure(|| poll(std::pin::pin!(own(1)))).count_total, 0);
    assert_eq!(allocation_counter::measure(|| poll(std::pin::pin!(composed(1)))).count_total, 0);
}

// ---------------------------------------------------------------- breakers over breakers

static GATEWAY: Breaker = Breaker::new().min_calls(1);
static BACKEND: Breaker = Breaker::new().min_calls(3).open_for(secs(60));

#[circuit_breaker(using = GATEWAY)]
#[retry(attempts = 2, delay = 10ms, jitter = 0)]
#[circuit_breaker(using = BACKEND)]
async fn layered(fail: bool) -> Result<(), ApiError> {
    outcome(fail)
}

#[tokio::test(start_paused = true)]
async fn a_refusal_below_is_never_a_failure_above() {
    BACKEND.isolate();
    for _ in 0..5 {
        assert!(refusal(layered(false).await).is_some(), "refused by the backend's breaker");
    }
    assert_eq!(
        GATEWAY.state(),
        BreakerState::Closed,
        "the refusals were not failures of the gateway"
    );
    // They counted as answers: with a fresh window, a failure that ran is one (two
    // attempts, under the backend's `min_calls`).
    BACKEND.reset();
    GATEWAY.reset();
    assert_eq!(layered(true).await, Err(ApiError::Down));
    assert_eq!(BACKEND.state(), BreakerState::Closed);
    assert_eq!(GATEWAY.state(), BreakerState::Open);
}
