//! The future of an annotated function is no bigger than the future of the same
//! function written by hand, plus 16 bytes (64 for `#[hedge]`, which keeps more state
//! than a hand-written race can): `size_of_val(&f(..))` for each attribute
//! and for the full stack, against a fair hand-written version of the same thing
//! (`tokio::time::timeout` around the same body, a retry loop, a semaphore permit, a
//! match that logs).
//!
//! Sizes depend on the compiler and on tokio (a `Sleep` is part of every timed
//! future). They are measured with the tokio of Cargo.lock and the features of this
//! crate: `time`, `sync`, `rt`, `rt-multi-thread`, `macros` and `test-util` (none of
//! which changes the size of `Sleep` or of a semaphore's `Acquire`). A failure here
//! means a wrapper started to hold something twice or to carry state the
//! hand-written code does not need: the message gives both sizes.

use std::future::poll_fn;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::pin;
use std::sync::Mutex;
use std::task::Poll;
use std::time::Duration;

use steadfast::{Panicked, Rejected, TimedOut, error_boundary, hedge, limit, retry, timeout};
use tokio::sync::Semaphore;
use tokio::time::Instant;

/// The slack allowed over the hand-written future, plus what steadfast's `metrics`
/// feature adds when the build has it on (a call's start and a limiter's place in its
/// gauges; 0 without the feature).
const SLACK: usize = 16 + steadfast::__private::METRICS_FUTURE_BYTES;

#[derive(Debug)]
struct Error;

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("error")
    }
}

impl std::error::Error for Error {}

impl From<TimedOut> for Error {
    fn from(_: TimedOut) -> Self {
        Error
    }
}

impl From<Rejected> for Error {
    fn from(_: Rejected) -> Self {
        Error
    }
}

impl From<Panicked> for Error {
    fn from(_: Panicked) -> Self {
        Error
    }
}

/// The body every function shares, called by the hand-written versions.
async fn body(x: &u64, n: u64) -> Result<u64, Error> {
    Ok(*x + n)
}

const TIMEOUT: Duration = Duration::from_secs(1);

fn delay(attempt: u32) -> Duration {
    Duration::from_millis(100) * 2_u32.pow(attempt - 1)
}

// ---------------------------------------------------------------- #[retry]

#[retry(attempts = 3, delay = 100ms)]
async fn retried(x: &u64, n: u64) -> Result<u64, Error> {
    Ok(*x + n)
}

async fn hand_retry(x: &u64, n: u64) -> Result<u64, Error> {
    let mut attempt = 1;
    loop {
        match body(x, n).await {
            Err(error) if attempt < 3 => {
                tracing::warn!(attempt, %error, "retrying");
                tokio::time::sleep(delay(attempt)).await;
                attempt += 1;
            }
            out => return out,
        }
    }
}

// ---------------------------------------------------------------- #[timeout]

#[timeout(1s)]
async fn timed(x: &u64, n: u64) -> Result<u64, Error> {
    Ok(*x + n)
}

async fn hand_timeout(x: &u64, n: u64) -> Result<u64, Error> {
    match tokio::time::timeout(TIMEOUT, body(x, n)).await {
        Ok(out) => out,
        Err(_) => {
            tracing::warn!(timeout_ms = 1000, "timed out");
            Err(Error::from(TimedOut::new(TIMEOUT)))
        }
    }
}

// ---------------------------------------------------------------- #[error_boundary]

#[error_boundary("context")]
async fn bounded(x: &u64, n: u64) -> Result<u64, Error> {
    Ok(*x + n)
}

async fn hand_boundary(x: &u64, n: u64) -> Result<u64, Error> {
    let out = body(x, n).await;
    if let Err(error) = &out {
        tracing::error!(context = "context", %error, "failed");
    }
    out
}

#[error_boundary("context", catch_panic)]
async fn bounded_catching(x: &u64, n: u64) -> Result<u64, Error> {
    Ok(*x + n)
}

