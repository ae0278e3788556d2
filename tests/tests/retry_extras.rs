//! `#[retry]`'s arguments for code migrating from backon, tokio-retry2, p-retry and
//! hand-written loops (issue 11): `on_retry`, `backoff = fibonacci`, `schedule`,
//! `attempt`, `jitter = full | equal` and `jitter::seed`, `level`, `max_retry_after`,
//! on the paused clock with exact delays.

use std::cell::RefCell;
use std::time::Duration;

use steadfast::{RetryInfo, retry};
use steadfast_tests::Capture;
use tokio::time::Instant;

#[derive(Debug, Clone, PartialEq)]
enum ApiError {
    Unavailable(u32),
    Throttled(Duration),
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}

impl ApiError {
    fn hint(&self) -> Option<Duration> {
        match self {
            ApiError::Throttled(d) => Some(*d),
            ApiError::Unavailable(_) => None,
        }
    }
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// What a hook saw: the error, `attempt`, `max_attempts`, `delay`, `elapsed`.
type Hooked = (String, u32, u32, Duration, Duration);

thread_local! {
    // When each attempt started (ms since the test's origin), and what hooks saw.
    static STARTS: RefCell<Vec<u128>> = const { RefCell::new(Vec::new()) };
    static HOOKED: RefCell<Vec<Hooked>> = const { RefCell::new(Vec::new()) };
    static ORIGIN: RefCell<Option<Instant>> = const { RefCell::new(None) };
}

fn start_clock() {
    ORIGIN.with_borrow_mut(|o| *o = Some(Instant::now()));
    STARTS.with_borrow_mut(Vec::clear);
    HOOKED.with_borrow_mut(Vec::clear);
}

/// Records an attempt's start; returns its number (1-based).
fn attempt_started() -> u32 {
    let at = ORIGIN.with_borrow(|o| o.expect("start_clock first").elapsed().as_millis());
    STARTS.with_borrow_mut(|s| {
        s.push(at);
        s.len() as u32
    })
}

fn starts() -> Vec<u128> {
    STARTS.with_borrow(Clone::clone)
}

fn hooked() -> Vec<Hooked> {
    HOOKED.with_borrow(Clone::clone)
}

fn record_hook(error: &ApiError, info: &RetryInfo) {
    HOOKED.with_borrow_mut(|h| {
        h.push((
            error.to_string(),
            info.attempt(),
            info.max_attempts(),
            info.delay(),
            info.elapsed(),
        ))
    });
}

// ------------------------------------------------------------------ 1. on_retry

#[retry(attempts = 4, delay = 100ms, jitter = 0, on_retry = record_hook)]
async fn hooked_by_path() -> Result<u32, ApiError> {
    let n = attempt_started();
    tokio::time::sleep(ms(10)).await;
    if n < 4 { Err(ApiError::Unavailable(n)) } else { Ok(n) }
}

#[tokio::test(start_paused = true)]
async fn on_retry_path_sees_each_retry_before_its_sleep() {
    start_clock();
    assert_eq!(hooked_by_path().await, Ok(4));
    assert_eq!(starts(), [0, 110, 320, 730]);
    assert_eq!(
        hooked(),
        [
            ("Unavailable(1)".to_owned(), 1, 4, ms(100), ms(10)),
            ("Unavailable(2)".to_owned(), 2, 4, ms(200), ms(120)),
            ("Unavailable(3)".to_owned(), 3, 4, ms(400), ms(330)),
        ]
    );
}

#[retry(attempts = 3, delay = 50ms, jitter = 0, on_retry = |e: &ApiError, info: &RetryInfo| {
    HOOKED.with_borrow_mut(|h| h.push((format!("closure {e}"), info.attempt(), info.max_attempts(), info.delay(), info.elapsed())));
})]
async fn hooked_by_closure() -> Result<(), ApiError> {
    Err(ApiError::Unavailable(attempt_started()))
}

#[retry(attempts = 2, delay = 50ms, jitter = 0, on_retry = |e, info| {
    HOOKED.with_borrow_mut(|h| h.push((e.to_string(), info.attempt(), info.max_attempts(), info.delay(), info.elapsed())))
})]
async fn hooked_by_untyped_closure() -> Result<(), ApiError> {
    Err(ApiError::Unavailable(attempt_started()))
}

