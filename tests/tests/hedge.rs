//! Hedged calls (`steadfast::Hedge`, the runtime of `#[hedge]`): when another attempt
//! starts, which result wins, what is cancelled, the quantile delay, the budget, the
//! events, and the cost of the fast path. All on the paused clock, exact.

use std::cell::RefCell;
use std::future::Future;
use std::pin::pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use steadfast::{Hedge, HedgeBudget, NoBudget};
use steadfast_tests::Capture;
use tokio::time::{Instant, sleep};
use tracing::Level;

const MS: Duration = Duration::from_millis(1);

#[derive(Debug, Clone, Copy, PartialEq)]
enum Error {
    Busy(u32),
    Fatal(u32),
}

impl Error {
    fn is_busy(&self) -> bool {
        matches!(self, Error::Busy(_))
    }
}

/// What the attempts of one call did: when each started (since the call started),
/// how many ran at once at most, how many were cancelled.
#[derive(Default, Debug)]
struct Log {
    starts: Vec<Duration>,
    running: usize,
    peak: usize,
    cancelled: usize,
}

/// Held by an attempt while it runs: counts it as cancelled when dropped unfinished.
struct Running {
    log: Rc<RefCell<Log>>,
    finished: bool,
}

impl Drop for Running {
    fn drop(&mut self) {
        let mut log = self.log.borrow_mut();
        log.running -= 1;
        if !self.finished {
            log.cancelled += 1;
        }
    }
}

/// A closure creating the attempts of one call from a plan: attempt k waits the k-th
/// delay (in ms), then returns the k-th result. An attempt beyond the plan panics, so
/// an extra hedge fails the test.
fn planned(
    log: &Rc<RefCell<Log>>,
    plan: Vec<(u64, Result<u32, Error>)>,
) -> impl FnMut() -> std::pin::Pin<Box<dyn Future<Output = Result<u32, Error>>>> {
    let log = log.clone();
    let t0 = Instant::now();
    let mut plan = plan.into_iter();
    move || {
        let (delay, out) = plan.next().expect("an attempt beyond the plan");
        let log = log.clone();
        {
            let mut l = log.borrow_mut();
            l.starts.push(t0.elapsed());
            l.running += 1;
            l.peak = l.peak.max(l.running);
        }
        Box::pin(async move {
            let mut running = Running { log, finished: false };
            sleep(Duration::from_millis(delay)).await;
            running.finished = true;
            out
        })
    }
}

fn ms(list: &[u64]) -> Vec<Duration> {
    list.iter().map(|&n| Duration::from_millis(n)).collect()
}

#[tokio::test(start_paused = true)]
async fn a_slow_first_attempt_is_hedged_at_after_and_the_loser_cancelled() {
    static HEDGE: Hedge = Hedge::after(Duration::from_millis(50));
    let log = Rc::new(RefCell::new(Log::default()));
    let start = Instant::now();
    // Awaited through a pinned reference: the hedged future outlives its result, so
    // the count below shows that the loser was dropped when the winner finished.
    let mut call = pin!(HEDGE.run(planned(&log, vec![(1_000, Ok(1)), (20, Ok(2))])));
    let out = call.as_mut().await;
    assert_eq!(out, Ok(2));
    assert_eq!(start.elapsed(), 70 * MS);
    let log = log.borrow();
    assert_eq!(log.starts, ms(&[0, 50]));
    assert_eq!((log.cancelled, log.running), (1, 0), "the slow attempt is dropped at once");
}

#[tokio::test(start_paused = true)]
async fn a_fast_call_is_never_hedged() {
    static HEDGE: Hedge = Hedge::after(Duration::from_millis(50));
    for delay in [0, 1, 49] {
        let log = Rc::new(RefCell::new(Log::default()));
        let start = Instant::now();
        assert_eq!(HEDGE.run(planned(&log, vec![(delay, Ok(1))])).await, Ok(1));
        assert_eq!(start.elapsed(), Duration::from_millis(delay));
        assert_eq!(log.borrow().starts.len(), 1);
    }
}

