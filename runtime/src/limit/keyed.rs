//! Limits per key: [`KeyedLimiter`] (one [`Limiter`]'s worth of state per active key,
//! in sharded maps, idle keys forgotten) and the [`KeyedLimit`] trait behind
//! `#[limit(using = .., key = ..)]`.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::hash::{BuildHasher, Hash, RandomState};
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::Instant;

use super::limiter::Limiter;
use super::rate::origin;
use super::window::saturating_nanos;
use crate::error::Rejected;

/// Shards of the key maps: a power of two, so that a key's shard is a mask of its hash.
/// Each key's limits have locks of their own; a shard's lock is held only to find a
/// key's state, never while anyone waits.
const SHARDS: usize = 64;

/// A shard sweeps its idle keys once it holds this many, or twice as many as after its
/// last sweep, or a window after it: amortised, a constant cost per call.
const SWEEP_AT_LEAST: usize = 16;

/// The trait behind `#[limit(using = EXPR, key = KEY)]`: anything that hands out slots
/// per key.
///
/// [`KeyedLimiter`] implements it, and so do references to and `Arc`s of
/// implementations. Implement it for keyed limits kept elsewhere (a fleet-wide limiter
/// in a shared store):
///
/// ```
/// use std::time::Duration;
/// use steadfast::{KeyedLimit, LimitKind, Rejected};
///
/// /// Lets every tenant through but "blocked".
/// struct Blocklist;
///
/// impl KeyedLimit<&'static str> for Blocklist {
///     type Permit<'a> = ();
///
///     async fn acquire(&self, tenant: &'static str, wait: Option<Duration>) -> Result<(), Rejected> {
///         match tenant {
///             "blocked" => Err(Rejected::new(LimitKind::Other("blocklist"), Duration::ZERO)),
///             _ => Ok(()),
///         }
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// assert!(Blocklist.acquire("acme", None).await.is_ok());
/// assert!(Blocklist.acquire("blocked", Some(Duration::ZERO)).await.is_err());
/// # }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a keyed limiter for keys of type `{K}`: `#[limit(using = .., key = ..)]` needs one",
    label = "not limits per key of type `{K}`",
    note = "name a `steadfast::KeyedLimiter<{K}>` (`static PER_USER: KeyedLimiter<u64> = KeyedLimiter::concurrency(2);`) or another `KeyedLimit<{K}>`, or drop `key` to share one set of limits between all callers"
)]
pub trait KeyedLimit<K> {
    /// Held while the body runs; dropping it releases the slot.
    type Permit<'a>: Send
    where
        Self: 'a;

    /// Waits for a slot of `key`'s limits, with the contract of
    /// [`Limit::acquire`](super::Limit::acquire): `None` waits as long as needed,
    /// `Some(d)` gives up after `d` with [`Rejected`], and a dropped future leaves no
    /// trace.
    fn acquire(
        &self,
        key: K,
        wait: Option<Duration>,
    ) -> impl Future<Output = Result<Self::Permit<'_>, Rejected>> + Send;

    /// Describes the limit in events. By default, the type's name.
    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(std::any::type_name::<Self>())
    }
}

