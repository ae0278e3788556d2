//! The sliding window's arithmetic: the record of past starts, and the earliest start
//! it allows. Pure (times are nanoseconds on the limiter's own clock, see `rate.rs`),
//! so it is tested without tokio.

use std::time::Duration;

/// Up to this many starts per window, a rate limiter remembers each start exactly.
pub(super) const EXACT_STARTS: usize = 64;

/// Above [`EXACT_STARTS`], a rate limiter counts starts in this many buckets per window
/// (plus one: a window that is not aligned to the buckets overlaps one more).
const BUCKETS: u64 = 64;

/// The starts a rate limit has let through, as nanoseconds since the limiter's base.
pub(super) struct History {
    starts: u32,
    per: u64,
    log: StartLog,
}

/// The record of past starts, fixed in size whatever the rate.
#[allow(clippy::large_enum_variant)] // it lives inline in the limiter, by design
enum StartLog {
    /// The last `min(starts, len)` start times, oldest at `oldest`, in a ring of `starts`.
    Exact { times: [u64; EXACT_STARTS], oldest: usize, len: usize },
    /// Starts counted in buckets of `width` nanoseconds: bucket `b` holds the starts in
    /// `[b × width, (b + 1) × width)` and lives at `counts[b % 65]` (a bucket lies in
    /// one window, so it never counts more than `starts`: a `u32`). `newest` is the
    /// bucket of `last`, the latest start, and ends at `newest_end`; older buckets are
    /// up to 64 behind it. `total` is the sum of `counts`: below `starts`, no window
    /// can be full. (`newest_end` and `total` spare the common call a division and a
    /// walk over the buckets.)
    Buckets {
        counts: [u32; BUCKETS as usize + 1],
        width: u64,
        newest: u64,
        newest_end: u64,
        last: u64,
        total: u64,
    },
}

impl History {
    pub(super) const fn new(starts: u32, per: Duration) -> Self {
        let per = saturating_nanos(per);
        let log = if starts as usize <= EXACT_STARTS {
            StartLog::Exact { times: [0; EXACT_STARTS], oldest: 0, len: 0 }
        } else {
            // Rounded up, so that a window (`per`) spans at most 64 buckets plus a partial one.
            let width = per.div_ceil(BUCKETS);
            let counts = [0; BUCKETS as usize + 1];
            StartLog::Buckets { counts, width, newest: 0, newest_end: width, last: 0, total: 0 }
        };
        Self { starts, per, log }
    }

    /// This record for a new limit (`Limiter::set_rate`): the recorded starts replayed
    /// into a record of the new size, so that starts already let through count against
    /// the new limit. Buckets replay their starts at their ends (at the latest start for
    /// the newest): later than they were, so the new limit is kept, never exceeded.
    pub(super) fn resized(&self, starts: u32, per: Duration) -> History {
        let mut new = History::new(starts, per);
        match &self.log {
            StartLog::Exact { times, oldest, len } => {
                for i in 0..*len {
                    new.record(times[(oldest + i) % self.starts as usize]);
                }
            }
            StartLog::Buckets { counts, width, newest, last, .. } => {
                for bucket in newest.saturating_sub(BUCKETS)..=*newest {
                    let at = bucket.saturating_add(1).saturating_mul(*width).saturating_sub(1);
                    for _ in 0..counts[bucket_slot(bucket)] {
                        new.record(at.min(*last));
                    }
                }
            }
        }
        new
    }

    /// The earliest start time at or after `now` (and the latest start) that keeps every
    /// window of length `per` within `starts` starts.
    pub(super) fn earliest_start(&self, now: u64) -> u64 {
        let starts = self.starts as usize;
        match &self.log {
            StartLog::Exact { len: 0, .. } => now,
            StartLog::Exact { times, oldest, len } => {
                let latest = times[(oldest + len - 1) % starts];
                let start = now.max(latest);
                if *len < starts {
                    start
                } else {
                    // Times are sorted, so the window ending at `start` holds fewer than
                    // `starts` starts exactly when the oldest of the last `starts` left it.
                    start.max(times[*oldest].saturating_add(self.per))
                }
            }
            // Fewer starts in all the buckets than a window may hold: no walk needed.
            StartLog::Buckets { total, last, .. } if *total < u64::from(self.starts) => {
                now.max(*last)
            }
            StartLog::Buckets { counts, width, newest, last, .. } => {
                let start = now.max(*last);
                // Walk back from the newest bucket: the first bucket at which the count
                // reaches `starts` must lie wholly before the new start's window.
                let mut count = 0_u64;
                for back in 0..=BUCKETS {
                    let Some(bucket) = newest.checked_sub(back) else { break };
                    count += u64::from(counts[bucket_slot(bucket)]);
                    if count >= u64::from(self.starts) {
                        // The window (t - per, t] begins in bucket `bucket + 1` or later.
                        let clear =
                            (bucket + 1).saturating_mul(*width).saturating_add(self.per - 1);
                        return start.max(clear);
                    }
                }
                start
            }
        }
    }

