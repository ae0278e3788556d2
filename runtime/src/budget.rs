//! Retry budgets: a cap on retries relative to calls, shared by every function that
//! names the budget, so that an outage does not multiply the load on a dependency
//! (tower's `TpsBudget`, linkerd's and Finagle's retry budgets).

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use crate::breaker::MIN_WINDOW;
use crate::breaker::window::{Epoch, Window, bucket_of, bucket_width, duration_nanos};

/// The largest `ratio` a budget accepts: a thousand retries per call.
const MAX_RATIO: f64 = 1000.0;

/// A shared budget of retries: over the last `window`, at most
/// `min_per_second · window + ratio · calls` retries, where `calls` are the
/// [`deposit`](Self::deposit)s (one per call, first attempt) and the retries the
/// successful [`try_withdraw`](Self::try_withdraw)s.
///
/// | builder | meaning | default |
/// |---|---|---|
/// | [`ratio(R)`](Self::ratio) | retries allowed per call made (R ≥ 0) | 0.2 |
/// | [`min_per_second(N)`](Self::min_per_second) | retries allowed per second of window even without calls | 10 |
/// | [`window(D)`](Self::window) | the sliding window over which calls and retries are counted | 10 s |
///
/// ```
/// use std::time::Duration;
/// use steadfast::RetryBudget;
///
/// // 20 % of calls + 10 retries/s, over 10 s: `#[retry(budget = API_RETRIES)]`.
/// static API_RETRIES: RetryBudget = RetryBudget::new();
///
/// static TIGHT: RetryBudget = RetryBudget::new()
///     .ratio(0.5)
///     .min_per_second(1)
///     .window(Duration::from_secs(2));
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// assert_eq!(TIGHT.available(), 2); // 1/s over 2 s
/// TIGHT.deposit();
/// TIGHT.deposit(); // two calls: one more retry
/// assert_eq!(TIGHT.available(), 3);
/// assert!(TIGHT.try_withdraw() && TIGHT.try_withdraw() && TIGHT.try_withdraw());
/// assert!(!TIGHT.try_withdraw()); // empty: do not retry
/// tokio::time::sleep(Duration::from_secs(2)).await;
/// assert_eq!(TIGHT.available(), 2); // the old calls and retries have aged out
/// # let _ = &API_RETRIES;
/// # }
/// ```
///
/// Counts are kept in 20 buckets of `window / 20` on tokio's clock (exact on a paused
/// clock): a call or retry counts until the end of its bucket plus `window`. The
/// arithmetic is in integers (the ratio in millionths), so `0.2 · 1000` calls allow
/// exactly 200 retries. Lock-free: a deposit is one compare-and-swap; a withdrawal
/// reads the window and takes one unit with a compare-and-swap on the current bucket,
/// retried if another caller changed it in between, so two callers never both take the
/// last retry.
///
/// Values outside their range (`ratio` NaN, negative or above 1000, `window` under
/// 1 ms) are clamped to the nearest valid one and reported by one ERROR event at the
/// first use; never a panic.
pub struct RetryBudget {
    ratio: f64,
    /// `ratio` in millionths of a retry per call.
    ratio_ppm: u64,
    min_per_second: u32,
    window_len: Duration,
    bucket: u64,
    clamped_ratio: bool,
    clamped_window: bool,
    window: Window,
    epoch: Epoch,
    reported: AtomicBool,
}

impl RetryBudget {
    /// The defaults: ratio 0.2, 10 retries per second, a 10 s window.
    ///
    /// ```
    /// static B: steadfast::RetryBudget = steadfast::RetryBudget::new();
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// assert_eq!(B.available(), 100);
    /// # }
    /// ```
    pub const fn new() -> Self {
        let window = Duration::from_secs(10);
        Self {
            ratio: 0.2,
            ratio_ppm: 200_000,
            min_per_second: 10,
            window_len: window,
            bucket: bucket_width(duration_nanos(window)),
            clamped_ratio: false,
            clamped_window: false,
            window: Window::new(),
            epoch: Epoch::new(),
            reported: AtomicBool::new(false),
        }
    }

