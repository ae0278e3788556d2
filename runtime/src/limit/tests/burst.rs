//! `Limiter::rate(..).burst(b)`: evenly spaced starts, exactly, on the paused clock.

use std::time::Duration;

use tokio::time::{Instant, sleep};

use super::{MS, SEC, settle};
use crate::error::LimitKind;
use crate::limit::Limiter;

/// Spawns `n` callers at once and returns when each got its permit, in arrival order.
async fn start_times(limiter: &'static Limiter, n: usize) -> Vec<Duration> {
    let t0 = Instant::now();
    let tasks: Vec<_> = (0..n)
        .map(|_| tokio::spawn(async move { limiter.acquire(None).await.map(|_| t0.elapsed()) }))
        .collect();
    let mut starts = Vec::new();
    for task in tasks {
        starts.push(task.await.unwrap().unwrap());
    }
    starts
}

#[tokio::test(start_paused = true)]
async fn burst_one_starts_one_every_interval() {
    static L: Limiter = Limiter::rate(10, SEC).burst(1);
    let starts = start_times(&L, 6).await;
    assert_eq!(starts, [0, 100, 200, 300, 400, 500].map(|ms| ms * MS));
    assert_eq!((L.in_flight(), L.waiting()), (0, 0));
}

#[tokio::test(start_paused = true)]
async fn burst_three_starts_three_at_once_then_one_every_interval() {
    static L: Limiter = Limiter::rate(10, SEC).burst(3);
    let starts = start_times(&L, 7).await;
    assert_eq!(starts, [0, 0, 0, 100, 200, 300, 400].map(|ms| ms * MS));
    // After a pause of three intervals, three may go at once again, and no more.
    sleep(300 * MS).await;
    let starts = start_times(&L, 4).await;
    assert_eq!(starts, [0, 0, 0, 100].map(|ms| ms * MS));
}

#[tokio::test(start_paused = true)]
async fn spaced_callers_are_served_in_arrival_order() {
    static L: Limiter = Limiter::rate(4, SEC).burst(1);
    let t0 = Instant::now();
    let order = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let tasks: Vec<_> = (0..5)
        .map(|i| {
            let order = order.clone();
            tokio::spawn(async move {
                let _permit = L.acquire(None).await.unwrap();
                order.lock().unwrap().push((i, t0.elapsed()));
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let expected: Vec<_> = (0..5).map(|i| (i, i as u32 * 250 * MS)).collect();
    assert_eq!(*order.lock().unwrap(), expected);
}

#[tokio::test(start_paused = true)]
async fn a_spaced_start_beyond_the_wait_is_rejected_at_once_and_reserves_nothing() {
    static L: Limiter = Limiter::rate(10, SEC).burst(1);
    let t0 = Instant::now();
    drop(L.acquire(None).await.unwrap());
    let rejected = L.acquire(Some(50 * MS)).await.unwrap_err();
    assert_eq!(rejected.limit(), LimitKind::Rate { starts: 10, per: SEC });
    assert_eq!(t0.elapsed(), Duration::ZERO);
    drop(L.acquire(Some(100 * MS)).await.unwrap());
    assert_eq!(t0.elapsed(), 100 * MS);
}

#[tokio::test(start_paused = true)]
async fn a_spaced_caller_cancelled_before_its_time_gives_it_back() {
    static L: Limiter = Limiter::rate(10, SEC).burst(1);
    let t0 = Instant::now();
    drop(L.acquire(None).await.unwrap());
    let sleeping = tokio::spawn(async { L.acquire(None).await.map(drop) });
    settle().await;
    assert_eq!(L.waiting(), 1);
    sleeping.abort();
    let _ = sleeping.await;
    assert_eq!(L.waiting(), 0);
    drop(L.acquire(None).await.unwrap());
    assert_eq!(t0.elapsed(), 100 * MS, "the next caller gets the 100 ms start");
}

#[tokio::test(start_paused = true)]
async fn burst_with_concurrency_holds_both() {
    static L: Limiter = Limiter::concurrency(1).and_rate(10, SEC).burst(2);
    let t0 = Instant::now();
    let first = L.acquire(None).await.unwrap();
    let second = tokio::spawn(async move { L.acquire(None).await.map(|_| t0.elapsed()) });
    sleep(500 * MS).await;
    drop(first);
    assert_eq!(second.await.unwrap().unwrap(), 500 * MS);
    assert_eq!(L.to_string(), "concurrency limit of 1 and rate limit of 10 per 1s, burst 2");
    assert_eq!(L.burst_limit(), Some(2));
}

#[test]
#[should_panic(expected = "a burst may not exceed the rate's starts per window")]
fn a_burst_above_the_rate_panics() {
    let _ = Limiter::rate(2, SEC).burst(std::hint::black_box(3));
}

#[test]
#[should_panic(expected = "a burst needs a rate limit")]
fn a_burst_without_a_rate_panics() {
    let _ = Limiter::concurrency(2).burst(1);
}

#[test]
#[should_panic(expected = "a burst must allow at least 1 start")]
fn a_zero_burst_panics() {
    let _ = Limiter::rate(2, SEC).burst(std::hint::black_box(0));
}
