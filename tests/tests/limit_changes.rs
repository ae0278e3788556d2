//! `Limiter::set_concurrency` and `Limiter::set_rate` on a limiter that
//! `#[limit(using = ..)]` functions are waiting on: raising lets waiters in at once,
//! lowering lets running bodies finish and admits no new one until the count is under
//! the new limit. On the paused clock, with exact start times.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use steadfast::{InvalidLimit, Limiter, limit};
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep};

const MS: Duration = Duration::from_millis(1);
const SEC: Duration = Duration::from_secs(1);

/// Lets every spawned task run until it waits.
async fn settle() {
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
}

/// Bodies running now and the most seen at once.
#[derive(Default)]
struct Gauge {
    now: AtomicUsize,
    peak: AtomicUsize,
}

impl Gauge {
    async fn hold(&self, origin: Instant, hold: Duration) -> u64 {
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        let started = u64::try_from(origin.elapsed().as_millis()).unwrap();
        sleep(hold).await;
        self.now.fetch_sub(1, Ordering::SeqCst);
        started
    }
}

async fn join(tasks: Vec<JoinHandle<u64>>) -> Vec<u64> {
    let mut starts = Vec::new();
    for task in tasks {
        starts.push(task.await.unwrap());
    }
    starts
}

static POOL: Limiter = Limiter::concurrency(2);

#[limit(using = POOL)]
async fn pooled(gauge: Arc<Gauge>, origin: Instant) -> u64 {
    gauge.hold(origin, SEC).await
}

#[tokio::test(start_paused = true)]
async fn concurrency_raised_and_lowered_while_callers_wait() {
    let (gauge, origin) = (Arc::new(Gauge::default()), Instant::now());
    let tasks: Vec<_> = (0..8).map(|_| tokio::spawn(pooled(gauge.clone(), origin))).collect();
    settle().await;
    assert_eq!((POOL.in_flight(), POOL.waiting()), (2, 6));

    // Raised at 100 ms: two waiters start at once.
    sleep(100 * MS).await;
    POOL.set_concurrency(4).unwrap();
    settle().await;
    assert_eq!((POOL.in_flight(), POOL.waiting()), (4, 4));
    assert_eq!(gauge.peak.load(Ordering::SeqCst), 4);

    // Lowered to 1 at 200 ms: the four running bodies finish; no new one starts until
    // fewer than 1 run, that is until all four are done (at 1.1 s).
    sleep(100 * MS).await;
    POOL.set_concurrency(1).unwrap();
    let invalid: InvalidLimit = POOL.set_concurrency(0).unwrap_err();
    assert_eq!(invalid.to_string(), "invalid limit: a concurrency limit must allow at least 1");
    let starts = join(tasks).await;
    assert_eq!(starts, [0, 0, 100, 100, 1100, 2100, 3100, 4100]);
    assert_eq!(origin.elapsed(), 5100 * MS);
    assert_eq!(POOL.concurrency_limit(), Some(1));
    assert_eq!((POOL.in_flight(), POOL.waiting()), (0, 0));
}

static CRAWL: Limiter = Limiter::rate(2, SEC);

#[limit(using = CRAWL)]
async fn crawl(gauge: Arc<Gauge>, origin: Instant) -> u64 {
    gauge.hold(origin, Duration::ZERO).await
}

#[tokio::test(start_paused = true)]
async fn a_raised_rate_lets_waiters_start_at_once() {
    let (gauge, origin) = (Arc::new(Gauge::default()), Instant::now());
    let tasks: Vec<_> = (0..6).map(|_| tokio::spawn(crawl(gauge.clone(), origin))).collect();
    settle().await;
    assert_eq!(CRAWL.waiting(), 4);
    // At 500 ms, 4 per second: the window (-0.5 s, 0.5 s] holds two starts, so two
    // more start now; the last two when the first two leave the window, at 1 s.
    sleep(500 * MS).await;
    CRAWL.set_rate(4, SEC).unwrap();
    assert_eq!(join(tasks).await, [0, 0, 500, 500, 1000, 1000]);
    assert!(CRAWL.set_rate(4, Duration::ZERO).is_err());
    assert_eq!(CRAWL.rate_limit(), Some((4, SEC)));
}

static SLOWED: Limiter = Limiter::rate(4, SEC);

#[limit(using = SLOWED)]
async fn slowed(gauge: Arc<Gauge>, origin: Instant) -> u64 {
    gauge.hold(origin, Duration::ZERO).await
}

#[tokio::test(start_paused = true)]
async fn a_lowered_rate_counts_the_starts_already_made() {
    let (gauge, origin) = (Arc::new(Gauge::default()), Instant::now());
    let tasks: Vec<_> = (0..7).map(|_| tokio::spawn(slowed(gauge.clone(), origin))).collect();
    settle().await;
    // Four started at 0; at 500 ms the limit drops to one per second: the window must
    // be empty of them first (at 1 s), then one a second.
    sleep(500 * MS).await;
    SLOWED.set_rate(1, SEC).unwrap();
    assert_eq!(join(tasks).await, [0, 0, 0, 0, 1000, 2000, 3000]);
}

static PACED: Limiter = Limiter::rate(10, SEC).burst(1);

#[limit(using = PACED)]
async fn paced(gauge: Arc<Gauge>, origin: Instant) -> u64 {
    gauge.hold(origin, Duration::ZERO).await
}

#[tokio::test(start_paused = true)]
async fn a_spaced_rate_changed_while_callers_wait_rescales_their_spacing() {
    let (gauge, origin) = (Arc::new(Gauge::default()), Instant::now());
    let tasks: Vec<_> = (0..5).map(|_| tokio::spawn(paced(gauge.clone(), origin))).collect();
    // One every 100 ms: 0 and 100 ms; at 150 ms, two per second (one every 500 ms):
    // the 50 ms still owed at the old pace are 250 ms at the new one.
    sleep(150 * MS).await;
    PACED.set_rate(2, SEC).unwrap();
    assert_eq!(join(tasks).await, [0, 100, 400, 900, 1400]);
    assert_eq!(PACED.burst_limit(), Some(1));
}