#[tokio::test(start_paused = true)]
async fn on_retry_takes_a_closure_and_is_not_called_after_the_last_attempt() {
    start_clock();
    assert_eq!(hooked_by_closure().await, Err(ApiError::Unavailable(3)));
    assert_eq!(starts(), [0, 50, 150]);
    assert_eq!(
        hooked(),
        [
            ("closure Unavailable(1)".to_owned(), 1, 3, ms(50), ms(0)),
            ("closure Unavailable(2)".to_owned(), 2, 3, ms(100), ms(50)),
        ]
    );
    start_clock();
    assert_eq!(hooked_by_untyped_closure().await, Err(ApiError::Unavailable(2)));
    assert_eq!(hooked(), [("Unavailable(1)".to_owned(), 1, 2, ms(50), ms(0))]);
}

// ------------------------------------------------------------------ 2. schedules

#[retry(attempts = 6, delay = 10ms, backoff = fibonacci, jitter = 0)]
async fn fibonacci() -> Result<(), ApiError> {
    Err(ApiError::Unavailable(attempt_started()))
}

#[tokio::test(start_paused = true)]
async fn fibonacci_sleeps_delay_times_fib_k() {
    start_clock();
    fibonacci().await.unwrap_err();
    // Delays 10, 10, 20, 30, 50.
    assert_eq!(starts(), [0, 10, 20, 40, 70, 120]);
}

#[retry(schedule = [ms(30), ms(5), ms(70)])]
async fn listed() -> Result<(), ApiError> {
    Err(ApiError::Unavailable(attempt_started()))
}

fn growing(step: u64) -> impl Iterator<Item = Duration> {
    (1..).map(move |k| ms(step * k))
}

#[retry(schedule = growing(*step), attempts = 4, max_delay = 25ms)]
async fn listed_by_call(step: &u64) -> Result<(), ApiError> {
    Err(ApiError::Unavailable(attempt_started()))
}

#[retry(schedule = vec![ms(100), ms(100)], jitter = 0.5)]
async fn listed_jittered() -> Result<(), ApiError> {
    Err(ApiError::Unavailable(attempt_started()))
}

#[tokio::test(start_paused = true)]
async fn a_schedule_sleeps_its_items_then_stops() {
    start_clock();
    // No `attempts`: the list decides (three retries), not the default of 3 attempts;
    // no jitter unless written.
    assert_eq!(listed().await, Err(ApiError::Unavailable(4)));
    assert_eq!(starts(), [0, 30, 35, 105]);
    // Evaluated at each call, capped by `max_delay`, stopped by `attempts`.
    start_clock();
    assert_eq!(listed_by_call(&10).await, Err(ApiError::Unavailable(4)));
    assert_eq!(starts(), [0, 10, 30, 55]);
    start_clock();
    assert_eq!(listed_by_call(&3).await, Err(ApiError::Unavailable(4)));
    assert_eq!(starts(), [0, 3, 9, 18]);
}

#[tokio::test(start_paused = true)]
async fn a_schedule_is_jittered_when_jitter_is_written() {
    steadfast::jitter::seed(11);
    start_clock();
    listed_jittered().await.unwrap_err();
    let first = starts();
    assert_eq!(first.len(), 3);
    let delays = [first[1] - first[0], first[2] - first[1]];
    assert!(delays.iter().all(|d| (50..=150).contains(d)), "{delays:?}");
    assert_ne!(delays, [100, 100], "jittered");
    // The same seed draws the same delays.
    steadfast::jitter::seed(11);
    start_clock();
    listed_jittered().await.unwrap_err();
    assert_eq!(starts(), first);
}

// ------------------------------------------------------------------ 4. attempt = NAME

#[retry(attempts = 3, delay = 10ms, jitter = 0, attempt = n)]
async fn numbered(log: &mut Vec<u32>) -> Result<u32, ApiError> {
    log.push(n);
    if n < 3 { Err(ApiError::Unavailable(n)) } else { Ok(n) }
}

#[tokio::test(start_paused = true)]
async fn attempt_binds_the_attempt_number_in_the_body() {
    let mut log = Vec::new();
    assert_eq!(numbered(&mut log).await, Ok(3));
    assert_eq!(log, [1, 2, 3]);
}

// ------------------------------------------------------------------ 5, 9. jitter

#[retry(attempts = 4, delay = 1s, backoff = constant, jitter = full)]
async fn full_jitter() -> Result<(), ApiError> {
    Err(ApiError::Unavailable(attempt_started()))
}

#[retry(attempts = 4, delay = 1s, backoff = constant, jitter = equal)]
async fn equal_jitter() -> Result<(), ApiError> {
    Err(ApiError::Unavailable(attempt_started()))
}

