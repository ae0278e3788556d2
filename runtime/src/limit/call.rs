//! What the `#[limit]` expansion calls: [`limit`] and [`limit_or_reject`], the future
//! they return, what happens when a slot is refused ([`Refused`]: [`FailOpen`] or
//! [`Reject`]), and the events.

use std::fmt;
use std::future::Future;
use std::hash::Hash;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::time::Instant;

use super::keyed::{KeyedAcquire, KeyedLimit, KeyedPermit};
use super::rate::origin;
use super::shared::Limit;
use super::site::KeyedSite;
use super::window::saturating_nanos;
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

/// [`limit`] through a shared limiter named by a path (`#[limit(using = DB)]`): the
/// gauges are labelled `label` (the path's last segment, the `static`'s name) unless
/// the limiter has a [`label`](Limit::label) of its own.
#[doc(hidden)]
#[allow(clippy::type_complexity)] // the acquiring future has no name
pub fn limit_named<'a, L: Limit + ?Sized, F: Future>(
    limiter: &'a L,
    label: &'static str,
    function: &'static str,
    body: F,
) -> Limited<
    Labelled<&'a L>,
    impl Future<Output = Result<L::Permit<'a>, Rejected>> + 'a,
    L::Permit<'a>,
    F,
    FailOpen,
> {
    let acquire = limiter.acquire(None);
    Limited::new(Labelled::new(limiter, label), function, acquire, body, FailOpen)
}

/// [`limit_or_reject`] through a shared limiter named by a path, as [`limit_named`].
#[doc(hidden)]
#[allow(clippy::type_complexity)] // the acquiring future has no name
pub fn limit_named_or_reject<'a, L: Limit + ?Sized, F: Future>(
    limiter: &'a L,
    label: &'static str,
    function: &'static str,
    wait: Duration,
    on_rejected: fn(Rejected) -> F::Output,
    body: F,
) -> Limited<
    Labelled<&'a L>,
    impl Future<Output = Result<L::Permit<'a>, Rejected>> + 'a,
    L::Permit<'a>,
    F,
    Reject<F::Output>,
> {
    let acquire = limiter.acquire(Some(wait));
    Limited::new(Labelled::new(limiter, label), function, acquire, body, Reject(on_rejected))
}

/// [`limit`] for a keyed limiter: runs `body` holding a slot of `key`'s limits, waiting
/// as long as needed. What `#[limit(using = EXPR, key = KEY)]` without `wait` expands to.
///
/// NOTE: the key comes first, so that its type is known when the limiter is checked
/// against it; and the future is opaque, so that awaiting it asks nothing more of the
/// limiter than this call does (a limiter that is not keyed is reported once).
#[doc(hidden)]
pub fn limit_keyed<'a, K: 'a, L: KeyedLimit<K> + ?Sized, F: Future + 'a>(
    key: K,
    limiter: &'a L,
    label: &'static str,
    function: &'static str,
    body: F,
) -> impl Future<Output = F::Output> + 'a {
    let acquire = limiter.acquire(key, None);
    Limited::new(Labelled::new(ByKey::new(limiter), label), function, acquire, body, FailOpen)
}

/// [`limit_or_reject`] for a keyed limiter: waits at most `wait` for a slot of `key`'s
/// limits. What `#[limit(using = EXPR, key = KEY, wait = D)]` expands to.
#[doc(hidden)]
pub fn limit_keyed_or_reject<'a, K: 'a, L: KeyedLimit<K> + ?Sized, F: Future + 'a>(
    key: K,
    limiter: &'a L,
    label: &'static str,
    function: &'static str,
    wait: Duration,
    on_rejected: fn(Rejected) -> F::Output,
    body: F,
) -> impl Future<Output = F::Output> + 'a {
    let acquire = limiter.acquire(key, Some(wait));
    let limiter = Labelled::new(ByKey::new(limiter), label);
    Limited::new(limiter, function, acquire, body, Reject(on_rejected))
}