/// Limits that apply per key (a user id, an `IpAddr`, a tenant name): each key has its
/// own window, slots and FIFO line, as if it had a [`Limiter`] of its own.
///
/// Built by the same `const` constructors as [`Limiter`], so it can live in a `static`:
///
/// ```
/// use std::time::Duration;
/// use steadfast::KeyedLimiter;
///
/// /// Per user: at most 2 requests at once, and one every 500 ms.
/// static PER_USER: KeyedLimiter<u64> =
///     KeyedLimiter::concurrency(2).and_rate(2, Duration::from_secs(1)).burst(1);
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let start = tokio::time::Instant::now();
/// let alice = PER_USER.acquire(1, None).await.unwrap();
/// let bob = PER_USER.acquire(2, None).await.unwrap(); // another key: not held up
/// assert_eq!(start.elapsed(), Duration::ZERO);
/// drop(PER_USER.acquire(1, None).await.unwrap()); // Alice's second: 500 ms later
/// assert_eq!(start.elapsed(), Duration::from_millis(500));
/// assert_eq!(PER_USER.keys(), 2);
/// # drop((alice, bob));
/// # }
/// ```
///
/// # Memory
///
/// State is kept only for active keys: a key with nothing in flight, nobody waiting and
/// no start within the rate's `per` is forgotten, lazily, as later calls pass by (each
/// shard of the map sweeps its idle keys once it has doubled in size or a window has
/// passed) and whenever [`keys`](Self::keys) counts them. A million keys that went
/// idle cost nothing once swept. An active key costs one [`Limiter`] (752 bytes) plus
/// the key and the map's slot.
///
/// A `KeyedLimiter` is made to be a `static` (or to live as long as the program): the
/// state of its keys is not freed when it is dropped, as a type with `const`
/// constructors that take `self` cannot have a destructor.
///
/// # Sharing
///
/// Keys live in 64 shards, each a map behind its own lock, held only to find a key's
/// state; a key's slots and line have locks of their own, so callers of two keys never
/// wait for each other.
pub struct KeyedLimiter<K> {
    /// The limits each key gets; never used itself.
    template: Limiter,
    /// Allocated at the first call: a `static` cannot allocate.
    ///
    /// NOTE: never freed. A `const fn` that takes a value with a destructor (as
    /// `and_rate(self, ..)` does) does not compile, so this type may have none; it is
    /// made to be a `static`, which is never dropped anyway.
    shards: ManuallyDrop<OnceLock<Shards<K>>>,
}

struct Shards<K> {
    hasher: RandomState,
    shards: Box<[Shard<K>]>,
}

struct Shard<K> {
    keys: Mutex<Keys<K>>,
}

struct Keys<K> {
    map: HashMap<K, Arc<Entry>>,
    /// Sweep again once the map holds this many keys...
    sweep_len: usize,
    /// ...or at this time (nanoseconds since the rate limiters' origin).
    sweep_at: u64,
}

/// One key's state.
struct Entry {
    limiter: Limiter,
    /// When its latest start was, in nanoseconds since the rate limiters' origin (only
    /// kept with a rate limit: without one, a key is idle as soon as nobody holds it).
    last_start: AtomicU64,
}

impl<K> KeyedLimiter<K> {
    /// Per key, at most `n` bodies at once, as [`Limiter::concurrency`].
    ///
    /// # Panics
    ///
    /// As [`Limiter::concurrency`]; in a `static`, at compile time.
    pub const fn concurrency(n: usize) -> Self {
        Self::from_template(Limiter::concurrency(n))
    }

    /// Per key, at most `starts` starts in any window of length `per`, as
    /// [`Limiter::rate`].
    ///
    /// # Panics
    ///
    /// As [`Limiter::rate`]; in a `static`, at compile time.
    pub const fn rate(starts: u32, per: Duration) -> Self {
        Self::from_template(Limiter::rate(starts, per))
    }

    /// Adds a rate limit per key to a concurrency limit per key, as
    /// [`Limiter::and_rate`].
    ///
    /// # Panics
    ///
    /// As [`Limiter::and_rate`]; in a `static`, at compile time.
    #[must_use]
    pub const fn and_rate(self, starts: u32, per: Duration) -> Self {
        let Self { template, shards } = self;
        Self { template: template.and_rate(starts, per), shards }
    }

    /// Spaces each key's starts evenly, as [`Limiter::burst`].
    ///
    /// # Panics
    ///
    /// As [`Limiter::burst`]; in a `static`, at compile time.
    #[must_use]
    pub const fn burst(self, burst: u32) -> Self {
        let Self { template, shards } = self;
        Self { template: template.burst(burst), shards }
    }

    /// A keyed limiter whose every key gets `template`'s limits.
    pub(super) const fn from_template(template: Limiter) -> Self {
        Self { template, shards: ManuallyDrop::new(OnceLock::new()) }
    }

    /// The limits each key gets (its `in_flight` and `waiting` are always 0).
    pub fn limits(&self) -> &Limiter {
        &self.template
    }
}