#[tokio::test(start_paused = true)]
async fn the_original_can_still_win_after_a_hedge() {
    static HEDGE: Hedge = Hedge::after(Duration::from_millis(50));
    let log = Rc::new(RefCell::new(Log::default()));
    let start = Instant::now();
    let out = HEDGE.run(planned(&log, vec![(60, Ok(1)), (100, Ok(2))])).await;
    assert_eq!(out, Ok(1));
    assert_eq!(start.elapsed(), 60 * MS);
    assert_eq!(log.borrow().cancelled, 1, "the hedge loses and is dropped");
}

#[tokio::test(start_paused = true)]
async fn an_error_for_which_when_is_true_starts_the_next_attempt_at_once() {
    static HEDGE: Hedge = Hedge::after(Duration::from_millis(50)).max(3);
    let log = Rc::new(RefCell::new(Log::default()));
    let start = Instant::now();
    let out = HEDGE
        .when(Error::is_busy)
        .run(planned(&log, vec![(10, Err(Error::Busy(1))), (100, Ok(2)), (5, Ok(3))]))
        .await;
    // Attempt 2 starts at 10 ms (the failure), attempt 3 at 60 ms (50 ms after the
    // newest attempt started), and wins at 65 ms.
    assert_eq!(out, Ok(3));
    assert_eq!(start.elapsed(), 65 * MS);
    assert_eq!(log.borrow().starts, ms(&[0, 10, 60]));
}

#[tokio::test(start_paused = true)]
async fn two_failures_at_the_same_instant_start_two_attempts() {
    static HEDGE: Hedge = Hedge::after(Duration::from_millis(25)).max(4);
    let log = Rc::new(RefCell::new(Log::default()));
    let start = Instant::now();
    let plan = vec![(30, Err(Error::Busy(1))), (5, Err(Error::Busy(2))), (50, Ok(3)), (5, Ok(4))];
    let out = HEDGE.run(planned(&log, plan)).await;
    // 2 starts at 25 ms; 1 and 2 both fail at 30 ms: 3 and 4 start then, and 4 wins
    // at 35 ms.
    assert_eq!(out, Ok(4));
    assert_eq!(start.elapsed(), 35 * MS);
    let log = log.borrow();
    assert_eq!(log.starts, ms(&[0, 25, 30, 30]));
    assert_eq!(log.cancelled, 1);
}

#[tokio::test(start_paused = true)]
async fn an_error_for_which_when_is_false_ends_the_call() {
    static HEDGE: Hedge = Hedge::after(Duration::from_millis(50)).max(3);
    let log = Rc::new(RefCell::new(Log::default()));
    let start = Instant::now();
    let mut call = pin!(
        HEDGE
            .when(Error::is_busy)
            .run(planned(&log, vec![(1_000, Ok(1)), (10, Err(Error::Fatal(2)))]))
    );
    let out = call.as_mut().await;
    assert_eq!(out, Err(Error::Fatal(2)));
    assert_eq!(start.elapsed(), 60 * MS);
    let log = log.borrow();
    assert_eq!(log.starts, ms(&[0, 50]));
    assert_eq!(log.cancelled, 1, "the first attempt is dropped at once");
}

#[tokio::test(start_paused = true)]
async fn when_every_attempt_fails_the_last_error_is_returned() {
    static HEDGE: Hedge = Hedge::after(Duration::from_millis(50)).max(3);
    let log = Rc::new(RefCell::new(Log::default()));
    let start = Instant::now();
    let plan =
        vec![(200, Err(Error::Busy(1))), (30, Err(Error::Busy(2))), (500, Err(Error::Busy(3)))];
    let out = HEDGE.run(planned(&log, plan)).await;
    // 1 starts at 0, 2 at 50 and fails at 80, 3 starts at once (80) and fails at
    // 580; 1 failed at 200 meanwhile. 3 is the last to fail.
    assert_eq!(out, Err(Error::Busy(3)));
    assert_eq!(start.elapsed(), 580 * MS);
    assert_eq!(log.borrow().starts, ms(&[0, 50, 80]));
}

#[tokio::test(start_paused = true)]
async fn max_caps_the_attempts_in_flight() {
    static HEDGE: Hedge = Hedge::after(Duration::from_millis(10)).max(3);
    let log = Rc::new(RefCell::new(Log::default()));
    let start = Instant::now();
    let out = HEDGE.run(planned(&log, vec![(1_000, Ok(1)), (1_000, Ok(2)), (1_000, Ok(3))])).await;
    assert_eq!(out, Ok(1));
    assert_eq!(start.elapsed(), 1_000 * MS);
    let log = log.borrow();
    assert_eq!(log.starts, ms(&[0, 10, 20]));
    assert_eq!((log.peak, log.cancelled), (3, 2));
}

