//! `#[limit]`: concurrency and rate limits per function or shared, FIFO queues,
//! load shedding, no leaked slot, and stacking with `#[retry]` and `#[timeout]`.

use std::cell::RefCell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use steadfast::{LimitKind, Limiter, Rejected, TimedOut, limit, retry, timeout};
use steadfast_tests::Capture;
use tokio::time::{Instant, sleep};

const MS: Duration = Duration::from_millis(1);

#[derive(Debug, PartialEq)]
enum Error {
    Rejected(Rejected),
    TimedOut,
    Failed,
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}

impl From<Rejected> for Error {
    fn from(r: Rejected) -> Self {
        Error::Rejected(r)
    }
}

impl From<TimedOut> for Error {
    fn from(_: TimedOut) -> Self {
        Error::TimedOut
    }
}

/// Per test thread: bodies running now, the most seen at once, and the start log.
#[derive(Default)]
struct Probe {
    running: usize,
    peak: usize,
    starts: Vec<(usize, Duration)>,
}

thread_local! {
    static PROBE: RefCell<Probe> = RefCell::default();
}

fn enter(id: usize, origin: Instant) {
    PROBE.with_borrow_mut(|p| {
        p.running += 1;
        p.peak = p.peak.max(p.running);
        p.starts.push((id, origin.elapsed()));
    });
}

fn leave() {
    PROBE.with_borrow_mut(|p| p.running -= 1);
}

fn take_probe() -> Probe {
    PROBE.with_borrow_mut(std::mem::take)
}

/// Spawns `n` calls in order on the current-thread runtime and waits for all.
async fn run_all<F, Fut, T>(n: usize, call: F) -> Vec<T>
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = T> + 'static,
    T: 'static,
{
    let local = tokio::task::LocalSet::new();
    let handles: Vec<_> = (0..n).map(|i| local.spawn_local(call(i))).collect();
    local
        .run_until(async move {
            let mut out = Vec::new();
            for h in handles {
                out.push(h.await.unwrap());
            }
            out
        })
        .await
}

#[limit(concurrency = 3)]
async fn query(id: usize, origin: Instant) -> Result<(), Error> {
    enter(id, origin);
    sleep(100 * MS).await;
    leave();
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn concurrency_runs_at_most_n_in_arrival_order() {
    let origin = Instant::now();
    run_all(20, |i| query(i, origin)).await;
    assert_eq!(origin.elapsed(), 700 * MS, "ceil(20 / 3) rounds of 100 ms");
    let probe = take_probe();
    assert_eq!(probe.peak, 3);
    let order: Vec<usize> = probe.starts.iter().map(|(id, _)| *id).collect();
    assert_eq!(order, (0..20).collect::<Vec<_>>());
    let rounds: Vec<u128> = probe.starts.iter().map(|(_, t)| t.as_millis()).collect();
    assert_eq!(
        rounds,
        [
            0, 0, 0, 100, 100, 100, 200, 200, 200, 300, 300, 300, 400, 400, 400, 500, 500, 500,
            600, 600
        ]
    );
}

#[limit(concurrency = 2)]
async fn generic<T: std::fmt::Debug + 'static>(value: T, origin: Instant) -> T {
    enter(0, origin);
    sleep(100 * MS).await;
    leave();
    value
}

#[tokio::test(start_paused = true)]
async fn one_limiter_per_function_shared_by_every_instantiation() {
    let origin = Instant::now();
    let local = tokio::task::LocalSet::new();
    let a = local.spawn_local(generic(1_u8, origin));
    let b = local.spawn_local(generic("two", origin));
    let c = local.spawn_local(generic(3.0_f64, origin));
    local.run_until(async { (a.await.unwrap(), b.await.unwrap(), c.await.unwrap()) }).await;
    // Any return type works without `wait`; three calls of two instantiations share 2 slots.
    assert_eq!(origin.elapsed(), 200 * MS);
    assert_eq!(take_probe().peak, 2);
}

