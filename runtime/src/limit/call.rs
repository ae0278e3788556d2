//! What the `#[limit]` expansion calls: [`limit`] and [`limit_or_reject`], the future
//! they return, what happens when a slot is refused ([`Refused`]: [`FailOpen`] or
//! [`Reject`]), and the events.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::time::Instant;

use super::keyed::KeyedLimit;
use super::shared::Limit;
use crate::error::Rejected;
use crate::metrics::{Held, IN_FLIGHT, WAITING};

/// A caller that waited longer than this for its slot is reported at DEBUG level.
const LONG_WAIT: Duration = Duration::from_secs(1);

/// Runs `body` holding a slot of `limiter`; waits as long as needed.
///
/// `body` is not polled before the slot is held. The slot is freed when `body` finishes,
/// panics or is dropped. A caller that waited longer than a second is reported by a
/// DEBUG event (target `steadfast`) with `function`, `waited_ms` and `limit`.
///
/// A limiter that breaks the [`Limit`] contract by rejecting `acquire(None)` (say, a
/// fleet-wide limiter whose store is unreachable) cannot be reported through the
/// function's return type, which need not be a `Result` here: the call then runs
/// without a slot (fails open) and an ERROR event says so. It never panics.
#[doc(hidden)]
#[allow(clippy::type_complexity)] // the acquiring future has no name
pub fn limit<'a, L: Limit + ?Sized, F: Future>(
    limiter: &'a L,
    function: &'static str,
    body: F,
) -> Limited<
    &'a L,
    impl Future<Output = Result<L::Permit<'a>, Rejected>> + 'a,
    L::Permit<'a>,
    F,
    FailOpen,
> {
    Limited::new(limiter, function, limiter.acquire(None), body, FailOpen)
}

/// Runs `body` holding a slot of `limiter`, waiting at most `wait` for it; without a slot
/// by then, returns `on_rejected` of the [`Rejected`] error (attributed to `function`)
/// without polling `body`.
///
/// A rejection is reported by a WARN event (target `steadfast`) with `function`,
/// `waited_ms` and `limit`; a wait longer than a second by a DEBUG event, as in [`limit`].
#[doc(hidden)]
#[allow(clippy::type_complexity)] // the acquiring future has no name
pub fn limit_or_reject<'a, L: Limit + ?Sized, F: Future>(
    limiter: &'a L,
    function: &'static str,
    wait: Duration,
    on_rejected: fn(Rejected) -> F::Output,
    body: F,
) -> Limited<
    &'a L,
    impl Future<Output = Result<L::Permit<'a>, Rejected>> + 'a,
    L::Permit<'a>,
    F,
    Reject<F::Output>,
> {
    Limited::new(limiter, function, limiter.acquire(Some(wait)), body, Reject(on_rejected))
}

/// [`limit`] for a keyed limiter: runs `body` holding a slot of `key`'s limits, waiting
/// as long as needed. What `#[limit(.., key = EXPR)]` without `wait` expands to.
#[doc(hidden)]
#[allow(clippy::type_complexity)] // the acquiring future has no name
pub fn limit_keyed<'a, K: 'a, L: KeyedLimit<K> + ?Sized, F: Future>(
    limiter: &'a L,
    key: K,
    function: &'static str,
    body: F,
) -> Limited<
    ByKey<'a, L, K>,
    impl Future<Output = Result<L::Permit<'a>, Rejected>> + 'a,
    L::Permit<'a>,
    F,
    FailOpen,
> {
    let acquire = limiter.acquire(key, None);
    Limited::new(ByKey::new(limiter), function, acquire, body, FailOpen)
}

