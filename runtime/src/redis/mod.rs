//! Fleet-wide limits kept in Redis (feature `redis`): one quota for every replica of a
//! service, as [`RedisLimiter`].
//!
//! ```no_run
//! use std::time::Duration;
//! use steadfast::limit;
//! use steadfast::redis::{Client, RedisLimiter, Unavailable};
//!
//! struct Payments {
//!     fleet: RedisLimiter,
//! }
//!
//! impl Payments {
//!     /// At most 1000 charges per second and 50 at once, across every replica.
//!     #[limit(using = self.fleet, wait = 2s)]
//!     async fn charge(&self, cents: u64) -> Result<u64, steadfast::Rejected> {
//!         Ok(cents)
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let fleet = RedisLimiter::builder(Client::open("redis://127.0.0.1:6379/")?, "payments")
//!     .rate(1000, Duration::from_secs(1)) // for all replicas together
//!     .concurrency(50)
//!     .on_unavailable(Unavailable::FailOpen) // or FailClosed, or Local(Limiter)
//!     .build()
//!     .await?; // succeeds while Redis is down
//! let payments = Payments { fleet };
//! payments.charge(1250).await?;
//! # Ok(())
//! # }
//! ```
//!
//! # How it decides
//!
//! Each call runs one Lua script in Redis (by SHA, loaded again after `NOSCRIPT`) that
//! takes the concurrency slot and the start together or neither: an admitted call
//! costs one round trip. Times are Redis's own (`TIME`), so the replicas' clocks never
//! matter. The rate is the local one: a sliding window (at most `starts` in any `per`,
//! each start kept in a sorted set) or, with `burst`, GCRA (one timestamp). A refused
//! call is told how long to wait and sleeps that on tokio's clock; `wait = D` turns it
//! away at once if that is past `D`.
//!
//! Concurrency slots are leases with an expiry (`lease`, 30 s unless given), renewed
//! every third of a lease while the body runs and given back when the permit is
//! dropped (return, error, panic, cancellation) by a background task, so `drop` never
//! blocks. A replica that dies frees its slots when its leases expire. Callers waiting
//! for a slot are woken by a pub/sub message when one is given back anywhere in the
//! fleet, and ask again at least every 200 ms (or when the first lease expires) should
//! a message be lost.
//!
//! All keys of a limiter share one hash tag, `{steadfast:NAME}` (Redis Cluster keeps
//! them on one slot), and expire once idle. Events and errors name the limiter, never
//! the URL.
//!
//! # When Redis does not answer
//!
//! Refused connections, answers slower than `redis_timeout` (50 ms unless given) and
//! script errors put the limiter under its [`Unavailable`] policy: a call never waits
//! longer than `redis_timeout` plus its own `wait`, one ERROR event reports the outage
//! (not one per call), and while it lasts one caller per 100 ms asks Redis again; the
//! first answer ends it (an INFO event).
//!
//! # Fairness
//!
//! Best effort: callers of one replica are woken together and race the other
//! replicas' callers to Redis; nothing keeps a FIFO line across the fleet. A replica
//! that asks more often gets more of the quota; the quota itself is never exceeded.

mod builder;
mod leases;
mod limiter;
mod outage;
mod scripts;

pub use builder::{DEFAULT_LEASE, DEFAULT_REDIS_TIMEOUT, RedisLimiterBuilder};
pub use limiter::{RedisLimiter, RedisPermit};
pub use outage::Unavailable;

/// The `redis` crate's client, re-exported so that its version always matches:
/// `steadfast::redis::Client::open("redis://127.0.0.1:6379/")`. `rediss://` needs TLS
/// support in the `redis` crate, which this feature does not turn on.
pub use ::redis::Client;