/// [`limit_keyed`] with the function's own limits: `#[limit(concurrency = 2, key = KEY)]`.
///
/// NOTE: the return type names neither `K` nor an opaque type: the only bound on the key
/// is [`LimitKey`], reported once with its own message, and a spawned future with a key
/// such as `&'static str` is `Send` (a future of a trait's impl with `K: 'static` would
/// carry a bound that the erased lifetimes of an `async` block's state cannot prove).
#[doc(hidden)]
pub fn limit_per_key<K: LimitKey, F: Future>(
    site: &'static KeyedSite,
    key: K,
    function: &'static str,
    body: F,
) -> Limited<&'static KeyedSite, KeyedAcquire<'static>, KeyedPermit<'static>, F, FailOpen> {
    Limited::new(site, function, key.acquire_at(site, None), body, FailOpen)
}

/// [`limit_keyed_or_reject`] with the function's own limits:
/// `#[limit(concurrency = 2, key = KEY, wait = D)]`.
#[doc(hidden)]
pub fn limit_per_key_or_reject<K: LimitKey, F: Future>(
    site: &'static KeyedSite,
    key: K,
    function: &'static str,
    wait: Duration,
    on_rejected: fn(Rejected) -> F::Output,
    body: F,
) -> Limited<&'static KeyedSite, KeyedAcquire<'static>, KeyedPermit<'static>, F, Reject<F::Output>>
{
    let acquire = key.acquire_at(site, Some(wait));
    Limited::new(site, function, acquire, body, Reject(on_rejected))
}

impl DescribeLimit for &KeyedSite {
    fn describe_limit(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.describe(f)
    }
}

/// The key of `#[limit(.., key = KEY)]` with the function's own limits. No supertraits:
/// a key that is not one is reported once, with this message.
#[diagnostic::on_unimplemented(
    message = "the key of `#[limit(.., key = ..)]` must be `Hash + Eq + Clone + Send + Sync + 'static`, and `{Self}` is not",
    label = "each value of this key gets its own limits, kept in a map",
    note = "use an owned value that identifies the caller: an integer id, a `String`, an `IpAddr`, or a tuple of them"
)]
#[doc(hidden)]
pub trait LimitKey: Sized {
    /// Waits for a slot of this key's limits in `site`'s keyed limiter of this key type.
    fn acquire_at(self, site: &'static KeyedSite, wait: Option<Duration>) -> KeyedAcquire<'static>;
}

impl<K: Hash + Eq + Clone + Send + Sync + 'static> LimitKey for K {
    #[inline]
    fn acquire_at(self, site: &'static KeyedSite, wait: Option<Duration>) -> KeyedAcquire<'static> {
        site.limiter::<K>().acquire_entry(self, wait)
    }
}

/// A key written as a place (`user.id`, `tenant`): the expansion takes a copy, so that
/// the body still has the original.
#[diagnostic::on_unimplemented(
    message = "`#[limit(key = ..)]` takes a copy of the key, so `{Self}` must be `Clone`",
    label = "copied for the limiter; the body keeps the original",
    note = "implement `Clone` for `{Self}`, or write a key expression that makes a new value (`key = user.id()`)"
)]
#[doc(hidden)]
pub trait KeyCopy: Clone {}

impl<K: Clone> KeyCopy for K {}