impl<K: Hash + Eq + Clone + Send + Sync + 'static> KeyedLimiter<K> {
    /// Waits for a slot of `key`'s limits, as [`Limiter::acquire`]: `None` waits as long
    /// as needed, `Some(d)` gives up after `d` with [`Rejected`].
    ///
    /// ```
    /// use std::time::Duration;
    /// use steadfast::KeyedLimiter;
    ///
    /// static PER_IP: KeyedLimiter<std::net::IpAddr> = KeyedLimiter::concurrency(1);
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let ip = std::net::IpAddr::from([10, 0, 0, 1]);
    /// let held = PER_IP.acquire(ip, None).await.unwrap();
    /// assert!(PER_IP.acquire(ip, Some(Duration::ZERO)).await.is_err());
    /// drop(held);
    /// assert!(PER_IP.acquire(ip, Some(Duration::ZERO)).await.is_ok());
    /// # }
    /// ```
    pub fn acquire(
        &self,
        key: K,
        wait: Option<Duration>,
    ) -> impl Future<Output = Result<KeyedPermit<'_>, Rejected>> + Send + '_ {
        self.acquire_entry(key, wait)
    }

    /// [`Self::acquire`] as a future whose type names neither `K` nor an opaque type
    /// (for `#[limit(.., key = ..)]` with the function's own limits).
    pub(super) fn acquire_entry(&self, key: K, wait: Option<Duration>) -> KeyedAcquire<'_> {
        let rated = self.template.rate_limit().is_some();
        KeyedAcquire {
            entry: Some(self.entry(key)),
            wait,
            rated,
            waiting: None,
            _limiter: PhantomData,
        }
    }

    /// How many keys it holds state for now; idle keys are swept first, so this counts
    /// the active ones (and any whose window has not passed yet).
    pub fn keys(&self) -> usize {
        let Some(shards) = self.shards.get() else { return 0 };
        let now = now();
        shards
            .shards
            .iter()
            .map(|shard| {
                let mut keys = lock(&shard.keys);
                self.sweep(&mut keys, now);
                keys.map.len()
            })
            .sum()
    }

    /// `key`'s state, created if it has none; the shard sweeps its idle keys when due.
    fn entry(&self, key: K) -> Arc<Entry> {
        let shards = self.shards.get_or_init(|| Shards {
            hasher: RandomState::new(),
            shards: (0..SHARDS)
                .map(|_| Shard {
                    keys: Mutex::new(Keys {
                        map: HashMap::new(),
                        sweep_len: SWEEP_AT_LEAST,
                        sweep_at: 0,
                    }),
                })
                .collect(),
        });
        // Truncated to the low bits on purpose: they pick the shard.
        let shard = &shards.shards[shards.hasher.hash_one(&key) as usize & (SHARDS - 1)];
        let mut keys = lock(&shard.keys);
        if let Some(entry) = keys.map.get(&key) {
            return entry.clone();
        }
        if keys.map.len() >= keys.sweep_len {
            self.sweep(&mut keys, now());
        } else if self.template.rate_limit().is_some() {
            let now = now();
            if now >= keys.sweep_at {
                self.sweep(&mut keys, now);
            }
        }
        let entry =
            Arc::new(Entry { limiter: self.template.fresh(), last_start: AtomicU64::new(0) });
        keys.map.insert(key, entry.clone());
        entry
    }

    /// Forgets the keys that are idle at `now`.
    fn sweep(&self, keys: &mut Keys<K>, now: u64) {
        let per = self.template.rate_limit().map_or(0, |(_, per)| saturating_nanos(per));
        keys.map.retain(|_, entry| {
            // Only the map holds it: nothing in flight, nobody waiting (permits and
            // waiting callers hold a clone, and take one only under this lock).
            let held = Arc::strong_count(entry) > 1;
            held || now.saturating_sub(entry.last_start.load(Ordering::Relaxed)) < per
        });
        keys.sweep_len = keys.map.len().saturating_mul(2).max(SWEEP_AT_LEAST);
        keys.sweep_at = now.saturating_add(per.max(1));
    }
}

impl<K: Hash + Eq + Clone + Send + Sync + 'static> KeyedLimit<K> for KeyedLimiter<K> {
    type Permit<'a> = KeyedPermit<'a>;

    fn acquire(
        &self,
        key: K,
        wait: Option<Duration>,
    ) -> impl Future<Output = Result<KeyedPermit<'_>, Rejected>> + Send {
        KeyedLimiter::acquire(self, key, wait)
    }

    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} per key", self.template)
    }
}

impl<K, L: KeyedLimit<K> + ?Sized> KeyedLimit<K> for &L {
    type Permit<'a>
        = L::Permit<'a>
    where
        Self: 'a;