    /// Records a start at `at`, which is no earlier than any recorded start.
    pub(super) fn record(&mut self, at: u64) {
        let starts = self.starts as usize;
        match &mut self.log {
            StartLog::Exact { times, oldest, len } => {
                if *len < starts {
                    times[(*oldest + *len) % starts] = at;
                    *len += 1;
                } else {
                    times[*oldest] = at;
                    *oldest = (*oldest + 1) % starts;
                }
            }
            StartLog::Buckets { counts, width, newest, newest_end, last, total } => {
                // `at` is no earlier than `last`, which lies in bucket `newest`.
                let bucket = if at < *newest_end { *newest } else { at / *width };
                if bucket > *newest {
                    // Clear the slots of the buckets skipped over: they hold starts that
                    // are now more than a window old.
                    if bucket - *newest > BUCKETS {
                        *counts = [0; BUCKETS as usize + 1];
                        *total = 0;
                    } else {
                        for skipped in *newest + 1..=bucket {
                            let count = &mut counts[bucket_slot(skipped)];
                            *total = total.saturating_sub(u64::from(*count));
                            *count = 0;
                        }
                    }
                    *newest = bucket;
                    *newest_end = bucket.saturating_add(1).saturating_mul(*width);
                }
                let count = &mut counts[bucket_slot(bucket)];
                *count = count.saturating_add(1);
                *total = total.saturating_add(1);
                *last = at;
            }
        }
    }
}

/// Where bucket `bucket` lives in `StartLog::Buckets::counts`.
fn bucket_slot(bucket: u64) -> usize {
    // Below 65, so the cast is lossless.
    (bucket % (BUCKETS + 1)) as usize
}

/// `duration` in nanoseconds, `u64::MAX` (584 years) if longer.
pub(super) const fn saturating_nanos(duration: Duration) -> u64 {
    let nanos = duration.as_nanos();
    if nanos > u64::MAX as u128 { u64::MAX } else { nanos as u64 }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    /// Admits `n` callers that all arrive at `now`, each at the earliest start allowed.
    fn admit_all(history: &mut History, n: usize, now: u64) -> Vec<u64> {
        (0..n)
            .map(|_| {
                let start = history.earliest_start(now);
                history.record(start);
                start
            })
            .collect()
    }

    #[test]
    fn exact_mode_lets_starts_through_then_waits_for_the_oldest_to_leave() {
        let mut history = History::new(3, Duration::from_millis(100));
        assert_eq!(
            admit_all(&mut history, 7, 0),
            [0, 0, 0, 100 * MS, 100 * MS, 100 * MS, 200 * MS]
        );
        // The last three starts are at 100, 100 and 200 ms: one arriving at 150 ms waits
        // until the first of them is 100 ms old; one arriving later goes at once.
        assert_eq!(history.earliest_start(150 * MS), 200 * MS);
        assert_eq!(history.earliest_start(201 * MS), 201 * MS);
    }

    #[test]
    fn a_start_is_never_earlier_than_the_latest() {
        let mut history = History::new(5, Duration::from_secs(1));
        history.record(40 * MS);
        assert_eq!(history.earliest_start(10 * MS), 40 * MS);
    }

    #[test]
    fn bucket_mode_never_lets_a_window_hold_more_than_the_rate() {
        let per = 640 * MS;
        let mut history = History::new(100, Duration::from_nanos(per));
        let mut starts = Vec::new();
        let mut now = 0;
        for i in 0..2_000_u64 {
            now += (i % 3 + 1) * MS;
            let start = history.earliest_start(now);
            history.record(start);
            starts.push(start);
        }
        for pair in starts.windows(101) {
            assert!(pair[100] - pair[0] >= per, "101 starts within {:?}", pair[100] - pair[0]);
        }
        // Buckets are `per / 64` wide: a start is late by at most one bucket per window.
        let first_blocked = starts[100];
        assert!(first_blocked >= starts[0] + per && first_blocked <= starts[0] + per + per / 64);
    }

    #[test]
    fn bucket_mode_forgets_starts_older_than_a_window() {
        let mut history = History::new(100, Duration::from_secs(1));
        assert!(admit_all(&mut history, 100, 0).iter().all(|&start| start == 0));
        assert!(history.earliest_start(0) >= 1_000 * MS);
        // Long after, the buckets skipped over are cleared: 100 start at once again.
        let later = 10_000 * MS;
        assert!(admit_all(&mut history, 100, later).iter().all(|&start| start == later));
    }

    #[test]
    fn a_resized_record_counts_the_starts_already_let_through() {
        let mut history = History::new(4, Duration::from_millis(100));
        admit_all(&mut history, 4, 0);
        // Lowered to 2 per 100 ms: the window is over-full until the starts at 0 leave it.
        let lowered = history.resized(2, Duration::from_millis(100));
        assert_eq!(lowered.earliest_start(10 * MS), 100 * MS);
        // Raised to 6: two more fit at once.
        let mut raised = history.resized(6, Duration::from_millis(100));
        assert_eq!(admit_all(&mut raised, 3, 10 * MS), [10 * MS, 10 * MS, 100 * MS]);
        // From buckets to exact times: no start is replayed earlier than it was.
        let mut buckets = History::new(100, Duration::from_millis(640));
        admit_all(&mut buckets, 100, 5 * MS);
        let exact = buckets.resized(10, Duration::from_millis(640));
        assert!(exact.earliest_start(5 * MS) >= 645 * MS);
    }

    #[test]
    fn durations_beyond_the_clock_saturate() {
        assert_eq!(saturating_nanos(Duration::MAX), u64::MAX);
        assert_eq!(saturating_nanos(Duration::from_millis(3)), 3 * MS);
    }
}
