//! The limiter's behaviour through its own API, on tokio's paused clock. The sliding
//! window's arithmetic is tested in `window.rs`; events and the long schedules that
//! check every window are integration tests (`tests/tests/limit.rs`).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use tokio::time::{Instant, sleep, timeout};

use super::call::{Described, limit, limit_or_reject};
use super::{InvalidLimit, Limit, Limiter};
use crate::error::{LimitKind, Rejected};

const MS: Duration = Duration::from_millis(1);

const SEC: Duration = Duration::from_secs(1);

/// Lets every task that can run do so, without moving the paused clock.
async fn settle() {
    for _ in 0..32 {
        tokio::task::yield_now().await;
    }
}

fn assert_send<T: Send>(_: &T) {}

#[test]
fn futures_are_send_and_limiter_is_sync() {
    fn is_sync<T: Send + Sync>() {}
    is_sync::<Limiter>();
    static L: Limiter = Limiter::concurrency(1).and_rate(1, SEC);
    assert_send(&L.acquire(None));
    assert_send(&limit(&L, "f", async {}));
    assert_send(&limit_or_reject(&L, "f", SEC, |_| (), async {}));
    let shared = Arc::new(Limiter::rate(1, SEC));
    assert_send(&limit(&shared, "f", async {}));
    assert_send(&limit(&&L, "f", async {}));
}

#[test]
fn limiter_is_small_whatever_the_rate() {
    let size = std::mem::size_of::<Limiter>();
    assert!(size < 1024, "size_of::<Limiter>() = {size}");
    assert_eq!(size, std::mem::size_of_val(&Limiter::rate(100_000, SEC)));
}

#[tokio::test(start_paused = true)]
async fn concurrency_three_runs_twenty_calls_in_seven_rounds() {
    static L: Limiter = Limiter::concurrency(3);
    let t0 = Instant::now();
    let running = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let order = Arc::new(StdMutex::new(Vec::new()));
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let (running, peak, order) = (running.clone(), peak.clone(), order.clone());
            tokio::spawn(limit(&L, "call", async move {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                assert!(L.in_flight() <= 3);
                order.lock().unwrap().push((i, t0.elapsed()));
                sleep(100 * MS).await;
                running.fetch_sub(1, Ordering::SeqCst);
            }))
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(t0.elapsed(), 700 * MS);
    assert_eq!(peak.load(Ordering::SeqCst), 3);
    let order = order.lock().unwrap();
    let expected: Vec<_> = (0..20).map(|i| (i, (i as u32 / 3) * 100 * MS)).collect();
    assert_eq!(*order, expected, "(caller, start) in arrival order, three per round");
    assert_eq!((L.in_flight(), L.waiting()), (0, 0));
}

#[tokio::test(start_paused = true)]
async fn concurrency_one_serves_queued_callers_in_arrival_order() {
    static L: Limiter = Limiter::concurrency(1);
    let holder = L.acquire(None).await.unwrap();
    let order = Arc::new(StdMutex::new(Vec::new()));
    let tasks: Vec<_> = (0..10)
        .map(|i| {
            let order = order.clone();
            tokio::spawn(limit(&L, "call", async move {
                order.lock().unwrap().push(i);
                sleep(MS).await;
            }))
        })
        .collect();
    settle().await;
    assert_eq!((L.in_flight(), L.waiting()), (1, 10));
    drop(holder);
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(*order.lock().unwrap(), (0..10).collect::<Vec<_>>());
    assert_eq!((L.in_flight(), L.waiting()), (0, 0));
}

#[tokio::test(start_paused = true)]
async fn wait_rejects_after_exactly_the_wait_without_running_the_body() {
    static L: Limiter = Limiter::concurrency(1);
    let _holder = L.acquire(None).await.unwrap();
    let t0 = Instant::now();
    let ran = AtomicBool::new(false);
    let result = limit_or_reject(&L, "load", 300 * MS, Err, async {
        ran.store(true, Ordering::SeqCst);
        Ok(())
    })
    .await;
    let rejected = result.unwrap_err();
    assert_eq!(t0.elapsed(), 300 * MS);
    assert!(!ran.load(Ordering::SeqCst));
    assert_eq!(rejected.limit(), LimitKind::Concurrency(1));
    assert_eq!(rejected.waited(), 300 * MS);
    assert_eq!(rejected.function(), Some("load"));
    assert_eq!((L.in_flight(), L.waiting()), (1, 0));
}

