//! A [`RetryBudget`] as a hedge budget: hedges withdraw from the budget that retries
//! use, so retries and hedges together stay within one cap on extra load.

use super::HedgeBudget;
use crate::budget::RetryBudget;

/// Every hedged call deposits (as a call does for retries) and every hedge withdraws
/// one, exactly like a retry: `#[hedge(budget = API_RETRIES)]`.
///
/// ```
/// use std::time::Duration;
/// use steadfast::{Hedge, RetryBudget};
///
/// // No floor, one extra attempt per two calls.
/// static BUDGET: RetryBudget = RetryBudget::new().min_per_second(0).ratio(0.5);
/// static HEDGE: Hedge = Hedge::after(Duration::from_millis(10));
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let slow = || async {
///     tokio::time::sleep(Duration::from_millis(100)).await;
///     Ok::<_, std::io::Error>(())
/// };
/// HEDGE.budget(&BUDGET).run(slow).await.unwrap(); // deposits 0.5: no hedge yet
/// assert_eq!(BUDGET.available(), 0);
/// HEDGE.budget(&BUDGET).run(slow).await.unwrap(); // deposits 0.5 more: hedged
/// assert_eq!(BUDGET.available(), 0);
/// # }
/// ```
impl HedgeBudget for RetryBudget {
    #[inline]
    fn deposit(&self) {
        RetryBudget::deposit(self);
    }

    #[inline]
    fn try_withdraw(&self) -> bool {
        RetryBudget::try_withdraw(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn hedges_withdraw_what_calls_deposit() {
        let budget = RetryBudget::new().min_per_second(0).ratio(1.0);
        let hedge: &dyn HedgeBudget = &budget;
        assert!(!hedge.try_withdraw(), "nothing deposited yet");
        hedge.deposit();
        assert_eq!(budget.available(), 1);
        assert!(hedge.try_withdraw());
        assert!(!hedge.try_withdraw());
        assert_eq!(budget.available(), 0);
    }
}
