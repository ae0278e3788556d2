//! `#[retry]`: exact schedules on the paused clock, arguments per attempt,
//! cancellation, events, and stacking with `#[timeout]` and `#[error_boundary]`.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use steadfast::{TimedOut, error_boundary, retry, timeout};
use steadfast_tests::Capture;
use tokio::time::{Instant, sleep};

#[derive(Debug, Clone, PartialEq)]
enum ApiError {
    Unavailable(u32),
    NotFound,
    Throttled(Duration),
    TimedOut,
}

impl ApiError {
    fn is_transient(&self) -> bool {
        !matches!(self, ApiError::NotFound)
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            ApiError::Throttled(d) => Some(*d),
            _ => None,
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}

impl From<TimedOut> for ApiError {
    fn from(_: TimedOut) -> Self {
        ApiError::TimedOut
    }
}

/// Records when each attempt of a test function started, relative to `origin`.
/// Thread-local: every `#[tokio::test]` runs on its own thread.
struct Starts;

thread_local! {
    static STARTED: std::cell::RefCell<Vec<Duration>> = const { std::cell::RefCell::new(Vec::new()) };
}

impl Starts {
    fn record(&self, origin: Instant) -> u32 {
        STARTED.with_borrow_mut(|v| {
            v.push(origin.elapsed());
            v.len() as u32
        })
    }
    fn take_ms(&self) -> Vec<u128> {
        STARTED.with_borrow_mut(std::mem::take).iter().map(|d| d.as_millis()).collect()
    }
}

static STARTS: Starts = Starts;

macro_rules! failing {
    ($name:ident, $($args:tt)*) => {
        #[retry($($args)*)]
        async fn $name(origin: Instant) -> Result<(), ApiError> {
            let n = STARTS.record(origin);
            Err(ApiError::Unavailable(n))
        }
    };
}

failing!(exponential, attempts = 4, delay = 100ms, jitter = 0);
failing!(linear, attempts = 4, delay = 100ms, backoff = linear, jitter = 0);
failing!(constant, attempts = 4, delay = 100ms, backoff = constant, jitter = 0);
failing!(factor_three, attempts = 4, delay = 100ms, factor = 3, jitter = 0);
failing!(capped, attempts = 5, delay = 100ms, max_delay = 250ms, jitter = 0);
failing!(defaults_without_jitter, jitter = 0);
failing!(budget, attempts = 10, delay = 100ms, jitter = 0, max_elapsed = 1s);

async fn schedule<F: Future<Output = Result<(), ApiError>>>(
    call: impl FnOnce(Instant) -> F,
) -> (Vec<u128>, ApiError, u128) {
    let origin = Instant::now();
    let err = call(origin).await.unwrap_err();
    (STARTS.take_ms(), err, origin.elapsed().as_millis())
}

#[tokio::test(start_paused = true)]
async fn schedules_sleep_exactly_and_return_the_last_error() {
    assert_eq!(
        schedule(exponential).await,
        (vec![0, 100, 300, 700], ApiError::Unavailable(4), 700)
    );
    assert_eq!(schedule(linear).await, (vec![0, 100, 300, 600], ApiError::Unavailable(4), 600));
    assert_eq!(schedule(constant).await, (vec![0, 100, 200, 300], ApiError::Unavailable(4), 300));
    assert_eq!(
        schedule(factor_three).await,
        (vec![0, 100, 400, 1300], ApiError::Unavailable(4), 1300)
    );
    assert_eq!(
        schedule(capped).await,
        (vec![0, 100, 300, 550, 800], ApiError::Unavailable(5), 800)
    );
    // Defaults: 3 attempts, 100 ms, exponential.
    assert_eq!(
        schedule(defaults_without_jitter).await,
        (vec![0, 100, 300], ApiError::Unavailable(3), 300)
    );
}

#[tokio::test(start_paused = true)]
async fn max_elapsed_never_starts_an_attempt_after_the_budget() {
    // Starts at 0, 100, 300, 700; the next would start at 1500 > 1000, so the delay
    // is not slept and the 4th error comes back at 700 ms.
    assert_eq!(schedule(budget).await, (vec![0, 100, 300, 700], ApiError::Unavailable(4), 700));
}

failing!(jittered, attempts = 2, delay = 1s, jitter = 0.5);
failing!(jittered_capped, attempts = 2, delay = 1s, jitter = 0.5, max_delay = 1100ms);
failing!(default_jitter, attempts = 2, delay = 1s);

#[tokio::test(start_paused = true)]
async fn jitter_stays_within_its_range_varies_and_never_passes_max_delay() {
    let mut gaps = Vec::new();
    for _ in 0..200 {
        let (starts, _, _) = schedule(jittered).await;
        gaps.push(starts[1]);
    }
    assert!(gaps.iter().all(|g| (500..=1500).contains(g)), "{gaps:?}");
    let distinct: std::collections::HashSet<_> = gaps.iter().collect();
    assert!(distinct.len() > 50, "jitter must vary: {distinct:?}");

    for _ in 0..200 {
        let (starts, _, _) = schedule(jittered_capped).await;
        assert!((500..=1100).contains(&starts[1]), "{starts:?}");
        let (starts, _, _) = schedule(default_jitter).await;
        assert!((500..=1500).contains(&starts[1]), "{starts:?}");
    }
}

#[retry(attempts = 5, delay = 100ms, jitter = 0, when = ApiError::is_transient)]
async fn predicate(origin: Instant, fail_with: ApiError) -> Result<(), ApiError> {
    STARTS.record(origin);
    Err(fail_with)
}

#[retry(attempts = 5, delay = 100ms, jitter = 0, when = |e: &ApiError| matches!(e, ApiError::Unavailable(_)))]
async fn closure_predicate(origin: Instant, fail_with: ApiError) -> Result<(), ApiError> {
    STARTS.record(origin);
    Err(fail_with)
}

#[tokio::test(start_paused = true)]
async fn when_false_returns_at_once() {
    assert_eq!(
        schedule(|o| predicate(o, ApiError::NotFound)).await,
        (vec![0], ApiError::NotFound, 0)
    );
    assert_eq!(
        schedule(|o| predicate(o, ApiError::Unavailable(0))).await,
        (vec![0, 100, 300, 700, 1500], ApiError::Unavailable(0), 1500)
    );
    assert_eq!(
        schedule(|o| closure_predicate(o, ApiError::NotFound)).await,
        (vec![0], ApiError::NotFound, 0)
    );
    assert_eq!(schedule(|o| closure_predicate(o, ApiError::Unavailable(1))).await.0.len(), 5);
}

#[retry(attempts = 3, delay = 100ms, jitter = 0, retry_after = ApiError::retry_after)]
async fn throttled(origin: Instant, hint: Duration) -> Result<(), ApiError> {
    STARTS.record(origin);
    Err(ApiError::Throttled(hint))
}

#[retry(attempts = 3, delay = 100ms, jitter = 0, retry_after = ApiError::retry_after, max_elapsed = 3s)]
async fn throttled_with_budget(origin: Instant, hint: Duration) -> Result<(), ApiError> {
    STARTS.record(origin);
    Err(ApiError::Throttled(hint))
}

#[tokio::test(start_paused = true)]
async fn retry_after_replaces_the_delay_within_max_elapsed() {
    let hint = Duration::from_secs(2);
    assert_eq!(
        schedule(|o| throttled(o, hint)).await,
        (vec![0, 2000, 4000], ApiError::Throttled(hint), 4000)
    );
    // Longer than `max_delay` (10 s): the server's hint is honoured.
    let long = Duration::from_secs(30);
    assert_eq!(schedule(|o| throttled(o, long)).await.0, vec![0, 30_000, 60_000]);
    // With a 3 s budget: 0, 2000; the next would start at 4000 > 3000.
    assert_eq!(
        schedule(|o| throttled_with_budget(o, hint)).await,
        (vec![0, 2000], ApiError::Throttled(hint), 2000)
    );
    // A hint beyond the budget is not slept at all.
    assert_eq!(
        schedule(|o| throttled_with_budget(o, long)).await,
        (vec![0], ApiError::Throttled(long), 0)
    );
}

// ---- arguments are intact for every attempt --------------------------------------

static CLONES: AtomicU32 = AtomicU32::new(0);

#[derive(Debug)]
struct Payload(String);

impl Clone for Payload {
    fn clone(&self) -> Self {
        CLONES.fetch_add(1, Ordering::SeqCst);
        Payload(self.0.clone())
    }
}

#[retry(attempts = 3, delay = 10ms, jitter = 0)]
async fn every_kind_of_argument(
    shared: &str,
    log: &mut Vec<String>,
    mut owned: Payload,
    (a, b): (u32, u32),
    mut count: u32,
) -> Result<usize, ApiError> {
    owned.0.push('!');
    count += a + b;
    log.push(format!("{shared} {} {count}", owned.0));
    if log.len() < 3 { Err(ApiError::Unavailable(count)) } else { Ok(log.len()) }
}

#[tokio::test(start_paused = true)]
async fn references_reused_mut_reborrowed_owned_cloned_per_attempt() {
    CLONES.store(0, Ordering::SeqCst);
    let mut log = Vec::new();
    let result = every_kind_of_argument("s", &mut log, Payload("p".into()), (1, 2), 10).await;
    assert_eq!(result, Ok(3));
    // Every attempt saw the arguments as passed, not as the last attempt left them.
    assert_eq!(log, ["s p! 13", "s p! 13", "s p! 13"]);
    // A clone for every attempt but the last, which takes the original.
    assert_eq!(CLONES.load(Ordering::SeqCst), 2);
}

struct Client {
    calls: u32,
}

impl Client {
    #[retry(attempts = 4, delay = 50ms, jitter = 0)]
    async fn connect(&mut self) -> Result<u32, ApiError> {
        self.calls += 1;
        if self.calls < 3 { Err(ApiError::Unavailable(self.calls)) } else { Ok(self.calls) }
    }