#[tokio::test(start_paused = true)]
async fn zero_wait_rejects_at_once_when_full_and_admits_when_free() {
    static L: Limiter = Limiter::concurrency(1);
    let t0 = Instant::now();
    let first = limit_or_reject(&L, "f", Duration::ZERO, Err, async { Ok(L.in_flight()) });
    assert_eq!(first.await, Ok(1));
    let holder = L.acquire(Some(Duration::ZERO)).await.unwrap();
    let rejected = L.acquire(Some(Duration::ZERO)).await.unwrap_err();
    assert_eq!(rejected, Rejected::new(LimitKind::Concurrency(1), Duration::ZERO));
    assert_eq!(t0.elapsed(), Duration::ZERO);
    drop(holder);
    assert!(L.acquire(Some(Duration::ZERO)).await.is_ok());
    assert_eq!((L.in_flight(), L.waiting()), (0, 0));
}

#[tokio::test(start_paused = true)]
async fn wait_counts_in_total_across_both_limits() {
    static L: Limiter = Limiter::concurrency(1).and_rate(1, SEC);
    let t0 = Instant::now();
    let holder = L.acquire(None).await.unwrap();
    tokio::spawn(async move {
        sleep(400 * MS).await;
        drop(holder);
    });
    // 400 ms for the concurrency slot, then the start time (1 s) is within 1.2 s.
    let permit = L.acquire(Some(1200 * MS)).await.unwrap();
    assert_eq!(t0.elapsed(), SEC);
    drop(permit);
    // Slot free at once, but the next start (2 s) lies beyond 500 ms: rejected now.
    let rejected = L.acquire(Some(500 * MS)).await.unwrap_err();
    assert_eq!(rejected.limit(), LimitKind::Rate { starts: 1, per: SEC });
    assert_eq!(rejected.waited(), Duration::ZERO);
    assert_eq!(t0.elapsed(), SEC);
    // The rejected caller gave its concurrency slot back.
    assert_eq!(L.concurrency.as_ref().map(|c| c.slots.available_permits()), Some(1));
    assert_eq!((L.in_flight(), L.waiting()), (0, 0));
}

#[tokio::test(start_paused = true)]
async fn rate_rejects_at_once_when_the_start_lies_beyond_the_wait() {
    static L: Limiter = Limiter::rate(1, SEC);
    let t0 = Instant::now();
    drop(L.acquire(None).await.unwrap());
    let rejected = L.acquire(Some(999 * MS)).await.unwrap_err();
    assert_eq!(rejected, Rejected::new(LimitKind::Rate { starts: 1, per: SEC }, Duration::ZERO));
    assert_eq!(t0.elapsed(), Duration::ZERO);
    // The rejection reserved nothing: the next caller gets the 1 s start, and a wait of
    // exactly 1 s is enough.
    drop(L.acquire(Some(SEC)).await.unwrap());
    assert_eq!(t0.elapsed(), SEC);
    assert_eq!((L.in_flight(), L.waiting()), (0, 0));
}

#[tokio::test(start_paused = true)]
async fn rate_rejects_a_queued_caller_when_its_turn_comes_too_late() {
    static L: Limiter = Limiter::rate(1, SEC);
    let t0 = Instant::now();
    drop(L.acquire(None).await.unwrap());
    let second = tokio::spawn(async { L.acquire(None).await.map(drop) });
    settle().await;
    // Queued behind the caller that starts at 1 s; its own start would be 2 s.
    let rejected = L.acquire(Some(1500 * MS)).await.unwrap_err();
    assert_eq!(t0.elapsed(), SEC);
    assert_eq!(rejected, Rejected::new(LimitKind::Rate { starts: 1, per: SEC }, SEC));
    second.await.unwrap().unwrap();
    // A queued caller whose wait runs out while it is still in line.
    let third = tokio::spawn(async { L.acquire(None).await.map(drop) });
    settle().await;
    let rejected = L.acquire(Some(300 * MS)).await.unwrap_err();
    assert_eq!(rejected.waited(), 300 * MS);
    assert_eq!(t0.elapsed(), 1300 * MS);
    third.await.unwrap().unwrap();
    assert_eq!(t0.elapsed(), 2 * SEC);
    assert_eq!((L.in_flight(), L.waiting()), (0, 0));
}

