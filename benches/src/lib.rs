//! The functions the benchmarks call: for each attribute, the bare body, the
//! annotated function and the hand-written equivalent, all with the same body
//! (`Ok(*x + n)`) and the same error type. The criterion benches (`success`,
//! `scenarios`) add the peer crates around the same body; the instruction-count bench
//! (`instructions`) polls these once each.
//!
//! A hand-written equivalent does what the attribute does, the way a careful person
//! writes it without steadfast: the same arguments, the same events on failure, the
//! same error conversion.

use std::cell::Cell;
use std::future::Future;
use std::pin::pin;
use std::sync::Mutex;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use steadfast::{
    CircuitOpen, Limiter, Panicked, Rejected, TimedOut, circuit_breaker, error_boundary, hedge,
    limit, retry, timeout,
};
use tokio::sync::Semaphore;
use tokio::time::Instant;

/// The error of every benchmarked function: small, `Display`, and `From` every error
/// the attributes create.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Error(pub &'static str);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for Error {}

impl From<TimedOut> for Error {
    fn from(_: TimedOut) -> Self {
        Error("timed out")
    }
}

impl From<Rejected> for Error {
    fn from(_: Rejected) -> Self {
        Error("rejected")
    }
}

impl From<Panicked> for Error {
    fn from(_: Panicked) -> Self {
        Error("panicked")
    }
}

impl From<CircuitOpen> for Error {
    fn from(_: CircuitOpen) -> Self {
        Error("circuit open")
    }
}

/// The result of every benchmarked function.
pub type Out = Result<u64, Error>;

/// The timeout of `#[timeout]` and of its equivalents.
pub const TIMEOUT: Duration = Duration::from_secs(1);
/// The first retry delay of `#[retry]` and of its equivalents (no jitter anywhere).
pub const DELAY: Duration = Duration::from_millis(100);
/// The concurrency limit of `#[limit]` and of its equivalents.
pub const CONCURRENCY: usize = 8;
/// The rate limit: starts per [`RATE_WINDOW`].
pub const RATE: u32 = 10_000;
/// The window of [`RATE`].
pub const RATE_WINDOW: Duration = Duration::from_secs(1);

/// The body, called directly: the floor of every group.
pub async fn bare(x: &u64, n: u64) -> Out {
    Ok(*x + n)
}

/// The exponential delay before the `attempt`-th retry (1-based), without jitter.
fn delay(attempt: u32) -> Duration {
    DELAY * 2_u32.pow(attempt - 1)
}

// ---------------------------------------------------------------- #[retry]

#[retry(attempts = 3, delay = 100ms, jitter = 0)]
pub async fn retried(x: &u64, n: u64) -> Out {
    Ok(*x + n)
}

/// A retry loop: three attempts, exponential delays, a WARN event per retry.
pub async fn hand_retry(x: &u64, n: u64) -> Out {
    let mut attempt = 1;
    loop {
        match bare(x, n).await {
            Err(error) if attempt < 3 => {
                let delay = delay(attempt);
                tracing::warn!(attempt, delay_ms = delay.as_millis() as u64, %error, "retrying");
                tokio::time::sleep(delay).await;
                attempt += 1;
            }
            out => return out,
        }
    }
}

// ---------------------------------------------------------------- #[timeout]

#[timeout(1s)]
pub async fn timed(x: &u64, n: u64) -> Out {
    Ok(*x + n)
}

/// `tokio::time::timeout` around the body: the hand-written equivalent and the
/// peer at once.
pub async fn hand_timeout(x: &u64, n: u64) -> Out {
    match tokio::time::timeout(TIMEOUT, bare(x, n)).await {
        Ok(out) => out,
        Err(_) => {
            tracing::warn!(timeout_ms = TIMEOUT.as_millis() as u64, "timed out");
            Err(Error::from(TimedOut::new(TIMEOUT)))
        }
    }
}

