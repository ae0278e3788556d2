//! Load: 10 000 concurrent tasks through `#[limit]` and the full stack on the
//! multi-thread runtime, FIFO order under the same load on one thread, and keyed limits
//! over 1 000 keys.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use steadfast::{
    KeyedLimiter, Panicked, Rejected, TimedOut, error_boundary, limit, retry, timeout,
};

const TASKS: usize = 10_000;

#[derive(Debug, PartialEq)]
enum Error {
    Rejected,
    Other,
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}

impl From<Rejected> for Error {
    fn from(_: Rejected) -> Self {
        Error::Rejected
    }
}

impl From<TimedOut> for Error {
    fn from(_: TimedOut) -> Self {
        Error::Other
    }
}

impl From<Panicked> for Error {
    fn from(_: Panicked) -> Self {
        Error::Other
    }
}

/// Bodies running now and the most ever seen at once, per function.
struct Gauge {
    now: AtomicUsize,
    peak: AtomicUsize,
}

impl Gauge {
    const fn new() -> Self {
        Gauge { now: AtomicUsize::new(0), peak: AtomicUsize::new(0) }
    }

    async fn run(&self) {
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        // Let other tasks (and threads) interleave while the slot is held.
        tokio::task::yield_now().await;
        self.now.fetch_sub(1, Ordering::SeqCst);
    }
}

fn multi_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(4).enable_time().build().unwrap()
}

static CONCURRENT: Gauge = Gauge::new();

#[limit(concurrency = 8)]
async fn concurrent() -> Result<(), Error> {
    CONCURRENT.run().await;
    Ok(())
}

#[test]
fn concurrency_never_exceeds_the_limit_under_load() {
    multi_thread().block_on(async {
        let tasks: Vec<_> = (0..TASKS).map(|_| tokio::spawn(concurrent())).collect();
        for task in tasks {
            assert_eq!(task.await.unwrap(), Ok(()));
        }
    });
    assert_eq!(CONCURRENT.peak.load(Ordering::SeqCst), 8);
    assert_eq!(CONCURRENT.now.load(Ordering::SeqCst), 0);
}

static SHED: Gauge = Gauge::new();

#[limit(concurrency = 8, wait = 0ms)]
async fn shed() -> Result<(), Error> {
    SHED.run().await;
    Ok(())
}

#[test]
fn load_shedding_completes_or_rejects_every_call() {
    let (ok, rejected) = multi_thread().block_on(async {
        let tasks: Vec<_> = (0..TASKS).map(|_| tokio::spawn(shed())).collect();
        let (mut ok, mut rejected) = (0, 0);
        for task in tasks {
            match task.await.unwrap() {
                Ok(()) => ok += 1,
                Err(Error::Rejected) => rejected += 1,
                Err(other) => panic!("unexpected {other:?}"),
            }
        }
        (ok, rejected)
    });
    assert_eq!(ok + rejected, TASKS);
    assert!(ok >= 8, "at least the first 8 calls run: {ok}");
    assert!(SHED.peak.load(Ordering::SeqCst) <= 8);
}

#[limit(rate = 2000, per = 100ms)]
async fn rated(starts: Arc<std::sync::Mutex<Vec<tokio::time::Instant>>>) -> Result<(), Error> {
    starts.lock().unwrap().push(tokio::time::Instant::now());
    Ok(())
}

#[test]
fn rate_holds_under_load_on_many_threads() {
    let starts = Arc::new(std::sync::Mutex::new(Vec::with_capacity(TASKS)));
    let elapsed = multi_thread().block_on(async {
        let begin = tokio::time::Instant::now();
        let tasks: Vec<_> = (0..TASKS).map(|_| tokio::spawn(rated(starts.clone()))).collect();
        for task in tasks {
            assert_eq!(task.await.unwrap(), Ok(()));
        }
        begin.elapsed()
    });
    assert_eq!(starts.lock().unwrap().len(), TASKS);
    // 10 000 starts at 2 000 per 100 ms need at least 4 full windows after the first
    // burst: a hard lower bound, whatever the machine's speed.
    assert!(elapsed >= Duration::from_millis(400), "{elapsed:?}");
}

static STACKED: Gauge = Gauge::new();
static ATTEMPTS: AtomicUsize = AtomicUsize::new(0);