fn gaps(starts: &[u128]) -> Vec<u128> {
    starts.windows(2).map(|w| w[1] - w[0]).collect()
}

#[tokio::test(start_paused = true)]
async fn full_and_equal_jitter_draw_in_their_ranges_reproducibly() {
    let mut full = Vec::new();
    let mut equal = Vec::new();
    for seed in 0..20 {
        steadfast::jitter::seed(seed);
        start_clock();
        full_jitter().await.unwrap_err();
        full.extend(gaps(&starts()));
        steadfast::jitter::seed(seed);
        start_clock();
        equal_jitter().await.unwrap_err();
        equal.extend(gaps(&starts()));
    }
    assert!(full.iter().all(|d| *d <= 1000), "{full:?}");
    assert!(full.iter().any(|d| *d < 500), "full jitter reaches below d/2: {full:?}");
    assert!(equal.iter().all(|d| (500..=1000).contains(d)), "{equal:?}");
    // Seeded: the same draws again.
    steadfast::jitter::seed(3);
    start_clock();
    full_jitter().await.unwrap_err();
    let once = starts();
    steadfast::jitter::seed(3);
    start_clock();
    full_jitter().await.unwrap_err();
    assert_eq!(starts(), once);
}

// ------------------------------------------------------------------ 8. level

#[retry(attempts = 3, delay = 10ms, jitter = 0, level = debug)]
async fn quiet() -> Result<(), ApiError> {
    Err(ApiError::Unavailable(attempt_started()))
}

#[retry(attempts = 3, delay = 10ms, jitter = 0, level = off)]
async fn silent() -> Result<(), ApiError> {
    Err(ApiError::Unavailable(attempt_started()))
}

#[tokio::test(start_paused = true)]
async fn level_sets_or_silences_the_retry_events() {
    let capture = Capture::start();
    start_clock();
    quiet().await.unwrap_err();
    silent().await.unwrap_err();
    let events = capture.steadfast();
    assert_eq!(events.len(), 2, "{events:#?}");
    assert!(events.iter().all(|e| e.level == tracing::Level::DEBUG));
    assert!(events.iter().all(|e| e.field("function") == Some("quiet")));
    assert_eq!(events[1].field("attempt"), Some("2"));
    assert_eq!(starts(), [0, 10, 30, 30, 40, 60], "silent retries all the same");
}

// ------------------------------------------------------------------ 10. max_retry_after

#[retry(attempts = 5, delay = 10ms, jitter = 0, retry_after = ApiError::hint, max_retry_after = 1s)]
async fn throttled(hints: &[Duration]) -> Result<(), ApiError> {
    let n = attempt_started();
    Err(ApiError::Throttled(hints[n as usize - 1]))
}

#[tokio::test(start_paused = true)]
async fn a_hint_past_max_retry_after_ends_retrying_at_once() {
    start_clock();
    let hints = [ms(300), ms(1000), ms(1001), ms(5)];
    assert_eq!(throttled(&hints).await, Err(ApiError::Throttled(ms(1001))));
    // 300 ms, then 1 s (not past the cap); the third hint ends the call unslept.
    assert_eq!(starts(), [0, 300, 1300]);
    assert_eq!(Instant::now() - ORIGIN.with_borrow(|o| o.unwrap()), ms(1300));
}

// ------------------------------------------------------------------ all together

#[retry(
    schedule = [ms(1), ms(2), ms(3)],
    on_retry = record_hook,
    attempt = k,
    level = off,
    max_retry_after = 10ms,
    retry_after = ApiError::hint,
)]
async fn everything(name: String) -> Result<String, ApiError> {
    attempt_started();
    if k < 3 { Err(ApiError::Unavailable(k)) } else { Ok(format!("{name} {k}")) }
}

#[tokio::test(start_paused = true)]
async fn the_new_arguments_compose() {
    start_clock();
    assert_eq!(everything("x".to_owned()).await, Ok("x 3".to_owned()));
    assert_eq!(starts(), [0, 1, 3]);
    assert_eq!(hooked().iter().map(|h| (h.1, h.3)).collect::<Vec<_>>(), [(1, ms(1)), (2, ms(2))]);
}

fn is_send<T: Send>(_: &T) {}

#[test]
fn the_futures_stay_send() {
    is_send(&hooked_by_closure());
    is_send(&listed_by_call(&1));
    is_send(&everything(String::new()));
}
