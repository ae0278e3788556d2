//! The future that races the attempts of one hedged call.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep};

use super::{Hedge, HedgeBudget};
use crate::retry::RetryWhen;

pin_project! {
    /// An attempt beyond the one held inline, with its start time (kept only when
    /// the hedge learns its delay from recent latencies).
    struct Boxed<Fut> {
        #[pin]
        fut: Fut,
        started: Option<Instant>,
    }
}

pin_project! {
    /// One attempt of a `#[hedge]` call, its output turned into a `Result` (the
    /// identity for the `Result` it always is once the expansion type-checks).
    #[doc(hidden)]
    pub struct HedgeAttempt<F> {
        #[pin]
        attempt: F,
    }
}

impl<F> HedgeAttempt<F> {
    #[inline(always)]
    pub fn new(attempt: F) -> Self {
        Self { attempt }
    }
}

impl<F> Future for HedgeAttempt<F>
where
    F: Future,
    F::Output: crate::__private::HedgeOutcome,
{
    type Output = Result<
        <F::Output as crate::__private::HedgeOutcome>::Ok,
        <F::Output as crate::__private::HedgeOutcome>::Error,
    >;

    #[inline(always)]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project().attempt.poll(cx).map(crate::__private::HedgeOutcome::into_result)
    }
}

pin_project! {
    /// The future of one hedged call: the attempts in flight, the timer of the next
    /// hedge, and what is needed to start another attempt.
    ///
    /// Returned by [`Hedge::run`] and [`HedgeWith::run`](super::HedgeWith::run). It
    /// is `Send` when the attempt future, the closure and `when` are, and the budget
    /// is `Sync`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use steadfast::Hedge;
    ///
    /// static HEDGE: Hedge = Hedge::after(Duration::from_millis(50));
    ///
    /// fn assert_send<T: Send>(t: T) -> T { t }
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let call = assert_send(HEDGE.run(|| async { Ok::<_, std::io::Error>(1) }));
    /// assert_eq!(call.await.unwrap(), 1);
    /// # }
    /// ```
    #[must_use = "futures do nothing unless polled"]
    #[project = Attempts]
    pub struct Hedged<'a, Make, Fut, W, B: ?Sized> {
        site: &'a Hedge,
        make: Make,
        when: W,
        budget: &'a B,
        // NOTE: the first attempt, and any attempt started while this slot is empty,
        // live here: a call that never hedges allocates nothing.
        #[pin]
        first: Option<Fut>,
        first_started: Option<Instant>,
        // Hedges live on the heap (the list is allocated with the first hedge, for
        // `max - 1` of them): the future stays small, so moving it is cheap.
        extra: Vec<Pin<Box<Boxed<Fut>>>>,
        // Armed the first time every attempt is pending; reset when an attempt starts.
        #[pin]
        timer: Option<Sleep>,
        // The hedge delay; `None` means no hedge on time (not enough data yet for a
        // quantile, or the budget refused one).
        after: Option<Duration>,
        // Record the winner's latency into the site's window (`after = pNN`).
        learn: bool,
        started: u8,
        max: u8,
    }
}

impl<'a, Make, Fut, W, B: ?Sized> Hedged<'a, Make, Fut, W, B> {
    /// A hedged call of `site` (the expansion's entry point, through `__private`).
    /// `after` overrides the site's own delay (for a duration evaluated per call).
    #[inline]
    pub(crate) fn new(
        site: &'a Hedge,
        after: Option<Duration>,
        when: W,
        budget: &'a B,
        make: Make,
    ) -> Self {
        let (after, learn) = match after {
            Some(after) => (Some(after), false),
            None => site.delay(),
        };
        Hedged {
            site,
            make,
            when,
            budget,
            first: None,
            first_started: None,
            extra: Vec::new(),
            timer: None,
            after,
            learn,
            started: 0,
            max: site.max_attempts(),
        }
    }
}

/// About 30 years: a deadline beyond `Instant`'s range is clamped to this (as tokio
/// clamps its own sleeps).
const FAR_FUTURE: Duration = Duration::from_secs(86_400 * 365 * 30);

/// Why another attempt starts (the `reason` field of the DEBUG event).
#[derive(Clone, Copy)]
enum Reason {
    /// The newest attempt has run `after` without finishing.
    Slow,
    /// An attempt failed with an error for which `when` is true.
    Failed,
}