/// `catch_unwind` around every poll, then match and log.
async fn hand_boundary_catching(x: &u64, n: u64) -> Result<u64, Error> {
    let mut future = pin!(body(x, n));
    let out = poll_fn(|cx| match catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(cx))) {
        Ok(poll) => poll,
        Err(payload) => Poll::Ready(Err(Error::from(Panicked::from_payload(&*payload, "f")))),
    })
    .await;
    if let Err(error) = &out {
        tracing::error!(context = "context", %error, "failed");
    }
    out
}

// ---------------------------------------------------------------- #[limit]

#[limit(concurrency = 8)]
async fn limited(x: &u64, n: u64) -> Result<u64, Error> {
    Ok(*x + n)
}

static SLOTS: Semaphore = Semaphore::const_new(8);

async fn hand_limit(x: &u64, n: u64) -> Result<u64, Error> {
    let _permit = SLOTS.acquire().await.expect("never closed");
    body(x, n).await
}

#[limit(concurrency = 8, wait = 250ms)]
async fn limited_waiting(x: &u64, n: u64) -> Result<u64, Error> {
    Ok(*x + n)
}

async fn hand_limit_waiting(x: &u64, n: u64) -> Result<u64, Error> {
    let Ok(Ok(_permit)) = tokio::time::timeout(Duration::from_millis(250), SLOTS.acquire()).await
    else {
        return Err(Error::from(Rejected::new(
            steadfast::LimitKind::Concurrency(8),
            Duration::from_millis(250),
        )));
    };
    body(x, n).await
}

#[limit(rate = 100, per = 1s)]
async fn rate_limited(x: &u64, n: u64) -> Result<u64, Error> {
    Ok(*x + n)
}

/// A fixed window on tokio's clock: the end of the window and the starts left in it.
static WINDOW: Mutex<Option<(Instant, u32)>> = Mutex::new(None);

async fn hand_rate(x: &u64, n: u64) -> Result<u64, Error> {
    loop {
        let wake = {
            let mut window = WINDOW.lock().unwrap();
            let now = Instant::now();
            match &mut *window {
                Some((end, left)) if now < *end => {
                    if *left == 0 {
                        Some(*end)
                    } else {
                        *left -= 1;
                        None
                    }
                }
                _ => {
                    *window = Some((now + Duration::from_secs(1), 99));
                    None
                }
            }
        };
        match wake {
            Some(end) => tokio::time::sleep_until(end).await,
            None => break,
        }
    }
    body(x, n).await
}

// ---------------------------------------------------------------- #[hedge]

#[hedge(after = 50ms)]
async fn hedged(x: &u64, n: u64) -> Result<u64, Error> {
    Ok(*x + n)
}

/// The body raced against a timer; when the timer fires first, a second attempt races
/// the first (what `#[hedge(after = 50ms)]` does for a call that is hedged once).
async fn hand_hedge(x: &u64, n: u64) -> Result<u64, Error> {
    let first = body(x, n);
    tokio::pin!(first);
    tokio::select! {
        biased;
        out = &mut first => out,
        () = tokio::time::sleep(Duration::from_millis(50)) => {
            tracing::debug!(attempt = 2, "hedging");
            tokio::select! {
                biased;
                out = &mut first => out,
                out = body(x, n) => out,
            }
        }
    }
}

// ---------------------------------------------------------------- all four

#[error_boundary("context")]
#[retry(attempts = 3, delay = 100ms)]
#[timeout(1s)]
#[limit(concurrency = 8)]
async fn stacked(x: &u64, n: u64) -> Result<u64, Error> {
    Ok(*x + n)
}

static STACK_SLOTS: Semaphore = Semaphore::const_new(8);

async fn hand_stacked(x: &u64, n: u64) -> Result<u64, Error> {
    let out = async {
        let mut attempt = 1;
        loop {
            let attempt_out = tokio::time::timeout(TIMEOUT, async {
                let _permit = STACK_SLOTS.acquire().await.expect("never closed");
                body(x, n).await
            })
            .await;
            let result = match attempt_out {
                Ok(out) => out,
                Err(_) => {
                    tracing::warn!(timeout_ms = 1000, "timed out");
                    Err(Error::from(TimedOut::new(TIMEOUT)))
                }
            };
            match result {
                Err(error) if attempt < 3 => {
                    tracing::warn!(attempt, %error, "retrying");
                    tokio::time::sleep(delay(attempt)).await;
                    attempt += 1;
                }
                out => break out,
            }
        }
    }
    .await;
    if let Err(error) = &out {
        tracing::error!(context = "context", %error, "failed");
    }
    out
}