// ---------------------------------------------------------------- #[error_boundary]

#[error_boundary("benchmark")]
pub async fn bounded(x: &u64, n: u64) -> Out {
    Ok(*x + n)
}

/// Match and log.
pub async fn hand_boundary(x: &u64, n: u64) -> Out {
    let out = bare(x, n).await;
    if let Err(error) = &out {
        tracing::error!(function = "hand_boundary", context = "benchmark", %error, "failed");
    }
    out
}

/// `#[error_boundary]`'s body with the two series steadfast records for every call
/// (`steadfast_calls_total` by outcome, `steadfast_call_duration_seconds`) written by
/// hand with the `metrics` macros, the way their documentation shows: the reference
/// for what the `metrics` feature costs (bench feature `metrics`).
#[cfg(feature = "metrics")]
pub async fn hand_metered(x: &u64, n: u64) -> Out {
    let start = Instant::now();
    let out = bare(x, n).await;
    let outcome = if out.is_ok() { "ok" } else { "error" };
    metrics::counter!("steadfast_calls_total", "function" => "hand_metered", "outcome" => outcome)
        .increment(1);
    metrics::histogram!("steadfast_call_duration_seconds", "function" => "hand_metered")
        .record(start.elapsed().as_secs_f64());
    out
}

// ---------------------------------------------------------------- #[limit]

#[limit(concurrency = 8)]
pub async fn limited(x: &u64, n: u64) -> Out {
    Ok(*x + n)
}

/// The slots of [`hand_limit`].
static SLOTS: Semaphore = Semaphore::const_new(CONCURRENCY);

/// A permit of a `static` tokio `Semaphore`, held while the body runs.
pub async fn hand_limit(x: &u64, n: u64) -> Out {
    let _permit = SLOTS.acquire().await.expect("the semaphore is never closed");
    bare(x, n).await
}

// ---------------------------------------------------------------- #[circuit_breaker]

/// `#[circuit_breaker]` with a breaker of its own (the defaults), closed.
#[circuit_breaker]
pub async fn broken(x: &u64, n: u64) -> Out {
    Ok(*x + n)
}

// ---------------------------------------------------------------- #[hedge]

/// `#[hedge]` on a call that finishes on its first poll (no timer is armed).
#[hedge(after = 1s)]
pub async fn hedged(x: &u64, n: u64) -> Out {
    Ok(*x + n)
}

// ---------------------------------------------------------------- all four

#[error_boundary("benchmark")]
#[retry(attempts = 3, delay = 100ms, jitter = 0)]
#[timeout(1s)]
#[limit(concurrency = 8)]
pub async fn stacked(x: &u64, n: u64) -> Out {
    Ok(*x + n)
}

/// The slots of [`hand_stacked`].
static STACK_SLOTS: Semaphore = Semaphore::const_new(CONCURRENCY);

