//! [`RedisLimiter`]: one call's decision in Redis, the waits it names, the
//! [`Unavailable`] policy when Redis does not answer, and [`RedisPermit`].

use std::collections::HashSet;
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use ::redis::aio::ConnectionManager;
use tokio::sync::{Notify, mpsc};
use tokio::task::AbortHandle;
use tokio::time::Instant;

use super::builder::RedisLimiterBuilder;
use super::leases::{LeaseId, Message, POLL_AT_MOST};
use super::outage::{Failure, Health, PROBE_EVERY, Unavailable};
use super::scripts::{ACQUIRE_SCRIPT, Decision, micros};
use crate::error::{LimitKind, Rejected};
use crate::limit::{KeyedLimit, KeyedLimiter, KeyedPermit, Limit, LimiterPermit};

/// The limits of a [`RedisLimiter`], checked by its builder.
#[derive(Debug, Clone, Copy)]
pub(super) struct Limits {
    pub(super) concurrency: Option<usize>,
    pub(super) rate: Option<(u32, Duration)>,
    pub(super) burst: Option<u32>,
    pub(super) lease: Duration,
    pub(super) redis_timeout: Duration,
}

/// A limit kept in Redis for every replica of a service together: at most `n` bodies
/// at once and at most `starts` starts per window across the fleet, decided atomically
/// by one Lua script per call on Redis's clock.
///
/// It implements [`Limit`] and [`KeyedLimit`] (for any key that is `Display`), so
/// `#[limit(using = self.fleet)]` and `#[limit(using = self.fleet, key = tenant)]` take
/// their slots from it. Built by [`RedisLimiter::builder`]; see [the module](super) for
/// how it decides, waits, and behaves while Redis is down.
pub struct RedisLimiter {
    name: &'static str,
    /// `{steadfast:NAME}`: the hash tag of every key of this limiter.
    prefix: Arc<str>,
    /// The keys of the limit without a key.
    slots_key: Arc<str>,
    rate_key: String,
    conn: ConnectionManager,
    limits: Limits,
    unavailable: Unavailable,
    health: Health,
    /// Notified when a slot is freed anywhere in the fleet (pub/sub).
    released: Arc<Notify>,
    /// To the task that renews and gives back leases; `None` without a concurrency limit.
    leases: Option<mpsc::UnboundedSender<Message>>,
    listener: Option<AbortHandle>,
    /// This replica's part of every token: unique across processes and limiters.
    replica: String,
    calls: AtomicU64,
    /// The local fallback's limiters per key, made at the first keyed call that needs one.
    local_keyed: OnceLock<KeyedLimiter<String>>,
}

impl RedisLimiter {
    /// Starts building a limiter named `name` on the Redis that `client` connects to.
    /// Replicas that build limiters of the same name on the same Redis share its limits
    /// (the name is part of every key, so give them the same limits too).
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use steadfast::redis::{Client, RedisLimiter, Unavailable};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let client = Client::open("redis://127.0.0.1:6379/")?;
    /// let fleet = RedisLimiter::builder(client, "partner-api")
    ///     .rate(1000, Duration::from_secs(1))
    ///     .concurrency(50)
    ///     .on_unavailable(Unavailable::FailClosed)
    ///     .redis_timeout(Duration::from_millis(20))
    ///     .build()
    ///     .await?;
    /// let permit = fleet.acquire(Some(Duration::from_millis(250))).await?;
    /// drop(permit); // the lease goes back to Redis in the background
    /// # Ok(())
    /// # }
    /// ```
    pub fn builder(client: ::redis::Client, name: impl Into<String>) -> RedisLimiterBuilder {
        RedisLimiterBuilder::new(client, name)
    }

