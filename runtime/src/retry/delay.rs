//! The delay arithmetic of [`RetryPolicy`]: integer nanoseconds wherever the schedule
//! allows it, saturating (at `max_delay`, else at `Duration::MAX`), never wrapping,
//! truncating or panicking.

use std::time::Duration;

use super::jitter::unit_random;
use super::{Backoff, RetryPolicy};

const NANOS_PER_SEC: u128 = 1_000_000_000;

/// `nanos` as a `Duration`, `None` past `Duration::MAX`.
fn from_nanos(nanos: u128) -> Option<Duration> {
    let secs = u64::try_from(nanos / NANOS_PER_SEC).ok()?;
    // The remainder is below 10⁹, so it fits a u32 and `new` cannot carry over.
    Some(Duration::new(secs, (nanos % NANOS_PER_SEC) as u32))
}

/// `delay · by`, exactly, `None` if it passes `Duration::MAX`.
fn times(delay: Duration, by: u128) -> Option<Duration> {
    from_nanos(delay.as_nanos().checked_mul(by)?)
}

/// `delay · by` for a real `by ≥ 0`, rounded to the nanosecond; `None` past
/// `Duration::MAX` (also for an infinite product).
fn times_f64(delay: Duration, by: f64) -> Option<Duration> {
    if by == 1.0 {
        return Some(delay); // exact, where f64 would round a long delay
    }
    let nanos = delay.as_nanos() as f64 * by;
    // 2^128 is past `Duration::MAX` (≈ 1.8·10^28 ns) and past what `as u128` keeps.
    if !nanos.is_finite() || nanos >= 2f64.powi(128) {
        return None;
    }
    from_nanos(nanos.round() as u128)
}

/// The delay before the `retry`-th retry (1-based), without jitter, capped by
/// `max_delay`. `policy` is already clamped into range.
pub(super) fn base(policy: &RetryPolicy, retry: u32) -> Duration {
    let retry = retry.max(1);
    let delay = policy.delay;
    let computed = match policy.backoff {
        Backoff::Constant => Some(delay),
        Backoff::Linear => times(delay, u128::from(retry)),
        Backoff::Exponential => exponential(delay, policy.factor, retry - 1),
        Backoff::Fibonacci => fibonacci(retry).and_then(|fib| times(delay, fib)),
    };
    match computed {
        Some(d) => d.min(policy.max_delay),
        None => policy.max_delay,
    }
}

/// `delay · factor^power`: in integers for a whole factor (1, 2, 10 …), in `f64`
/// for a fractional one; `None` when it passes `Duration::MAX`.
fn exponential(delay: Duration, factor: f64, power: u32) -> Option<Duration> {
    if power == 0 || factor == 1.0 || delay.is_zero() {
        return Some(delay);
    }
    // Below 2^64 a whole f64 is exact as an integer.
    if factor.fract() == 0.0 && factor < 2f64.powi(64) {
        return (factor as u128).checked_pow(power).and_then(|by| times(delay, by));
    }
    times_f64(delay, factor.powf(f64::from(power)))
}

/// `fib(k)` with fib(1) = fib(2) = 1; `None` once it passes every delay a `Duration`
/// can hold (fib(140) > 10²⁸ ns).
fn fibonacci(k: u32) -> Option<u128> {
    if k > 140 {
        return None;
    }
    let (mut a, mut b) = (0_u128, 1_u128);
    for _ in 1..k {
        (a, b) = (b, a + b);
    }
    Some(b)
}

/// A draw uniform in `[low, high]` for `full`/`equal` jitter; a delay saturated at
/// `Duration::MAX` stays there.
pub(super) fn between(base: Duration, low: Duration, high: Duration) -> Duration {
    if base == Duration::MAX {
        return base;
    }
    let span = (high - low).as_nanos() as f64 * unit_random();
    // `span` is below `high - low`, so the sum stays within `high`.
    (low + from_nanos(span as u128).unwrap_or_default()).min(high)
}

/// `base` drawn uniformly from `[base·(1−jitter), base·(1+jitter)]`, capped by
/// `max_delay`. A delay that saturated at `Duration::MAX` stands for "longer than
/// any `Duration`" and stays there.
pub(super) fn jittered(base: Duration, jitter: f64, max_delay: Duration) -> Duration {
    if jitter == 0.0 || base == Duration::MAX {
        return base;
    }
    let spread = 1.0 - jitter + 2.0 * jitter * unit_random();
    match times_f64(base, spread) {
        Some(d) => d.min(max_delay),
        None => max_delay,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nanosecond_conversion_saturates_instead_of_truncating() {
        assert_eq!(from_nanos(Duration::MAX.as_nanos()), Some(Duration::MAX));
        assert_eq!(from_nanos(Duration::MAX.as_nanos() + 1), None);
        // Past u64 nanoseconds (584 years), which `Duration::from_nanos` cannot hold.
        let long = Duration::from_secs(u64::MAX / 2);
        assert_eq!(times(long, 1), Some(long));
        assert_eq!(times(long, 3), None);
        assert_eq!(times_f64(long, 1.0), Some(long));
        assert_eq!(times_f64(long, f64::INFINITY), None);
        assert_eq!(times_f64(Duration::MAX, 1e300), None);
    }

    #[test]
    fn whole_factors_are_exact() {
        let d = Duration::from_millis(u64::MAX / 4);
        assert_eq!(exponential(d, 2.0, 1), Some(Duration::from_millis(u64::MAX / 4 * 2)));
        assert_eq!(exponential(Duration::from_nanos(3), 10.0, 20), from_nanos(3 * 10_u128.pow(20)));
        assert_eq!(exponential(Duration::from_secs(1), 2.0, 200), None);
        assert_eq!(exponential(Duration::from_secs(1), 1e300, 2), None);
    }

    #[test]
    fn fibonacci_numbers_saturate() {
        let fibs: Vec<_> = (1..=8).map(|k| fibonacci(k).unwrap()).collect();
        assert_eq!(fibs, [1, 1, 2, 3, 5, 8, 13, 21]);
        assert!(fibonacci(140).is_some());
        assert_eq!(fibonacci(141), None);
        assert_eq!(fibonacci(u32::MAX), None);
    }
}
