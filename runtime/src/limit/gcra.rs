//! `burst`: the generic cell rate algorithm (GCRA, the leaky bucket of nginx's
//! `limit_req` and of governor). One atomic holds the whole state, so a start is
//! admitted by a single compare-and-swap. Pure arithmetic on nanoseconds, tested
//! without tokio.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// At most `burst` starts at once, then one every `interval`.
pub(super) struct Gcra {
    /// The theoretical arrival time: when the next start would be due if starts came
    /// exactly one `interval` apart. A start at `now` is allowed while
    /// `tat - (burst - 1) × interval <= now`, and moves `tat` one interval on.
    tat: AtomicU64,
    /// `per / starts` in nanoseconds, rounded up (so the rate is never exceeded), ≥ 1.
    interval: AtomicU64,
    burst: AtomicU32,
}

impl Gcra {
    /// `starts` ≥ 1, `burst` in `1..=starts` and `per` ≥ 1 ns are checked by the caller.
    pub(super) const fn new(starts: u32, per: u64, burst: u32) -> Self {
        Self {
            tat: AtomicU64::new(0),
            interval: AtomicU64::new(interval(starts, per)),
            burst: AtomicU32::new(burst),
        }
    }

    pub(super) fn burst(&self) -> u32 {
        self.burst.load(Ordering::Relaxed)
    }

    /// Admits a start at `now`, or says when the earliest one is (admitting nothing).
    #[inline]
    pub(super) fn try_admit(&self, now: u64) -> Result<(), u64> {
        let interval = self.interval.load(Ordering::Relaxed);
        let tolerance = interval.saturating_mul(u64::from(self.burst().saturating_sub(1)));
        let mut tat = self.tat.load(Ordering::Relaxed);
        loop {
            let earliest = tat.saturating_sub(tolerance);
            if earliest > now {
                return Err(earliest);
            }
            let next = tat.max(now).saturating_add(interval);
            // One atomic holds the state: a lost race only means reading the newer `tat`.
            match self.tat.compare_exchange_weak(tat, next, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return Ok(()),
                Err(newer) => tat = newer,
            }
        }
    }

    /// A new rate from `now` on (`Limiter::set_rate`): the starts owed under the old
    /// interval (the part of `tat` beyond `now`) are owed under the new one, and the
    /// burst is capped by the new rate.
    pub(super) fn set(&self, starts: u32, per: u64, now: u64) {
        let new = interval(starts, per);
        let old = self.interval.swap(new, Ordering::Relaxed);
        self.burst.fetch_min(starts, Ordering::Relaxed);
        let _ = self.tat.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |tat| {
            let owed = u128::from(tat.saturating_sub(now)) * u128::from(new) / u128::from(old);
            Some(now.saturating_add(u64::try_from(owed).unwrap_or(u64::MAX)))
        });
    }
}

const fn interval(starts: u32, per: u64) -> u64 {
    let interval = per.div_ceil(starts as u64);
    if interval == 0 { 1 } else { interval }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    /// Each caller, arriving at `now`, starts at the earliest time the algorithm allows.
    fn starts(gcra: &Gcra, arrivals: &[u64]) -> Vec<u64> {
        arrivals
            .iter()
            .map(|&arrival| {
                let mut at = arrival;
                while let Err(earliest) = gcra.try_admit(at) {
                    at = earliest;
                }
                at
            })
            .collect()
    }

    #[test]
    fn burst_one_spaces_every_start() {
        let gcra = Gcra::new(10, 1_000 * MS, 1);
        let ms: Vec<u64> = starts(&gcra, &[0; 5]).iter().map(|at| at / MS).collect();
        assert_eq!(ms, [0, 100, 200, 300, 400]);
    }

    #[test]
    fn burst_three_lets_three_at_once_then_spaces_them() {
        let gcra = Gcra::new(10, 1_000 * MS, 3);
        let ms: Vec<u64> = starts(&gcra, &[0; 6]).iter().map(|at| at / MS).collect();
        assert_eq!(ms, [0, 0, 0, 100, 200, 300]);
        // Idle for a while, the burst is back, and no more.
        let later = starts(&gcra, &[2_000 * MS; 4]);
        assert_eq!(later, [2_000 * MS, 2_000 * MS, 2_000 * MS, 2_100 * MS]);
    }

    #[test]
    fn a_refused_start_changes_nothing() {
        let gcra = Gcra::new(1, 1_000 * MS, 1);
        assert_eq!(gcra.try_admit(0), Ok(()));
        assert_eq!(gcra.try_admit(10 * MS), Err(1_000 * MS));
        assert_eq!(gcra.try_admit(10 * MS), Err(1_000 * MS));
        assert_eq!(gcra.try_admit(1_000 * MS), Ok(()));
    }

    #[test]
    fn a_new_rate_rescales_what_is_owed() {
        let gcra = Gcra::new(1, 1_000 * MS, 1);
        assert_eq!(gcra.try_admit(0), Ok(()));
        // Raised to 10 per second: the next start is owed 100 ms after the last.
        gcra.set(10, 1_000 * MS, 0);
        assert_eq!(gcra.try_admit(0), Err(100 * MS));
        // Lowered to 1 per 2 s at 100 ms, right after a start: the next is 2 s away.
        assert_eq!(gcra.try_admit(100 * MS), Ok(()));
        gcra.set(1, 2_000 * MS, 100 * MS);
        assert_eq!(gcra.try_admit(100 * MS), Err(2_100 * MS));
    }

    #[test]
    fn a_new_rate_caps_the_burst() {
        let gcra = Gcra::new(10, 1_000 * MS, 10);
        gcra.set(2, 1_000 * MS, 0);
        assert_eq!(gcra.burst(), 2);
        assert_eq!(starts(&gcra, &[0; 3]), [0, 0, 500 * MS]);
    }
}