#[tokio::test(start_paused = true)]
async fn p95_waits_for_twenty_calls_then_hedges_at_the_quantile() {
    static HEDGE: Hedge = Hedge::percentile(95);
    assert_eq!(HEDGE.current_delay(), None);
    // 19 calls of 1..=19 ms, then a slow one: not hedged, 19 calls are not enough.
    for delay in 1..=19 {
        let log = Rc::new(RefCell::new(Log::default()));
        assert_eq!(HEDGE.run(planned(&log, vec![(delay, Ok(1))])).await, Ok(1));
    }
    let start = Instant::now();
    let log = Rc::new(RefCell::new(Log::default()));
    assert_eq!(HEDGE.run(planned(&log, vec![(200, Ok(1))])).await, Ok(1));
    assert_eq!((start.elapsed(), log.borrow().starts.len()), (200 * MS, 1));
    // The window now holds 1..=19 ms and 200 ms: its p95 (nearest rank: the 19th of
    // 20) is 19 ms.
    assert_eq!(HEDGE.current_delay(), Some(19 * MS));
    let start = Instant::now();
    let log = Rc::new(RefCell::new(Log::default()));
    let out = HEDGE.run(planned(&log, vec![(1_000, Ok(1)), (5, Ok(2))])).await;
    assert_eq!(out, Ok(2));
    assert_eq!(start.elapsed(), 24 * MS);
    assert_eq!(log.borrow().starts, ms(&[0, 19]));
}

#[tokio::test(start_paused = true)]
async fn only_the_winners_own_latency_is_learnt() {
    static HEDGE: Hedge = Hedge::quantile(1.0);
    for _ in 0..20 {
        let log = Rc::new(RefCell::new(Log::default()));
        assert_eq!(HEDGE.run(planned(&log, vec![(10, Ok(1))])).await, Ok(1));
    }
    assert_eq!(HEDGE.current_delay(), Some(10 * MS));
    // 12 hedged calls won by the hedge after 3 ms of its own, and 4 plain ones; the
    // refresh at the 32nd latency sees 3 ms and 10 ms samples only (the 1 s losers
    // are never recorded), so p100 stays 10 ms.
    for _ in 0..12 {
        let log = Rc::new(RefCell::new(Log::default()));
        assert_eq!(HEDGE.run(planned(&log, vec![(1_000, Ok(1)), (3, Ok(2))])).await, Ok(2));
    }
    assert_eq!(HEDGE.current_delay(), Some(10 * MS));
}

/// A budget that grants `allow` withdrawals and counts everything.
struct Counting {
    allow: AtomicU32,
    deposits: AtomicU32,
    asked: AtomicU32,
}

impl Counting {
    const fn new(allow: u32) -> Self {
        Self { allow: AtomicU32::new(allow), deposits: AtomicU32::new(0), asked: AtomicU32::new(0) }
    }
    fn counts(&self) -> (u32, u32, u32) {
        let load = |a: &AtomicU32| a.load(Ordering::Relaxed);
        (load(&self.deposits), load(&self.asked), load(&self.allow))
    }
}

impl HedgeBudget for Counting {
    fn deposit(&self) {
        self.deposits.fetch_add(1, Ordering::Relaxed);
    }
    fn try_withdraw(&self) -> bool {
        self.asked.fetch_add(1, Ordering::Relaxed);
        self.allow.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1)).is_ok()
    }
}

