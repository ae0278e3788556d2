//! The [`Limit`] trait behind `#[limit(using = ..)]`, its implementations for
//! [`Limiter`], `&L` and `Arc<L>`, and [`Limiter`]'s acquiring future (the fast path
//! inline, the boxed waiting path out of line).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use super::limiter::{Limiter, LimiterPermit};
use crate::error::Rejected;

/// The trait behind `#[limit(using = EXPR)]`: anything that hands out slots.
///
/// [`Limiter`] implements it, and so do references to and `Arc`s of implementations.
/// Implement it for a limit kept elsewhere, such as one shared by a fleet in a database:
///
/// ```
/// use std::time::Duration;
/// use steadfast::{Limit, LimitKind, Rejected};
/// use tokio::sync::{Semaphore, SemaphorePermit};
///
/// /// Connections of a pool, used as slots.
/// struct Pool {
///     connections: Semaphore,
/// }
///
/// impl Limit for Pool {
///     type Permit<'a> = SemaphorePermit<'a>;
///
///     async fn acquire(&self, wait: Option<Duration>) -> Result<SemaphorePermit<'_>, Rejected> {
///         let rejected = || Rejected::new(LimitKind::Other("pool"), wait.unwrap_or_default());
///         let permit = match wait {
///             None => self.connections.acquire().await,
///             Some(wait) => tokio::time::timeout(wait, self.connections.acquire())
///                 .await
///                 .map_err(|_| rejected())?,
///         };
///         // Only a closed semaphore fails, and this one is never closed.
///         permit.map_err(|_| rejected())
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let pool = Pool { connections: Semaphore::new(1) };
/// let held = pool.acquire(None).await.unwrap();
/// let err = pool.acquire(Some(Duration::from_millis(10))).await.unwrap_err();
/// assert_eq!(err.to_string(), "rejected by the limit `pool` after waiting 10ms");
/// drop(held);
/// # }
/// ```
pub trait Limit {
    /// Held while the body runs; dropping it releases the slot.
    type Permit<'a>: Send
    where
        Self: 'a;

    /// Waits for a slot.
    ///
    /// `wait: None` waits as long as needed and should not return `Err`: the
    /// `#[limit(using = ..)]` expansion without `wait` has no way to report it, so it
    /// logs an ERROR event and runs the call without a slot (fails open).
    /// `Some(d)` gives up after `d` in total and returns [`Rejected`], naming the limit
    /// that was full and how long the caller waited; `Some(Duration::ZERO)` rejects at
    /// once when the limit is full.
    ///
    /// The future is dropped if the caller is cancelled; it must then leave no trace (no
    /// slot held, no place in a queue).
    fn acquire(
        &self,
        wait: Option<Duration>,
    ) -> impl Future<Output = Result<Self::Permit<'_>, Rejected>> + Send;

    /// Describes the limit in events, as [`Limiter`]'s `Display` does
    /// (`concurrency limit of 8`). By default, the type's name.
    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(std::any::type_name::<Self>())
    }

    /// The `limiter` label of the gauges (feature `metrics`); by default `None`: the
    /// name of the function that calls through it.
    fn label(&self) -> Option<&'static str> {
        None
    }
}

impl Limit for Limiter {
    type Permit<'a> = LimiterPermit<'a>;

    /// Waits for a concurrency slot, then for a start time. With `wait: None` it never
    /// returns `Err`. With `Some(d)`, a caller whose start time would come after `d` is
    /// rejected at once rather than after sleeping; a caller still queued behind others
    /// when `d` runs out is rejected then.
    ///
    /// A caller that gets its permit at once allocates nothing. One that has to wait
    /// boxes its place in line (one allocation), so that the future stays a few words
    /// long whatever the limits: the waiting machinery is not carried by every call.
    fn acquire(
        &self,
        wait: Option<Duration>,
    ) -> impl Future<Output = Result<LimiterPermit<'_>, Rejected>> + Send {
        LimiterAcquire { limiter: self, wait: CompactWait::new(wait), waiting: None }
    }

    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }

    fn label(&self) -> Option<&'static str> {
        Some(self.name).filter(|name| !name.is_empty())
    }
}

/// The future of [`Limiter`]'s [`Limit::acquire`]: the fast path on its first poll,
/// the boxed waiting path after that.
struct LimiterAcquire<'a> {
    limiter: &'a Limiter,
    wait: CompactWait,
    waiting: Option<Waiting<'a>>,
}

/// A wait budget in 8 bytes (an `Option<Duration>` takes 16): nanoseconds, `u64::MAX`
/// for none. A budget of 584 years or more is no budget, which it is in effect.
#[derive(Clone, Copy)]
struct CompactWait(u64);

impl CompactWait {
    #[inline]
    fn new(wait: Option<Duration>) -> Self {
        CompactWait(
            wait.map_or(u64::MAX, |wait| u64::try_from(wait.as_nanos()).unwrap_or(u64::MAX)),
        )
    }

    fn get(self) -> Option<Duration> {
        (self.0 != u64::MAX).then(|| Duration::from_nanos(self.0))
    }
}

/// A caller's place in line, boxed: only callers that wait have one.
type Waiting<'a> = Pin<Box<dyn Future<Output = Result<LimiterPermit<'a>, Rejected>> + Send + 'a>>;

impl<'a> Future for LimiterAcquire<'a> {
    type Output = Result<LimiterPermit<'a>, Rejected>;

    // Always inlined: returned through memory, the permit costs a store-forwarding
    // stall that is a third of the fast path.
    #[inline(always)]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if self.waiting.is_none() {
            if let Some(permit) = self.limiter.try_acquire_now() {
                return Poll::Ready(Ok(permit));
            }
        }
        self.poll_waiting(cx)
    }
}

impl<'a> LimiterAcquire<'a> {
    /// The slow path, out of line so that the fast path inlines into the caller.
    #[cold]
    #[inline(never)]
    fn poll_waiting(&mut self, cx: &mut Context<'_>) -> Poll<Result<LimiterPermit<'a>, Rejected>> {
        let (limiter, wait) = (self.limiter, self.wait.get());
        let waiting = self.waiting.get_or_insert_with(|| match (wait, limiter.slot_only()) {
            // The common queue, for a slot and nothing else: boxed alone, it is a third
            // of the size of the whole state machine (no timer, no start time).
            (None, Some(concurrency)) => Box::pin(concurrency.queue(limiter)),
            _ => Box::pin(limiter.acquire_permit(wait)),
        });
        waiting.as_mut().poll(cx)
    }
}

impl<L: Limit + ?Sized> Limit for &L {
    type Permit<'a>
        = L::Permit<'a>
    where
        Self: 'a;

    fn acquire(
        &self,
        wait: Option<Duration>,
    ) -> impl Future<Output = Result<Self::Permit<'_>, Rejected>> + Send {
        L::acquire(self, wait)
    }

    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        L::describe(self, f)
    }

    fn label(&self) -> Option<&'static str> {
        L::label(self)
    }
}

impl<L: Limit + ?Sized> Limit for Arc<L> {
    type Permit<'a>
        = L::Permit<'a>
    where
        Self: 'a;

    fn acquire(
        &self,
        wait: Option<Duration>,
    ) -> impl Future<Output = Result<Self::Permit<'_>, Rejected>> + Send {
        L::acquire(self, wait)
    }

    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        L::describe(self, f)
    }

    fn label(&self) -> Option<&'static str> {
        L::label(self)
    }
}