#[tokio::test(start_paused = true)]
async fn no_slot_leaks_however_the_body_ends() {
    static L: Limiter = Limiter::concurrency(1).and_rate(100, SEC);
    let idle = || assert_eq!((L.in_flight(), L.waiting()), (0, 0));

    assert_eq!(limit(&L, "ok", async { Ok::<_, ()>(1) }).await, Ok(1));
    idle();
    assert_eq!(limit(&L, "err", async { Err::<(), _>("failed") }).await, Err("failed"));
    idle();

    let panicked = tokio::spawn(limit(&L, "panics", async { panic!("boom") })).await;
    assert!(panicked.unwrap_err().is_panic());
    idle();

    // Dropped while running: by a timeout, and by aborting its task.
    let cut = timeout(50 * MS, limit(&L, "slow", sleep(10 * SEC))).await;
    assert!(cut.is_err());
    idle();
    let running = tokio::spawn(limit(&L, "slow", sleep(10 * SEC)));
    settle().await;
    assert_eq!(L.in_flight(), 1);
    running.abort();
    assert!(running.await.unwrap_err().is_cancelled());
    idle();

    // Everything was given back: the single slot is free at once.
    assert!(L.acquire(Some(Duration::ZERO)).await.is_ok());
    idle();
}

#[tokio::test(start_paused = true)]
async fn a_caller_cancelled_while_queued_never_runs_and_leaves_the_queue() {
    static L: Limiter = Limiter::concurrency(1);
    let holder = L.acquire(None).await.unwrap();
    let ran = Arc::new(AtomicBool::new(false));
    let queued = tokio::spawn({
        let ran = ran.clone();
        limit(&L, "queued", async move { ran.store(true, Ordering::SeqCst) })
    });
    settle().await;
    assert_eq!((L.in_flight(), L.waiting()), (1, 1));
    queued.abort();
    assert!(queued.await.unwrap_err().is_cancelled());
    assert_eq!((L.in_flight(), L.waiting()), (1, 0));
    drop(holder);
    settle().await;
    assert!(!ran.load(Ordering::SeqCst));
    assert_eq!((L.in_flight(), L.waiting()), (0, 0));
    assert!(L.acquire(Some(Duration::ZERO)).await.is_ok());
}

#[tokio::test(start_paused = true)]
async fn a_caller_cancelled_before_its_start_time_gives_it_back() {
    static L: Limiter = Limiter::rate(1, SEC);
    let t0 = Instant::now();
    drop(L.acquire(None).await.unwrap());
    let ran = Arc::new(AtomicBool::new(false));
    let sleeping = tokio::spawn({
        let ran = ran.clone();
        limit(&L, "sleeping", async move { ran.store(true, Ordering::SeqCst) })
    });
    settle().await;
    assert_eq!(L.waiting(), 1);
    sleep(500 * MS).await;
    sleeping.abort();
    assert!(sleeping.await.unwrap_err().is_cancelled());
    assert_eq!(L.waiting(), 0);
    // A later caller gets the start time at 1 s, not 2 s.
    drop(L.acquire(None).await.unwrap());
    assert_eq!(t0.elapsed(), SEC);
    assert!(!ran.load(Ordering::SeqCst));
    assert_eq!((L.in_flight(), L.waiting()), (0, 0));
}

#[tokio::test(start_paused = true)]
async fn a_caller_cancelled_in_line_for_a_start_time_frees_its_place() {
    static L: Limiter = Limiter::rate(1, SEC);
    let t0 = Instant::now();
    drop(L.acquire(None).await.unwrap());
    let first = tokio::spawn(async move { L.acquire(None).await.map(|_| t0.elapsed()) });
    let second = tokio::spawn(async move { L.acquire(None).await.map(|_| t0.elapsed()) });
    let third = tokio::spawn(async move { L.acquire(None).await.map(|_| t0.elapsed()) });
    settle().await;
    assert_eq!(L.waiting(), 3);
    second.abort();
    assert!(second.await.unwrap_err().is_cancelled());
    assert_eq!(L.waiting(), 2);
    assert_eq!(first.await.unwrap(), Ok(SEC));
    assert_eq!(third.await.unwrap(), Ok(2 * SEC));
    assert_eq!((L.in_flight(), L.waiting()), (0, 0));
}

#[tokio::test(start_paused = true)]
async fn in_flight_and_waiting_while_callers_queue_for_concurrency() {
    static L: Limiter = Limiter::concurrency(2);
    // `async` so that each body's sleep begins when the body does.
    let tasks: Vec<_> =
        (0..5).map(|_| tokio::spawn(limit(&L, "f", async { sleep(10 * SEC).await }))).collect();
    settle().await;
    assert_eq!((L.in_flight(), L.waiting()), (2, 3));
    sleep(10 * SEC).await;
    settle().await;
    assert_eq!((L.in_flight(), L.waiting()), (2, 1));
    sleep(10 * SEC).await;
    settle().await;
    assert_eq!((L.in_flight(), L.waiting()), (1, 0));
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!((L.in_flight(), L.waiting()), (0, 0));
}

