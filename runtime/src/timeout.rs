//! `#[timeout(D)]`: give the body a deadline, cancel it when the deadline passes.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::task::coop;
use tokio::time::{Instant, Sleep};

use crate::TimedOut;

/// Runs `body`; if it has not finished within `after`, drops it and returns
/// `Err(E::from(TimedOut))`.
///
/// This is what `#[timeout(D)]` does, for code that cannot carry an attribute.
/// The deadline counts from the first poll of the returned future (as
/// `tokio::time::timeout` counts from its call), so synchronous work before the
/// body's first `.await` counts too. No timer is armed when the body finishes on its
/// first poll. A body that keeps tokio's cooperative budget exhausted still times
/// out. The timeout is measured on tokio's clock, so it is exact under
/// `start_paused = true`.
///
/// ```
/// use std::time::Duration;
/// use steadfast::TimedOut;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// async fn fetch() -> Result<u32, TimedOut> {
///     tokio::time::sleep(Duration::from_secs(2)).await;
///     Ok(1)
/// }
/// let started = tokio::time::Instant::now();
/// let result = steadfast::timeout(Duration::from_secs(1), fetch()).await;
/// assert!(result.is_err());
/// assert_eq!(started.elapsed(), Duration::from_secs(1));
/// # }
/// ```
pub async fn timeout<F>(after: Duration, body: F) -> F::Output
where
    F: Future,
    F::Output: TimeoutOutput,
{
    match timeout_in(after, body).await {
        Ok(out) => out,
        Err(timed_out) => F::Output::timed_out(timed_out),
    }
}

/// What [`timeout()`](fn@timeout) needs its future to return: `Result<T, E>` with
/// `E: From<TimedOut>`, so that a timeout can be returned in it.
#[diagnostic::on_unimplemented(
    message = "`steadfast::timeout` needs a future that returns `Result<T, E>` with `E: From<steadfast::TimedOut>`, not `{Self}`",
    label = "the timeout is returned as `Err(E::from(TimedOut))`",
    note = "for any other future use `steadfast::deadline(duration, future)`, which returns `Result<F::Output, TimedOut>`",
    note = "or add `impl From<steadfast::TimedOut>` for the error type"
)]
pub trait TimeoutOutput {
    /// `Err(E::from(timed_out))`.
    fn timed_out(timed_out: TimedOut) -> Self;
}

impl<T, E: From<TimedOut>> TimeoutOutput for Result<T, E> {
    #[inline]
    fn timed_out(timed_out: TimedOut) -> Self {
        Err(E::from(timed_out))
    }
}

/// Runs any future with a deadline: `Ok(output)` if it finished within `after`,
/// `Err(TimedOut)` (and the future dropped) if not — the shape of
/// `tokio::time::timeout`, with the timer of [`timeout()`](fn@timeout): counted from
/// the first poll, armed only if the future has to wait, firing under a body that
/// spends tokio's coop budget. For a future whose output is not a `Result`, or
/// should keep its own error type.
///
/// ```
/// use std::time::Duration;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let (tx, mut rx) = tokio::sync::mpsc::channel::<u32>(1);
/// // An `Option`, not a `Result`: `steadfast::timeout` would not take it.
/// let got = steadfast::deadline(Duration::from_millis(250), rx.recv()).await;
/// let err = got.unwrap_err();
/// assert_eq!(err.after(), Duration::from_millis(250));
/// tx.send(7).await.unwrap();
/// assert_eq!(steadfast::deadline(Duration::from_millis(250), rx.recv()).await, Ok(Some(7)));
/// # }
/// ```
pub fn deadline<F: std::future::IntoFuture>(after: Duration, future: F) -> Deadline<F::IntoFuture> {
    timeout_in(after, future.into_future())
}

/// The expansion of `#[timeout]`: `body` with a deadline, as a future that holds
/// `body` once, the timer (armed on the first `Pending`) and `after`. It resolves to
/// `Err(TimedOut)`; the expansion turns that into the function's return type, with
/// [`timed_out`] for the event and the function's name (so that neither has to be
/// kept in the future).
#[doc(hidden)]
pub fn timeout_in<F: Future>(after: Duration, body: F) -> Deadline<F> {
    Deadline { body, timer: None, after }
}

