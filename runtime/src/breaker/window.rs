//! A time-based sliding window of two counters, kept in [`BUCKETS`] atomic buckets
//! (resilience4j's "partial aggregations"): the breaker counts calls and failures in
//! it, the retry budget deposits and withdrawals.
//!
//! Time is given by the caller as nanoseconds since an epoch ([`Epoch`]), so the
//! arithmetic is pure and tested without a runtime. The window of length `W` is cut
//! into buckets of `w = ceil(W / BUCKETS)` nanoseconds; bucket `k` holds what was
//! recorded in `[k·w, (k+1)·w)`. At time `t` the window holds buckets
//! `k(t) - BUCKETS + 1 ..= k(t)`, so a record made at `t0` counts while
//! `t < (k(t0) + BUCKETS)·w`: for at most `W` and more than `W - w`.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::time::Instant;

/// Buckets per window: a record ages out within 1/20 of the window of its age `W`.
pub(crate) const BUCKETS: u64 = 20;

/// Bits of a bucket word for each counter; both saturate at [`MAX_COUNT`].
const COUNT_BITS: u32 = 21;
/// The most a counter of one bucket holds (2 097 151).
pub(crate) const MAX_COUNT: u64 = (1 << COUNT_BITS) - 1;
/// Bits of the lap (`k / BUCKETS`) kept in a bucket word to tell a current bucket from
/// a stale one in the same slot.
const LAP_BITS: u32 = 64 - 2 * COUNT_BITS;
const LAP_MASK: u64 = (1 << LAP_BITS) - 1;

/// Totals of the two counters over a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Counts {
    /// Calls (breaker) or deposits (budget).
    pub(crate) total: u64,
    /// Failures (breaker) or withdrawals (budget).
    pub(crate) marked: u64,
}

/// The index of the bucket that time `t` (nanoseconds since the epoch) falls in, for
/// buckets of `width` nanoseconds (`width >= 1`).
#[inline]
pub(crate) const fn bucket_of(t: u64, width: u64) -> u64 {
    t / width
}

/// The bucket width for a window of `window` nanoseconds: `ceil(window / BUCKETS)`, at
/// least one nanosecond.
pub(crate) const fn bucket_width(window: u64) -> u64 {
    let width = window.div_ceil(BUCKETS);
    if width == 0 { 1 } else { width }
}

#[inline]
const fn pack(lap: u64, total: u64, marked: u64) -> u64 {
    ((lap & LAP_MASK) << (2 * COUNT_BITS)) | (total << COUNT_BITS) | marked
}

#[inline]
const fn unpack(word: u64) -> (u64, u64, u64) {
    (word >> (2 * COUNT_BITS), (word >> COUNT_BITS) & MAX_COUNT, word & MAX_COUNT)
}

/// The lap a bucket word must carry to belong to the window that ends in bucket `now`,
/// for the slot `slot`.
#[inline]
const fn expected_lap(now: u64, slot: u64) -> u64 {
    let lap = now / BUCKETS;
    let lap = if slot <= now % BUCKETS { lap } else { lap.wrapping_sub(1) };
    lap & LAP_MASK
}

/// [`BUCKETS`] bucket words, each `lap | total | marked`. Lock-free: a record is one
/// compare-and-swap on the bucket of its time.
///
/// NOTE: the lap is kept modulo 2^22, so a slot left untouched for exactly a multiple
/// of 2^22 windows (over a year for a 10 s window) would be read as current once; the
/// breaker clears the window whenever it closes.
pub(crate) struct Window {
    buckets: [AtomicU64; BUCKETS as usize],
}

impl Window {
    pub(crate) const fn new() -> Self {
        Self { buckets: [const { AtomicU64::new(0) }; BUCKETS as usize] }
    }

    /// The word of bucket `k` if it is the current one, else zero counts for it.
    #[inline]
    fn current(word: u64, k: u64) -> (u64, u64) {
        let (lap, total, marked) = unpack(word);
        if lap == (k / BUCKETS) & LAP_MASK { (total, marked) } else { (0, 0) }
    }

    /// Adds `total` and `marked` to bucket `k` (each saturating).
    #[inline]
    pub(crate) fn add(&self, k: u64, total: u64, marked: u64) {
        let slot = &self.buckets[(k % BUCKETS) as usize];
        let mut word = slot.load(Ordering::Relaxed);
        loop {
            let (t, m) = Self::current(word, k);
            let new = pack(k / BUCKETS, (t + total).min(MAX_COUNT), (m + marked).min(MAX_COUNT));
            match slot.compare_exchange_weak(word, new, Ordering::AcqRel, Ordering::Relaxed) {
                Ok(_) => return,
                Err(actual) => word = actual,
            }
        }
    }

    /// Adds one to `marked` of bucket `k` if `allow(counts)` says so, where `counts` are
    /// the window's totals read just before; `false` if not allowed. Retries when the
    /// bucket changed in between, so two callers cannot both take the last unit.
    pub(crate) fn mark_if(&self, k: u64, allow: impl Fn(Counts) -> bool) -> bool {
        let slot = &self.buckets[(k % BUCKETS) as usize];
        loop {
            let word = slot.load(Ordering::Acquire);
            let counts = self.counts(k);
            if !allow(counts) {
                return false;
            }
            let (t, m) = Self::current(word, k);
            let new = pack(k / BUCKETS, t, (m + 1).min(MAX_COUNT));
            if slot.compare_exchange(word, new, Ordering::AcqRel, Ordering::Relaxed).is_ok() {
                return true;
            }
        }
    }

