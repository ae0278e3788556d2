//! `#[limit]`: concurrency and rate limits per function or shared, FIFO queues,
//! load shedding, no leaked slot, and stacking with `#[retry]` and `#[timeout]`.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use steadfast::__private::{limit as limited, limit_or_reject};
use steadfast::{Limit, LimitKind, Limiter, Rejected, TimedOut, limit, retry, timeout};
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

/// Checks that no window of length `per` holds more than `max` of `starts` (in any
/// order): sorted, any `max + 1` consecutive starts span at least `per`.
fn assert_sliding_window(starts: &[Duration], max: usize, per: Duration) {
    let mut starts = starts.to_vec();
    starts.sort_unstable();
    for (i, pair) in starts.windows(max + 1).enumerate() {
        let (first, last) = (pair[0], pair[max]);
        assert!(
            last - first >= per,
            "starts {i} and {} are {:?} apart: {} starts in a window of {per:?}",
            i + max,
            last - first,
            max + 1
        );
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

// ---- events, through the expansion ------------------------------------------------

static EVENTS: Limiter = Limiter::concurrency(1);

#[limit(using = EVENTS)]
async fn quick() {}

#[limit(using = EVENTS, wait = 300ms)]
async fn load() -> Result<(), Error> {
    Ok(())
}

#[limit(using = EVENTS)]
async fn patient() {}

#[limit(using = EVENTS, wait = 2s)]
async fn slow() -> Result<(), Error> {
    Ok(())
}

/// The fields of an event, by name.
fn fields(event: &steadfast_tests::Captured) -> BTreeMap<&str, &str> {
    event.fields.iter().map(|(name, value)| (name.as_str(), value.as_str())).collect()
}

#[tokio::test(start_paused = true)]
async fn events_report_rejections_and_long_waits() {
    let capture = Capture::start();
    let seen = |n: usize| capture.steadfast().split_off(n);

    // The fast path says nothing.
    quick().await;
    assert!(seen(0).is_empty());

    let holder = EVENTS.acquire(None).await.unwrap();
    let Err(Error::Rejected(rejected)) = load().await else { panic!("not rejected") };
    assert_eq!(rejected.function(), Some("load"));
    let events = seen(0);
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].level, tracing::Level::WARN);
    assert_eq!(events[0].target, "steadfast");
    assert_eq!(
        fields(&events[0]),
        BTreeMap::from([
            ("function", "load"),
            ("waited_ms", "300"),
            ("limit", "concurrency limit of 1"),
            ("message", "rejected: no slot within the wait"),
        ])
    );

    // A wait of one second exactly is not long.
    tokio::spawn(async move {
        sleep(1000 * MS).await;
        drop(holder);
    });
    patient().await;
    assert!(seen(1).is_empty());

    let holder = EVENTS.acquire(None).await.unwrap();
    tokio::spawn(async move {
        sleep(1500 * MS).await;
        drop(holder);
    });
    slow().await.unwrap();
    let events = seen(1);
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].level, tracing::Level::DEBUG);
    assert_eq!(events[0].target, "steadfast");
    assert_eq!(
        fields(&events[0]),
        BTreeMap::from([
            ("function", "slow"),
            ("waited_ms", "1500"),
            ("limit", "concurrency limit of 1"),
            ("message", "got a slot after a long wait"),
        ])
    );
}

/// A limit that breaks the contract by rejecting even without a wait.
struct Refuses;

impl Limit for Refuses {
    type Permit<'a> = ();

    async fn acquire(&self, wait: Option<Duration>) -> Result<(), Rejected> {
        Err(Rejected::new(LimitKind::Other("refuses"), wait.unwrap_or_default()))
    }
}

#[tokio::test(start_paused = true)]
async fn other_limits_name_themselves() {
    let capture = Capture::start();
    let rejected = limit_or_reject(&Refuses, "f", MS, Err, async { Ok(()) }).await.unwrap_err();
    assert_eq!(rejected.to_string(), "`f` rejected by the limit `refuses` after waiting 1ms");
    assert_eq!(capture.steadfast()[0].field("limit"), Some("limit `refuses`"));
    // Without a wait budget there is no error channel: it fails open, loudly.
    assert_eq!(limited(&Refuses, "f", async { 5 }).await, 5);
    let events = capture.steadfast();
    assert_eq!(events.len(), 2);
    assert_eq!(events[1].level, tracing::Level::ERROR);
    assert_eq!(events[1].field("limit"), Some("limit `refuses`"));
}

// ---- the sliding window through the runtime API, on long schedules ---------------

mod window {
    use std::sync::{Arc, Mutex as StdMutex};
    use std::time::Duration;

    use steadfast::__private::limit;
    use steadfast::Limiter;
    use tokio::time::{Instant, sleep};

    use super::{MS, assert_sliding_window};

    const SEC: Duration = Duration::from_secs(1);

    /// A deterministic stream of numbers in `1..=max`.
    fn gaps(mut seed: u64, max: u64) -> impl FnMut() -> u32 {
        move || {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            u32::try_from((seed >> 33) % max + 1).unwrap()
        }
    }

    /// `n` arrival times spaced by pseudo-random whole-millisecond gaps (the tokio
    /// timer's resolution) of 1 to `max_gap_ms`.
    fn staggered(n: usize, seed: u64, max_gap_ms: u64) -> Vec<Duration> {
        let mut gap = gaps(seed, max_gap_ms);
        let mut at = Duration::ZERO;
        (0..n)
            .map(|_| {
                at += gap() * MS;
                at
            })
            .collect()
    }

