//! `#[limit(rate = N, per = D, burst = B)]`: at most B starts at once, then one every
//! D / N (GCRA), against the sliding window without `burst`. On the paused clock, with
//! exact start times.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use steadfast::{LimitKind, Limiter, Rejected, limit};
use tokio::time::{Instant, sleep};

const MS: Duration = Duration::from_millis(1);

/// Spawns the calls in order and returns their outputs, in that order.
async fn spawn_all<T: Send + 'static, F: Future<Output = T> + Send + 'static>(
    calls: impl IntoIterator<Item = F>,
) -> Vec<T> {
    let tasks: Vec<_> = calls.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::new();
    for task in tasks {
        out.push(task.await.unwrap());
    }
    out
}

fn millis(at: Duration) -> u64 {
    u64::try_from(at.as_millis()).unwrap()
}

#[limit(rate = 10, per = 1s, burst = 1)]
async fn spaced(origin: Instant) -> u64 {
    millis(origin.elapsed())
}

#[tokio::test(start_paused = true)]
async fn burst_one_starts_one_call_every_interval() {
    let origin = Instant::now();
    let starts = spawn_all((0..6).map(|_| spaced(origin))).await;
    assert_eq!(starts, [0, 100, 200, 300, 400, 500]);
    // Idle for a while: one start at once again, not a burst of ten.
    sleep(2000 * MS).await;
    let origin = Instant::now();
    let starts = spawn_all((0..3).map(|_| spaced(origin))).await;
    assert_eq!(starts, [0, 100, 200]);
}

#[limit(rate = 10, per = 1s, burst = 3)]
async fn bursty(origin: Instant) -> u64 {
    millis(origin.elapsed())
}

#[tokio::test(start_paused = true)]
async fn burst_three_lets_three_at_once_then_spaces_the_rest() {
    let origin = Instant::now();
    let starts = spawn_all((0..7).map(|_| bursty(origin))).await;
    assert_eq!(starts, [0, 0, 0, 100, 200, 300, 400]);
    // 300 ms without a call refills the burst (one per 100 ms), and no more than it.
    sleep(700 * MS).await;
    let origin = Instant::now();
    let starts = spawn_all((0..5).map(|_| bursty(origin))).await;
    assert_eq!(starts, [0, 0, 0, 100, 200]);
}

#[limit(rate = 10, per = 1s)]
async fn windowed(origin: Instant) -> u64 {
    millis(origin.elapsed())
}

#[tokio::test(start_paused = true)]
async fn without_burst_the_sliding_window_lets_the_whole_rate_start_at_once() {
    let origin = Instant::now();
    let starts = spawn_all((0..12).map(|_| windowed(origin))).await;
    assert_eq!(starts, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1000, 1000]);
}

#[derive(Debug)]
struct Shed(Rejected);

impl From<Rejected> for Shed {
    fn from(rejected: Rejected) -> Self {
        Shed(rejected)
    }
}

#[limit(rate = 10, per = 1s, burst = 2, wait = 150ms)]
async fn spaced_or_shed(origin: Instant) -> Result<u64, Shed> {
    Ok(millis(origin.elapsed()))
}

#[tokio::test(start_paused = true)]
async fn a_start_beyond_the_wait_is_rejected_at_once() {
    let origin = Instant::now();
    let outcomes = spawn_all((0..6).map(|_| spaced_or_shed(origin))).await;
    // Two at once, one at 100 ms. The others queue behind it; at 100 ms the next time
    // (200 ms) lies beyond their 150 ms wait: each is rejected then, without sleeping
    // until a time it could not keep.
    let (started, shed): (Vec<_>, Vec<_>) = outcomes.into_iter().partition(Result::is_ok);
    let started: Vec<u64> = started.into_iter().map(Result::unwrap).collect();
    assert_eq!(started, [0, 0, 100]);
    assert_eq!(shed.len(), 3);
    for Shed(rejected) in shed.into_iter().map(Result::unwrap_err) {
        assert_eq!(rejected.limit(), LimitKind::Rate { starts: 10, per: Duration::from_secs(1) });
        assert_eq!(rejected.function(), Some("spaced_or_shed"));
        assert_eq!(rejected.waited(), 100 * MS, "{rejected}");
    }
}

// `using` a limiter built with `burst`, shared by two functions.
static SPACED: Limiter = Limiter::rate(4, Duration::from_secs(1)).burst(1);

#[limit(using = SPACED)]
async fn ping(log: Arc<Mutex<Vec<(&'static str, u64)>>>, origin: Instant) {
    log.lock().unwrap().push(("ping", millis(origin.elapsed())));
}

#[limit(using = SPACED)]
async fn pong(log: Arc<Mutex<Vec<(&'static str, u64)>>>, origin: Instant) {
    log.lock().unwrap().push(("pong", millis(origin.elapsed())));
}

#[tokio::test(start_paused = true)]
async fn functions_using_one_spaced_limiter_share_its_spacing() {
    let origin = Instant::now();
    let log = Arc::new(Mutex::new(Vec::new()));
    let tasks: Vec<_> = (0..4)
        .map(|i| {
            let log = log.clone();
            if i % 2 == 0 {
                tokio::spawn(ping(log, origin))
            } else {
                tokio::spawn(pong(log, origin))
            }
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let log = log.lock().unwrap().clone();
    assert_eq!(log, [("ping", 0), ("pong", 250), ("ping", 500), ("pong", 750)]);
}