    #[allow(clippy::too_many_arguments)] // one call site: the builder
    pub(super) fn new(
        name: &'static str,
        prefix: Arc<str>,
        conn: ConnectionManager,
        limits: Limits,
        unavailable: Unavailable,
        health: Health,
        released: Arc<Notify>,
        leases: Option<mpsc::UnboundedSender<Message>>,
        listener: Option<AbortHandle>,
    ) -> Self {
        RedisLimiter {
            name,
            slots_key: format!("{prefix}:c").into(),
            rate_key: format!("{prefix}:r"),
            prefix,
            conn,
            limits,
            unavailable,
            health,
            released,
            leases,
            listener,
            replica: replica_id(),
            calls: AtomicU64::new(0),
            local_keyed: OnceLock::new(),
        }
    }

    /// Loads the script if Redis answers within `redis_timeout`; otherwise the first
    /// call does (and the outage is reported now).
    pub(super) async fn warm_up(&self) {
        if self.limits.concurrency.is_none() && self.limits.rate.is_none() {
            return;
        }
        let mut conn = self.conn.clone();
        let invocation = ACQUIRE_SCRIPT.prepare_invoke();
        let load = invocation.load_async(&mut conn);
        match tokio::time::timeout(self.limits.redis_timeout, load).await {
            Ok(Ok(_)) => {}
            Ok(Err(err)) => self.health.failed(self.name, &self.unavailable, &Failure::Redis(err)),
            Err(_) => self.health.failed(
                self.name,
                &self.unavailable,
                &Failure::TimedOut(self.limits.redis_timeout),
            ),
        }
    }

    /// The limiter's name, as given to [`builder`](Self::builder).
    pub fn name(&self) -> &str {
        self.name
    }

    /// Whether Redis answered the latest call (`false` during an outage, while calls
    /// follow the [`Unavailable`] policy).
    pub fn redis_available(&self) -> bool {
        self.health.is_up()
    }

    /// The fleet-wide concurrency limit, if any.
    pub fn concurrency_limit(&self) -> Option<usize> {
        self.limits.concurrency
    }

    /// The fleet-wide rate limit as `(starts, per)`, if any.
    pub fn rate_limit(&self) -> Option<(u32, Duration)> {
        self.limits.rate
    }

    /// The burst, if starts are spaced.
    pub fn burst_limit(&self) -> Option<u32> {
        self.limits.burst
    }

    /// How long a lease lasts without renewal.
    pub fn lease(&self) -> Duration {
        self.limits.lease
    }

    /// How long a call waits for Redis before it applies the [`Unavailable`] policy.
    pub fn redis_timeout(&self) -> Duration {
        self.limits.redis_timeout
    }

    /// Waits for a slot, as [`Limit::acquire`] does (so that no trait import is
    /// needed): `None` waits as long as needed, `Some(d)` gives up after `d` with
    /// [`Rejected`] (`Some(Duration::ZERO)`: one round trip, then in or out).
    pub fn acquire(
        &self,
        wait: Option<Duration>,
    ) -> impl Future<Output = Result<RedisPermit<'_>, Rejected>> + Send + '_ {
        self.acquire_for(None, wait)
    }

    /// Waits for a slot of `key`'s limits (each key has the limits of the whole
    /// limiter, kept in Redis under its own keys), as [`KeyedLimit::acquire`] does.
    pub fn acquire_key(
        &self,
        key: impl fmt::Display,
        wait: Option<Duration>,
    ) -> impl Future<Output = Result<RedisPermit<'_>, Rejected>> + Send + '_ {
        self.acquire_for(Some(key.to_string()), wait)
    }

