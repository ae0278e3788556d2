//! `#[limit(.., key = EXPR)]`: each key its own window, slots and FIFO line, with the
//! function's own limits or a shared `KeyedLimiter`; idle keys forgotten. On the paused
//! clock, with exact start times.

use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use steadfast::{KeyedLimiter, LimitKind, Rejected, limit};
use tokio::time::{Instant, sleep};

const MS: Duration = Duration::from_millis(1);

/// Lets every spawned task run until it waits.
async fn settle() {
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
}

/// Spawns `call(i)` for each `i` in order and returns the outputs, in that order.
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

// ---- the function's own limits, per key ---------------------------------------------

#[limit(rate = 2, per = 1s, key = user)]
async fn per_user_window(user: u32, origin: Instant) -> (u32, u64) {
    (user, millis(origin.elapsed()))
}

#[tokio::test(start_paused = true)]
async fn each_key_has_its_own_window() {
    let origin = Instant::now();
    let starts = spawn_all([1, 1, 1, 2, 2, 1, 3].map(|user| per_user_window(user, origin))).await;
    // Key 1's third and fourth calls wait a window; keys 2 and 3 are not held up by it.
    assert_eq!(starts, [(1, 0), (1, 0), (1, 1000), (2, 0), (2, 0), (1, 1000), (3, 0)]);
}

#[derive(Clone)]
struct Request {
    tenant: String,
    id: usize,
}

#[limit(concurrency = 1, key = request.tenant)]
async fn per_tenant_slot(request: Request, origin: Instant) -> (usize, String, u64) {
    let started = millis(origin.elapsed());
    sleep(100 * MS).await;
    // The key was copied: the body still owns the whole request.
    (request.id, request.tenant, started)
}

#[tokio::test(start_paused = true)]
async fn each_key_has_its_own_slots_and_fifo_line() {
    let origin = Instant::now();
    let calls = [("a", 0), ("a", 1), ("b", 2), ("a", 3), ("b", 4)]
        .map(|(tenant, id)| per_tenant_slot(Request { tenant: tenant.to_owned(), id }, origin));
    let done = spawn_all(calls).await;
    let done: Vec<(usize, &str, u64)> =
        done.iter().map(|(i, t, at)| (*i, t.as_str(), *at)).collect();
    // Tenant a: 0, 1, 3 one after another, in arrival order; tenant b: 2 and 4, alongside.
    assert_eq!(done, [(0, "a", 0), (1, "a", 100), (2, "b", 0), (3, "a", 200), (4, "b", 100)]);
    assert_eq!(origin.elapsed(), 300 * MS);
}

#[limit(rate = 10, per = 1s, burst = 1, key = ip)]
async fn per_ip_spaced(ip: IpAddr, origin: Instant) -> u64 {
    millis(origin.elapsed())
}

#[tokio::test(start_paused = true)]
async fn each_key_has_its_own_spaced_starts() {
    let origin = Instant::now();
    let (a, b) = (IpAddr::from([10, 0, 0, 1]), IpAddr::from([10, 0, 0, 2]));
    let starts = spawn_all([a, a, b, a, b].map(|ip| per_ip_spaced(ip, origin))).await;
    assert_eq!(starts, [0, 100, 0, 200, 100]);
}

#[derive(Debug, PartialEq)]
enum Error {
    Rejected(Rejected),
}

impl From<Rejected> for Error {
    fn from(rejected: Rejected) -> Self {
        Error::Rejected(rejected)
    }
}

#[limit(concurrency = 1, key = user, wait = 100ms)]
async fn per_user_bounded(user: u64, hold: Duration) -> Result<u64, Error> {
    sleep(hold).await;
    Ok(user)
}

#[tokio::test(start_paused = true)]
async fn a_full_key_rejects_after_its_wait_and_other_keys_pass() {
    let busy = tokio::spawn(per_user_bounded(7, 1000 * MS));
    settle().await;
    let origin = Instant::now();
    let Err(Error::Rejected(rejected)) = per_user_bounded(7, MS).await else {
        panic!("key 7 is busy for a second");
    };
    assert_eq!(origin.elapsed(), 100 * MS);
    assert_eq!(rejected.waited(), 100 * MS);
    assert_eq!(rejected.function(), Some("per_user_bounded"));
    assert_eq!(rejected.limit(), LimitKind::Concurrency(1));
    // Another key: at once.
    let origin = Instant::now();
    assert_eq!(per_user_bounded(8, MS).await, Ok(8));
    assert_eq!(origin.elapsed(), MS);
    assert_eq!(busy.await.unwrap(), Ok(7));
}

