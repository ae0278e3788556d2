//! What a [`RedisLimiter`](super::RedisLimiter) does while Redis does not answer: the
//! [`Unavailable`] policy, and the health it keeps (one ERROR event per outage, one
//! caller at a time probing Redis, recovery when Redis answers again).

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use crate::Limiter;

/// While Redis is down, one caller asks it again this often; the others apply the
/// policy at once, without waiting for Redis.
pub(super) const PROBE_EVERY: Duration = Duration::from_millis(100);

/// What a [`RedisLimiter`](super::RedisLimiter) does when Redis does not answer (the
/// connection is refused or lost, the answer takes longer than `redis_timeout`, or the
/// script fails).
///
/// Whichever the policy, a call never waits longer than `redis_timeout` plus its own
/// `wait`, one ERROR event (target `steadfast`) reports each outage, an INFO event its
/// end, and the limiter goes back to Redis by itself once it answers again.
#[derive(Debug)]
#[non_exhaustive]
// Built once per limiter and kept in it: boxing the local limiter would buy nothing.
#[allow(clippy::large_enum_variant)]
pub enum Unavailable {
    /// The call runs, unlimited: the service keeps working, and the protected resource
    /// takes whatever the fleet sends it while Redis is down. The default (as Envoy's
    /// global rate limit and Stripe's limiters do).
    FailOpen,
    /// The call is refused: `Err(Rejected)` of [`LimitKind::Unavailable`](crate::LimitKind::Unavailable),
    /// naming the limiter, at once. A call without a `wait` (which cannot return an
    /// error) waits for Redis to answer instead, as long as it takes.
    FailClosed,
    /// This local limiter takes over, with the caller's remaining `wait`: each replica
    /// keeps its own share (give it the fleet's limit divided by the replica count).
    /// Keyed calls get a limiter per key with the same limits.
    Local(Limiter),
}

impl Unavailable {
    pub(super) fn name(&self) -> &'static str {
        match self {
            Unavailable::FailOpen => "fail open",
            Unavailable::FailClosed => "fail closed",
            Unavailable::Local(_) => "local limiter",
        }
    }
}

/// Why Redis was taken for unavailable; never the URL (it may hold a password).
#[derive(Debug)]
pub(super) enum Failure {
    /// No answer within `redis_timeout`.
    TimedOut(Duration),
    /// An error from the client or the server.
    Redis(::redis::RedisError),
    /// The script answered something it never answers.
    BadReply,
}

impl Failure {
    /// A description without the connection's address or credentials.
    pub(super) fn reason(&self) -> String {
        match self {
            Failure::TimedOut(after) => format!("no answer within {after:?}"),
            Failure::Redis(err) if err.is_connection_refusal() => "connection refused".to_owned(),
            Failure::Redis(err) if err.is_timeout() => "timed out".to_owned(),
            Failure::Redis(err) if err.is_connection_dropped() => "connection lost".to_owned(),
            Failure::Redis(err) if err.is_io_error() => "I/O error".to_owned(),
            // Errors the server sends (a script error, OOM, READONLY, NOAUTH) carry no
            // address: its code and message are what the operator needs.
            Failure::Redis(err) => match (err.code(), err.detail()) {
                (Some(code), Some(detail)) => format!("{code}: {detail}"),
                (Some(code), None) => code.to_owned(),
                _ => format!("{:?}", err.kind()),
            },
            Failure::BadReply => "unexpected reply from the script".to_owned(),
        }
    }
}

/// Whether Redis answers, as far as this limiter knows.
pub(super) struct Health {
    /// The clock's origin for `next_probe`.
    base: Instant,
    down: AtomicBool,
    /// While down: when (nanoseconds since `base`) the next caller may ask Redis again.
    next_probe: AtomicU64,
    /// When the outage began, for the recovery event.
    since: Mutex<Option<Instant>>,
}

impl Health {
    pub(super) fn new() -> Self {
        Health {
            base: Instant::now(),
            down: AtomicBool::new(false),
            next_probe: AtomicU64::new(0),
            since: Mutex::new(None),
        }
    }

    pub(super) fn is_up(&self) -> bool {
        !self.down.load(Ordering::Relaxed)
    }

    /// Whether this caller should ask Redis: always while it is up; while it is down,
    /// one caller per [`PROBE_EVERY`].
    pub(super) fn should_ask(&self) -> bool {
        if self.is_up() {
            return true;
        }
        let now = self.now();
        let next = self.next_probe.load(Ordering::Relaxed);
        now >= next
            && self
                .next_probe
                .compare_exchange(
                    next,
                    now + nanos(PROBE_EVERY),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_ok()
    }

    /// Redis answered: ends an outage, with an INFO event.
    pub(super) fn answered(&self, limiter: &str) {
        if self.down.load(Ordering::Relaxed) && self.down.swap(false, Ordering::Relaxed) {
            let since = self.since.lock().unwrap_or_else(|p| p.into_inner()).take();
            let down_ms = since.map_or(0, |since| millis(since.elapsed()));
            tracing::info!(
                target: "steadfast",
                limiter,
                down_ms,
                "Redis answers again; the fleet-wide limit is back in force",
            );
        }
    }

    /// Redis did not answer: begins an outage (one ERROR event) unless one is under way.
    pub(super) fn failed(&self, limiter: &str, policy: &Unavailable, failure: &Failure) {
        self.next_probe.store(self.now() + nanos(PROBE_EVERY), Ordering::Relaxed);
        if !self.down.swap(true, Ordering::Relaxed) {
            *self.since.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
            tracing::error!(
                target: "steadfast",
                limiter,
                policy = policy.name(),
                reason = %failure.reason(),
                "Redis is unavailable; calls follow the limiter's `Unavailable` policy until it answers again",
            );
        }
    }

    fn now(&self) -> u64 {
        nanos(self.base.elapsed())
    }
}

fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

pub(super) fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn one_caller_per_probe_interval_asks_a_redis_that_is_down() {
        let health = Health::new();
        assert!(health.should_ask() && health.should_ask(), "up: everyone asks");
        health.failed("fleet", &Unavailable::FailOpen, &Failure::BadReply);
        assert!(!health.should_ask(), "the failure itself was the probe");
        tokio::time::advance(PROBE_EVERY).await;
        assert!(health.should_ask());
        assert!(!health.should_ask(), "one probe per interval");
        health.answered("fleet");
        assert!(health.is_up() && health.should_ask());
    }

    #[test]
    fn reasons_never_hold_the_url() {
        let err = ::redis::RedisError::from(std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "redis://user:secret@10.0.0.1/",
        ));
        let reason = Failure::Redis(err).reason();
        assert_eq!(reason, "connection refused");
        assert_eq!(Failure::TimedOut(Duration::from_millis(50)).reason(), "no answer within 50ms");
    }
}