    async fn acquire_for(
        &self,
        key: Option<String>,
        wait: Option<Duration>,
    ) -> Result<RedisPermit<'_>, Rejected> {
        let limits = self.limits;
        if limits.concurrency.is_none() && limits.rate.is_none() {
            return Ok(RedisPermit::unlimited());
        }
        let start = Instant::now();
        let deadline = wait.map(|wait| start + wait);
        let (slots_key, rate_key) = match &key {
            None => (self.slots_key.clone(), std::borrow::Cow::Borrowed(self.rate_key.as_str())),
            Some(key) => (
                Arc::from(format!("{}:c:{key}", self.prefix)),
                std::borrow::Cow::Owned(format!("{}:r:{key}", self.prefix)),
            ),
        };
        loop {
            // Registered before Redis is asked, so that a release published while the
            // answer is on its way still wakes this caller (only with a concurrency
            // limit: registering takes the `Notify`'s lock).
            let mut freed = std::pin::pin!(self.leases.is_some().then(|| self.released.notified()));
            if let Some(freed) = freed.as_mut().as_pin_mut() {
                freed.enable();
            }
            let answer = if self.health.should_ask() {
                Some(self.ask(&slots_key, &rate_key).await)
            } else {
                None
            };
            let decision = match answer {
                Some(Ok((decision, lease))) => {
                    self.health.answered(self.name);
                    match decision {
                        Decision::Admitted => return Ok(RedisPermit::lease(lease, self)),
                        refused => refused,
                    }
                }
                Some(Err(failure)) => {
                    self.health.failed(self.name, &self.unavailable, &failure);
                    match self.unavailable(key.as_deref(), start, deadline).await {
                        Some(outcome) => return outcome,
                        None => continue,
                    }
                }
                None => match self.unavailable(key.as_deref(), start, deadline).await {
                    Some(outcome) => return outcome,
                    None => continue,
                },
            };
            let now = Instant::now();
            let (limit, retry_at) = match decision {
                Decision::RateSpent(after) => {
                    let (starts, per) = limits.rate.unwrap_or_default();
                    (LimitKind::Rate { starts, per }, now + after)
                }
                // Until a slot is freed (notified), the first lease expires, or the
                // polling fallback's turn.
                Decision::SlotsHeld(after) => (
                    LimitKind::Concurrency(limits.concurrency.unwrap_or_default()),
                    now + after.min(POLL_AT_MOST),
                ),
                Decision::Admitted => unreachable!("returned above"),
            };
            match deadline {
                // The rate names the time a start is free: a caller that cannot wait
                // that long is turned away now rather than after sleeping.
                Some(deadline)
                    if now >= deadline
                        || (matches!(decision, Decision::RateSpent(_)) && retry_at > deadline) =>
                {
                    return Err(Rejected::new(limit, now - start));
                }
                _ => {
                    let until = deadline.map_or(retry_at, |deadline| retry_at.min(deadline));
                    let sleep = tokio::time::sleep_until(until);
                    match (decision, freed.as_pin_mut()) {
                        (Decision::SlotsHeld(_), Some(freed)) => first_of(freed, sleep).await,
                        _ => sleep.await,
                    }
                }
            }
        }
    }

    /// One round trip: the script's decision, and the lease it took (if admitted with a
    /// concurrency limit). A call cancelled or failed mid-way gives its lease back in
    /// case Redis took it.
    async fn ask(
        &self,
        slots_key: &Arc<str>,
        rate_key: &str,
    ) -> Result<(Decision, Option<Lease<'_>>), Failure> {
        let limits = self.limits;
        let call = self.calls.fetch_add(1, Ordering::Relaxed);
        let token = format!("{}:{call}", self.replica);
        // Gives the lease back if this future is dropped before the answer is read.
        let pending = self.leases.as_ref().map(|leases| Lease {
            id: Some(LeaseId { token: token.as_str().into(), key: slots_key.clone() }),
            leases,
        });
        let (starts, per) = limits.rate.unwrap_or((0, Duration::ZERO));
        let mut invocation = ACQUIRE_SCRIPT.key(&**slots_key);
        invocation
            .key(rate_key)
            .arg(limits.concurrency.unwrap_or(0))
            .arg(micros(limits.lease))
            .arg(starts)
            .arg(micros(per))
            .arg(limits.burst.unwrap_or(0))
            .arg(&token);
        let mut conn = self.conn.clone();
        let reply = tokio::time::timeout(
            limits.redis_timeout,
            invocation.invoke_async::<(i64, i64, i64)>(&mut conn),
        )
        .await
        .map_err(|_| Failure::TimedOut(limits.redis_timeout))?
        .map_err(Failure::Redis)?;
        let decision = Decision::from_reply(reply).ok_or(Failure::BadReply)?;
        match decision {
            Decision::Admitted => {
                if let Some(Lease { id: Some(id), leases }) = &pending {
                    let _ = leases.send(Message::Held(id.clone()));
                }
                Ok((decision, pending))
            }
            refused => {
                // Nothing was taken: nothing to give back.
                if let Some(mut lease) = pending {
                    lease.id = None;
                }
                Ok((refused, None))
            }
        }
    }

    /// What a call does while Redis does not answer: `Some(outcome)`, or `None` to ask
    /// Redis again (a closed caller without a wait budget, after a probe interval).
    async fn unavailable(
        &self,
        key: Option<&str>,
        start: Instant,
        deadline: Option<Instant>,
    ) -> Option<Result<RedisPermit<'_>, Rejected>> {
        let remaining = deadline.map(|deadline| deadline.saturating_duration_since(Instant::now()));
        match &self.unavailable {
            Unavailable::FailOpen => Some(Ok(RedisPermit::unlimited())),
            Unavailable::FailClosed => match deadline {
                Some(_) => {
                    Some(Err(Rejected::new(LimitKind::Unavailable(self.name), start.elapsed())))
                }
                None => {
                    tokio::time::sleep(PROBE_EVERY).await;
                    None
                }
            },
            Unavailable::Local(local) => Some(match key {
                None => match local.acquire(remaining).await {
                    Ok(permit) => Ok(RedisPermit { held: Held::Local(permit) }),
                    Err(rejected) => Err(Rejected::new(rejected.limit(), start.elapsed())),
                },
                Some(key) => {
                    let keyed =
                        self.local_keyed.get_or_init(|| KeyedLimiter::from_template(local.fresh()));
                    match keyed.acquire(key.to_owned(), remaining).await {
                        Ok(permit) => Ok(RedisPermit { held: Held::LocalKeyed(permit) }),
                        Err(rejected) => Err(Rejected::new(rejected.limit(), start.elapsed())),
                    }
                }
            }),
        }
    }
}