    /// Retries allowed per call (0 to 1000; others are clamped).
    ///
    /// ```
    /// static HALF: steadfast::RetryBudget = steadfast::RetryBudget::new().ratio(0.5);
    /// # let _ = &HALF;
    /// ```
    pub const fn ratio(mut self, ratio: f64) -> Self {
        let used = if ratio.is_nan() || ratio < 0.0 {
            0.0
        } else if ratio > MAX_RATIO {
            MAX_RATIO
        } else {
            ratio
        };
        self.clamped_ratio = used != ratio;
        self.ratio = used;
        self.ratio_ppm = (used * 1e6 + 0.5) as u64;
        self
    }

    /// Retries allowed per second of window, whatever the calls (`min_per_second ·
    /// window` in all).
    ///
    /// ```
    /// static FLOOR: steadfast::RetryBudget = steadfast::RetryBudget::new().min_per_second(1);
    /// # let _ = &FLOOR;
    /// ```
    pub const fn min_per_second(mut self, retries: u32) -> Self {
        self.min_per_second = retries;
        self
    }

    /// The sliding window over which calls and retries are counted (at least 1 ms).
    ///
    /// ```
    /// use std::time::Duration;
    /// static MINUTE: steadfast::RetryBudget = steadfast::RetryBudget::new().window(Duration::from_secs(60));
    /// # let _ = &MINUTE;
    /// ```
    pub const fn window(mut self, window: Duration) -> Self {
        let short = window.as_nanos() < MIN_WINDOW.as_nanos();
        let window = if short { MIN_WINDOW } else { window };
        self.clamped_window = short;
        self.window_len = window;
        self.bucket = bucket_width(duration_nanos(window));
        self
    }

    /// Records a call (its first attempt): it adds `ratio` retries to the budget.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let budget = steadfast::RetryBudget::new().min_per_second(0).ratio(1.0);
    /// budget.deposit();
    /// assert_eq!(budget.available(), 1);
    /// # }
    /// ```
    #[inline]
    pub fn deposit(&self) {
        let k = self.bucket_now();
        self.window.add(k, 1, 0);
    }

    /// Takes one retry from the budget: `false` (and nothing taken) when it is empty,
    /// in which case the retry should not be made.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let budget = steadfast::RetryBudget::new().min_per_second(1).ratio(0.0);
    /// let taken = (0..20).filter(|_| budget.try_withdraw()).count();
    /// assert_eq!(taken, 10); // 1 per second over 10 s
    /// # }
    /// ```
    #[inline]
    pub fn try_withdraw(&self) -> bool {
        let k = self.bucket_now();
        self.window.mark_if(k, |counts| counts.marked < self.allowed(counts.total))
    }

    /// The retries it would allow now.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let budget = steadfast::RetryBudget::new();
    /// assert_eq!(budget.available(), 100); // 10/s over 10 s
    /// for _ in 0..10 { budget.deposit(); }
    /// assert_eq!(budget.available(), 102); // + 20 % of 10 calls
    /// # }
    /// ```
    pub fn available(&self) -> u32 {
        let counts = self.window.counts(self.bucket_now());
        let left = self.allowed(counts.total).saturating_sub(counts.marked);
        u32::try_from(left).unwrap_or(u32::MAX)
    }

    /// `min_per_second · window + ratio · calls`, rounded down, computed in millionths.
    fn allowed(&self, calls: u64) -> u64 {
        let reserve = u128::from(self.min_per_second) * self.window_len.as_nanos() / 1_000;
        let earned = u128::from(self.ratio_ppm) * u128::from(calls);
        u64::try_from((reserve + earned) / 1_000_000).unwrap_or(u64::MAX)
    }

    #[inline]
    fn bucket_now(&self) -> u64 {
        if (self.clamped_ratio || self.clamped_window) && !self.reported.load(Ordering::Relaxed) {
            self.report_clamped();
        }
        bucket_of(self.epoch.nanos(Instant::now()), self.bucket)
    }

    #[cold]
    fn report_clamped(&self) {
        if self.reported.swap(true, Ordering::Relaxed) {
            return;
        }
        if self.clamped_ratio {
            tracing::error!(target: "steadfast", argument = "ratio", value = self.ratio,
                "retry budget: `ratio` must be between 0 and 1000; clamped");
        }
        if self.clamped_window {
            tracing::error!(target: "steadfast", argument = "window", value = ?self.window_len,
                "retry budget: `window` must be at least 1ms; clamped");
        }
    }
}