#[limit(rate = 5, per = 1s)]
async fn crawl(id: usize, origin: Instant) -> Result<(), Error> {
    enter(id, origin);
    leave();
    Ok(())
}

/// At most `n` starts in any window of length `per` (half-open: `[t, t + per)`).
fn assert_sliding_window(starts: &[Duration], n: usize, per: Duration) {
    for (i, first) in starts.iter().enumerate() {
        let in_window = starts[i..].iter().filter(|s| **s < *first + per).count();
        assert!(in_window <= n, "{in_window} starts in the window at {first:?}: {starts:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn rate_keeps_the_sliding_window_and_finishes_exactly() {
    let origin = Instant::now();
    run_all(12, |i| crawl(i, origin)).await;
    assert_eq!(origin.elapsed(), 2000 * MS);
    let probe = take_probe();
    let times: Vec<Duration> = probe.starts.iter().map(|(_, t)| *t).collect();
    assert_sliding_window(&times, 5, 1000 * MS);
    let ms: Vec<u128> = times.iter().map(Duration::as_millis).collect();
    assert_eq!(ms, [0, 0, 0, 0, 0, 1000, 1000, 1000, 1000, 1000, 2000, 2000]);
    let order: Vec<usize> = probe.starts.iter().map(|(id, _)| *id).collect();
    assert_eq!(order, (0..12).collect::<Vec<_>>());
}

// Per-function limiters are process-wide: each test has its own function.
#[limit(rate = 5, per = 1s)]
async fn crawl_staggered(id: usize, origin: Instant) -> Result<(), Error> {
    enter(id, origin);
    leave();
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn rate_with_staggered_arrivals() {
    let origin = Instant::now();
    // Arrivals every 150 ms: the first 5 start on arrival (0..600), the 6th (750 ms) and
    // later must wait until the start 5 places earlier is 1 s old.
    run_all(12, |i| async move {
        sleep(150 * MS * i as u32).await;
        crawl_staggered(i, origin).await
    })
    .await;
    let times: Vec<Duration> = take_probe().starts.iter().map(|(_, t)| *t).collect();
    assert_sliding_window(&times, 5, 1000 * MS);
    let ms: Vec<u128> = times.iter().map(Duration::as_millis).collect();
    assert_eq!(ms, [0, 150, 300, 450, 600, 1000, 1150, 1300, 1450, 1600, 2000, 2150]);
}

#[limit(concurrency = 1, wait = 250ms)]
async fn guarded(id: usize, origin: Instant) -> Result<usize, Error> {
    enter(id, origin);
    sleep(1000 * MS).await;
    leave();
    Ok(id)
}

#[limit(concurrency = 1, wait = 0ms)]
async fn shed(id: usize, origin: Instant) -> Result<usize, Error> {
    enter(id, origin);
    sleep(1000 * MS).await;
    leave();
    Ok(id)
}

#[tokio::test(start_paused = true)]
async fn wait_rejects_without_running_the_body() {
    let capture = Capture::start();
    let origin = Instant::now();
    let results = run_all(2, |i| guarded(i, origin)).await;
    assert_eq!(results[0], Ok(0));
    let Err(Error::Rejected(r)) = &results[1] else { panic!("{results:?}") };
    assert_eq!(r.limit(), LimitKind::Concurrency(1));
    assert_eq!(r.waited(), 250 * MS);
    assert_eq!(r.function(), Some("guarded"));
    assert_eq!(take_probe().starts.len(), 1, "the rejected body never ran");
    let events = capture.steadfast();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].level, tracing::Level::WARN);
    assert_eq!(events[0].field("function"), Some("guarded"));
    assert_eq!(events[0].field("waited_ms"), Some("250"));
}

#[tokio::test(start_paused = true)]
async fn wait_zero_sheds_load_at_once() {
    let origin = Instant::now();
    let results = run_all(3, |i| shed(i, origin)).await;
    assert_eq!(results[0], Ok(0));
    for r in &results[1..] {
        let Err(Error::Rejected(r)) = r else { panic!("{results:?}") };
        assert_eq!(r.waited(), Duration::ZERO);
    }
    assert_eq!(origin.elapsed(), 1000 * MS);
    assert_eq!(shed(9, origin).await, Ok(9), "a free slot is taken");
}

static DB: Limiter = Limiter::concurrency(2);

#[limit(using = DB)]
async fn read(id: usize, origin: Instant) -> Result<(), Error> {
    enter(id, origin);
    sleep(100 * MS).await;
    leave();
    Ok(())
}

#[limit(using = DB)]
async fn write(id: usize, origin: Instant) -> Result<(), Error> {
    enter(id, origin);
    sleep(100 * MS).await;
    leave();
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn functions_using_one_limiter_share_its_slots() {
    let origin = Instant::now();
    run_all(6, |i| async move {
        if i % 2 == 0 { read(i, origin).await } else { write(i, origin).await }
    })
    .await;
    assert_eq!(origin.elapsed(), 300 * MS);
    assert_eq!(take_probe().peak, 2);
    assert_eq!((DB.in_flight(), DB.waiting()), (0, 0));
}

struct Repo {
    limiter: Limiter,
}

impl Repo {
    #[limit(using = self.limiter)]
    async fn get(&self, id: usize, origin: Instant) -> Result<usize, Error> {
        enter(id, origin);
        sleep(100 * MS).await;
        leave();
        Ok(id)
    }
}

#[tokio::test(start_paused = true)]
async fn a_limiter_owned_by_the_receiver() {
    let repo = std::rc::Rc::new(Repo { limiter: Limiter::concurrency(1) });
    let origin = Instant::now();
    run_all(3, |i| {
        let repo = repo.clone();
        async move { repo.get(i, origin).await }
    })
    .await;
    assert_eq!(origin.elapsed(), 300 * MS);
    assert_eq!(take_probe().peak, 1);
}

// ---- no slot is ever leaked ------------------------------------------------------

static LEAKS: Limiter = Limiter::concurrency(1);
static RAN: AtomicUsize = AtomicUsize::new(0);

#[limit(using = LEAKS)]
async fn outcome(kind: &'static str) -> Result<(), Error> {
    RAN.fetch_add(1, Ordering::SeqCst);
    match kind {
        "fail" => Err(Error::Failed),
        "panic" => panic!("boom"),
        "hang" => std::future::pending().await,
        _ => Ok(()),
    }
}

fn assert_idle(limiter: &Limiter) {
    assert_eq!((limiter.in_flight(), limiter.waiting()), (0, 0));
}

#[tokio::test(start_paused = true)]
async fn slots_come_back_after_return_failure_panic_and_cancellation() {
    outcome("ok").await.unwrap();
    assert_idle(&LEAKS);
    outcome("fail").await.unwrap_err();
    assert_idle(&LEAKS);
    assert!(tokio::spawn(outcome("panic")).await.unwrap_err().is_panic());
    assert_idle(&LEAKS);

    // Cancelled while running.
    let running = tokio::spawn(outcome("hang"));
    sleep(MS).await;
    assert_eq!(LEAKS.in_flight(), 1);
    // Cancelled while queued: it never runs.
    let before = RAN.load(Ordering::SeqCst);
    let queued = tokio::spawn(outcome("ok"));
    sleep(MS).await;
    assert_eq!((LEAKS.in_flight(), LEAKS.waiting()), (1, 1));
    queued.abort();
    let _ = queued.await;
    assert_eq!(LEAKS.waiting(), 0);
    running.abort();
    let _ = running.await;
    assert_idle(&LEAKS);
    assert_eq!(RAN.load(Ordering::SeqCst), before, "the cancelled queued call never ran");
}

// ---- stacking with retry and timeout ---------------------------------------------

static PER_ATTEMPT: Limiter = Limiter::concurrency(1);

#[retry(attempts = 3, delay = 100ms, jitter = 0)]
#[limit(using = PER_ATTEMPT)]
async fn flaky(origin: Instant) -> Result<(), Error> {
    enter(0, origin);
    sleep(10 * MS).await;
    leave();
    Err(Error::Failed)
}

#[tokio::test(start_paused = true)]
async fn inside_retry_a_slot_is_held_per_attempt_not_across_the_sleep() {
    let origin = Instant::now();
    let task = tokio::spawn(flaky(origin));
    // Attempts run 0–10, 110–120, 320–330; during the backoff sleeps the slot is free.
    for (at, busy) in [(5, 1), (50, 0), (115, 1), (200, 0), (325, 1)] {
        sleep_until(origin, at).await;
        assert_eq!(PER_ATTEMPT.in_flight(), busy, "at {at} ms");
    }
    assert_eq!(task.await.unwrap(), Err(Error::Failed));
    assert_eq!(origin.elapsed(), 330 * MS);
    assert_idle(&PER_ATTEMPT);
}

async fn sleep_until(origin: Instant, ms: u32) {
    tokio::time::sleep_until(origin + ms * MS).await;
}

static SLOW: Limiter = Limiter::concurrency(1);

#[limit(using = SLOW)]
async fn hold(ms: u32) -> Result<(), Error> {
    sleep(ms * MS).await;
    Ok(())
}

#[timeout(300ms)]
#[limit(using = SLOW)]
async fn bounded(id: usize, origin: Instant) -> Result<usize, Error> {
    enter(id, origin);
    sleep(150 * MS).await;
    leave();
    Ok(id)
}

#[tokio::test(start_paused = true)]
async fn under_timeout_queue_time_counts_and_a_call_timed_out_in_the_queue_never_runs() {
    let origin = Instant::now();
    let local = tokio::task::LocalSet::new();
    let holder = local.spawn_local(hold(1000));
    let arrive = |id: usize, at: u32| async move {
        sleep_until(origin, at).await;
        let result = bounded(id, origin).await;
        (result, origin.elapsed().as_millis())
    };
    // #1 queues from 0 and times out at 300, while still queued: it never runs.
    let one = local.spawn_local(arrive(1, 0));
    // #2 arrives at 900, gets the slot at 1000 and finishes at 1150, within its 300 ms.
    let two = local.spawn_local(arrive(2, 900));
    // #3 arrives at 950, waits for #2 until 1150: 200 ms of queueing leave 100 ms for a
    // 150 ms body, so it times out at 1250.
    let three = local.spawn_local(arrive(3, 950));
    let results = local
        .run_until(async {
            holder.await.unwrap().unwrap();
            [one.await.unwrap(), two.await.unwrap(), three.await.unwrap()]
        })
        .await;
    assert_eq!(results, [(Err(Error::TimedOut), 300), (Ok(2), 1150), (Err(Error::TimedOut), 1250)]);
    let starts: Vec<(usize, u128)> =
        take_probe().starts.iter().map(|(id, t)| (*id, t.as_millis())).collect();
    assert_eq!(starts, [(2, 1000), (3, 1150)], "#1 never ran");
    assert_idle(&SLOW);
}

static LONG: Limiter = Limiter::concurrency(1);

#[limit(using = LONG)]
async fn long(ms: u32) -> Result<(), Error> {
    sleep(ms * MS).await;
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn waiting_longer_than_a_second_emits_debug() {
    let capture = Capture::start();
    let local = tokio::task::LocalSet::new();
    let first = local.spawn_local(long(1500));
    let second = local.spawn_local(long(1));
    local
        .run_until(async { (first.await.unwrap().unwrap(), second.await.unwrap().unwrap()) })
        .await;
    let events = capture.steadfast();
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0].level, tracing::Level::DEBUG);
    assert_eq!(events[0].field("function"), Some("long"));
    assert_eq!(events[0].field("waited_ms"), Some("1500"));
}