impl Drop for RedisLimiter {
    fn drop(&mut self) {
        if let Some(listener) = &self.listener {
            listener.abort();
        }
        if let Some(keyed) = self.local_keyed.get_mut() {
            keyed.forget_keys();
        }
    }
}

impl Limit for RedisLimiter {
    type Permit<'a> = RedisPermit<'a>;

    fn acquire(
        &self,
        wait: Option<Duration>,
    ) -> impl Future<Output = Result<RedisPermit<'_>, Rejected>> + Send {
        self.acquire_for(None, wait)
    }

    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl<K: fmt::Display> KeyedLimit<K> for RedisLimiter {
    type Permit<'a> = RedisPermit<'a>;

    fn acquire(
        &self,
        key: K,
        wait: Option<Duration>,
    ) -> impl Future<Output = Result<RedisPermit<'_>, Rejected>> + Send {
        self.acquire_for(Some(key.to_string()), wait)
    }

    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self} per key")
    }
}

impl fmt::Display for RedisLimiter {
    /// Names the limiter and its limits, as in `fleet limit `payments`: concurrency
    /// limit of 50 and rate limit of 1000 per 1s` (never the Redis URL).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "fleet limit `{}`: ", self.name)?;
        let concurrency = self.limits.concurrency.map(LimitKind::Concurrency);
        let rate = self.limits.rate.map(|(starts, per)| LimitKind::Rate { starts, per });
        match (concurrency, rate) {
            (Some(c), Some(r)) => write!(f, "{c} and {r}")?,
            (Some(c), None) => write!(f, "{c}")?,
            (None, Some(r)) => write!(f, "{r}")?,
            (None, None) => f.write_str("no limit")?,
        }
        match self.limits.burst {
            Some(burst) => write!(f, ", burst {burst}"),
            None => Ok(()),
        }
    }
}

