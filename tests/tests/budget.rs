//! `RetryBudget` without macros, on the paused clock: the formula
//! `min_per_second · window + ratio · calls`, retry storms through `RetryPolicy::run`,
//! aging, the WARN event, invalid values, and withdrawals racing on many threads.

use std::cell::Cell;
use std::time::Duration;

use steadfast::{RetryBudget, RetryPolicy};
use steadfast_tests::Capture;
use tokio::time::{Instant, sleep};
use tracing::Level;

#[derive(Debug, Clone, Copy, PartialEq)]
enum CallError {
    /// The dependency failed: worth retrying.
    Down,
    /// The budget refused the retry: returned at once.
    Exhausted,
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}

/// One call of a failing dependency with up to `attempts` attempts and no backoff:
/// the first attempt deposits, each retry withdraws (what `#[retry(budget = ..)]` will
/// do). Returns the attempts that reached the dependency.
async fn failing_call(budget: &RetryBudget, attempts: u32) -> u32 {
    let reached = Cell::new(0);
    let attempt = Cell::new(0);
    let policy = RetryPolicy::new().attempts(attempts).delay(Duration::ZERO).jitter(0.0);
    let out: Result<(), CallError> = policy
        .when(|e: &CallError| *e == CallError::Down)
        .name("storm")
        .run(|| {
            attempt.set(attempt.get() + 1);
            let allowed = if attempt.get() == 1 {
                budget.deposit();
                true
            } else {
                steadfast::__private::withdraw_retry(budget, "storm", attempt.get() - 1)
            };
            if allowed {
                reached.set(reached.get() + 1);
            }
            async move { Err(if allowed { CallError::Down } else { CallError::Exhausted }) }
        })
        .await;
    assert!(out.is_err());
    reached.get()
}

#[tokio::test(start_paused = true)]
async fn defaults() {
    let budget = RetryBudget::new();
    assert_eq!(budget.available(), 100, "10 per second over 10 s");
    budget.deposit();
    assert_eq!(budget.available(), 100, "0.2 of a retry is not a retry yet");
    for _ in 0..4 {
        budget.deposit();
    }
    assert_eq!(budget.available(), 101);
    assert_eq!(
        format!("{budget:?}"),
        "RetryBudget { ratio: 0.2, min_per_second: 10, window: 10s, .. }"
    );
}

#[tokio::test(start_paused = true)]
async fn a_storm_at_one_instant_gets_exactly_the_budget() {
    let capture = Capture::start();
    static STORM: RetryBudget = RetryBudget::new();
    let mut reached = 0;
    for _ in 0..1_000 {
        reached += failing_call(&STORM, 4).await;
    }
    // 1 000 first attempts and exactly 10·10 + 0.2·1 000 = 300 retries (of 3 000 wanted).
    assert_eq!(reached, 1_000 + 300);
    assert_eq!(STORM.available(), 0);

    // The calls that found it empty, and the attempt that had just failed in each:
    // replay the formula call by call.
    let (mut retries, mut refused) = (0_u64, Vec::new());
    for calls in 1..=1_000_u64 {
        let allowed = 100 + calls / 5;
        let mut done = 0;
        while done < 3 && retries < allowed {
            retries += 1;
            done += 1;
        }
        if done < 3 {
            refused.push((done + 1).to_string());
        }
    }
    let exhausted: Vec<_> = capture
        .steadfast()
        .into_iter()
        .filter(|e| e.field("message") == Some("retry budget exhausted"))
        .collect();
    assert!(
        exhausted.iter().all(|e| e.level == Level::WARN && e.field("function") == Some("storm"))
    );
    let attempts: Vec<_> =
        exhausted.iter().map(|e| e.field("attempt").unwrap().to_owned()).collect();
    assert_eq!(attempts, refused);
    assert!(refused.len() > 900, "most calls find it empty");
}

#[tokio::test(start_paused = true)]
async fn a_storm_over_time_never_exceeds_the_budget_of_any_window() {
    static SPREAD: RetryBudget = RetryBudget::new();
    let start = Instant::now();
    let (mut calls, mut retries) = (Vec::new(), Vec::new());
    for _ in 0..2_000 {
        let now = start.elapsed();
        calls.push(now);
        let reached = failing_call(&SPREAD, 4).await;
        retries.extend(std::iter::repeat_n(now, reached as usize - 1));
        sleep(Duration::from_millis(25)).await; // 40 calls per second for 50 s
    }
    // Buckets of 500 ms: every window of 9.5 s ending at a retry lies inside the 20
    // buckets the budget counted, whose calls all came within the 10 s before it.
    let window = Duration::from_secs(10);
    let covered = Duration::from_millis(9_500);
    for &r in &retries {
        let in_window = retries.iter().filter(|&&x| x <= r && x + covered > r).count() as u64;
        let deposits = calls.iter().filter(|&&c| c <= r && c + window >= r).count() as u64;
        assert!(in_window <= 100 + deposits / 5, "at {r:?}: {in_window} retries, {deposits} calls");
    }
    // 40 calls/s earn 8 retries/s on top of the 10/s reserve: about 18 retries/s of the
    // 120/s the callers wanted.
    let per_second = retries.len() as f64 / 50.0;
    assert!((17.0..=21.0).contains(&per_second), "{per_second} retries/s");
}

#[tokio::test(start_paused = true)]
async fn withdrawals_age_out_exactly() {
    let budget = RetryBudget::new().ratio(0.0).min_per_second(10).window(Duration::from_secs(10));
    let taken = (0..200).filter(|_| budget.try_withdraw()).count();
    assert_eq!(taken, 100);
    sleep(Duration::from_millis(9_999)).await;
    assert_eq!(budget.available(), 0);
    assert!(!budget.try_withdraw());
    sleep(Duration::from_millis(1)).await;
    assert_eq!(budget.available(), 100);
}

#[tokio::test(start_paused = true)]
async fn deposits_age_out_too() {
    let budget = RetryBudget::new().ratio(1.0).min_per_second(0).window(Duration::from_secs(1));
    for _ in 0..5 {
        budget.deposit();
    }
    assert_eq!(budget.available(), 5);
    sleep(Duration::from_millis(500)).await;
    budget.deposit();
    assert_eq!(budget.available(), 6);
    sleep(Duration::from_millis(500)).await;
    assert_eq!(budget.available(), 1, "the five at 0 s are gone at 1 s");
}

#[tokio::test(start_paused = true)]
async fn invalid_values_are_clamped_with_error_events() {
    let capture = Capture::start();
    let budget = RetryBudget::new().ratio(-1.0).window(Duration::ZERO);
    budget.deposit();
    assert_eq!(budget.available(), 0, "10/s over 1 ms, nothing per call");
    budget.deposit();
    let errors: Vec<_> =
        capture.steadfast().into_iter().filter(|e| e.level == Level::ERROR).collect();
    assert_eq!(errors.len(), 2, "reported once");
    assert_eq!(errors[0].field("argument"), Some("ratio"));
    assert_eq!(errors[0].field("value"), Some("0.0"));
    assert_eq!(errors[1].field("argument"), Some("window"));
    assert_eq!(errors[1].field("value"), Some("1ms"));
}

#[test]
fn racing_withdrawals_never_take_more_than_the_budget() {
    static RACE: RetryBudget =
        RetryBudget::new().ratio(0.0).min_per_second(1).window(Duration::from_secs(3_600));
    let threads: Vec<_> = (0..8)
        .map(|_| std::thread::spawn(|| (0..2_000).filter(|_| RACE.try_withdraw()).count()))
        .collect();
    let taken: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
    assert_eq!(taken, 3_600);
}