#[limit(concurrency = 1, key = id)]
async fn generic_key<K: Hash + Eq + Clone + Send + Sync + 'static>(id: K, origin: Instant) -> u64 {
    let started = millis(origin.elapsed());
    sleep(100 * MS).await;
    started
}

#[tokio::test(start_paused = true)]
async fn a_generic_function_keeps_limits_per_key_of_each_key_type() {
    let origin = Instant::now();
    let numbers = tokio::spawn(async move {
        tokio::join!(
            generic_key(1_u32, origin),
            generic_key(1_u32, origin),
            generic_key(2_u32, origin)
        )
    });
    let names = tokio::spawn(async move {
        tokio::join!(generic_key("one", origin), generic_key("one", origin))
    });
    // Key 1 (u32) twice: one after the other; key 2 alongside; the `&str` key "one" has
    // limits of its own.
    assert_eq!(numbers.await.unwrap(), (0, 100, 0));
    assert_eq!(names.await.unwrap(), (0, 100));
}

// ---- a shared keyed limiter ------------------------------------------------------------

static PER_TENANT: KeyedLimiter<String> = KeyedLimiter::concurrency(2);

struct Service {
    tenant: String,
}

impl Service {
    #[limit(using = PER_TENANT, key = self.tenant)]
    async fn read(&self, origin: Instant) -> (&'static str, u64) {
        let started = millis(origin.elapsed());
        sleep(100 * MS).await;
        ("read", started)
    }

    #[limit(using = PER_TENANT, key = self.tenant.clone(), wait = 0ms)]
    async fn write(&self, origin: Instant) -> Result<(&'static str, u64), Error> {
        let started = millis(origin.elapsed());
        sleep(100 * MS).await;
        Ok(("write", started))
    }
}

#[tokio::test(start_paused = true)]
async fn functions_using_one_keyed_limiter_share_each_keys_slots() {
    let origin = Instant::now();
    let acme = Arc::new(Service { tenant: "acme".to_owned() });
    let other = Arc::new(Service { tenant: "other".to_owned() });
    let reads: Vec<_> = (0..3)
        .map(|_| {
            let acme = acme.clone();
            tokio::spawn(async move { acme.read(origin).await })
        })
        .collect();
    settle().await;
    // acme's two slots are taken by reads: its write is shed at once, another tenant's
    // is not.
    assert_eq!(PER_TENANT.keys(), 1);
    assert!(matches!(acme.write(origin).await, Err(Error::Rejected(_))));
    assert_eq!(other.write(origin).await, Ok(("write", 0)));
    let mut starts = Vec::new();
    for read in reads {
        starts.push(read.await.unwrap().1);
    }
    assert_eq!(starts, [0, 0, 100]);
    assert_eq!(PER_TENANT.keys(), 0, "nothing in flight and no rate: every key idle");
}

// ---- memory: idle keys are forgotten -----------------------------------------------------

static PER_VISITOR: KeyedLimiter<u64> = KeyedLimiter::rate(1, Duration::from_secs(1));

#[limit(using = PER_VISITOR, key = visitor)]
async fn visit(visitor: u64) -> u64 {
    visitor
}

#[tokio::test(start_paused = true)]
async fn a_hundred_thousand_keys_that_went_idle_are_forgotten() {
    for visitor in 0..100_000 {
        assert_eq!(visit(visitor).await, visitor);
    }
    // Every start is within the window: each key must remember it.
    assert_eq!(PER_VISITOR.keys(), 100_000);
    sleep(999 * MS).await;
    assert_eq!(PER_VISITOR.keys(), 100_000);
    sleep(MS).await;
    assert_eq!(PER_VISITOR.keys(), 0);
}

static PER_CLIENT: KeyedLimiter<u64> = KeyedLimiter::rate(1, Duration::from_secs(1));

#[limit(using = PER_CLIENT, key = client)]
async fn serve(client: u64) -> u64 {
    client
}