impl fmt::Debug for RedisLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisLimiter")
            .field("name", &self.name)
            .field("concurrency", &self.limits.concurrency)
            .field("rate", &self.limits.rate)
            .field("burst", &self.limits.burst)
            .field("lease", &self.limits.lease)
            .field("redis_timeout", &self.limits.redis_timeout)
            .field("on_unavailable", &self.unavailable)
            .field("redis_available", &self.health.is_up())
            .finish_non_exhaustive()
    }
}

/// A slot of a [`RedisLimiter`], held while the body runs. Dropping it gives the lease
/// back to Redis in the background (dropping never blocks); a body that runs longer
/// than the lease has it renewed meanwhile.
#[must_use = "the slot is freed as soon as the permit is dropped"]
pub struct RedisPermit<'a> {
    held: Held<'a>,
}

// The fields are held for their `Drop`: each gives its slot back.
#[allow(dead_code)]
enum Held<'a> {
    /// A rate limit only, or admitted without Redis (fail open): nothing to give back.
    Nothing,
    /// A lease in Redis.
    Lease(Lease<'a>),
    /// A slot of the local fallback.
    Local(LimiterPermit<'a>),
    LocalKeyed(KeyedPermit<'a>),
}

impl<'a> RedisPermit<'a> {
    fn unlimited() -> Self {
        RedisPermit { held: Held::Nothing }
    }

    fn lease(lease: Option<Lease<'a>>, _limiter: &'a RedisLimiter) -> Self {
        RedisPermit { held: lease.map_or(Held::Nothing, Held::Lease) }
    }

    /// Whether the slot is held in Redis (a lease); `false` for a rate limit alone, and
    /// for a call admitted by the [`Unavailable`] policy.
    pub fn holds_lease(&self) -> bool {
        matches!(self.held, Held::Lease(_))
    }

    /// Whether the call was admitted by the local fallback ([`Unavailable::Local`]).
    pub fn is_local(&self) -> bool {
        matches!(self.held, Held::Local(_) | Held::LocalKeyed(_))
    }
}

impl fmt::Debug for RedisPermit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let held = match &self.held {
            Held::Nothing => "nothing",
            Held::Lease(_) => "a lease",
            Held::Local(_) | Held::LocalKeyed(_) => "a local slot",
        };
        f.debug_struct("RedisPermit").field("holds", &held).finish()
    }
}

/// A lease taken (or maybe taken) in Redis; given back when dropped, by the keeper.
struct Lease<'a> {
    /// `None` once known not to be taken.
    id: Option<LeaseId>,
    leases: &'a mpsc::UnboundedSender<Message>,
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        if let Some(id) = self.id.take() {
            // The keeper is gone only with the runtime: the lease then expires by itself.
            let _ = self.leases.send(Message::Released(id));
        }
    }
}

/// Waits for whichever of `a` and `b` is ready first.
async fn first_of(a: impl Future<Output = ()>, b: impl Future<Output = ()>) {
    let (mut a, mut b) = (std::pin::pin!(a), std::pin::pin!(b));
    std::future::poll_fn(|cx| {
        if a.as_mut().poll(cx).is_ready() || b.as_mut().poll(cx).is_ready() {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
}

/// A token prefix unique to this limiter in this process: the process id, the time and
/// a per-process count (tokens only need to differ, not to be secret).
fn replica_id() -> String {
    static LIMITERS: AtomicU64 = AtomicU64::new(0);
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_nanos());
    let n = LIMITERS.fetch_add(1, Ordering::Relaxed);
    format!("{:x}.{since_epoch:x}.{n}", std::process::id())
}

/// `name`, kept for the life of the process once per distinct name (for the
/// `&'static str` of [`LimitKind::Unavailable`] and the events).
pub(super) fn intern(name: &str) -> &'static str {
    static NAMES: Mutex<Option<HashSet<&'static str>>> = Mutex::new(None);
    let mut names = NAMES.lock().unwrap_or_else(|p| p.into_inner());
    let names = names.get_or_insert_with(HashSet::new);
    if let Some(known) = names.get(name) {
        return known;
    }
    let leaked: &'static str = Box::leak(name.to_owned().into_boxed_str());
    names.insert(leaked);
    leaked
}
