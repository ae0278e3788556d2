//! `#[timeout(D)]`: give the body a deadline, cancel it when the deadline passes.

use std::future::{Future, poll_fn};
use std::pin::pin;
use std::task::Poll;
use std::time::Duration;

use tokio::time::Sleep;

use crate::TimedOut;

/// Runs `body`; if it has not finished within `after`, drops it and returns
/// `Err(E::from(TimedOut))`.
///
/// This is what `#[timeout(D)]` does, for code that cannot carry an attribute.
/// Unlike `tokio::time::timeout`, no timer is armed when the body finishes on its
/// first poll: the deadline is set the first time the body has to wait, which is
/// also the first moment at which a timer could interrupt it. The timeout is
/// measured on tokio's clock, so it is exact under `start_paused = true`.
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
pub async fn timeout<T, E, F>(after: Duration, body: F) -> Result<T, E>
where
    F: Future<Output = Result<T, E>>,
    E: From<TimedOut>,
{
    match run(after, body).await {
        Some(out) => out,
        None => Err(E::from(TimedOut::new(after))),
    }
}

/// The expansion of `#[timeout]`: `on_timeout` turns the error into the function's
/// return type (built where the return type is known, so a missing `From` is reported
/// once, at the signature).
#[doc(hidden)]
pub async fn timeout_in<F: Future>(
    after: Duration,
    function: &'static str,
    on_timeout: fn(TimedOut) -> F::Output,
    body: F,
) -> F::Output {
    match run(after, body).await {
        Some(out) => out,
        None => {
            tracing::warn!(
                target: "steadfast",
                function,
                timeout_ms = after.as_millis() as u64,
                "timed out",
            );
            on_timeout(TimedOut::in_function(after, function))
        }
    }
}

/// Polls `body` until it finishes (`Some`) or `after` has passed since it first
/// returned `Pending` (`None`, with the body dropped).
async fn run<F: Future>(after: Duration, body: F) -> Option<F::Output> {
    let mut body = pin!(body);
    // The timer is created lazily: a body that is ready at once never touches it.
    let mut sleep = pin!(None::<Sleep>);
    poll_fn(|cx| {
        if let Poll::Ready(out) = body.as_mut().poll(cx) {
            return Poll::Ready(Some(out));
        }
        if sleep.is_none() {
            sleep.set(Some(tokio::time::sleep(after)));
        }
        match sleep.as_mut().as_pin_mut() {
            Some(timer) => timer.poll(cx).map(|()| None),
            None => Poll::Pending,
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::time::Instant;

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
        let out: Result<u8, TimedOut> = timeout_in(Duration::from_millis(500), "f", Err, async {
            let _flag = Flag(&dropped);
            tokio::time::sleep(Duration::from_secs(10)).await;
            Ok(7)
        })
        .await;
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