impl Default for RetryBudget {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for RetryBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryBudget")
            .field("ratio", &self.ratio)
            .field("min_per_second", &self.min_per_second)
            .field("window", &self.window_len)
            .finish_non_exhaustive()
    }
}

/// A budget named by a [`RetryPolicy`](crate::RetryPolicy): compared by identity, so
/// that the policy stays `Copy` and `PartialEq`.
#[derive(Clone, Copy)]
pub(crate) struct BudgetRef(pub(crate) &'static RetryBudget);

impl PartialEq for BudgetRef {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self.0, other.0)
    }
}

impl fmt::Debug for BudgetRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// What `#[retry(budget = B)]` accepts: a [`RetryBudget`], or a reference or `Arc` to one.
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "`#[retry(budget = ..)]` needs a `steadfast::RetryBudget`, not `{Self}`",
    label = "not a `RetryBudget`",
    note = "share one: `static API_RETRIES: steadfast::RetryBudget = steadfast::RetryBudget::new();` and `budget = API_RETRIES`"
)]
pub trait IsRetryBudget {
    /// The budget.
    fn retry_budget(&self) -> &RetryBudget;
}

impl IsRetryBudget for RetryBudget {
    #[inline(always)]
    fn retry_budget(&self) -> &RetryBudget {
        self
    }
}

impl<B: IsRetryBudget + ?Sized> IsRetryBudget for &B {
    #[inline(always)]
    fn retry_budget(&self) -> &RetryBudget {
        (**self).retry_budget()
    }
}

impl<B: IsRetryBudget + ?Sized> IsRetryBudget for std::sync::Arc<B> {
    #[inline(always)]
    fn retry_budget(&self) -> &RetryBudget {
        (**self).retry_budget()
    }
}

/// The budget behind `#[retry(budget = B)]` (`B` is taken by reference).
#[doc(hidden)]
#[inline(always)]
pub fn budget_of<B: IsRetryBudget + ?Sized>(budget: &B) -> &RetryBudget {
    budget.retry_budget()
}

/// Reports a retry that was not made because `budget` was empty (a WARN event).
#[doc(hidden)]
#[cold]
pub fn budget_exhausted(function: &'static str, attempt: u32) {
    crate::metrics::budget_exhausted(function);
    tracing::warn!(target: "steadfast", function, attempt, "retry budget exhausted");
}

/// Takes a retry from `budget` for `function`'s `attempt` (the one that just failed);
/// when it is empty, reports [`budget_exhausted`] and returns `false`.
#[doc(hidden)]
#[inline]
pub fn withdraw_retry(budget: &RetryBudget, function: &'static str, attempt: u32) -> bool {
    let taken = budget.try_withdraw();
    if !taken {
        budget_exhausted(function, attempt);
    }
    taken
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_formula() {
        let b = RetryBudget::new().ratio(0.2).min_per_second(10).window(Duration::from_secs(10));
        assert_eq!(b.available(), 100);
        for _ in 0..1000 {
            b.deposit();
        }
        assert_eq!(b.available(), 300);
        let taken = (0..1000).filter(|_| b.try_withdraw()).count();
        assert_eq!(taken, 300);
        assert_eq!(b.available(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn integer_ratio_arithmetic() {
        // 0.29 · 100 is 28.999… in floating point; the budget allows exactly 29.
        let b = RetryBudget::new().ratio(0.29).min_per_second(0);
        for _ in 0..100 {
            b.deposit();
        }
        assert_eq!(b.available(), 29);
    }

    #[tokio::test(start_paused = true)]
    async fn ages_out_exactly() {
        let b = RetryBudget::new().ratio(1.0).min_per_second(0).window(Duration::from_secs(20));
        b.deposit(); // at 0, bucket [0, 1 s)
        tokio::time::sleep(Duration::from_millis(19_999)).await;
        assert_eq!(b.available(), 1);
        tokio::time::sleep(Duration::from_millis(1)).await;
        assert_eq!(b.available(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn clamps_without_panicking() {
        let b = RetryBudget::new().ratio(f64::NAN).window(Duration::ZERO).min_per_second(1000);
        assert_eq!(b.ratio, 0.0);
        assert_eq!(b.window_len, MIN_WINDOW);
        assert_eq!(b.available(), 1); // 1000/s over 1 ms
        let b = RetryBudget::new().ratio(f64::INFINITY).min_per_second(0);
        b.deposit();
        assert_eq!(b.available(), 1000);
    }
}