/// Memory is bounded by the keys active within a window, swept as later calls pass by
/// (`keys()`, which also sweeps, is never called while they arrive).
#[test]
fn memory_follows_the_active_keys_not_every_key_ever_seen() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    // The first call allocates the shards; that is not what is measured.
    runtime.block_on(serve(u64::MAX));
    let info = allocation_counter::measure(|| {
        runtime.block_on(async {
            // 100 000 distinct clients, one a millisecond: a thousand active at a time.
            for client in 0..100_000 {
                assert_eq!(serve(client).await, client);
                sleep(MS).await;
            }
        });
    });
    // One key costs about 800 bytes: 100 000 of them would be 80 MB.
    let per_key = 800;
    assert!(
        info.bytes_max < 4 * 1000 * per_key,
        "at most {} bytes for a thousand active keys",
        info.bytes_max
    );
    assert!(runtime.block_on(async { PER_CLIENT.keys() }) <= 1000);
}

// A body that is cancelled while it waits, or panics, leaves its key to be forgotten.
static PER_JOB: KeyedLimiter<u32> = KeyedLimiter::concurrency(1);

#[limit(using = PER_JOB, key = job)]
async fn job(job: u32, fail: bool) {
    sleep(100 * MS).await;
    assert!(!fail, "job {job} failed");
}

#[tokio::test(start_paused = true)]
async fn cancelled_and_panicked_callers_leave_no_key_behind() {
    let panicked = tokio::spawn(job(1, true));
    let cancelled = tokio::spawn(job(1, false));
    settle().await;
    assert_eq!(PER_JOB.keys(), 1);
    cancelled.abort();
    assert!(panicked.await.unwrap_err().is_panic());
    assert_eq!(PER_JOB.keys(), 0);
    // The key's slot came back: the next call runs at once.
    let origin = Instant::now();
    job(1, false).await;
    assert_eq!(origin.elapsed(), 100 * MS);
}

// ---- keyed limits inside a stack -------------------------------------------------------

static PER_ACCOUNT: KeyedLimiter<String> = KeyedLimiter::concurrency(1);

#[derive(Debug, PartialEq)]
enum StackError {
    Rejected,
    TimedOut,
    Flaky,
}

impl std::fmt::Display for StackError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}

impl From<Rejected> for StackError {
    fn from(_: Rejected) -> Self {
        StackError::Rejected
    }
}

impl From<steadfast::TimedOut> for StackError {
    fn from(_: steadfast::TimedOut) -> Self {
        StackError::TimedOut
    }
}

#[steadfast::retry(attempts = 3, delay = 100ms, jitter = 0, when = |e: &StackError| *e == StackError::Flaky)]
#[steadfast::timeout(1s)]
#[limit(using = PER_ACCOUNT, key = account, wait = 0ms)]
async fn charge(
    account: String,
    failures: Arc<std::sync::atomic::AtomicU32>,
) -> Result<String, StackError> {
    sleep(10 * MS).await;
    if failures.fetch_sub(1, std::sync::atomic::Ordering::SeqCst) > 0 {
        return Err(StackError::Flaky);
    }
    Ok(account)
}

#[limit(rate = 1, per = 1s, key = account)]
#[steadfast::timeout(50ms)]
async fn slow_per_account(account: u32, ms: u64) -> Result<u32, StackError> {
    sleep(Duration::from_millis(ms)).await;
    Ok(account)
}

#[tokio::test(start_paused = true)]
async fn keyed_limits_hold_a_slot_per_attempt_inside_retry_and_timeout() {
    let origin = Instant::now();
    let failures = Arc::new(std::sync::atomic::AtomicU32::new(2));
    // Two failed attempts (10 ms each, 100 ms apart), then success; between attempts
    // the key's slot is free, so another caller of the same account gets in.
    let first = tokio::spawn(charge("acme".to_owned(), failures.clone()));
    sleep(50 * MS).await;
    assert_eq!(PER_ACCOUNT.keys(), 0, "the slot is not held across the backoff sleep");
    let zero = Arc::new(std::sync::atomic::AtomicU32::new(0));
    assert_eq!(charge("acme".to_owned(), zero).await, Ok("acme".to_owned()));
    assert_eq!(first.await.unwrap(), Ok("acme".to_owned()));
    assert_eq!(origin.elapsed(), 330 * MS);
    // The timeout inside the keyed limit: each key's one start per second, and a body
    // that times out still used it.
    let origin = Instant::now();
    assert_eq!(slow_per_account(1, 100).await, Err(StackError::TimedOut));
    assert_eq!(slow_per_account(2, 10).await, Ok(2));
    assert_eq!(origin.elapsed(), 60 * MS);
    assert_eq!(slow_per_account(1, 10).await, Ok(1));
    assert_eq!(origin.elapsed(), 1010 * MS);
}