    fn acquire(
        &self,
        key: K,
        wait: Option<Duration>,
    ) -> impl Future<Output = Result<Self::Permit<'_>, Rejected>> + Send {
        L::acquire(self, key, wait)
    }

    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        L::describe(self, f)
    }
}

impl<K, L: KeyedLimit<K> + ?Sized> KeyedLimit<K> for Arc<L> {
    type Permit<'a>
        = L::Permit<'a>
    where
        Self: 'a;

    fn acquire(
        &self,
        key: K,
        wait: Option<Duration>,
    ) -> impl Future<Output = Result<Self::Permit<'_>, Rejected>> + Send {
        L::acquire(self, key, wait)
    }

    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        L::describe(self, f)
    }
}

impl<K> fmt::Display for KeyedLimiter<K> {
    /// Names the limits, as in `concurrency limit of 2 per key`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} per key", self.template)
    }
}

impl<K> fmt::Debug for KeyedLimiter<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedLimiter")
            .field("concurrency", &self.template.concurrency_limit())
            .field("rate", &self.template.rate_limit())
            .field("burst", &self.template.burst_limit())
            .finish_non_exhaustive()
    }
}

/// The future of [`KeyedLimiter::acquire`]: the key's state is found when it is made;
/// the fast path runs on the first poll, and a caller that has to wait boxes its place
/// in line (owning a handle on the key's state), as [`Limiter`]'s does.
#[doc(hidden)]
pub struct KeyedAcquire<'a> {
    /// `None` once the permit is handed out.
    entry: Option<Arc<Entry>>,
    wait: Option<Duration>,
    /// Whether the key has a rate limit, so its last start is noted.
    rated: bool,
    waiting: Option<KeyWaiting>,
    /// Tied to the limiter, as the permit is.
    _limiter: PhantomData<&'a ()>,
}

/// A caller's place in a key's line, boxed with a handle on the key's state.
type KeyWaiting = Pin<Box<dyn Future<Output = Result<(), Rejected>> + Send>>;

impl<'a> Future for KeyedAcquire<'a> {
    type Output = Result<KeyedPermit<'a>, Rejected>;

    #[inline]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        if this.waiting.is_none() {
            let Some(entry) = &this.entry else { panic!("`KeyedAcquire` polled after completion") };
            match entry.limiter.try_acquire_now() {
                // The permit's slot is given back by `KeyedPermit`, which keeps the
                // key's state alive while it is held.
                Some(permit) => std::mem::forget(permit),
                None => {
                    let (entry, wait) = (entry.clone(), this.wait);
                    this.waiting = Some(Box::pin(async move {
                        std::mem::forget(entry.limiter.acquire_permit(wait).await?);
                        Ok(())
                    }));
                }
            }
        }
        if let Some(waiting) = &mut this.waiting {
            let acquired = std::task::ready!(waiting.as_mut().poll(cx));
            this.waiting = None;
            acquired?;
        }
        let Some(entry) = this.entry.take() else {
            panic!("`KeyedAcquire` polled after completion")
        };
        if this.rated {
            entry.last_start.store(now(), Ordering::Relaxed);
        }
        Poll::Ready(Ok(KeyedPermit { entry, _limiter: PhantomData }))
    }
}

/// A slot of one key of a [`KeyedLimiter`], held while the body runs; dropping it frees
/// the slot. It keeps the key's state alive.
#[must_use = "the slot is freed as soon as the permit is dropped"]
pub struct KeyedPermit<'a> {
    entry: Arc<Entry>,
    /// Tied to the limiter, as a [`LimiterPermit`](super::LimiterPermit) is.
    _limiter: PhantomData<&'a ()>,
}

impl Drop for KeyedPermit<'_> {
    fn drop(&mut self) {
        self.entry.limiter.release();
    }
}

impl fmt::Debug for KeyedPermit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedPermit")
            .field("limiter", &format_args!("{}", self.entry.limiter))
            .finish()
    }
}

/// Now, on the clock of the rate limiters' arithmetic.
fn now() -> u64 {
    saturating_nanos(Instant::now().saturating_duration_since(origin()))
}

/// A shard's lock; its map stays whole whatever panics (nothing under it can panic
/// but the key's own `Hash`/`Eq`, which leave the map as it was), so poison is ignored.
fn lock<K>(keys: &Mutex<Keys<K>>) -> MutexGuard<'_, Keys<K>> {
    keys.lock().unwrap_or_else(PoisonError::into_inner)
}