#[tokio::test(start_paused = true)]
async fn the_budget_stops_hedges() {
    static HEDGE: Hedge = Hedge::after(Duration::from_millis(50));
    let budget = Counting::new(1);
    // The first slow call takes the only token and is hedged.
    let log = Rc::new(RefCell::new(Log::default()));
    let out = HEDGE.budget(&budget).run(planned(&log, vec![(1_000, Ok(1)), (10, Ok(2))])).await;
    assert_eq!(out, Ok(2));
    assert_eq!(budget.counts(), (1, 1, 0));
    // The second finds the budget empty: it waits for its only attempt.
    let log = Rc::new(RefCell::new(Log::default()));
    let start = Instant::now();
    let out = HEDGE.budget(&budget).run(planned(&log, vec![(1_000, Ok(1))])).await;
    assert_eq!((out, start.elapsed()), (Ok(1), 1_000 * MS));
    assert_eq!(budget.counts(), (2, 2, 0), "asked once, at 50 ms, then never again");
    // A failure finds it empty too: its error is returned at once.
    let log = Rc::new(RefCell::new(Log::default()));
    let start = Instant::now();
    let out = HEDGE.budget(&budget).run(planned(&log, vec![(5, Err(Error::Busy(1)))])).await;
    assert_eq!((out, start.elapsed()), (Err(Error::Busy(1)), 5 * MS));
    assert_eq!(budget.counts(), (3, 3, 0));
    // A fast call deposits and never asks.
    let log = Rc::new(RefCell::new(Log::default()));
    assert_eq!(HEDGE.budget(&budget).run(planned(&log, vec![(5, Ok(1))])).await, Ok(1));
    assert_eq!(budget.counts(), (4, 3, 0));
}

#[tokio::test(start_paused = true)]
async fn each_hedge_emits_a_debug_event() {
    static HEDGE: Hedge = Hedge::after(Duration::from_millis(50)).max(3).name("fetch");
    let capture = Capture::start();
    let log = Rc::new(RefCell::new(Log::default()));
    assert_eq!(HEDGE.run(planned(&log, vec![(10, Ok(1))])).await, Ok(1));
    assert!(capture.steadfast().is_empty(), "a call that is not hedged logs nothing");
    let plan = vec![(1_000, Ok(1)), (5, Err(Error::Busy(2))), (500, Ok(3))];
    assert_eq!(HEDGE.run(planned(&log, plan)).await, Ok(3));
    let events = capture.steadfast();
    assert_eq!(events.len(), 2, "{events:?}");
    for (event, attempt, reason) in [(&events[0], "2", "slow"), (&events[1], "3", "failed")] {
        assert_eq!(event.level, Level::DEBUG);
        assert_eq!(event.field("function"), Some("fetch"));
        assert_eq!(event.field("attempt"), Some(attempt));
        assert_eq!(event.field("after_ms"), Some("50"));
        assert_eq!(event.field("reason"), Some(reason));
    }
}

#[tokio::test(start_paused = true)]
async fn an_invalid_max_is_clamped_with_an_error_event() {
    static ONE: Hedge = Hedge::after(Duration::from_millis(10)).max(1).name("one");
    static MANY: Hedge = Hedge::after(Duration::from_millis(10)).max(99).name("many");
    let capture = Capture::start();
    let log = Rc::new(RefCell::new(Log::default()));
    assert_eq!(ONE.run(planned(&log, vec![(100, Ok(1)), (100, Ok(2))])).await, Ok(1));
    assert_eq!(log.borrow().starts, ms(&[0, 10]), "max = 1 runs as 2");
    let log = Rc::new(RefCell::new(Log::default()));
    let plan = (1..=5).map(|k| (1_000, Ok(k))).collect();
    assert_eq!(MANY.run(planned(&log, plan)).await, Ok(1));
    assert_eq!(log.borrow().starts, ms(&[0, 10, 20, 30, 40]), "max = 99 runs as 5");
    let errors: Vec<_> =
        capture.steadfast().into_iter().filter(|e| e.level == Level::ERROR).collect();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert_eq!((errors[0].field("function"), errors[0].field("used")), (Some("one"), Some("2")));
    assert_eq!((errors[1].field("function"), errors[1].field("used")), (Some("many"), Some("5")));
}

#[tokio::test(start_paused = true)]
async fn an_invalid_quantile_is_clamped_with_an_error_event() {
    static HEDGE: Hedge = Hedge::quantile(1.5).name("q");
    let capture = Capture::start();
    for delay in 1..=20 {
        let log = Rc::new(RefCell::new(Log::default()));
        assert_eq!(HEDGE.run(planned(&log, vec![(delay, Ok(1))])).await, Ok(1));
    }
    assert_eq!(HEDGE.current_delay(), Some(20 * MS), "1.5 is clamped to 1.0, the largest");
    let errors = capture.steadfast();
    assert!(!errors.is_empty() && errors.iter().all(|e| e.level == Level::ERROR));
    assert_eq!(errors[0].field("used"), Some("1.0"));
}