/// [`limit_or_reject`] for a keyed limiter: waits at most `wait` for a slot of `key`'s
/// limits. What `#[limit(.., key = EXPR, wait = D)]` expands to.
#[doc(hidden)]
#[allow(clippy::type_complexity)] // the acquiring future has no name
pub fn limit_keyed_or_reject<'a, K: 'a, L: KeyedLimit<K> + ?Sized, F: Future>(
    limiter: &'a L,
    key: K,
    function: &'static str,
    wait: Duration,
    on_rejected: fn(Rejected) -> F::Output,
    body: F,
) -> Limited<
    ByKey<'a, L, K>,
    impl Future<Output = Result<L::Permit<'a>, Rejected>> + 'a,
    L::Permit<'a>,
    F,
    Reject<F::Output>,
> {
    let acquire = limiter.acquire(key, Some(wait));
    Limited::new(ByKey::new(limiter), function, acquire, body, Reject(on_rejected))
}

/// How a [`Limited`] call names its limiter in events: [`Limit::describe`] or
/// [`KeyedLimit::describe`].
#[doc(hidden)]
pub trait DescribeLimit {
    fn describe_limit(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result;

    /// The `limiter` label of the gauges, if the limiter has a name of its own.
    fn label(&self) -> Option<&'static str> {
        None
    }
}

impl<L: Limit + ?Sized> DescribeLimit for &L {
    fn describe_limit(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        L::describe(self, f)
    }

    fn label(&self) -> Option<&'static str> {
        L::label(self)
    }
}

/// A keyed limiter, as a [`Limited`] call names it.
#[doc(hidden)]
pub struct ByKey<'a, L: ?Sized, K>(&'a L, PhantomData<fn(K)>);

impl<'a, L: ?Sized, K> ByKey<'a, L, K> {
    pub(super) fn new(limiter: &'a L) -> Self {
        ByKey(limiter, PhantomData)
    }
}

impl<L: KeyedLimit<K> + ?Sized, K> DescribeLimit for ByKey<'_, L, K> {
    fn describe_limit(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.describe(f)
    }
}