/// The same four layers by hand: log the final error, retry, time out each attempt,
/// hold a permit per attempt.
pub async fn hand_stacked(x: &u64, n: u64) -> Out {
    let out = async {
        let mut attempt = 1;
        loop {
            let attempt_out = tokio::time::timeout(TIMEOUT, async {
                let _permit = STACK_SLOTS.acquire().await.expect("the semaphore is never closed");
                bare(x, n).await
            })
            .await;
            let result = match attempt_out {
                Ok(out) => out,
                Err(_) => {
                    tracing::warn!(timeout_ms = TIMEOUT.as_millis() as u64, "timed out");
                    Err(Error::from(TimedOut::new(TIMEOUT)))
                }
            };
            match result {
                Err(error) if attempt < 3 => {
                    let delay = delay(attempt);
                    tracing::warn!(attempt, delay_ms = delay.as_millis() as u64, %error, "retrying");
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
                out => break out,
            }
        }
    }
    .await;
    if let Err(error) = &out {
        tracing::error!(function = "hand_stacked", context = "benchmark", %error, "failed");
    }
    out
}

// ---------------------------------------------------------------- retry with failures

/// A body that fails until its third call.
pub async fn flaky_body(calls: &Cell<u32>) -> Out {
    calls.set(calls.get() + 1);
    if calls.get() < 3 { Err(Error("busy")) } else { Ok(u64::from(calls.get())) }
}

#[retry(attempts = 3, delay = 100ms, jitter = 0)]
pub async fn flaky(calls: &Cell<u32>) -> Out {
    calls.set(calls.get() + 1);
    if calls.get() < 3 { Err(Error("busy")) } else { Ok(u64::from(calls.get())) }
}

/// [`hand_retry`]'s loop around [`flaky_body`].
pub async fn hand_flaky(calls: &Cell<u32>) -> Out {
    let mut attempt = 1;
    loop {
        match flaky_body(calls).await {
            Err(error) if attempt < 3 => {
                let delay = delay(attempt);
                tracing::warn!(attempt, delay_ms = delay.as_millis() as u64, %error, "retrying");
                tokio::time::sleep(delay).await;
                attempt += 1;
            }
            out => return out,
        }
    }
}

// ---------------------------------------------------------------- contention

/// A body that has to wait once (it yields to the scheduler), so that callers overlap.
pub async fn yielding(x: &u64, n: u64) -> Out {
    tokio::task::yield_now().await;
    Ok(*x + n)
}

#[limit(concurrency = 8)]
pub async fn limited_yielding(x: &u64, n: u64) -> Out {
    tokio::task::yield_now().await;
    Ok(*x + n)
}

/// The slots of [`hand_limit_yielding`].
static YIELD_SLOTS: Semaphore = Semaphore::const_new(CONCURRENCY);

/// [`hand_limit`] around [`yielding`].
pub async fn hand_limit_yielding(x: &u64, n: u64) -> Out {
    let _permit = YIELD_SLOTS.acquire().await.expect("the semaphore is never closed");
    yielding(x, n).await
}

// ---------------------------------------------------------------- rate

#[limit(rate = 10000, per = 1s)]
pub async fn rate_limited(x: &u64, n: u64) -> Out {
    Ok(*x + n)
}

/// The limiter of [`rate_spaced`]: the rate of [`rate_limited`], spaced by GCRA with a
/// burst of the whole rate (so that a window's worth passes at once, as with the
/// sliding window).
pub static SPACED: Limiter = Limiter::rate(RATE, RATE_WINDOW).burst(RATE);

#[limit(using = SPACED)]
pub async fn rate_spaced(x: &u64, n: u64) -> Out {
    Ok(*x + n)
}

// ---------------------------------------------------------------- waiting at scale

/// The limiter of [`waiting_limited`], shared so that a bench can hold its slots.
pub static WAITING: Limiter = Limiter::concurrency(CONCURRENCY);

/// [`yielding`] through [`WAITING`].
#[limit(using = WAITING)]
pub async fn waiting_limited(x: &u64, n: u64) -> Out {
    tokio::task::yield_now().await;
    Ok(*x + n)
}

/// The slots of [`waiting_semaphore`].
pub static WAITING_SLOTS: Semaphore = Semaphore::const_new(CONCURRENCY);

/// [`yielding`] holding a permit of [`WAITING_SLOTS`]: the bare semaphore.
pub async fn waiting_semaphore(x: &u64, n: u64) -> Out {
    let _permit = WAITING_SLOTS.acquire().await.expect("the semaphore is never closed");
    yielding(x, n).await
}

/// A fixed-window counter on tokio's clock, as one writes it by hand: at most `max`
/// starts per window that begins at the first start after the previous one ended;
/// a caller that finds the window full sleeps until it ends. Not FIFO, and (being a
/// fixed window) it lets up to `2 × max` start around a window's edge, which
/// `#[limit(rate)]` (a sliding window) does not.
pub struct FixedWindow {
    max: u32,
    per: Duration,
    /// The end of the current window and the starts left in it.
    state: Mutex<Option<(Instant, u32)>>,
}

impl FixedWindow {
    /// `max` starts per `per`.
    pub const fn new(max: u32, per: Duration) -> Self {
        Self { max, per, state: Mutex::new(None) }
    }

    /// Waits for a start.
    pub async fn admit(&self) {
        loop {
            let wake = {
                let mut state = self.state.lock().expect("not poisoned");
                let now = Instant::now();
                match &mut *state {
                    Some((end, left)) if now < *end => {
                        if *left > 0 {
                            *left -= 1;
                            return;
                        }
                        *end
                    }
                    _ => {
                        *state = Some((now + self.per, self.max - 1));
                        return;
                    }
                }
            };
            tokio::time::sleep_until(wake).await;
        }
    }
}

/// The window of [`hand_rate`].
pub static WINDOW: FixedWindow = FixedWindow::new(RATE, RATE_WINDOW);

/// [`FixedWindow::admit`], then the body.
pub async fn hand_rate(x: &u64, n: u64) -> Out {
    WINDOW.admit().await;
    bare(x, n).await
}

// ---------------------------------------------------------------- rate on the real clock

/// A rate no benchmark loop reaches (a start per nanosecond), so that every call on the
/// real clock is under the limit without pausing the clock: `rate_fast` measures the
/// fast path as an application runs it, where tokio's clock is `std::time::Instant`.
pub const FAST_RATE: u32 = 1_000_000_000;

/// [`rate_limited`] at [`FAST_RATE`] per second.
#[limit(rate = 1_000_000_000, per = 1s)]
pub async fn fast_rate_limited(x: &u64, n: u64) -> Out {
    Ok(*x + n)
}

/// The limiter of [`fast_rate_spaced`]: GCRA at [`FAST_RATE`], the whole rate as burst.
pub static FAST_SPACED: Limiter = Limiter::rate(FAST_RATE, Duration::from_secs(1)).burst(FAST_RATE);

/// [`rate_spaced`] at [`FAST_RATE`] per second.
#[limit(using = FAST_SPACED)]
pub async fn fast_rate_spaced(x: &u64, n: u64) -> Out {
    Ok(*x + n)
}

/// The window of [`fast_hand_rate`].
pub static FAST_WINDOW: FixedWindow = FixedWindow::new(FAST_RATE, Duration::from_secs(1));

/// [`hand_rate`] at [`FAST_RATE`] per second.
pub async fn fast_hand_rate(x: &u64, n: u64) -> Out {
    FAST_WINDOW.admit().await;
    bare(x, n).await
}

// ---------------------------------------------------------------- helpers

/// Polls `future` once with a no-op waker and returns its output.
///
/// # Panics
///
/// If the future is not ready at once: every success path here finishes on its
/// first poll.
pub fn poll_once<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("the success path must finish on the first poll"),
    }
}

/// The runtime of the success-path benchmarks: one thread, with the time driver.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_time().build().expect("a runtime")
}

/// Benchmarks `$call` (an expression awaiting one call with `x` and `n`) as `$name` in
/// `$group`: `iters` calls awaited one after the other in one task on `$rt`, the same
/// harness for every success-path variant (the `success`, `breaker` and `metrics`
/// benches).
#[macro_export]
macro_rules! bench_call {
    ($group:expr, $rt:expr, $name:literal, |$x:ident, $n:ident| $call:expr) => {
        $group.bench_function($name, |b| {
            b.to_async(&$rt).iter_custom(|iters| async move {
                let start = ::std::time::Instant::now();
                for _ in 0..iters {
                    let ($x, $n) = (::std::hint::black_box(&1_u64), ::std::hint::black_box(2_u64));
                    ::std::hint::black_box($call).expect("success");
                }
                start.elapsed()
            })
        });
    };
}