// ---------------------------------------------------------------- the checks

/// Checks `ours <= hand_written + SLACK` for each pair and reports every failure at once.
fn check(pairs: &[(&str, usize, usize)]) {
    let mut failures = Vec::new();
    for &(name, ours, hand_written) in pairs {
        println!("{name:<40} {ours:>5} bytes, hand-written {hand_written:>5}");
        if ours > hand_written + SLACK {
            failures.push(format!(
                "{name}: {ours} bytes, more than the hand-written {hand_written} + {SLACK}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn each_future_is_no_bigger_than_the_hand_written_one_plus_16_bytes() {
    let x = 1;
    check(&[
        ("#[retry]", size_of_val(&retried(&x, 2)), size_of_val(&hand_retry(&x, 2))),
        ("#[timeout]", size_of_val(&timed(&x, 2)), size_of_val(&hand_timeout(&x, 2))),
        ("#[error_boundary]", size_of_val(&bounded(&x, 2)), size_of_val(&hand_boundary(&x, 2))),
        (
            "#[error_boundary(catch_panic)]",
            size_of_val(&bounded_catching(&x, 2)),
            size_of_val(&hand_boundary_catching(&x, 2)),
        ),
        ("#[limit(concurrency)]", size_of_val(&limited(&x, 2)), size_of_val(&hand_limit(&x, 2))),
        (
            "#[limit(concurrency, wait)]",
            size_of_val(&limited_waiting(&x, 2)),
            size_of_val(&hand_limit_waiting(&x, 2)),
        ),
        ("#[limit(rate)]", size_of_val(&rate_limited(&x, 2)), size_of_val(&hand_rate(&x, 2))),
        ("the full stack", size_of_val(&stacked(&x, 2)), size_of_val(&hand_stacked(&x, 2))),
    ]);
}

/// `#[hedge]` does more than a hand-written `select!` of two attempts can: up to `max`
/// attempts, a hedge at once on a failure, a budget, and the latency window of
/// `after = pNN`. Its bookkeeping (the list of hedges on the heap, the first attempt's
/// start, the delay in force, the budget and site references, counters) costs at most
/// `HEDGE_SLACK` bytes over the hand-written race of two (plus what the `metrics`
/// feature adds, when the build has it).
#[test]
fn the_hedged_future_is_within_64_bytes_of_a_hand_written_race() {
    const HEDGE_SLACK: usize = 64 + steadfast::__private::METRICS_FUTURE_BYTES;
    let x = 1;
    let (ours, hand_written) = (size_of_val(&hedged(&x, 2)), size_of_val(&hand_hedge(&x, 2)));
    println!("#[hedge(after = 50ms)] {ours:>5} bytes, hand-written {hand_written:>5}");
    assert!(
        ours <= hand_written + HEDGE_SLACK,
        "#[hedge]: {ours} bytes, more than the hand-written {hand_written} + {HEDGE_SLACK}"
    );
}

/// The hand-written futures really do the work they stand for: each finishes with
/// the body's value (so no size above is that of a future that skips a layer).
#[tokio::test]
async fn the_hand_written_versions_work() {
    let x = 1;
    assert_eq!(hand_retry(&x, 2).await.unwrap(), 3);
    assert_eq!(hand_timeout(&x, 2).await.unwrap(), 3);
    assert_eq!(hand_boundary(&x, 2).await.unwrap(), 3);
    assert_eq!(hand_boundary_catching(&x, 2).await.unwrap(), 3);
    assert_eq!(hand_limit(&x, 2).await.unwrap(), 3);
    assert_eq!(hand_limit_waiting(&x, 2).await.unwrap(), 3);
    assert_eq!(hand_rate(&x, 2).await.unwrap(), 3);
    assert_eq!(hand_stacked(&x, 2).await.unwrap(), 3);
    assert_eq!(hand_hedge(&x, 2).await.unwrap(), 3);
}