/// Reports a timeout of `function` (a WARN event) and names it in the error.
#[doc(hidden)]
#[cold]
pub fn timed_out(error: TimedOut, function: &'static str) -> TimedOut {
    tracing::warn!(
        target: "steadfast",
        function,
        timeout_ms = error.after().as_millis() as u64,
        "timed out",
    );
    TimedOut::in_function(error.after(), function)
}

pin_project! {
    /// The future of [`deadline`] (and of `#[timeout]`): polls `body` until it
    /// finishes (`Ok`) or `after` has passed since its first poll (`Err(TimedOut)`,
    /// with the body dropped when this future is).
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub struct Deadline<F> {
        #[pin]
        body: F,
        // `None` until the first poll returns `Pending`: a body that is ready at
        // once never touches the timer. The first poll reads the clock before polling
        // the body, so the deadline counts from there.
        #[pin]
        timer: Option<Sleep>,
        after: Duration,
    }
}

impl<F: Future> Future for Deadline<F> {
    type Output = Result<F::Output, TimedOut>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        if this.timer.is_none() {
            let started = Instant::now();
            if let Poll::Ready(out) = this.body.poll(cx) {
                return Poll::Ready(Ok(out));
            }
            // NOTE: the first `Pending` always comes from the first poll, so the
            // timer is armed once, at the start the clock read above names.
            let timer = match started.checked_add(*this.after) {
                Some(deadline) => tokio::time::sleep_until(deadline),
                // Past the clock's range: `sleep` saturates to its far future.
                None => tokio::time::sleep(*this.after),
            };
            this.timer.set(Some(timer));
        } else if let Poll::Ready(out) = this.body.poll(cx) {
            return Poll::Ready(Ok(out));
        }
        let Some(timer) = this.timer.as_pin_mut() else { return Poll::Pending };
        let elapsed = |()| Err(TimedOut::new(*this.after));
        if coop::has_budget_remaining() {
            timer.poll(cx).map(elapsed)
        } else {
            // The body spent the task's whole coop budget, so the timer would return
            // `Pending` without looking at the clock, forever for a body that is
            // always busy: poll it unconstrained, as `tokio::time::timeout` does.
            // (tokio also checks that the budget was there before the body's poll;
            // a budget already spent by the caller only means the clock is looked at
            // once more, and it keeps the success path free of that read.)
            Pin::new(&mut coop::unconstrained(timer)).poll(cx).map(elapsed)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn finishes_before_the_deadline() {
        let start = Instant::now();
        let out: Result<u8, TimedOut> = timeout(Duration::from_millis(500), async {
            tokio::time::sleep(Duration::from_millis(499)).await;
            Ok(7)
        })
        .await;
        assert_eq!(out, Ok(7));
        assert_eq!(start.elapsed(), Duration::from_millis(499));
    }

    #[tokio::test(start_paused = true)]
    async fn times_out_exactly_and_drops_the_body() {
        struct Flag<'a>(&'a std::cell::Cell<bool>);
        impl Drop for Flag<'_> {
            fn drop(&mut self) {
                self.0.set(true);
            }
        }
        let dropped = std::cell::Cell::new(false);
        let start = Instant::now();
        let out = timeout_in(Duration::from_millis(500), async {
            let _flag = Flag(&dropped);
            tokio::time::sleep(Duration::from_secs(10)).await;
            7
        })
        .await
        .map_err(|e| timed_out(e, "f"));
        assert_eq!(out, Err(TimedOut::in_function(Duration::from_millis(500), "f")));
        assert_eq!(start.elapsed(), Duration::from_millis(500));
        assert!(dropped.get());
    }

    #[tokio::test(start_paused = true)]
    async fn zero_timeout_lets_a_ready_body_through() {
        let out: Result<u8, TimedOut> = timeout(Duration::ZERO, async { Ok(1) }).await;
        assert_eq!(out, Ok(1));
        let out: Result<u8, TimedOut> = timeout(Duration::ZERO, async {
            tokio::task::yield_now().await;
            Ok(1)
        })
        .await;
        assert!(out.is_err());
    }
}
