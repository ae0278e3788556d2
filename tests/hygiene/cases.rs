// Functions under every attribute, written where the caller shadows the prelude
// (`Result`, `Ok`, `Err`, `Option`, `Some`, `None`, `Box`, `Vec`, `String`) and
// `Duration`, and declares modules named `std`, `core`, `tokio` and `tracing`.
// Included by `tests/tests/hygiene.rs` (edition 2024) and by the `edition2021` crate,
// both compiled under `#![deny(warnings, clippy::all, clippy::pedantic)]` and
// `#![forbid(unsafe_code)]`.

pub mod std {}
pub mod core {}
pub mod tokio {}
pub mod tracing {}

pub struct Result;
pub struct Ok;
pub struct Err;
pub struct Option;
pub struct Some;
pub struct None;
pub struct Box;
pub struct Vec;
pub struct String;
pub struct Duration;

/// The error of the hygiene cases.
#[derive(Debug)]
pub struct Failure;

impl ::core::fmt::Display for Failure {
    fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
        f.write_str("failure")
    }
}

impl ::std::error::Error for Failure {}

impl ::core::convert::From<::steadfast::TimedOut> for Failure {
    fn from(_: ::steadfast::TimedOut) -> Self {
        Failure
    }
}

impl ::core::convert::From<::steadfast::Rejected> for Failure {
    fn from(_: ::steadfast::Rejected) -> Self {
        Failure
    }
}

impl ::core::convert::From<::steadfast::Panicked> for Failure {
    fn from(_: ::steadfast::Panicked) -> Self {
        Failure
    }
}

impl ::core::convert::From<::steadfast::CircuitOpen> for Failure {
    fn from(_: ::steadfast::CircuitOpen) -> Self {
        Failure
    }
}

/// A breaker shared by name.
pub static SHARED: ::steadfast::Breaker = ::steadfast::Breaker::new().min_calls(1);
/// A retry budget shared by name.
pub static RETRIES: ::steadfast::RetryBudget = ::steadfast::RetryBudget::new();

/// `#[retry(budget)]` over `#[circuit_breaker]` with every setting.
///
/// # Errors
///
/// When `fail` is set, or the breaker is open.
#[::steadfast::retry(attempts = 3, delay = 0, budget = RETRIES)]
#[::steadfast::circuit_breaker(failure_rate = 0.5, min_calls = 2, window = 1s, open_for = 1s, half_open_calls = 1, slow_call = 1s, when = |_| true)]
pub async fn guarded(fail: bool) -> ::core::result::Result<u32, Failure> {
    if fail {
        return ::core::result::Result::Err(Failure);
    }
    ::core::result::Result::Ok(1)
}

/// Two retries over two breakers: each breaker tells the retry nearest above it.
///
/// # Errors
///
/// When `fail` is set, or a breaker is open.
#[::steadfast::retry(attempts = 2, delay = 0)]
#[::steadfast::retry(attempts = 2, delay = 0)]
#[::steadfast::circuit_breaker(min_calls = 100)]
#[::steadfast::circuit_breaker(using = SHARED)]
pub async fn nested(fail: bool) -> ::core::result::Result<u32, Failure> {
    if fail {
        return ::core::result::Result::Err(Failure);
    }
    ::core::result::Result::Ok(1)
}

/// `#[circuit_breaker]` on a shared breaker.
///
/// # Errors
///
/// When the breaker is open.
#[::steadfast::circuit_breaker(using = SHARED)]
pub async fn shared() -> ::core::result::Result<(), Failure> {
    ::core::result::Result::Ok(())
}

/// Every attribute at once, with every argument kind.
///
/// # Errors
///
/// When `fail` is set.
#[::steadfast::error_boundary("hygiene", level = warn, catch_panic)]
#[::steadfast::retry(attempts = 2, delay = 1ms, jitter = 0, max_elapsed = 1s, when = |_| true, retry_after = |_| ::core::option::Option::None)]
#[::steadfast::timeout(1s)]
#[::steadfast::limit(concurrency = 2, rate = 10, per = 1s, wait = 1s)]
pub async fn everything(
    text: &str,
    count: u32,
    log: &mut ::std::vec::Vec<u32>,
    fail: bool,
) -> ::core::result::Result<u32, Failure> {
    log.push(count);
    if fail {
        return ::core::result::Result::Err(Failure);
    }
    ::core::result::Result::Ok(u32::try_from(text.len()).unwrap_or(0) + count)
}