    #[retry(attempts = 2, delay = 50ms, jitter = 0)]
    async fn peek(&self, fail: bool) -> Result<u32, ApiError> {
        if fail { Err(ApiError::NotFound) } else { Ok(self.calls) }
    }

    #[retry(attempts = 2, delay = 50ms, jitter = 0)]
    async fn consume(self) -> Result<u32, ApiError> {
        Ok(self.calls)
    }
}

#[tokio::test(start_paused = true)]
async fn mut_self_methods_retry() {
    let start = Instant::now();
    let mut client = Client { calls: 0 };
    assert_eq!(client.connect().await, Ok(3));
    assert_eq!(start.elapsed(), Duration::from_millis(150));
    assert_eq!(client.peek(false).await, Ok(3));
    assert_eq!(client.peek(true).await, Err(ApiError::NotFound));
    assert_eq!(client.consume().await, Ok(3));
}

// ---- cancellation, Send, events -------------------------------------------------

static RUNS: AtomicU32 = AtomicU32::new(0);

#[retry(attempts = 100, delay = 100ms, backoff = constant, jitter = 0)]
async fn forever() -> Result<(), ApiError> {
    RUNS.fetch_add(1, Ordering::SeqCst);
    Err(ApiError::Unavailable(0))
}

#[tokio::test(start_paused = true)]
async fn dropping_the_future_stops_retrying_at_once() {
    RUNS.store(0, Ordering::SeqCst);
    let task = tokio::spawn(forever());
    sleep(Duration::from_millis(250)).await;
    assert_eq!(RUNS.load(Ordering::SeqCst), 3); // at 0, 100, 200
    task.abort();
    sleep(Duration::from_secs(60)).await;
    assert_eq!(RUNS.load(Ordering::SeqCst), 3);

    // Also when the future is dropped in place, not spawned.
    RUNS.store(0, Ordering::SeqCst);
    let _ = tokio::time::timeout(Duration::from_millis(150), forever()).await;
    sleep(Duration::from_secs(60)).await;
    assert_eq!(RUNS.load(Ordering::SeqCst), 2);
}

#[tokio::test(start_paused = true)]
async fn each_retry_emits_a_warn_event() {
    let capture = Capture::start();
    let origin = Instant::now();
    exponential(origin).await.unwrap_err();
    STARTS.take_ms();
    let events = capture.steadfast();
    assert_eq!(events.len(), 3, "one per retry, none for the final error: {events:#?}");
    for (i, (e, delay)) in events.iter().zip(["100", "200", "400"]).enumerate() {
        assert_eq!(e.level, tracing::Level::WARN);
        assert_eq!(e.field("function"), Some("exponential"));
        assert_eq!(e.field("attempt"), Some((i + 1).to_string().as_str()));
        assert_eq!(e.field("max_attempts"), Some("4"));
        assert_eq!(e.field("delay_ms"), Some(delay));
        assert_eq!(e.field("error"), Some(format!("Unavailable({})", i + 1).as_str()));
    }
}

#[tokio::test(start_paused = true)]
async fn the_future_is_send() {
    let mut client = Client { calls: 0 };
    let handle = tokio::spawn(async move { client.connect().await });
    assert_eq!(handle.await.unwrap(), Ok(3));
}

// ---- stacking --------------------------------------------------------------------

#[retry(attempts = 3, delay = 100ms, jitter = 0)]
#[timeout(250ms)]
async fn timeout_per_attempt(origin: Instant) -> Result<(), ApiError> {
    STARTS.record(origin);
    sleep(Duration::from_millis(300)).await;
    Ok(())
}

#[timeout(1s)]
#[retry(attempts = 5, delay = 100ms, jitter = 0)]
async fn timeout_for_everything(origin: Instant) -> Result<(), ApiError> {
    let n = STARTS.record(origin);
    sleep(Duration::from_millis(300)).await;
    Err(ApiError::Unavailable(n))
}

#[tokio::test(start_paused = true)]
async fn retry_over_timeout_gives_each_attempt_its_own_deadline() {
    // 0–250 timed out, sleep 100, 350–600 timed out, sleep 200, 800–1050 timed out.
    assert_eq!(schedule(timeout_per_attempt).await, (vec![0, 350, 800], ApiError::TimedOut, 1050));
}

#[tokio::test(start_paused = true)]
async fn timeout_over_retry_bounds_all_attempts_together() {
    // 0–300 failed, sleep 100, 400–700 failed, sleep 200, 900–: cut at 1000.
    assert_eq!(
        schedule(timeout_for_everything).await,
        (vec![0, 400, 900], ApiError::TimedOut, 1000)
    );
}

#[error_boundary("outside")]
#[retry(attempts = 3, delay = 100ms, jitter = 0)]
async fn boundary_over_retry(origin: Instant) -> Result<(), ApiError> {
    let n = STARTS.record(origin);
    Err(ApiError::Unavailable(n))
}

#[retry(attempts = 3, delay = 100ms, jitter = 0)]
#[error_boundary("inside")]
async fn retry_over_boundary(origin: Instant) -> Result<(), ApiError> {
    let n = STARTS.record(origin);
    Err(ApiError::Unavailable(n))
}

#[tokio::test(start_paused = true)]
async fn a_boundary_outside_retry_logs_only_the_final_error() {
    let capture = Capture::start();
    assert_eq!(
        schedule(boundary_over_retry).await,
        (vec![0, 100, 300], ApiError::Unavailable(3), 300)
    );
    let events = capture.steadfast();
    let errors: Vec<_> = events.iter().filter(|e| e.level == tracing::Level::ERROR).collect();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].field("error"), Some("Unavailable(3)"));
    assert_eq!(events.iter().filter(|e| e.level == tracing::Level::WARN).count(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_boundary_inside_retry_logs_every_attempt() {
    let capture = Capture::start();
    assert_eq!(schedule(retry_over_boundary).await.1, ApiError::Unavailable(3));
    let errors: Vec<_> =
        capture.steadfast().into_iter().filter(|e| e.level == tracing::Level::ERROR).collect();
    assert_eq!(errors.len(), 3);
    assert_eq!(errors[2].field("error"), Some("Unavailable(3)"));
}

static ZERO_CALLS: AtomicU32 = AtomicU32::new(0);

// The port-bind loop of a real project: 150 attempts with no delay.
#[retry(attempts = 150, delay = 0, jitter = 0)]
async fn bind_port() -> Result<(), ApiError> {
    let n = ZERO_CALLS.fetch_add(1, Ordering::SeqCst) + 1;
    Err(ApiError::Unavailable(n))
}

#[tokio::test(start_paused = true)]
async fn a_zero_delay_arms_no_timer_and_retries_at_once() {
    let start = Instant::now();
    assert_eq!(bind_port().await, Err(ApiError::Unavailable(150)));
    assert_eq!(ZERO_CALLS.load(Ordering::SeqCst), 150);
    // A zero `tokio::time::sleep` waits for the timer's next 1 ms tick, which the
    // paused clock would show as 149 ms here.
    assert_eq!(start.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn a_computed_zero_delay_does_not_sleep_either() {
    // Exponential from an expression that is zero at run time.
    fn configured() -> Duration {
        Duration::ZERO
    }
    #[retry(attempts = 20, delay = configured())]
    async fn f(calls: &mut u32) -> Result<(), ApiError> {
        *calls += 1;
        Err(ApiError::Unavailable(*calls))
    }
    let start = Instant::now();
    let mut calls = 0;
    assert_eq!(f(&mut calls).await, Err(ApiError::Unavailable(20)));
    assert_eq!(start.elapsed(), Duration::ZERO);
}

/// Schedule values read from a configuration at run time.
struct Config {
    attempts: u32,
    factor: f64,
    jitter: f64,
    delay: Duration,
    max_delay: Duration,
}

#[retry(attempts = cfg.attempts, factor = cfg.factor, jitter = cfg.jitter,
        delay = cfg.delay, max_delay = cfg.max_delay)]
async fn configured(cfg: &Config, calls: &mut u32, origin: Instant) -> Result<(), ApiError> {
    *calls += 1;
    Err(ApiError::Unavailable(origin.elapsed().as_millis() as u32))
}

#[tokio::test(start_paused = true)]
async fn invalid_expressions_are_clamped_with_an_error_event_naming_them() {
    let capture = Capture::start();
    let cfg = Config {
        attempts: 3,
        factor: 0.5,
        jitter: 1.5,
        delay: Duration::from_millis(100),
        max_delay: Duration::from_millis(50),
    };
    let origin = Instant::now();
    let mut calls = 0;
    // factor 1 (constant 100 ms), jitter 1 (uniform in [0, 200 ms]), max_delay 100 ms:
    // every delay is in [0, 100 ms].
    configured(&cfg, &mut calls, origin).await.unwrap_err();
    assert_eq!(calls, 3);
    assert!(origin.elapsed() <= Duration::from_millis(200), "{:?}", origin.elapsed());
    let events = capture.steadfast();
    let clamped: Vec<_> = events
        .iter()
        .filter(|e| e.level == tracing::Level::ERROR)
        .map(|e| {
            assert_eq!(e.field("function"), Some("configured"));
            (e.field("argument").unwrap(), e.field("value").unwrap(), e.field("used").unwrap())
        })
        .collect();
    assert_eq!(
        clamped,
        [("factor", "0.5", "1"), ("jitter", "1.5", "1"), ("max_delay", "50ms", "100ms")]
    );

    // `attempts = 0` runs once, says so, and never panics.
    let capture = Capture::start();
    let cfg = Config { attempts: 0, factor: 2.0, jitter: 0.0, ..cfg };
    let mut calls = 0;
    let cfg = Config { max_delay: Duration::from_secs(1), ..cfg };
    configured(&cfg, &mut calls, origin).await.unwrap_err();
    assert_eq!(calls, 1);
    let events = capture.steadfast();
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0].level, tracing::Level::ERROR);
    assert_eq!(events[0].field("argument"), Some("attempts"));
    assert_eq!(events[0].field("value"), Some("0"));
    assert_eq!(events[0].field("used"), Some("1"));

    // A valid configuration logs nothing of the kind.
    let capture = Capture::start();
    let cfg = Config { attempts: 2, ..cfg };
    let mut calls = 0;
    configured(&cfg, &mut calls, origin).await.unwrap_err();
    assert!(capture.steadfast().iter().all(|e| e.level != tracing::Level::ERROR));
}