impl<Make, Fut, T, E, W, B> Future for Hedged<'_, Make, Fut, W, B>
where
    Make: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
    W: RetryWhen<E>,
    B: HedgeBudget + ?Sized,
{
    type Output = Result<T, E>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        if *this.started == 0 {
            this.budget.deposit();
            this.first.set(Some((this.make)()));
            *this.started = 1;
        }
        loop {
            // How many attempts failed in this round (each may start another), and
            // the newest error: returned only when every attempt has failed.
            let mut failures = 0_u8;
            let mut last_error = None;
            if let Some(fut) = this.first.as_mut().as_pin_mut() {
                if let Poll::Ready(out) = fut.poll(cx) {
                    this.first.set(None);
                    let started = this.first_started.take();
                    match out {
                        Ok(value) => {
                            learn(this.site, *this.learn, started);
                            this.extra.clear();
                            return Poll::Ready(Ok(value));
                        }
                        Err(error) if !this.when.retry(&error) => {
                            this.extra.clear();
                            return Poll::Ready(Err(error));
                        }
                        Err(error) => {
                            failures += 1;
                            last_error = Some(error);
                        }
                    }
                } else if *this.learn && this.first_started.is_none() {
                    // The first attempt's clock starts when its first poll returns:
                    // a call that is ready at once reads no clock and records zero
                    // (the synchronous part of a first poll is not waited for).
                    *this.first_started = Some(Instant::now());
                }
            }
            let mut i = 0;
            while i < this.extra.len() {
                let attempt = this.extra[i].as_mut().project();
                let Poll::Ready(out) = attempt.fut.poll(cx) else {
                    i += 1;
                    continue;
                };
                let started = *attempt.started;
                // The order of the list does not matter: every attempt is polled.
                drop(this.extra.swap_remove(i));
                match out {
                    Ok(value) => {
                        learn(this.site, *this.learn, started);
                        this.first.set(None);
                        this.extra.clear();
                        return Poll::Ready(Ok(value));
                    }
                    Err(error) if !this.when.retry(&error) => {
                        this.first.set(None);
                        this.extra.clear();
                        return Poll::Ready(Err(error));
                    }
                    Err(error) => {
                        failures += 1;
                        last_error = Some(error);
                    }
                }
            }
            if let Some(error) = last_error {
                let mut restarted = false;
                for _ in 0..failures {
                    if *this.started >= *this.max || !this.budget.try_withdraw() {
                        break;
                    }
                    start(&mut this, Reason::Failed);
                    restarted = true;
                }
                if restarted {
                    crate::metrics::forget(); // the new attempt races on
                    continue;
                }
                if this.first.is_none() && this.extra.is_empty() {
                    return Poll::Ready(Err(error));
                }
                crate::metrics::forget(); // the others race on
            }
            // Every attempt in flight is pending: is another one due?
            let Some(after) = *this.after else { return Poll::Pending };
            if *this.started >= *this.max {
                return Poll::Pending;
            }
            if !after.is_zero() {
                if this.timer.is_none() {
                    this.timer.set(Some(tokio::time::sleep(after)));
                }
                let Some(timer) = this.timer.as_mut().as_pin_mut() else { return Poll::Pending };
                if timer.poll(cx).is_pending() {
                    return Poll::Pending;
                }
            }
            if !this.budget.try_withdraw() {
                // No more hedges on time for this call; its attempts run on.
                *this.after = None;
                return Poll::Pending;
            }
            start(&mut this, Reason::Slow);
        }
    }
}

/// Starts the next attempt, inline if the first slot is free, else on the heap, and
/// restarts the hedge timer from now (the newest attempt's start).
#[cold]
fn start<Make, Fut, W, B>(this: &mut Attempts<'_, '_, Make, Fut, W, B>, reason: Reason)
where
    Make: FnMut() -> Fut,
    B: ?Sized,
{
    *this.started += 1;
    crate::metrics::hedged(this.site.name);
    let after = this.after.unwrap_or(Duration::ZERO);
    tracing::debug!(
        target: "steadfast",
        function = this.site.name,
        attempt = *this.started,
        after_ms = after.as_millis() as u64,
        reason = match reason { Reason::Slow => "slow", Reason::Failed => "failed" },
        "hedging: another attempt started",
    );
    let started = this.learn.then(Instant::now);
    let fut = (this.make)();
    if this.first.is_none() {
        this.first.set(Some(fut));
        *this.first_started = started;
    } else {
        if this.extra.capacity() == 0 {
            this.extra.reserve_exact(usize::from(*this.max) - 1);
        }
        this.extra.push(Box::pin(Boxed { fut, started }));
    }
    if let Some(timer) = this.timer.as_mut().as_pin_mut() {
        // Saturating, as `tokio::time::sleep` does: any `Duration` is a valid `after`.
        let now = Instant::now();
        timer.reset(now.checked_add(after).unwrap_or_else(|| now + FAR_FUTURE));
    }
}

/// Records the latency of the attempt that won, measured from its own start (as
/// tower's `hedge` does): the window describes the body, not the hedging.
#[inline]
fn learn(site: &Hedge, learn: bool, started: Option<Instant>) {
    if learn {
        site.record(started.map_or(Duration::ZERO, |started| started.elapsed()));
    }
}