#[error_boundary(catch_panic)]
#[retry(attempts = 3, delay = 1ms, jitter = 0)]
#[timeout(10s)]
#[limit(concurrency = 8, wait = 30s)]
async fn stacked(id: usize, attempt: Arc<AtomicUsize>) -> Result<usize, Error> {
    ATTEMPTS.fetch_add(1, Ordering::SeqCst);
    STACKED.run().await;
    // Every seventh call fails its first attempt.
    if id % 7 == 0 && attempt.fetch_add(1, Ordering::SeqCst) == 0 {
        return Err(Error::Other);
    }
    Ok(id)
}

#[test]
fn the_full_stack_under_load() {
    multi_thread().block_on(async {
        let tasks: Vec<_> =
            (0..TASKS).map(|id| tokio::spawn(stacked(id, Arc::new(AtomicUsize::new(0))))).collect();
        for (id, task) in tasks.into_iter().enumerate() {
            assert_eq!(task.await.unwrap(), Ok(id));
        }
    });
    assert_eq!(ATTEMPTS.load(Ordering::SeqCst), TASKS + TASKS.div_ceil(7));
    assert!(STACKED.peak.load(Ordering::SeqCst) <= 8);
    assert_eq!(STACKED.now.load(Ordering::SeqCst), 0);
}

thread_local! {
    static ORDER: std::cell::RefCell<Vec<usize>> = const { std::cell::RefCell::new(Vec::new()) };
}

#[limit(concurrency = 8)]
async fn fifo(id: usize) {
    ORDER.with_borrow_mut(|o| o.push(id));
    tokio::time::sleep(Duration::from_millis(1)).await;
}

#[limit(rate = 50, per = 1s)]
async fn fifo_rate(id: usize) {
    ORDER.with_borrow_mut(|o| o.push(id));
}

#[tokio::test(start_paused = true)]
async fn fifo_order_holds_for_ten_thousand_tasks_on_one_thread() {
    let tasks: Vec<_> = (0..TASKS).map(|id| tokio::spawn(fifo(id))).collect();
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(ORDER.with_borrow_mut(std::mem::take), (0..TASKS).collect::<Vec<_>>());

    let start = tokio::time::Instant::now();
    let tasks: Vec<_> = (0..TASKS).map(|id| tokio::spawn(fifo_rate(id))).collect();
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(ORDER.with_borrow_mut(std::mem::take), (0..TASKS).collect::<Vec<_>>());
    // 200 windows of 50 starts: the last starts at exactly 199 s.
    assert_eq!(start.elapsed(), Duration::from_secs(199));
}

// ---- keyed limits: 10 000 tasks over 1 000 keys -------------------------------------

const KEYS: usize = 1_000;

static PER_KEY_SLOTS: KeyedLimiter<usize> = KeyedLimiter::concurrency(2);

