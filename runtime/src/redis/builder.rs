//! [`RedisLimiterBuilder`]: the limits, the policy and the timings of a
//! [`RedisLimiter`], checked by `build`.

use std::sync::Arc;
use std::time::Duration;

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::{Notify, mpsc};

use super::leases::{Keeper, listen};
use super::limiter::{Limits, RedisLimiter};
use super::outage::{Health, Unavailable};
use crate::limit::Invalid;
use crate::{InvalidLimit, Limiter};

/// `redis_timeout` unless given: a local Redis answers in well under a millisecond,
/// one across a data centre in a few.
pub const DEFAULT_REDIS_TIMEOUT: Duration = Duration::from_millis(50);

/// `lease` unless given.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(30);

/// The shortest lease (renewed every third of it) and `redis_timeout` taken.
const AT_LEAST: Duration = Duration::from_millis(3);

/// Builds a [`RedisLimiter`]: [`RedisLimiter::builder`].
#[derive(Debug)]
#[must_use = "a builder does nothing until `build` is awaited"]
pub struct RedisLimiterBuilder {
    client: ::redis::Client,
    name: String,
    concurrency: Option<usize>,
    rate: Option<(u32, Duration)>,
    burst: Option<u32>,
    unavailable: Unavailable,
    redis_timeout: Duration,
    lease: Duration,
}

impl RedisLimiterBuilder {
    pub(super) fn new(client: ::redis::Client, name: impl Into<String>) -> Self {
        RedisLimiterBuilder {
            client,
            name: name.into(),
            concurrency: None,
            rate: None,
            burst: None,
            unavailable: Unavailable::FailOpen,
            redis_timeout: DEFAULT_REDIS_TIMEOUT,
            lease: DEFAULT_LEASE,
        }
    }

    /// At most `starts` starts in any window of length `per`, for the whole fleet (a
    /// sliding window, as [`Limiter::rate`]; spaced with [`burst`](Self::burst)).
    pub fn rate(mut self, starts: u32, per: Duration) -> Self {
        self.rate = Some((starts, per));
        self
    }

    /// At most `burst` starts at once, then one every `per / starts` (GCRA), as
    /// [`Limiter::burst`]; needs [`rate`](Self::rate), and `1 ≤ burst ≤ starts`.
    pub fn burst(mut self, burst: u32) -> Self {
        self.burst = Some(burst);
        self
    }

    /// At most `n` bodies at once across the fleet: each holds a lease in Redis.
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = Some(n);
        self
    }

    /// What calls do while Redis does not answer; [`Unavailable::FailOpen`] unless given.
    pub fn on_unavailable(mut self, policy: Unavailable) -> Self {
        self.unavailable = policy;
        self
    }

    /// How long a call waits for Redis's answer before it applies the
    /// [`Unavailable`] policy (50 ms unless given; at least 3 ms).
    pub fn redis_timeout(mut self, timeout: Duration) -> Self {
        self.redis_timeout = timeout;
        self
    }

    /// How long a concurrency slot is held in Redis without news from its replica (30 s
    /// unless given; at least 3 ms). Renewed every third of it while the body runs, so
    /// it bounds only how long a replica that died keeps its slots.
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// Checks the limits and builds the limiter. Does not wait for Redis: a service
    /// starts while Redis is down, under its [`Unavailable`] policy until Redis answers
    /// (it loads the script if Redis answers within `redis_timeout`).
    ///
    /// Spawns its background tasks (releasing and renewing leases, listening for freed
    /// slots) on the current tokio runtime; they end when the limiter is dropped.
    ///
    /// # Errors
    ///
    /// [`InvalidLimit`] for a concurrency of 0, a rate of 0 starts or over a zero
    /// window, or a burst of 0, above the rate's starts or without a rate.
    ///
    /// # Panics
    ///
    /// Outside of a tokio runtime.
    pub async fn build(self) -> Result<RedisLimiter, InvalidLimit> {
        // The local checks give the local errors.
        Limiter::try_new(self.concurrency, self.rate)?;
        if let Some(burst) = self.burst {
            let Some((starts, _)) = self.rate else {
                return Err(InvalidLimit::new(Invalid::BurstWithoutRate));
            };
            if burst == 0 {
                return Err(InvalidLimit::new(Invalid::ZeroBurst));
            }
            if burst > starts {
                return Err(InvalidLimit::new(Invalid::BurstAboveRate));
            }
        }
        let name = super::limiter::intern(&self.name);
        let redis_timeout = at_least(self.redis_timeout, "redis_timeout", name);
        let lease = at_least(self.lease, "lease", name);

        let config = ConnectionManagerConfig::new()
            // Reconnect soon after Redis is back: the limiter's own probes decide how
            // often calls ask it, so a quick retry costs nothing.
            .set_min_delay(Duration::from_millis(10))
            .set_max_delay(Duration::from_millis(200))
            .set_number_of_retries(3)
            .set_connection_timeout(Some(redis_timeout.max(Duration::from_millis(500))));
        // The callers' connection, and the keeper's own: releases and renewals never
        // queue behind (or in front of) the calls' decisions.
        let connections = ConnectionManager::new_lazy_with_config(
            self.client.clone(),
            config.clone(),
        )
        .and_then(|conn| {
            let keeper = ConnectionManager::new_lazy_with_config(self.client.clone(), config)?;
            Ok((conn, keeper))
        });
        let (conn, keeper_conn) = match connections {
            Ok(connections) => connections,
            // Only a configuration the client rejects; no Redis call happened.
            Err(err) => {
                tracing::error!(
                    target: "steadfast",
                    limiter = name,
                    reason = ?err.kind(),
                    "cannot set up the Redis connection",
                );
                return Err(InvalidLimit::new(Invalid::RedisClient));
            }
        };

        let prefix: Arc<str> = format!("{{steadfast:{name}}}").into();
        let channel = format!("{prefix}:released");
        let released = Arc::new(Notify::new());
        let (leases, listener) = match self.concurrency {
            Some(_) => {
                let (sender, receiver) = mpsc::unbounded_channel();
                let keeper = Keeper {
                    conn: keeper_conn,
                    lease,
                    redis_timeout,
                    channel: channel.clone(),
                    limiter: name,
                };
                tokio::spawn(keeper.run(receiver));
                let listener = tokio::spawn(listen(self.client.clone(), channel, released.clone()));
                (Some(sender), Some(listener.abort_handle()))
            }
            None => (None, None),
        };
        let limits = Limits {
            concurrency: self.concurrency,
            rate: self.rate,
            burst: self.burst,
            lease,
            redis_timeout,
        };
        let limiter = RedisLimiter::new(
            name,
            prefix,
            conn,
            limits,
            self.unavailable,
            Health::new(),
            released,
            leases,
            listener,
        );
        limiter.warm_up().await;
        Ok(limiter)
    }
}

/// `value`, or [`AT_LEAST`] with an ERROR event if it is shorter.
fn at_least(value: Duration, what: &'static str, limiter: &'static str) -> Duration {
    if value >= AT_LEAST {
        return value;
    }
    tracing::error!(
        target: "steadfast",
        limiter,
        given = ?value,
        used = ?AT_LEAST,
        "a fleet limiter's `{what}` is too short; using the shortest allowed",
    );
    AT_LEAST
}
