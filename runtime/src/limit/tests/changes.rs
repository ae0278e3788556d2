//! `set_concurrency` and `set_rate` while callers wait, on the paused clock.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::time::{Instant, sleep};

use super::{MS, SEC, settle};
use crate::limit::Limiter;
use crate::limit::call::limit;

/// Spawns `n` bodies that each run `ms` through `limiter`, and returns their tasks and
/// the peak of bodies running at once.
fn spawn_bodies(
    limiter: &'static Limiter,
    n: usize,
    ms: u32,
) -> (Vec<tokio::task::JoinHandle<Duration>>, Arc<AtomicUsize>) {
    let t0 = Instant::now();
    let running = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let tasks = (0..n)
        .map(|_| {
            let (running, peak) = (running.clone(), peak.clone());
            tokio::spawn(limit(limiter, "f", async move {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                let started = t0.elapsed();
                sleep(ms * MS).await;
                running.fetch_sub(1, Ordering::SeqCst);
                started
            }))
        })
        .collect();
    (tasks, peak)
}

async fn join(tasks: Vec<tokio::task::JoinHandle<Duration>>) -> Vec<Duration> {
    let mut starts = Vec::new();
    for task in tasks {
        starts.push(task.await.unwrap());
    }
    starts
}

#[tokio::test(start_paused = true)]
async fn raising_concurrency_lets_waiters_in_at_once() {
    static L: Limiter = Limiter::concurrency(2);
    let (tasks, peak) = spawn_bodies(&L, 6, 1000);
    settle().await;
    assert_eq!((L.in_flight(), L.waiting()), (2, 4));
    sleep(100 * MS).await;
    L.set_concurrency(4).unwrap();
    settle().await;
    assert_eq!((L.in_flight(), L.waiting()), (4, 2));
    let starts = join(tasks).await;
    assert_eq!(starts, [0, 0, 100, 100, 1000, 1000].map(|ms| ms * MS));
    assert_eq!(peak.load(Ordering::SeqCst), 4);
    assert_eq!(L.concurrency_limit(), Some(4));
    assert_eq!((L.in_flight(), L.waiting()), (0, 0));
}

#[tokio::test(start_paused = true)]
async fn lowering_concurrency_lets_running_bodies_finish_and_admits_none_until_under() {
    static L: Limiter = Limiter::concurrency(4);
    let (tasks, peak) = spawn_bodies(&L, 6, 1000);
    settle().await;
    assert_eq!((L.in_flight(), L.waiting()), (4, 2));
    L.set_concurrency(1).unwrap();
    // Nothing is cut short: the four finish at 1 s; then one at a time.
    let starts = join(tasks).await;
    assert_eq!(starts, [0, 0, 0, 0, 1000, 2000].map(|ms| ms * MS));
    assert_eq!(peak.load(Ordering::SeqCst), 4);
    assert_eq!((L.in_flight(), L.waiting()), (0, 0));
    // Back at the new limit exactly: one slot, free.
    let held = L.acquire(Some(Duration::ZERO)).await.unwrap();
    assert!(L.acquire(Some(Duration::ZERO)).await.is_err());
    drop(held);
}

#[tokio::test(start_paused = true)]
async fn lowering_then_raising_before_the_slots_come_back() {
    static L: Limiter = Limiter::concurrency(3);
    let (tasks, _) = spawn_bodies(&L, 5, 1000);
    settle().await;
    L.set_concurrency(1).unwrap();
    // Raised again while the three still run: they pay off the lowering first.
    L.set_concurrency(4).unwrap();
    settle().await;
    assert_eq!((L.in_flight(), L.waiting()), (4, 1));
    let starts = join(tasks).await;
    assert_eq!(starts, [0, 0, 0, 0, 1000].map(|ms| ms * MS));
    assert_eq!((L.in_flight(), L.waiting()), (0, 0));
}

#[tokio::test(start_paused = true)]
async fn raising_the_rate_lets_the_waiting_start_at_once() {
    static L: Limiter = Limiter::rate(2, SEC);
    let (tasks, _) = spawn_bodies(&L, 6, 1);
    settle().await;
    assert_eq!((L.in_flight(), L.waiting()), (2, 4));
    sleep(200 * MS).await;
    L.set_rate(5, SEC).unwrap();
    let starts = join(tasks).await;
    // Five in any second: three more at 200 ms, the sixth when the first leaves.
    assert_eq!(starts, [0, 0, 200, 200, 200, 1000].map(|ms| ms * MS));
}

#[tokio::test(start_paused = true)]
async fn lowering_the_rate_counts_the_starts_already_let_through() {
    static L: Limiter = Limiter::rate(4, SEC);
    let (tasks, _) = spawn_bodies(&L, 6, 1);
    settle().await;
    L.set_rate(1, SEC).unwrap();
    let starts = join(tasks).await;
    assert_eq!(starts, [0, 0, 0, 0, 1000, 2000].map(|ms| ms * MS));
}

#[tokio::test(start_paused = true)]
async fn raising_a_spaced_rate_shortens_the_wait() {
    static L: Limiter = Limiter::rate(1, SEC).burst(1);
    let (tasks, _) = spawn_bodies(&L, 3, 1);
    settle().await;
    sleep(100 * MS).await;
    // Ten per second at 100 ms: 900 ms of the old interval were still owed, that is
    // 0.9 of an interval, now 90 ms; then one every 100 ms.
    L.set_rate(10, SEC).unwrap();
    let starts = join(tasks).await;
    assert_eq!(starts, [0, 190, 290].map(|ms| ms * MS));
}

#[test]
fn invalid_changes_are_errors() {
    let concurrency = Limiter::concurrency(2);
    let rate = Limiter::rate(2, SEC);
    let message = |result: Result<(), crate::limit::InvalidLimit>| result.unwrap_err().to_string();
    assert_eq!(
        message(concurrency.set_concurrency(0)),
        "invalid limit: a concurrency limit must allow at least 1"
    );
    assert_eq!(
        message(concurrency.set_rate(1, SEC)),
        "invalid limit: this limiter has no rate limit to change"
    );
    assert_eq!(
        message(rate.set_concurrency(1)),
        "invalid limit: this limiter has no concurrency limit to change"
    );
    assert_eq!(
        message(rate.set_rate(1, Duration::ZERO)),
        "invalid limit: a rate limit's window must be longer than zero"
    );
    assert_eq!((concurrency.concurrency_limit(), rate.rate_limit()), (Some(2), Some((2, SEC))));
}
