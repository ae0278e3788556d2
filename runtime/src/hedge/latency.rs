//! The bounded window of recent successful latencies behind `after = pNN`.
//!
//! A fixed ring of atomics, `const`-initialised so that it lives in the `Hedge`
//! `static` of a call site: recording a latency is one `fetch_add` and one store, and
//! reading the hedge delay is one load of a cached quantile. The quantile itself is
//! recomputed (a copy of the ring and a selection, on the stack) only when the 20th
//! latency arrives, at the 32nd, 64th and 128th, then every [`REFRESH`] latencies, so its
//! cost (about 20 000 instructions) is spread over many calls. Nothing allocates.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// How many recent successful latencies the window holds.
pub(crate) const WINDOW: usize = 1024;

/// No hedge until this many calls have completed (tower's `min_data_points`): a
/// quantile of a handful of samples would hedge on noise.
pub(crate) const MIN_SAMPLES: u64 = 20;

/// The cached quantile is recomputed every `REFRESH` recorded latencies (a quarter
/// of the window), and at the powers of two before that.
pub(crate) const REFRESH: u64 = 256;

/// "Not enough data yet" in [`Latencies::cached`].
const NONE: u64 = u64::MAX;

/// The last [`WINDOW`] successful latencies of one call site, in nanoseconds, and
/// their quantile as of the last refresh.
///
/// Concurrent writers may race on a slot or on the cached value; the window is a
/// statistic, and a sample lost or read one refresh late changes nothing that
/// matters (tower's histogram is approximate in the same way).
pub(crate) struct Latencies {
    samples: [AtomicU64; WINDOW],
    recorded: AtomicU64,
    cached: AtomicU64,
}

impl Latencies {
    pub(crate) const fn new() -> Self {
        Self {
            samples: [const { AtomicU64::new(0) }; WINDOW],
            recorded: AtomicU64::new(0),
            cached: AtomicU64::new(NONE),
        }
    }

    /// The hedge delay: the quantile of the window, `None` until [`MIN_SAMPLES`]
    /// latencies have been recorded.
    #[inline]
    pub(crate) fn quantile(&self) -> Option<Duration> {
        match self.cached.load(Relaxed) {
            NONE => None,
            nanos => Some(Duration::from_nanos(nanos)),
        }
    }

    /// How many latencies were ever recorded (for tests and docs).
    pub(crate) fn recorded(&self) -> u64 {
        self.recorded.load(Relaxed)
    }

    /// Records one successful latency; `per_million` is the quantile to keep cached
    /// (950 000 for p95).
    #[inline]
    pub(crate) fn record(&self, latency: Duration, per_million: u32) {
        let nanos = u64::try_from(latency.as_nanos()).unwrap_or(NONE - 1).min(NONE - 1);
        let index = self.recorded.fetch_add(1, Relaxed);
        self.samples[(index % WINDOW as u64) as usize].store(nanos, Relaxed);
        let count = index + 1;
        if count == MIN_SAMPLES
            || (count > MIN_SAMPLES && (count % REFRESH == 0 || count.is_power_of_two()))
        {
            self.refresh(count, per_million);
        }
    }

    #[cold]
    fn refresh(&self, count: u64, per_million: u32) {
        let len = count.min(WINDOW as u64) as usize;
        // Built in place (no zeroing first); slots not yet written are cut off below.
        let mut copy: [u64; WINDOW] = std::array::from_fn(|i| self.samples[i].load(Relaxed));
        self.cached.store(nearest_rank(&mut copy[..len], per_million), Relaxed);
    }
}

/// The nearest-rank quantile of `samples` (reordered): the smallest sample such that
/// at least `per_million / 10⁶` of the samples are no larger. p95 of 20 samples is the
/// 19th smallest; p100 is the largest. `samples` must not be empty.
pub(crate) fn nearest_rank(samples: &mut [u64], per_million: u32) -> u64 {
    let n = samples.len() as u64;
    // ceil(n · q) in integers, at least 1 and at most n.
    let rank = (n * u64::from(per_million)).div_ceil(1_000_000).clamp(1, n);
    *samples.select_nth_unstable((rank - 1) as usize).1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn nearest_rank_matches_the_definition() {
        let mut v: Vec<u64> = (1..=20).rev().collect();
        assert_eq!(nearest_rank(&mut v, 950_000), 19);
        assert_eq!(nearest_rank(&mut v, 500_000), 10);
        assert_eq!(nearest_rank(&mut v, 1_000_000), 20);
        assert_eq!(nearest_rank(&mut v, 1), 1);
        let mut v: Vec<u64> = (1..=1000).collect();
        assert_eq!(nearest_rank(&mut v, 999_000), 999);
        assert_eq!(nearest_rank(&mut v, 990_000), 990);
        assert_eq!(nearest_rank(&mut [7], 950_000), 7);
    }

    #[test]
    fn no_quantile_before_twenty_samples() {
        let window = Latencies::new();
        for i in 1..MIN_SAMPLES {
            window.record(ms(i), 950_000);
            assert_eq!(window.quantile(), None, "after {i} samples");
        }
        window.record(ms(20), 950_000);
        assert_eq!(window.quantile(), Some(ms(19)));
        assert_eq!(window.recorded(), 20);
    }

    #[test]
    fn refreshes_at_powers_of_two_then_every_256_over_the_recent_window_only() {
        let window = Latencies::new();
        for _ in 0..20 {
            window.record(ms(10), 950_000);
        }
        assert_eq!(window.quantile(), Some(ms(10)));
        // Samples 21..=31 do not refresh; the 32nd does.
        for _ in 21..32 {
            window.record(ms(500), 950_000);
        }
        assert_eq!(window.quantile(), Some(ms(10)));
        window.record(ms(500), 950_000);
        assert_eq!(window.quantile(), Some(ms(500)));
        for _ in 33..64 {
            window.record(ms(1), 950_000);
        }
        assert_eq!(window.quantile(), Some(ms(500)));
        window.record(ms(1), 950_000); // the 64th: 20 × 10 ms, 12 × 500 ms, 32 × 1 ms
        assert_eq!(window.quantile(), Some(ms(500)));
        for _ in 65..128 {
            window.record(ms(2), 950_000);
        }
        assert_eq!(window.quantile(), Some(ms(500)));
        window.record(ms(2), 950_000); // the 128th: 12 slow ones of 128 are over 5 %
        assert_eq!(window.quantile(), Some(ms(500)));
        for _ in 129..256 {
            window.record(ms(2), 950_000);
        }
        window.record(ms(2), 950_000); // the 256th: 12 of 256 is under 5 %
        assert_eq!(window.quantile(), Some(ms(10)));
        // A whole window of fast calls pushes the slow ones out.
        for _ in 0..WINDOW {
            window.record(ms(3), 950_000);
        }
        assert_eq!(window.quantile(), Some(ms(3)));
    }

    #[test]
    fn huge_latencies_saturate() {
        let window = Latencies::new();
        for _ in 0..20 {
            window.record(Duration::MAX, 1_000_000);
        }
        assert_eq!(window.quantile(), Some(Duration::from_nanos(u64::MAX - 1)));
    }
}