/// What a [`Limited`] call does when the limiter refuses it a slot.
#[doc(hidden)]
pub trait Refused<O> {
    /// `Some(output)` to return without running the body, `None` to run it anyway.
    fn refused(&self, rejected: Rejected, function: &'static str) -> Option<O>;
}

/// Without a wait budget: run without a slot, loudly.
#[doc(hidden)]
pub struct FailOpen;

impl<O> Refused<O> for FailOpen {
    #[cold]
    fn refused(&self, rejected: Rejected, function: &'static str) -> Option<O> {
        tracing::error!(
            target: "steadfast",
            function,
            limit = %rejected.limit(),
            "the limiter refused a call without a wait budget; running it without a slot \
             (give `wait = ..` to reject instead)",
        );
        None
    }
}

/// With a wait budget: return the rejection through the function's return type.
#[doc(hidden)]
pub struct Reject<O>(fn(Rejected) -> O);

impl<O> Refused<O> for Reject<O> {
    #[cold]
    fn refused(&self, rejected: Rejected, function: &'static str) -> Option<O> {
        tracing::warn!(
            target: "steadfast",
            function,
            waited_ms = millis(rejected.waited()),
            limit = %rejected.limit(),
            "rejected: no slot within the wait",
        );
        Some((self.0)(rejected.in_function(function)))
    }
}

pin_project! {
    /// The future of [`limit`] and [`limit_or_reject`]: a slot, then the body. It holds
    /// the body once, and the acquiring future only until the slot is there (an
    /// `async fn` would hold the body twice).
    #[doc(hidden)]
    pub struct Limited<L, A, P, F, R> {
        limiter: L,
        function: &'static str,
        refused: R,
        #[pin]
        state: Phase<A, P>,
        #[pin]
        body: F,
    }
}

pin_project! {
    /// Where a [`Limited`] call is.
    #[project = PhaseProj]
    #[doc(hidden)]
    pub enum Phase<A, P> {
        // `since`: when `acquire` first returned `Pending`, noted only for the DEBUG
        // event on a long wait (so a waiting caller reads no clock when it is off).
        // `waiting`: its place in `steadfast_limit_waiting` (feature `metrics`).
        Acquiring { #[pin] acquire: A, since: Option<Instant>, waiting: Held<WAITING> },
        // `None`: the limiter refused and the call runs without a slot (fails open).
        // `running`: its place in `steadfast_limit_in_flight` (feature `metrics`).
        Running { permit: Option<P>, running: Held<IN_FLIGHT> },
        Done,
    }
}

impl<L, A, P, F, R> Limited<L, A, P, F, R> {
    #[inline]
    fn new(limiter: L, function: &'static str, acquire: A, body: F, refused: R) -> Self {
        let state = Phase::Acquiring { acquire, since: None, waiting: Held::none() };
        Limited { limiter, function, refused, state, body }
    }
}

impl<L, A, P, F, R> Future for Limited<L, A, P, F, R>
where
    L: DescribeLimit,
    A: Future<Output = Result<P, Rejected>>,
    F: Future,
    R: Refused<F::Output>,
{
    type Output = F::Output;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let mut this = self.project();
        if let PhaseProj::Acquiring { acquire, since, waiting } = this.state.as_mut().project() {
            let acquired = match acquire.poll(cx) {
                Poll::Ready(acquired) => acquired,
                Poll::Pending => {
                    if waiting.is_empty() {
                        *waiting = Held::enter(label(&*this.limiter, this.function));
                    }
                    // Only for the DEBUG event on a long wait: no clock read without it.
                    if since.is_none() && long_waits_are_reported() {
                        *since = Some(Instant::now());
                    }
                    return Poll::Pending;
                }
            };
            let permit = match acquired {
                Ok(permit) => {
                    if let Some(since) = since {
                        report_long_wait(&*this.limiter, this.function, since.elapsed());
                    }
                    Some(permit)
                }
                Err(rejected) => match this.refused.refused(rejected, this.function) {
                    Some(out) => {
                        this.state.set(Phase::Done);
                        return Poll::Ready(out);
                    }
                    None => None,
                },
            };
            // The body's first poll, with the permit in hand: a body that finishes at
            // once frees the slot without the state ever changing. (A future is not
            // polled again once it is ready; if this one were, it would take a slot
            // again and poll the finished body, which a finished `async` block answers
            // with a panic, and the slot would be freed while unwinding.)
            let running = Held::enter(label(&*this.limiter, this.function));
            if let Poll::Ready(out) = this.body.as_mut().poll(cx) {
                drop((permit, running));
                return Poll::Ready(out);
            }
            this.state.set(Phase::Running { permit, running });
            return Poll::Pending;
        }
        match this.state.as_mut().project() {
            PhaseProj::Running { .. } => {
                let out = std::task::ready!(this.body.poll(cx));
                // The slot is freed as soon as the body is done.
                this.state.set(Phase::Done);
                Poll::Ready(out)
            }
            _ => panic!("`Limited` polled after completion"),
        }
    }
}

/// The `limiter` label: the limiter's name, else the function's.
#[inline]
fn label<L: DescribeLimit>(limiter: &L, function: &'static str) -> &'static str {
    limiter.label().unwrap_or(function)
}

/// Whether the DEBUG event about a long wait for a slot would be seen.
fn long_waits_are_reported() -> bool {
    tracing::enabled!(target: "steadfast", tracing::Level::DEBUG)
}

fn report_long_wait<L: DescribeLimit>(limiter: &L, function: &'static str, waited: Duration) {
    if waited > LONG_WAIT {
        tracing::debug!(
            target: "steadfast",
            function,
            waited_ms = millis(waited),
            limit = %Described(limiter),
            "got a slot after a long wait",
        );
    }
}

/// [`DescribeLimit`] as `Display`, for events.
pub(super) struct Described<'a, L: ?Sized>(pub(super) &'a L);

impl<L: DescribeLimit + ?Sized> fmt::Display for Described<'_, L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.describe_limit(f)
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