#[tokio::test(start_paused = true)]
async fn in_flight_and_waiting_while_callers_queue_for_start_times() {
    static L: Limiter = Limiter::rate(2, SEC);
    // `async` so that each body's sleep begins when the body does.
    let tasks: Vec<_> =
        (0..5).map(|_| tokio::spawn(limit(&L, "f", async { sleep(10 * SEC).await }))).collect();
    settle().await;
    // One sleeps until its start time, two queue behind it.
    assert_eq!((L.in_flight(), L.waiting()), (2, 3));
    sleep(SEC).await;
    settle().await;
    assert_eq!((L.in_flight(), L.waiting()), (4, 1));
    sleep(SEC).await;
    settle().await;
    assert_eq!((L.in_flight(), L.waiting()), (5, 0));
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!((L.in_flight(), L.waiting()), (0, 0));
}

#[tokio::test(start_paused = true)]
async fn references_and_arcs_are_limits() {
    let shared = Arc::new(Limiter::concurrency(1));
    let holder = shared.acquire(None).await.unwrap();
    let by_ref = &*shared;
    let rejected = limit_or_reject(&by_ref, "f", Duration::ZERO, Err, async { Ok(()) }).await;
    assert_eq!(rejected.unwrap_err().limit(), LimitKind::Concurrency(1));
    drop(holder);
    assert_eq!(limit(&shared, "f", async { shared.in_flight() }).await, 1);
    assert_eq!(Described(&&shared).to_string(), "concurrency limit of 1");
}

#[tokio::test(start_paused = true)]
async fn without_limits_every_caller_passes_at_once() {
    let limiter = Limiter::try_new(None, None).unwrap();
    let first = limiter.acquire(Some(Duration::ZERO)).await.unwrap();
    let second = limiter.acquire(Some(Duration::ZERO)).await.unwrap();
    assert_eq!(limiter.in_flight(), 2);
    drop((first, second));
    assert_eq!(limiter.to_string(), "no limit");
}

#[test]
fn try_new_rejects_limits_that_let_nothing_through() {
    let message = |result: Result<Limiter, InvalidLimit>| result.unwrap_err().to_string();
    assert_eq!(
        message(Limiter::try_new(Some(0), None)),
        "invalid limit: a concurrency limit must allow at least 1"
    );
    assert_eq!(
        message(Limiter::try_new(Some(usize::MAX), None)),
        "invalid limit: a concurrency limit may allow at most Semaphore::MAX_PERMITS"
    );
    assert_eq!(
        message(Limiter::try_new(None, Some((0, SEC)))),
        "invalid limit: a rate limit must allow at least 1 start"
    );
    assert_eq!(
        message(Limiter::try_new(Some(1), Some((1, Duration::ZERO)))),
        "invalid limit: a rate limit's window must be longer than zero"
    );
    let limiter = Limiter::try_new(Some(3), Some((10, SEC))).unwrap();
    assert_eq!(limiter.concurrency_limit(), Some(3));
    assert_eq!(limiter.rate_limit(), Some((10, SEC)));
}

#[test]
#[should_panic(expected = "a concurrency limit must allow at least 1")]
fn zero_concurrency_panics() {
    let _ = Limiter::concurrency(std::hint::black_box(0));
}

#[test]
#[should_panic(expected = "a rate limit's window must be longer than zero")]
fn zero_window_panics() {
    let _ = Limiter::rate(1, std::hint::black_box(Duration::ZERO));
}

#[test]
#[should_panic(expected = "already has a rate limit")]
fn a_second_rate_panics() {
    let _ = Limiter::rate(1, SEC).and_rate(2, SEC);
}

#[test]
fn display_and_debug_name_the_limits() {
    let limiter = Limiter::concurrency(8).and_rate(100, SEC);
    assert_eq!(limiter.to_string(), "concurrency limit of 8 and rate limit of 100 per 1s");
    assert_eq!(Limiter::rate(5, 250 * MS).to_string(), "rate limit of 5 per 250ms");
    assert_eq!(
        format!("{limiter:?}"),
        "Limiter { concurrency: Some(8), rate: Some((100, 1s)), burst: None, in_flight: 0, waiting: 0 }"
    );
}

/// A limit that describes itself only by the default: its type's name.
struct Unnamed;

impl Limit for Unnamed {
    type Permit<'a> = ();

    async fn acquire(&self, _: Option<Duration>) -> Result<(), Rejected> {
        Ok(())
    }
}

#[test]
fn other_limits_are_described_by_their_type_name() {
    assert!(Described(&&Unnamed).to_string().ends_with("tests::Unnamed"));
}

mod burst;
mod changes;
mod keyed;