#[tokio::test(start_paused = true)]
async fn huge_delays_saturate_instead_of_wrapping() {
    // With factor 1 and `max_delay = Duration::MAX`, a first delay of u64::MAX − 1 ms
    // stays exactly that (f64 arithmetic rounded it to u64::MAX ms).
    let p = steadfast::RetryPolicy::new()
        .delay(Duration::from_millis(u64::MAX - 1))
        .factor(1.0)
        .max_delay(Duration::MAX)
        .jitter(0.0);
    assert_eq!(p.jittered_delay(1), Duration::from_millis(u64::MAX - 1));
    assert_eq!(p.jittered_delay(u32::MAX), Duration::from_millis(u64::MAX - 1));
    // 10⁴ × (u64::MAX − 1) ms is past `Duration::MAX`: the second delay saturates.
    let p = p.factor(10_000.0);
    assert_eq!(p.jittered_delay(2), Duration::MAX);
    assert!((0..1000).all(|_| p.jitter(0.5).jittered_delay(5) == Duration::MAX));
}

// ----- the runtime API: schedules, hooks, levels, jitter modes, blocking retries -----

mod runtime_api {
    use super::*;
    use std::cell::RefCell;
    use steadfast::{Backoff, RetryInfo, RetryPolicy};

    /// Runs `policy` over an operation that always fails, and returns the start time
    /// (ms since the call) of each attempt.
    async fn starts(policy: RetryPolicy) -> Vec<u128> {
        let origin = Instant::now();
        let starts = RefCell::new(Vec::new());
        let _ = policy
            .run(|| {
                starts.borrow_mut().push(origin.elapsed().as_millis());
                async { Err::<(), _>(ApiError::Unavailable(0)) }
            })
            .await;
        starts.into_inner()
    }