#[tokio::test(start_paused = true)]
async fn the_expansion_entry_point_takes_a_per_call_delay_when_and_budget() {
    static SITE: Hedge = Hedge::after(Duration::from_secs(10)).max(3).name("f");
    let log = Rc::new(RefCell::new(Log::default()));
    let budget = Counting::new(5);
    let start = Instant::now();
    let plan = vec![(1_000, Ok(1)), (5, Err(Error::Busy(2))), (10, Ok(3))];
    let out = steadfast::__private::hedge(
        &SITE,
        Some(30 * MS),
        Error::is_busy,
        &budget,
        planned(&log, plan),
    )
    .await;
    assert_eq!(out, Ok(3));
    assert_eq!(start.elapsed(), 45 * MS);
    assert_eq!(log.borrow().starts, ms(&[0, 30, 35]));
    assert_eq!(budget.counts(), (1, 2, 3));
    // The expansion's default `when`: every error may be hedged.
    let log = Rc::new(RefCell::new(Log::default()));
    let plan = vec![(5, Err(Error::Fatal(1))), (5, Ok(2))];
    let out = steadfast::__private::hedge(
        &SITE,
        None,
        steadfast::__private::any_error,
        &NoBudget,
        planned(&log, plan),
    );
    assert_eq!(out.await, Ok(2));
    // Without an override the site's own 10 s applies.
    let log = Rc::new(RefCell::new(Log::default()));
    let out = steadfast::__private::hedge(
        &SITE,
        None,
        Error::is_busy,
        &NoBudget,
        planned(&log, vec![(1_000, Ok(1))]),
    )
    .await;
    assert_eq!(out, Ok(1));
}

#[tokio::test(start_paused = true)]
async fn the_longest_delay_neither_hedges_nor_panics() {
    static HEDGE: Hedge = Hedge::after(Duration::MAX).max(3);
    let log = Rc::new(RefCell::new(Log::default()));
    let start = Instant::now();
    // The failure restarts the timer from its start: `now + Duration::MAX` saturates.
    let plan = vec![(5, Err(Error::Busy(1))), (3_000, Ok(2))];
    assert_eq!(HEDGE.run(planned(&log, plan)).await, Ok(2));
    assert_eq!(start.elapsed(), 3_005 * MS);
    assert_eq!(log.borrow().starts, ms(&[0, 5]));
}

#[tokio::test(start_paused = true)]
async fn a_zero_delay_starts_every_attempt_at_once() {
    static HEDGE: Hedge = Hedge::after(Duration::ZERO).max(3);
    let log = Rc::new(RefCell::new(Log::default()));
    let out = HEDGE.run(planned(&log, vec![(30, Ok(1)), (20, Ok(2)), (10, Ok(3))])).await;
    assert_eq!(out, Ok(3));
    assert_eq!(log.borrow().starts, ms(&[0, 0, 0]));
    // Ready on the first poll: nothing else starts.
    let log = Rc::new(RefCell::new(Log::default()));
    assert_eq!(HEDGE.run(planned(&log, vec![(0, Ok(1))])).await, Ok(1));
}