#[test]
fn every_keys_concurrency_holds_under_load_on_many_threads() {
    let gauges: Arc<Vec<Gauge>> = Arc::new((0..KEYS).map(|_| Gauge::new()).collect());
    multi_thread().block_on(async {
        let tasks: Vec<_> = (0..TASKS)
            .map(|i| {
                let gauges = gauges.clone();
                let key = i % KEYS;
                tokio::spawn(async move {
                    let _permit = PER_KEY_SLOTS.acquire(key, None).await.unwrap();
                    gauges[key].run().await;
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
    });
    for (key, gauge) in gauges.iter().enumerate() {
        let peak = gauge.peak.load(Ordering::SeqCst);
        assert!((1..=2).contains(&peak), "key {key}: {peak} at once");
        assert_eq!(gauge.now.load(Ordering::SeqCst), 0);
    }
    // Every key went idle: without a rate, nothing is kept.
    assert_eq!(PER_KEY_SLOTS.keys(), 0);
}

static PER_KEY_RATE: KeyedLimiter<usize> =
    KeyedLimiter::concurrency(3).and_rate(5, Duration::from_millis(100));

#[tokio::test(start_paused = true)]
async fn every_keys_rate_and_order_hold_for_ten_thousand_tasks() {
    let start = tokio::time::Instant::now();
    let starts = Arc::new(std::sync::Mutex::new(vec![Vec::new(); KEYS]));
    let tasks: Vec<_> = (0..TASKS)
        .map(|i| {
            let starts = starts.clone();
            let (key, nth) = (i % KEYS, i / KEYS);
            tokio::spawn(async move {
                let _permit = PER_KEY_RATE.acquire(key, None).await.unwrap();
                starts.lock().unwrap()[key].push((nth, start.elapsed()));
                tokio::time::sleep(Duration::from_millis(10)).await;
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    // Per key: three at once (the concurrency limit), two more when those finish at
    // 10 ms, then the window: five at 100 ms... in arrival order.
    let ms = |ms: u64| Duration::from_millis(ms);
    let expected: Vec<_> =
        [0, 0, 0, 10, 10, 100, 100, 100, 110, 110].map(ms).into_iter().enumerate().collect();
    for (key, starts) in starts.lock().unwrap().iter().enumerate() {
        assert_eq!(*starts, expected, "key {key}");
    }
    assert_eq!(PER_KEY_RATE.keys(), KEYS, "each key's last start is within the window");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(PER_KEY_RATE.keys(), 0);
}

// ---- the same through the attribute: `key = ..` with the function's own limits -------

/// Each key's start times (with its call's number), in the order they happened.
type StartLog = Arc<std::sync::Mutex<Vec<Vec<(usize, Duration)>>>>;

static KEYED_GAUGES: [Gauge; KEYS] = [const { Gauge::new() }; KEYS];

#[limit(concurrency = 2, key = key)]
async fn keyed_slots(key: usize) {
    KEYED_GAUGES[key].run().await;
}

#[test]
fn every_keys_concurrency_holds_through_the_attribute_on_many_threads() {
    multi_thread().block_on(async {
        let tasks: Vec<_> = (0..TASKS).map(|i| tokio::spawn(keyed_slots(i % KEYS))).collect();
        for task in tasks {
            task.await.unwrap();
        }
    });
    for (key, gauge) in KEYED_GAUGES.iter().enumerate() {
        let peak = gauge.peak.load(Ordering::SeqCst);
        assert!((1..=2).contains(&peak), "key {key}: {peak} at once");
        assert_eq!(gauge.now.load(Ordering::SeqCst), 0);
    }
}

#[limit(concurrency = 3, rate = 5, per = 100ms, key = key)]
async fn keyed_window(key: usize, nth: usize, starts: StartLog, t0: tokio::time::Instant) {
    starts.lock().unwrap()[key].push((nth, t0.elapsed()));
    tokio::time::sleep(Duration::from_millis(10)).await;
}

#[limit(rate = 10, per = 1s, burst = 2, key = key)]
async fn keyed_spaced(key: usize, nth: usize, starts: StartLog, t0: tokio::time::Instant) {
    starts.lock().unwrap()[key].push((nth, t0.elapsed()));
}

/// Spawns `TASKS` calls over `KEYS` keys (the n-th call of each key is its `nth`) and
/// returns each key's start times, in the order they happened.
async fn keyed_starts<F, Fut>(call: F) -> Vec<Vec<(usize, Duration)>>
where
    F: Fn(usize, usize, StartLog, tokio::time::Instant) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let t0 = tokio::time::Instant::now();
    let starts = Arc::new(std::sync::Mutex::new(vec![Vec::new(); KEYS]));
    let tasks: Vec<_> =
        (0..TASKS).map(|i| tokio::spawn(call(i % KEYS, i / KEYS, starts.clone(), t0))).collect();
    for task in tasks {
        task.await.unwrap();
    }
    Arc::try_unwrap(starts).unwrap().into_inner().unwrap()
}

#[tokio::test(start_paused = true)]
async fn every_keys_window_slots_and_order_hold_through_the_attribute() {
    let starts = keyed_starts(keyed_window).await;
    // Per key: three at once (the concurrency limit), two more when those finish at
    // 10 ms, then the window: five at 100 ms, in arrival order.
    let ms = |ms: u64| Duration::from_millis(ms);
    let expected: Vec<_> =
        [0, 0, 0, 10, 10, 100, 100, 100, 110, 110].map(ms).into_iter().enumerate().collect();
    for (key, starts) in starts.iter().enumerate() {
        assert_eq!(*starts, expected, "key {key}");
    }
}

#[tokio::test(start_paused = true)]
async fn every_keys_spacing_holds_through_the_attribute() {
    let starts = keyed_starts(keyed_spaced).await;
    // Per key: a burst of two, then one every 100 ms.
    let ms = |ms: u64| Duration::from_millis(ms);
    let expected: Vec<_> =
        [0, 0, 100, 200, 300, 400, 500, 600, 700, 800].map(ms).into_iter().enumerate().collect();
    for (key, starts) in starts.iter().enumerate() {
        assert_eq!(*starts, expected, "key {key}");
    }
}
