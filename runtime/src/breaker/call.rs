//! The future of one call through a [`Breaker`]: admitted at its first poll, recorded
//! when the body finishes or panics, forgotten when it is dropped.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;

use super::Breaker;
use super::state::Ticket;
use crate::CircuitOpen;

/// Where a call is.
enum Phase {
    /// Not polled yet: not admitted.
    Start,
    /// Admitted; the body runs.
    Running(Ticket),
    /// Refused, finished, or recorded as a panic.
    Done,
}

pin_project! {
    /// `body` run through a breaker: resolves to `Ok(output)` when it ran (recorded as
    /// `failed` classifies it) and to `Err(CircuitOpen)` when the breaker refused it
    /// (the body is then never polled). Returned by the `#[circuit_breaker]` expansion's
    /// entry point (`__private::breaker_call`); [`Breaker::run`] wraps it for plain code.
    #[doc(hidden)]
    pub struct BreakerCall<'a, F, C> {
        #[pin]
        body: F,
        breaker: &'a Breaker,
        function: &'static str,
        failed: C,
        phase: Phase,
    }

    impl<F, C> PinnedDrop for BreakerCall<'_, F, C> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            // Dropped while the body runs: a cancellation, not recorded.
            if let Phase::Running(ticket) = this.phase {
                if ticket.is_trial() {
                    this.breaker.cancelled(*ticket);
                }
            }
        }
    }
}

impl<'a, F, C> BreakerCall<'a, F, C> {
    pub(super) fn new(breaker: &'a Breaker, function: &'static str, failed: C, body: F) -> Self {
        Self { body, breaker, function, failed, phase: Phase::Start }
    }
}

/// Records a failure if the body's poll unwinds; forgotten when it returns.
struct PanicGuard<'a> {
    breaker: &'a Breaker,
    ticket: Ticket,
    function: &'static str,
}

impl Drop for PanicGuard<'_> {
    fn drop(&mut self) {
        self.breaker.finish(self.ticket, true, self.function);
    }
}

impl<F, C> Future for BreakerCall<'_, F, C>
where
    F: Future,
    C: Fn(&F::Output) -> bool,
{
    type Output = Result<F::Output, CircuitOpen>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let ticket = match this.phase {
            Phase::Running(ticket) => *ticket,
            Phase::Start => match this.breaker.admit(this.function) {
                Ok(ticket) => {
                    *this.phase = Phase::Running(ticket);
                    ticket
                }
                Err(open) => {
                    *this.phase = Phase::Done;
                    return Poll::Ready(Err(open));
                }
            },
            Phase::Done => panic!("`BreakerCall` polled after it finished"),
        };
        // A panic in the body is recorded as a failure while it unwinds through here;
        // the phase is then left `Running`, and the later drop finds the breaker in
        // another period (or a closed ticket) and records nothing more.
        let guard = PanicGuard { breaker: this.breaker, ticket, function: this.function };
        let polled = this.body.poll(cx);
        std::mem::forget(guard);
        let out = match polled {
            Poll::Ready(out) => out,
            Poll::Pending => return Poll::Pending,
        };
        *this.phase = Phase::Done;
        this.breaker.finish(ticket, (this.failed)(&out), this.function);
        Poll::Ready(Ok(out))
    }
}

pin_project! {
    /// [`BreakerCall`] with the refusal turned into the body's error type: the future of
    /// [`Breaker::run`] and [`Breaker::run_when`].
    pub(super) struct Run<'a, F, C> {
        #[pin]
        call: BreakerCall<'a, F, C>,
    }
}

impl<'a, F, C> Run<'a, F, C> {
    pub(super) fn new(call: BreakerCall<'a, F, C>) -> Self {
        Self { call }
    }
}

impl<T, E, F, C> Future for Run<'_, F, C>
where
    F: Future<Output = Result<T, E>>,
    C: Fn(&Result<T, E>) -> bool,
    E: From<CircuitOpen>,
{
    type Output = Result<T, E>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().call.poll(cx) {
            Poll::Ready(Ok(out)) => Poll::Ready(out),
            Poll::Ready(Err(open)) => Poll::Ready(Err(E::from(open))),
            Poll::Pending => Poll::Pending,
        }
    }
}