#[test]
fn the_future_is_send_when_the_attempt_is() {
    fn assert_send<T: Send>(_: &T) {}
    static HEDGE: Hedge = Hedge::percentile(95).max(3);
    let shared = String::from("key");
    let call = HEDGE.when(Error::is_busy).budget(&NoBudget).run(|| {
        let key = &shared;
        async move {
            sleep(MS).await;
            Ok::<_, Error>(key.len())
        }
    });
    assert_send(&call);
    let budget = Counting::new(1);
    let call = steadfast::__private::hedge(&HEDGE, None, Error::is_busy, &budget, || async {
        Ok::<_, Error>(1)
    });
    assert_send(&call);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hedged_calls_run_on_a_multi_thread_runtime() {
    static HEDGE: Hedge = Hedge::after(Duration::from_millis(1));
    let tasks: Vec<_> = (0..64_u64)
        .map(|i| {
            tokio::spawn(async move {
                let mut attempt = 0;
                HEDGE
                    .run(|| {
                        attempt += 1;
                        let slow = attempt == 1 && i % 2 == 0;
                        async move {
                            sleep(if slow { Duration::from_secs(5) } else { Duration::ZERO }).await;
                            Ok::<_, Error>(i)
                        }
                    })
                    .await
            })
        })
        .collect();
    for (i, task) in tasks.into_iter().enumerate() {
        assert_eq!(task.await.unwrap(), Ok(i as u64));
    }
}

// ---- allocations (the pattern of tests/tests/alloc.rs) ----

/// Allocations made while polling `make()`'s future to completion (it must finish
/// on the first poll), after one warm-up call.
fn allocations<F: Future<Output = Result<u32, Error>>>(make: impl Fn() -> F) -> u64 {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
    let _context = runtime.enter();
    let mut cx = Context::from_waker(Waker::noop());
    let mut run = || {
        let mut fut = pin!(make());
        match fut.as_mut().poll(&mut cx) {
            Poll::Ready(out) => assert_eq!(out.unwrap(), 3),
            Poll::Pending => panic!("the fast path must finish on the first poll"),
        }
    };
    run();
    allocation_counter::measure(run).count_total
}

#[test]
fn the_fast_path_allocates_nothing() {
    static FIXED: Hedge = Hedge::after(Duration::from_millis(50)).max(3);
    static LEARNT: Hedge = Hedge::percentile(95);
    let x = 1_u32;
    let body = |x: &u32| {
        let x = *x;
        async move { Ok::<_, Error>(x + 2) }
    };
    assert_eq!(allocations(|| FIXED.run(|| body(&x))), 0, "after = 50ms");
    assert_eq!(allocations(|| FIXED.when(Error::is_busy).run(|| body(&x))), 0, "with when");
    let budget = Counting::new(0);
    assert_eq!(allocations(|| FIXED.budget(&budget).run(|| body(&x))), 0, "with a budget");
    // A quantile records every call, and refreshes the quantile on the stack: run
    // enough calls in the measurement to cross several refreshes.
    assert_eq!(
        allocations(|| async {
            for _ in 0..99 {
                LEARNT.run(|| body(&x)).await?;
            }
            LEARNT.run(|| body(&x)).await
        }),
        0,
        "after = p95"
    );
    assert!(LEARNT.current_delay().is_some());
    assert_eq!(
        allocations(|| steadfast::__private::hedge(
            &FIXED,
            None,
            Error::is_busy,
            &NoBudget,
            || body(&x)
        )),
        0,
        "__private::hedge"
    );
}

#[test]
fn the_counter_sees_a_hedge_allocate() {
    // The measurement above could not miss an allocation: a hedge allocates its attempt.
    static HEDGE: Hedge = Hedge::after(Duration::ZERO);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
    let _context = runtime.enter();
    let mut cx = Context::from_waker(Waker::noop());
    let mut run = || {
        let mut polls = 0;
        let mut fut = pin!(HEDGE.run(|| {
            polls += 1;
            let first = polls == 1;
            std::future::poll_fn(
                move |_| if first { Poll::Pending } else { Poll::Ready(Ok::<_, Error>(3)) },
            )
        }));
        assert!(matches!(fut.as_mut().poll(&mut cx), Poll::Ready(Ok(3))));
    };
    run(); // the first event registers its callsite
    let info = allocation_counter::measure(run);
    // At least the box of the hedge (the capturing subscriber that other tests of this
    // binary install may also allocate for its DEBUG event).
    assert!(info.count_total >= 1);
}

#[test]
fn the_future_holds_one_attempt_and_one_timer_inline() {
    static FIXED: Hedge = Hedge::after(Duration::from_millis(50));
    let x = [1_u64; 8];
    let make = || async move { Ok::<_, Error>(x[0]) };
    let attempt = size_of_val(&make());
    let hedged = size_of_val(&FIXED.run(make));
    // The attempt, the lazily armed timer, the closure (64 bytes here) and 112 bytes
    // of bookkeeping (the list of hedges, start time, delay, references).
    let overhead = hedged - attempt - size_of::<tokio::time::Sleep>() - size_of_val(&make);
    assert!(overhead <= 112, "{overhead} bytes");
}