/// A copy of the key `#[limit(key = PLACE)]` names.
#[doc(hidden)]
#[inline(always)]
pub fn key_copy<K: KeyCopy>(key: &K) -> K {
    key.clone()
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

/// A shared limiter with the name its `using = PATH` gives it: the `limiter` label of
/// the gauges when it has none of its own. Without the feature `metrics`, the limiter
/// alone.
#[doc(hidden)]
pub struct Labelled<L> {
    limiter: L,
    #[cfg(feature = "metrics")]
    label: &'static str,
}

impl<L> Labelled<L> {
    #[inline(always)]
    fn new(limiter: L, label: &'static str) -> Self {
        #[cfg(not(feature = "metrics"))]
        let _ = label;
        Labelled {
            limiter,
            #[cfg(feature = "metrics")]
            label,
        }
    }
}

impl<L: DescribeLimit> DescribeLimit for Labelled<L> {
    fn describe_limit(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.limiter.describe_limit(f)
    }

    #[inline]
    fn label(&self) -> Option<&'static str> {
        #[cfg(feature = "metrics")]
        return Some(self.limiter.label().unwrap_or(self.label));
        #[cfg(not(feature = "metrics"))]
        self.limiter.label()
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
        // When `acquire` first returned `Pending`, in nanoseconds since the rate
        // limiters' origin (0: not noted), noted only for the DEBUG event on a long
        // wait (so a waiting caller reads no clock when it is off). 8 bytes where an
        // `Option<Instant>` takes 16; outside `Phase`, which then needs no tag of its own.
        since: u64,
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
        Acquiring { #[pin] acquire: A, waiting: Held<WAITING> },
        // `None`: the limiter refused and the call runs without a slot (fails open), or
        // the call is over. Two variants only, so that the acquiring future's niche
        // holds the tag. `waiting` and `running`: the call's place in
        // `steadfast_limit_waiting` and `steadfast_limit_in_flight` (feature `metrics`).
        Running { permit: Option<P>, running: Held<IN_FLIGHT> },
    }
}

impl<L, A, P, F, R> Limited<L, A, P, F, R> {
    #[inline]
    fn new(limiter: L, function: &'static str, acquire: A, body: F, refused: R) -> Self {
        let state = Phase::Acquiring { acquire, waiting: Held::none() };
        Limited { limiter, function, refused, since: 0, state, body }
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
        if let PhaseProj::Acquiring { acquire, waiting } = this.state.as_mut().project() {
            let since = this.since;
            let acquired = match acquire.poll(cx) {
                Poll::Ready(acquired) => acquired,
                Poll::Pending => {
                    if waiting.is_empty() {
                        *waiting = Held::enter(label(&*this.limiter, this.function));
                    }
                    // Only for the DEBUG event on a long wait: no clock read without it.
                    if *since == 0 && long_waits_are_reported() {
                        *since = now_nanos().max(1);
                    }
                    return Poll::Pending;
                }
            };
            let permit = match acquired {
                Ok(permit) => {
                    if *since != 0 {
                        let waited = Duration::from_nanos(now_nanos().saturating_sub(*since));
                        report_long_wait(&*this.limiter, this.function, waited);
                    }
                    Some(permit)
                }
                Err(rejected) => match this.refused.refused(rejected, this.function) {
                    Some(out) => {
                        this.state.set(Phase::Running { permit: None, running: Held::none() });
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
            if let Poll::Ready(out) = this.body.as_mut().poll(cx) {
                drop(permit);
                return Poll::Ready(out);
            }
            // In `steadfast_limit_in_flight` from the body's first `Pending` on: a body
            // done within its first poll would leave the gauge as it found it before
            // any other thread could read it, so it is not counted, and the success
            // path asks the `metrics` facade once per call (at the call's start), not
            // twice. A body that suspends pays the second question with its wake-up.
            let running = Held::enter(label(&*this.limiter, this.function));
            this.state.set(Phase::Running { permit, running });
            return Poll::Pending;
        }
        // Running (a future is not polled again once it is ready).
        let out = std::task::ready!(this.body.poll(cx));
        // The slot is freed as soon as the body is done.
        this.state.set(Phase::Running { permit: None, running: Held::none() });
        Poll::Ready(out)
    }
}

/// Now, in nanoseconds since the rate limiters' origin (tokio's clock).
fn now_nanos() -> u64 {
    saturating_nanos(Instant::now().saturating_duration_since(origin()))
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
