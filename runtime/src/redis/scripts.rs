//! The Lua scripts that decide inside Redis, on Redis's clock (`TIME`), and what their
//! answers mean. Each runs by SHA (`EVALSHA`) and is loaded again after `NOSCRIPT` by
//! the `redis` crate's [`Script`].
//!
//! Times inside the scripts are microseconds since the Unix epoch on the Redis
//! server's clock: exact in a Lua number (a double) for the next few centuries.

use std::sync::LazyLock;
use std::time::Duration;

use ::redis::Script;

/// One decision for one call: the concurrency slot (a lease) and the start (sliding
/// window or GCRA) together, taken only if both are free.
///
/// `KEYS[1]`: the leases, a sorted set of lease tokens scored by their expiry.
/// `KEYS[2]`: the starts: a sorted set of start tokens scored by their time (sliding
/// window), or the theoretical arrival time as a string (GCRA, with `burst`).
/// `ARGV`: concurrency (0: none), lease (µs), starts (0: none), per (µs), burst (0:
/// sliding window), the call's token.
///
/// Answers `{1, 0, 0}` when admitted, `{0, 1, µs}` when every slot is held (µs until the
/// first lease expires), `{0, 2, µs}` when the rate is spent (µs until a start is free).
/// Keys expire once idle: leases a lease after the last one taken or renewed, starts a
/// window after the last one.
const ACQUIRE: &str = include_str!("acquire.lua");

/// Gives leases back: `KEYS[1]` the leases, `ARGV[1]` the channel that waiting callers
/// listen on, `ARGV[2..]` the tokens. Publishes the leases' key when one was held.
const RELEASE: &str = r"
local freed = 0
for i = 2, #ARGV do
  freed = freed + redis.call('ZREM', KEYS[1], ARGV[i])
end
if freed > 0 then
  redis.call('PUBLISH', ARGV[1], KEYS[1])
end
return freed
";

/// Moves the expiry of leases still held a lease on: `KEYS[1]` the leases, `ARGV[1]`
/// the lease (µs), `ARGV[2..]` the tokens. A lease that has expired already stays gone.
const RENEW: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local lease = tonumber(ARGV[1])
local renewed = 0
for i = 2, #ARGV do
  renewed = renewed + redis.call('ZADD', KEYS[1], 'XX', 'CH', now + lease, ARGV[i])
end
redis.call('PEXPIRE', KEYS[1], math.ceil(lease / 1000) + 1)
return renewed
";

pub(super) static ACQUIRE_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(ACQUIRE));
pub(super) static RELEASE_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(RELEASE));
pub(super) static RENEW_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(RENEW));

/// What [`ACQUIRE`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Decision {
    /// Admitted: the lease (if any) and the start are taken.
    Admitted,
    /// Every concurrency slot is held; the first lease expires after this.
    SlotsHeld(Duration),
    /// The rate is spent; a start is free after this.
    RateSpent(Duration),
}

impl Decision {
    /// Reads the script's answer; `None` for one it never gives.
    pub(super) fn from_reply((admitted, refused_by, micros): (i64, i64, i64)) -> Option<Self> {
        let after = Duration::from_micros(u64::try_from(micros).unwrap_or(0));
        match (admitted, refused_by) {
            (1, _) => Some(Decision::Admitted),
            (0, 1) => Some(Decision::SlotsHeld(after)),
            (0, 2) => Some(Decision::RateSpent(after)),
            _ => None,
        }
    }
}

/// `duration` in whole microseconds, rounded up (a limit is never loosened), saturating.
pub(super) fn micros(duration: Duration) -> u64 {
    let whole = u64::try_from(duration.as_micros()).unwrap_or(u64::MAX);
    if duration.subsec_nanos() % 1_000 == 0 { whole } else { whole.saturating_add(1) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_read_as_decisions() {
        assert_eq!(Decision::from_reply((1, 0, 0)), Some(Decision::Admitted));
        assert_eq!(
            Decision::from_reply((0, 1, 1_500)),
            Some(Decision::SlotsHeld(Duration::from_micros(1_500)))
        );
        assert_eq!(
            Decision::from_reply((0, 2, 250)),
            Some(Decision::RateSpent(Duration::from_micros(250)))
        );
        // A lease that expired between the trim and the read: no negative wait.
        assert_eq!(Decision::from_reply((0, 1, -3)), Some(Decision::SlotsHeld(Duration::ZERO)));
        assert_eq!(Decision::from_reply((0, 7, 0)), None);
        assert_eq!(Decision::from_reply((2, 0, 0)), None);
    }

    #[test]
    fn micros_round_up() {
        assert_eq!(micros(Duration::from_millis(3)), 3_000);
        assert_eq!(micros(Duration::from_nanos(1_001)), 2);
        assert_eq!(micros(Duration::MAX), u64::MAX);
    }

    #[test]
    fn scripts_have_distinct_hashes() {
        let hashes =
            [ACQUIRE_SCRIPT.get_hash(), RELEASE_SCRIPT.get_hash(), RENEW_SCRIPT.get_hash()];
        assert_eq!(hashes.iter().collect::<std::collections::HashSet<_>>().len(), 3);
    }
}