    /// The totals of the window that ends in bucket `k`.
    pub(crate) fn counts(&self, k: u64) -> Counts {
        let mut counts = Counts::default();
        for (slot, bucket) in (0..BUCKETS).zip(&self.buckets) {
            let (lap, total, marked) = unpack(bucket.load(Ordering::Acquire));
            if lap == expected_lap(k, slot) {
                counts.total += total;
                counts.marked += marked;
            }
        }
        counts
    }

    /// Empties every bucket.
    pub(crate) fn clear(&self) {
        for bucket in &self.buckets {
            bucket.store(0, Ordering::Release);
        }
    }
}

/// The time origin of a breaker or budget: set by its first use, so that a `static`
/// needs no clock at construction. Times are tokio's ([`Instant`]), so a paused clock
/// gives exact windows.
pub(crate) struct Epoch(OnceLock<Instant>);

impl Epoch {
    pub(crate) const fn new() -> Self {
        Self(OnceLock::new())
    }

    /// Nanoseconds from the epoch to `now` (zero before it, saturating after 584 years).
    #[inline]
    pub(crate) fn nanos(&self, now: Instant) -> u64 {
        let epoch = *self.0.get_or_init(|| now);
        u64::try_from(now.saturating_duration_since(epoch).as_nanos()).unwrap_or(u64::MAX)
    }
}

/// A window length as nanoseconds, saturating.
pub(crate) const fn duration_nanos(d: std::time::Duration) -> u64 {
    let nanos = d.as_nanos();
    if nanos > u64::MAX as u128 { u64::MAX } else { nanos as u64 }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A window of 20 buckets of 1 unit each: bucket k is time k.
    fn window() -> Window {
        Window::new()
    }

    #[test]
    fn widths() {
        assert_eq!(bucket_width(30_000_000_000), 1_500_000_000);
        assert_eq!(bucket_width(21), 2); // rounded up: the window never exceeds 20 buckets
        assert_eq!(bucket_width(0), 1);
        assert_eq!(bucket_of(2_999, 1_500), 1);
    }

    #[test]
    fn counts_what_was_added_in_the_window() {
        let w = window();
        w.add(0, 1, 1);
        w.add(0, 1, 0);
        w.add(5, 2, 1);
        assert_eq!(w.counts(5), Counts { total: 4, marked: 2 });
        // Bucket 0 is in the windows ending in 0..=19, not in the one ending in 20.
        assert_eq!(w.counts(19), Counts { total: 4, marked: 2 });
        assert_eq!(w.counts(20), Counts { total: 2, marked: 1 });
        assert_eq!(w.counts(24), Counts { total: 2, marked: 1 });
        assert_eq!(w.counts(25), Counts::default());
    }

    #[test]
    fn a_slot_reused_by_a_later_lap_starts_from_zero() {
        let w = window();
        w.add(3, 5, 5);
        w.add(23, 1, 0); // same slot, next lap: the old counts are gone
        assert_eq!(w.counts(23), Counts { total: 1, marked: 0 });
        w.add(4, 7, 7); // stale write into another slot is only seen by its own windows
        assert_eq!(w.counts(24), Counts { total: 1, marked: 0 });
        assert_eq!(w.counts(10), Counts { total: 7, marked: 7 });
    }

    #[test]
    fn far_future_windows_are_empty() {
        let w = window();
        w.add(7, 3, 3);
        for k in [27, 100, 7 + 20 * 1000, u64::MAX / 2] {
            assert_eq!(w.counts(k), Counts::default(), "k = {k}");
        }
    }

    #[test]
    fn empty_words_of_lap_zero_are_not_counted_twice() {
        let w = window();
        w.add(0, 1, 0);
        // An untouched slot reads as lap 0 with zero counts: harmless either way.
        assert_eq!(w.counts(0), Counts { total: 1, marked: 0 });
    }

    #[test]
    fn counters_saturate() {
        let w = window();
        w.add(1, MAX_COUNT, MAX_COUNT);
        w.add(1, 5, 5);
        assert_eq!(w.counts(1), Counts { total: MAX_COUNT, marked: MAX_COUNT });
    }

    #[test]
    fn clear_empties() {
        let w = window();
        w.add(2, 3, 1);
        w.clear();
        assert_eq!(w.counts(2), Counts::default());
    }

    #[test]
    fn mark_if_takes_the_last_unit_once() {
        let w = window();
        w.add(4, 10, 0);
        let allow = |c: Counts| c.marked < 2;
        assert!(w.mark_if(4, allow));
        assert!(w.mark_if(5, allow));
        assert!(!w.mark_if(6, allow));
        assert_eq!(w.counts(6), Counts { total: 10, marked: 2 });
        // When bucket 4 ages out (window ending in 24), its deposits and its mark go.
        assert_eq!(w.counts(24), Counts { total: 0, marked: 1 });
        assert!(w.mark_if(24, allow));
    }

    #[test]
    fn matches_a_list_of_records() {
        // A deterministic pseudo-random walk compared with a plain list of (k, total, marked).
        let w = window();
        let mut list: Vec<(u64, u64, u64)> = Vec::new();
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut k = 0;
        for _ in 0..5_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            k += seed % 4; // sometimes the same bucket, sometimes a few later
            if seed % 97 == 0 {
                k += 50; // a quiet spell longer than the window
            }
            let marked = (seed >> 8) % 2;
            w.add(k, 1, marked);
            list.push((k, 1, marked));
            let expect = list.iter().filter(|(at, _, _)| k - at < BUCKETS).fold(
                Counts::default(),
                |c, (_, t, m)| Counts { total: c.total + t, marked: c.marked + m },
            );
            assert_eq!(w.counts(k), expect, "at bucket {k}");
        }
    }
}