    #[tokio::test(start_paused = true)]
    async fn fibonacci_backoff_sleeps_delay_times_fib_k() {
        let p = RetryPolicy::new()
            .attempts(7)
            .delay(Duration::from_millis(100))
            .backoff(Backoff::Fibonacci)
            .jitter(0.0);
        // Sleeps 100, 100, 200, 300, 500, 800.
        assert_eq!(starts(p).await, [0, 100, 200, 400, 700, 1200, 2000]);
        let capped = p.max_delay(Duration::from_millis(250));
        assert_eq!(starts(capped).await, [0, 100, 200, 400, 650, 900, 1150]);
    }

    #[tokio::test(start_paused = true)]
    async fn on_retry_sees_each_retried_error_before_its_sleep() {
        let seen = RefCell::new(Vec::new());
        let mut calls = 0;
        let origin = Instant::now();
        let out: Result<(), ApiError> = RetryPolicy::new()
            .attempts(4)
            .jitter(0.0)
            .when(ApiError::is_transient)
            .on_retry(|e: &ApiError, info: &RetryInfo| {
                // Called before the sleep: the clock still reads the failure's time.
                assert_eq!(origin.elapsed(), info.elapsed());
                seen.borrow_mut().push((e.clone(), *info));
            })
            .run(|| {
                calls += 1;
                let n = calls;
                async move { Err(if n < 3 { ApiError::Unavailable(n) } else { ApiError::NotFound }) }
            })
            .await;
        assert_eq!(out, Err(ApiError::NotFound));
        let seen = seen.into_inner();
        let ms = Duration::from_millis;
        let info: Vec<_> = seen
            .iter()
            .map(|(e, i)| (e.clone(), i.attempt(), i.max_attempts(), i.delay(), i.elapsed()))
            .collect();
        // Not called for the error that is not retried.
        assert_eq!(
            info,
            [
                (ApiError::Unavailable(1), 1, 4, ms(100), ms(0)),
                (ApiError::Unavailable(2), 2, 4, ms(200), ms(100)),
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn full_and_equal_jitter_stay_in_their_ranges_and_replay_with_a_seed() {
        let base = RetryPolicy::new()
            .attempts(6)
            .delay(Duration::from_millis(1000))
            .backoff(Backoff::Constant);
        let full = base.full_jitter();
        let equal = base.equal_jitter();
        for _ in 0..500 {
            assert!(full.jittered_delay(1) <= Duration::from_millis(1000));
            let e = equal.jittered_delay(1);
            assert!((Duration::from_millis(500)..=Duration::from_millis(1000)).contains(&e));
        }
        let draws: std::collections::HashSet<_> =
            (0..200).map(|_| full.jittered_delay(1)).collect();
        assert!(draws.len() > 100, "full jitter must vary");
        assert!(draws.iter().any(|d| *d < Duration::from_millis(300)), "full reaches low values");

        // With a seed the delays are known in advance, and the run sleeps exactly them.
        for p in [full, equal, base.jitter(0.5)] {
            steadfast::jitter::seed(11);
            let expected: Vec<_> = (1..=5).map(|k| p.jittered_delay(k)).collect();
            steadfast::jitter::seed(11);
            let start = Instant::now();
            let got = starts(p).await;
            // tokio's timer rounds each sleep up to its next 1 ms tick.
            let ceil_ms = |d: &Duration| d.as_nanos().div_ceil(1_000_000);
            let mut at = 0;
            let mut want = vec![0];
            for d in &expected {
                at += ceil_ms(d);
                want.push(at);
            }
            assert_eq!(got, want);
            assert_eq!(start.elapsed().as_millis(), at);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn level_sets_the_retry_events_and_none_silences_them() {
        let p = RetryPolicy::new().attempts(3).jitter(0.0);
        let capture = Capture::start();
        starts(p.level(Some(tracing::Level::DEBUG))).await;
        let events = capture.steadfast();
        assert_eq!(events.len(), 2);
        assert!(events.iter().all(|e| e.level == tracing::Level::DEBUG));
        assert_eq!(events[1].field("max_attempts"), Some("3"));

        let capture = Capture::start();
        let start = Instant::now();
        starts(p.level(None)).await;
        assert!(capture.steadfast().is_empty());
        assert_eq!(start.elapsed(), Duration::from_millis(300), "the schedule is unchanged");
    }

    #[tokio::test(start_paused = true)]
    async fn a_hint_past_max_retry_after_ends_retrying_with_that_error() {
        let policy = RetryPolicy::new()
            .attempts(5)
            .jitter(0.0)
            .max_retry_after(Duration::from_secs(2))
            .retry_after(ApiError::retry_after);
        let hints = [Duration::from_secs(2), Duration::from_secs(30)];
        let mut calls = 0;
        let start = Instant::now();
        let out: Result<(), ApiError> = policy
            .run(|| {
                calls += 1;
                let hint = hints[calls - 1];
                async move { Err(ApiError::Throttled(hint)) }
            })
            .await;
        // 2 s is honoured; 30 s ends the retry at once.
        assert_eq!(out, Err(ApiError::Throttled(Duration::from_secs(30))));
        assert_eq!(calls, 2);
        assert_eq!(start.elapsed(), Duration::from_secs(2));
    }

    #[test]
    fn run_blocking_sleeps_the_schedule_on_the_thread() {
        let seen = RefCell::new(Vec::new());
        let mut calls = 0;
        let start = std::time::Instant::now();
        let out: Result<u32, ApiError> = RetryPolicy::new()
            .attempts(4)
            .delay(Duration::from_millis(20))
            .jitter(0.0)
            .when(ApiError::is_transient)
            .on_retry(|_: &ApiError, info: &RetryInfo| seen.borrow_mut().push(info.delay()))
            .run_blocking(|| {
                calls += 1;
                if calls < 3 { Err(ApiError::Unavailable(calls)) } else { Ok(calls) }
            });
        let elapsed = start.elapsed();
        assert_eq!(out, Ok(3));
        assert_eq!(seen.into_inner(), [Duration::from_millis(20), Duration::from_millis(40)]);
        // 20 ms + 40 ms of `std::thread::sleep`.
        assert!(
            (Duration::from_millis(60)..Duration::from_millis(100)).contains(&elapsed),
            "{elapsed:?}"
        );

        // `when` false, zero delays and `max_elapsed` on std's clock.
        let mut calls = 0;
        let out: Result<(), ApiError> = RetryPolicy::new().run_blocking(|| {
            calls += 1;
            Err(ApiError::NotFound)
        });
        assert_eq!((out, calls), (Err(ApiError::NotFound), 3), "every error is retried by default");
        let start = std::time::Instant::now();
        let out: Result<(), ApiError> = RetryPolicy::new()
            .attempts(50)
            .delay(Duration::from_millis(30))
            .backoff(Backoff::Constant)
            .jitter(0.0)
            .max_elapsed(Duration::from_millis(100))
            .run_blocking(|| Err(ApiError::Unavailable(0)));
        assert!(out.is_err());
        // Attempts at 0, 30, 60, 90; the next would start at 120 > 100.
        assert!(
            (Duration::from_millis(90)..Duration::from_millis(130)).contains(&start.elapsed()),
            "{:?}",
            start.elapsed()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_schedule_sleeps_its_items_in_order_until_it_runs_out() {
        let ms = Duration::from_millis;
        // Not capped by the default `max_delay`, no jitter unless set, no default
        // attempt limit: the schedule's length decides.
        let origin = Instant::now();
        let seen = RefCell::new(Vec::new());
        let out: Result<(), ApiError> = RetryPolicy::new()
            .schedule([ms(10), ms(20_000), ms(5)])
            .run(|| {
                seen.borrow_mut().push(origin.elapsed().as_millis());
                async { Err(ApiError::Unavailable(0)) }
            })
            .await;
        assert!(out.is_err());
        assert_eq!(seen.into_inner(), [0, 10, 20_010, 20_015]);

        // A written `max_delay` caps, written `attempts` stop early, any iterator works.
        let run = |p: steadfast::Retrying<_, _, _, _>| async move {
            let origin = Instant::now();
            let seen = RefCell::new(Vec::new());
            let _: Result<(), ApiError> = p
                .run(|| {
                    seen.borrow_mut().push(origin.elapsed().as_millis());
                    async { Err(ApiError::Unavailable(0)) }
                })
                .await;
            seen.into_inner()
        };
        let iter = (1..=10_u64).map(|k| ms(100 * k));
        let p = RetryPolicy::new().attempts(4).max_delay(ms(250)).schedule(iter);
        assert_eq!(run(p).await, [0, 100, 300, 550]);

        // A hint replaces an item (and uses it up); `when` still decides.
        let hints = RefCell::new(vec![Some(ms(1000)), None, None]);
        let origin = Instant::now();
        let mut calls = 0;
        let out: Result<(), ApiError> = RetryPolicy::new()
            .retry_after(|_: &ApiError| hints.borrow_mut().remove(0))
            .schedule(vec![ms(10), ms(20), ms(30)])
            .run(|| {
                calls += 1;
                async { Err(ApiError::Unavailable(0)) }
            })
            .await;
        assert!(out.is_err());
        assert_eq!(calls, 4);
        assert_eq!(origin.elapsed(), ms(1050)); // 1000 (the hint, for 10), 20, 30
    }

    #[tokio::test(start_paused = true)]
    async fn a_schedule_is_jittered_only_when_a_jitter_is_set() {
        let ms = Duration::from_millis;
        // The draw of a constant 1 s policy applies to the listed 1 s item.
        let constant = RetryPolicy::new()
            .attempts(2)
            .delay(ms(1000))
            .backoff(Backoff::Constant)
            .jitter(0.5)
            .max_delay(Duration::MAX);
        steadfast::jitter::seed(5);
        let want = constant.jittered_delay(1);
        steadfast::jitter::seed(5);
        let start = Instant::now();
        let _: Result<(), ApiError> =
            constant.schedule([ms(1000)]).run(|| async { Err(ApiError::Unavailable(0)) }).await;
        assert_eq!(start.elapsed().as_millis(), want.as_nanos().div_ceil(1_000_000));
        assert_ne!(want, ms(1000), "seed 5 draws a jittered delay");
        // Without a jitter the listed item is exact (the policy's default 0.5 is not used).
        let start = Instant::now();
        let _: Result<(), ApiError> = RetryPolicy::new()
            .schedule([ms(1000), ms(7)])
            .run(|| async { Err(ApiError::Unavailable(0)) })
            .await;
        assert_eq!(start.elapsed(), ms(1007));
    }

    #[tokio::test(start_paused = true)]
    async fn the_value_form_reports_clamped_values_once_per_run() {
        let capture = Capture::start();
        let p = RetryPolicy::new().attempts(0).factor(f64::NAN);
        for _ in 0..2 {
            let out: Result<(), ApiError> = p.run(|| async { Err(ApiError::Unavailable(1)) }).await;
            assert_eq!(out, Err(ApiError::Unavailable(1)));
        }
        let fields: Vec<_> = capture
            .steadfast()
            .iter()
            .map(|e| {
                assert_eq!(e.level, tracing::Level::ERROR);
                (e.field("argument").unwrap().to_owned(), e.field("used").unwrap().to_owned())
            })
            .collect();
        let one = [("attempts".to_owned(), "1".to_owned()), ("factor".to_owned(), "1".to_owned())];
        assert_eq!(fields, [one.clone(), one].concat());
    }
}