/// `#[timeout]` alone.
///
/// # Errors
///
/// Never.
#[::steadfast::timeout(10ms)]
pub async fn timed() -> ::core::result::Result<(), Failure> {
    ::core::result::Result::Ok(())
}

/// `#[limit]` alone, on a function without a `Result`.
#[::steadfast::limit(concurrency = 1)]
pub async fn limited(n: u32) -> u32 {
    n + 1
}

static HEDGE_BUDGET: ::steadfast::RetryBudget = ::steadfast::RetryBudget::new();

/// `#[hedge]` with every argument, and shared, owned and `mut` arguments.
///
/// # Errors
///
/// Never.
#[::steadfast::hedge(after = p95, max = 3, when = |_| true, budget = HEDGE_BUDGET)]
pub async fn hedged(
    text: &str,
    owned: ::std::string::String,
    mut n: u32,
) -> ::core::result::Result<u32, Failure> {
    n += u32::try_from(owned.len()).unwrap_or(0);
    ::core::result::Result::Ok(u32::try_from(text.len()).unwrap_or(0) + n)
}

/// `#[hedge]` with a duration, under `#[timeout]`.
///
/// # Errors
///
/// Never.
#[::steadfast::timeout(1s)]
#[::steadfast::hedge(after = 10ms)]
pub async fn hedged_timed(n: u32) -> ::core::result::Result<u32, Failure> {
    ::core::result::Result::Ok(n)
}

fn on_retry_hook(_: &Failure, info: &::steadfast::RetryInfo) {
    assert!(info.attempt() < info.max_attempts());
}

/// `#[retry]`'s hook, list of delays, attempt number, level and hint cap.
///
/// # Errors
///
/// Before the third attempt.
#[::steadfast::retry(schedule = [::core::time::Duration::ZERO; 2], on_retry = on_retry_hook, attempt = n, level = debug, max_retry_after = 1s, jitter = full)]
pub async fn listed() -> ::core::result::Result<u32, Failure> {
    if n < 3 { ::core::result::Result::Err(Failure) } else { ::core::result::Result::Ok(n) }
}

/// `#[error_boundary]` over `#[retry]` on a plain `fn`.
///
/// # Errors
///
/// When `fail` is set.
#[::steadfast::error_boundary(catch_panic)]
#[::steadfast::retry(attempts = 2, delay = 0, backoff = fibonacci, attempt = n)]
pub fn blocking(fail: bool, log: &mut ::std::vec::Vec<u32>) -> ::core::result::Result<u32, Failure> {
    log.push(n);
    if fail { ::core::result::Result::Err(Failure) } else { ::core::result::Result::Ok(n) }
}

/// Runs the cases on a current-thread runtime.
///
/// # Panics
///
/// If a case does not behave.
pub fn run() {
    let runtime = ::tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
    runtime.block_on(async {
        let mut log = ::std::vec::Vec::new();
        assert!(matches!(everything("abc", 1, &mut log, false).await, ::core::result::Result::Ok(4)));
        assert!(everything("abc", 2, &mut log, true).await.is_err());
        assert_eq!(log, [1, 2, 2]);
        assert!(timed().await.is_ok());
        assert_eq!(limited(1).await, 2);
        assert!(matches!(hedged("ab", "cd".into(), 1).await, ::core::result::Result::Ok(5)));
        assert!(matches!(hedged_timed(3).await, ::core::result::Result::Ok(3)));
        assert!(matches!(listed().await, ::core::result::Result::Ok(3)));
        assert!(matches!(guarded(false).await, ::core::result::Result::Ok(1)));
        assert!(guarded(true).await.is_err());
        assert!(shared().await.is_ok());
        assert!(matches!(nested(false).await, ::core::result::Result::Ok(1)));
    });
    let mut log = ::std::vec::Vec::new();
    assert!(blocking(true, &mut log).is_err());
    assert!(matches!(blocking(false, &mut log), ::core::result::Result::Ok(1)));
    assert_eq!(log, [1, 2, 1]);
}