    /// Spawns one call through `limiter` per arrival (relative to now) and returns when
    /// each body started, in arrival order.
    async fn start_times(limiter: &'static Limiter, arrivals: &[Duration]) -> Vec<Duration> {
        let t0 = Instant::now();
        let tasks: Vec<_> = arrivals
            .iter()
            .map(|&arrival| {
                tokio::spawn(async move {
                    sleep(arrival).await;
                    limit(limiter, "call", async move { t0.elapsed() }).await
                })
            })
            .collect();
        let mut starts = Vec::new();
        for task in tasks {
            starts.push(task.await.unwrap());
        }
        starts
    }

    /// The earliest first-in-first-out schedule: each start no earlier than its
    /// arrival, the previous start, and the start `starts` places earlier plus `per`.
    fn fifo_schedule(arrivals: &[Duration], starts: usize, per: Duration) -> Vec<Duration> {
        let mut schedule: Vec<Duration> = Vec::new();
        for (i, &arrival) in arrivals.iter().enumerate() {
            let previous = schedule.last().copied().unwrap_or_default();
            let window = i.checked_sub(starts).map_or(Duration::ZERO, |j| schedule[j] + per);
            schedule.push(arrival.max(previous).max(window));
        }
        schedule
    }

    #[tokio::test(start_paused = true)]
    async fn rate_five_per_second_starts_twelve_callers_by_two_seconds() {
        static L: Limiter = Limiter::rate(5, SEC);
        let t0 = Instant::now();
        let starts = Arc::new(StdMutex::new(Vec::new()));
        let tasks: Vec<_> = (0..12)
            .map(|i| {
                let starts = starts.clone();
                tokio::spawn(limit(&L, "call", async move {
                    starts.lock().unwrap().push((i, t0.elapsed()));
                }))
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(t0.elapsed(), 2 * SEC);
        let starts = starts.lock().unwrap();
        let expected: Vec<_> = (0..12).map(|i| (i, (i as u32 / 5) * SEC)).collect();
        assert_eq!(*starts, expected);
        let times: Vec<_> = starts.iter().map(|(_, at)| *at).collect();
        assert_sliding_window(&times, 5, SEC);
        assert_eq!((L.in_flight(), L.waiting()), (0, 0));
    }

    /// Exact mode: every start is exactly the greedy first-in-first-out schedule.
    #[tokio::test(start_paused = true)]
    async fn rate_exact_mode_follows_the_earliest_fifo_schedule() {
        const STARTS: usize = 7;
        const PER: Duration = Duration::from_millis(100);
        static L: Limiter = Limiter::rate(STARTS as u32, PER);
        let arrivals = staggered(300, 7, 30);
        let starts = start_times(&L, &arrivals).await;
        let expected = fifo_schedule(&arrivals, STARTS, PER);
        assert_eq!(starts, expected);
        assert_sliding_window(&starts, STARTS, PER);
    }

    #[tokio::test(start_paused = true)]
    async fn high_rate_keeps_the_window_with_bounded_memory() {
        const STARTS: u32 = 100_000;
        static L: Limiter = Limiter::rate(STARTS, SEC);
        assert!(std::mem::size_of_val(&L) < 1024);
        let t0 = Instant::now();
        let starts = Arc::new(StdMutex::new(Vec::with_capacity(300_000)));
        let tasks: Vec<_> = (0..4)
            .map(|_| {
                let starts = starts.clone();
                tokio::spawn(async move {
                    let mut mine = Vec::with_capacity(75_000);
                    for _ in 0..75_000 {
                        let permit = L.acquire(None).await.unwrap();
                        mine.push(t0.elapsed());
                        drop(permit);
                    }
                    starts.lock().unwrap().extend(mine);
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        let starts = std::mem::take(&mut *starts.lock().unwrap());
        assert_eq!(starts.len(), 300_000);
        assert_sliding_window(&starts, STARTS as usize, SEC);
        // Three windows' worth needs two seconds at least; buckets cost up to `per / 64`,
        // and the timer's resolution (1 ms) up to one more bucket, per window.
        let took = t0.elapsed();
        assert!(took >= 2 * SEC && took <= 2 * SEC + 2 * (SEC / 64 + MS), "took {took:?}");
        assert_eq!((L.in_flight(), L.waiting()), (0, 0));
    }

    #[tokio::test(start_paused = true)]
    async fn bucket_mode_keeps_the_window_with_staggered_arrivals() {
        const STARTS: u32 = 100;
        const PER: Duration = Duration::from_millis(640);
        static L: Limiter = Limiter::rate(STARTS, PER);
        let arrivals = staggered(2_000, 11, 3);
        let starts = start_times(&L, &arrivals).await;
        assert!(starts.is_sorted(), "starts follow arrivals");
        assert!(starts.iter().zip(&arrivals).all(|(start, arrival)| start >= arrival));
        // The exact first-in-first-out schedule, which buckets may trail by `per / 64`
        // plus the timer's resolution per window.
        let exact = fifo_schedule(&arrivals, STARTS as usize, PER);
        let slack = PER / 64 + MS;
        for (i, (start, exact)) in starts.iter().zip(&exact).enumerate() {
            let windows = u32::try_from(i / STARTS as usize).unwrap();
            assert!(*start <= *exact + windows * slack, "start {i}: {start:?}, exactly {exact:?}");
        }
        assert_sliding_window(&starts, STARTS as usize, PER);
    }

    #[tokio::test(start_paused = true)]
    async fn rate_with_staggered_arrivals_slides_the_window() {
        static L: Limiter = Limiter::rate(2, SEC);
        let arrivals = [0, 300, 500, 900, 1200, 1400].map(|ms| ms * MS);
        let starts = start_times(&L, &arrivals).await;
        let expected = [0, 300, 1000, 1300, 2000, 2300].map(|ms| ms * MS);
        assert_eq!(starts, expected);
    }
}
