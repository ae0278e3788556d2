//! `steadfast::redis::RedisLimiter` against real `redis-server`s that the tests start
//! themselves (`steadfast_tests::redis_server`): fleet-wide rates and slots across
//! limiters and across OS processes, leases of a killed replica, Redis killed, paused
//! and restarted under each `Unavailable` policy, keys, load shedding, and
//! `#[limit(using = ..)]` on a `RedisLimiter`.
//!
//! Real clock, short and tight. Starts are timed where they are seen (after the
//! answer reaches the caller), so a window read from them may look up to one round
//! trip's jitter shorter than Redis's: `JITTER` allows for that.
//!
//! Without `redis-server` installed these tests skip, unless
//! `STEADFAST_REQUIRE_REDIS=1` (as in `.ci/run`) makes that a failure.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use steadfast::redis::{Client, RedisLimiter, Unavailable};
use steadfast::{KeyedLimit, Limit, LimitKind, Limiter, Rejected, limit};
use steadfast_tests::Capture;
use steadfast_tests::redis_server::RedisServer;
use tokio::time::Instant;

const MS: Duration = Duration::from_millis(1);
/// How much shorter than Redis's a window read from the callers' clocks may look.
const JITTER: Duration = Duration::from_millis(5);
/// What a bound on a call's duration allows beyond it: the scheduling of a loaded
/// machine (a round trip to a local Redis is well under a millisecond).
const SLACK: Duration = Duration::from_millis(40);
/// The child replica's environment variables.
const CHILD_URL: &str = "STEADFAST_REDIS_CHILD_URL";
const CHILD_MODE: &str = "STEADFAST_REDIS_CHILD_MODE";

fn client(server: &RedisServer) -> Client {
    Client::open(server.url()).unwrap()
}

/// Microseconds since the Unix epoch: one clock for every process on the machine.
fn unix_micros() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_micros() as u64
}

/// The most starts in any window of `per` (less `JITTER`), from sorted start times.
fn most_in_a_window(starts: &mut [u64], per: Duration) -> usize {
    starts.sort_unstable();
    let per = (per - JITTER).as_micros() as u64;
    let mut most = 0;
    let mut first = 0;
    for last in 0..starts.len() {
        while starts[last] - starts[first] >= per {
            first += 1;
        }
        most = most.max(last - first + 1);
    }
    most
}

/// The builder of a limiter for the window tests: an outage (a loaded machine
/// answering late) shows as rejections, never as starts over the limit.
fn strict(server: &RedisServer, name: &str) -> steadfast::redis::RedisLimiterBuilder {
    RedisLimiter::builder(client(server), name)
        .on_unavailable(Unavailable::FailClosed)
        .redis_timeout(Duration::from_secs(1))
}

/// Calls `acquire` on `limiter` until `until`, returning the start times.
async fn hammer(limiter: Arc<RedisLimiter>, callers: usize, until: Instant) -> Vec<u64> {
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..callers {
        let limiter = limiter.clone();
        tasks.spawn(async move {
            let mut starts = Vec::new();
            while Instant::now() < until {
                let wait = until.saturating_duration_since(Instant::now());
                match RedisLimiter::acquire(&limiter, Some(wait)).await {
                    Ok(_) => starts.push(unix_micros()),
                    Err(_) => tokio::task::yield_now().await,
                }
            }
            starts
        });
    }
    tasks.join_all().await.concat()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_never_exceed_the_rate_in_any_window() {
    let Some(server) = RedisServer::start() else { return };
    let per = Duration::from_millis(200);
    let build = || strict(&server, "window").rate(20, per).build();
    let (a, b) = (Arc::new(build().await.unwrap()), Arc::new(build().await.unwrap()));
    let until = Instant::now() + Duration::from_millis(900);
    let (mut starts, more) = tokio::join!(hammer(a, 4, until), hammer(b, 4, until));
    starts.extend(more);
    assert_eq!(most_in_a_window(&mut starts, per), 20, "{} starts", starts.len());
    // Not stricter than asked: 900 ms hold four full windows and part of a fifth.
    assert!(starts.len() >= 80, "{} starts in 900 ms", starts.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_with_a_burst_of_one_space_their_starts() {
    let Some(server) = RedisServer::start() else { return };
    let build = || strict(&server, "spaced").rate(50, Duration::from_secs(1)).burst(1).build();
    let (a, b) = (Arc::new(build().await.unwrap()), Arc::new(build().await.unwrap()));
    let until = Instant::now() + Duration::from_millis(400);
    let (mut starts, more) = tokio::join!(hammer(a, 2, until), hammer(b, 2, until));
    starts.extend(more);
    starts.sort_unstable();
    let closest = starts.windows(2).map(|pair| pair[1] - pair[0]).min().unwrap();
    assert!(closest >= (20 * MS - JITTER).as_micros() as u64, "{closest} µs apart");
    // At most one every 20 ms over 400 ms. GCRA banks no unused time beyond the burst,
    // so a caller that comes late (a timer fires up to a millisecond late, a loaded
    // machine answers later) moves the next start on: fewer, never more.
    assert!((12..=21).contains(&starts.len()), "{} starts", starts.len());
}

/// A child replica, killed if the test ends first.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `mode` in a child process (this test binary, as the ignored test `child_replica`).
fn spawn_child(server: &RedisServer, mode: &str) -> Child {
    Child(
        Command::new(std::env::current_exe().unwrap())
            .args(["child_replica", "--exact", "--ignored", "--nocapture", "--test-threads=1"])
            .env(CHILD_URL, server.url())
            .env(CHILD_MODE, mode)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

/// Reads the child's output up to `line` (libtest prints its own lines first).
fn wait_for(lines: &mut impl Iterator<Item = std::io::Result<String>>, line: &str) {
    // libtest prints `test child_replica ... ` before the test's first line.
    let mut read = lines.map_while(Result::ok);
    assert!(read.any(|read| read.ends_with(line)), "the child printed {line}");
}

/// The child replica: `rate` hammers the `processes` limiter for 900 ms and prints its
/// starts; `hold` takes both slots of `killed` and prints `held`, then waits to be
/// killed. Only ever run by the tests above it, as a child process.
#[test]
#[ignore = "a child replica: spawned by the fleet tests"]
fn child_replica() {
    let (Ok(url), Ok(mode)) = (std::env::var(CHILD_URL), std::env::var(CHILD_MODE)) else {
        panic!("run by the fleet tests only, with {CHILD_URL} and {CHILD_MODE}");
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let client = Client::open(url).unwrap();
        match mode.as_str() {
            "rate" => {
                let limiter = RedisLimiter::builder(client, "processes")
                    .rate(20, Duration::from_millis(200))
                    .on_unavailable(Unavailable::FailClosed)
                    .redis_timeout(Duration::from_secs(1))
                    .build()
                    .await
                    .unwrap();
                println!("ready");
                let until = Instant::now() + Duration::from_millis(900);
                for start in hammer(Arc::new(limiter), 4, until).await {
                    println!("start {start}");
                }
            }
            "hold" => {
                let limiter = RedisLimiter::builder(client, "killed")
                    .concurrency(2)
                    .lease(Duration::from_millis(300))
                    .build()
                    .await
                    .unwrap();
                let held = (limiter.acquire(None).await, limiter.acquire(None).await);
                assert!(held.0.as_ref().unwrap().holds_lease() && held.1.is_ok());
                println!("held");
                tokio::time::sleep(Duration::from_secs(30)).await;
                drop(held);
            }
            other => panic!("unknown mode {other}"),
        }
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_never_exceed_the_rate_in_any_window() {
    let Some(server) = RedisServer::start() else { return };
    let per = Duration::from_millis(200);
    let limiter = strict(&server, "processes").rate(20, per).build();
    let limiter = Arc::new(limiter.await.unwrap());
    let mut child = spawn_child(&server, "rate");
    let mut lines = BufReader::new(child.0.stdout.take().unwrap()).lines();
    wait_for(&mut lines, "ready");
    let until = Instant::now() + Duration::from_millis(900);
    let mine = hammer(limiter, 4, until).await;
    let theirs: Vec<u64> = tokio::task::spawn_blocking(move || {
        lines
            .map_while(Result::ok)
            .filter_map(|line| line.strip_prefix("start ").map(|t| t.parse().unwrap()))
            .collect()
    })
    .await
    .unwrap();
    assert!(child.0.wait().unwrap().success());
    assert!(!mine.is_empty() && !theirs.is_empty(), "both processes started calls");
    let mut starts = [mine, theirs].concat();
    assert_eq!(most_in_a_window(&mut starts, per), 20, "{} starts", starts.len());
    assert!(starts.len() >= 80, "{} starts in 900 ms", starts.len());
}

/// A service whose calls take their slots from a fleet-wide limiter.
struct Service {
    fleet: RedisLimiter,
    running: AtomicUsize,
    peak: AtomicUsize,
}

impl Service {
    fn new(fleet: RedisLimiter) -> Self {
        Service { fleet, running: AtomicUsize::new(0), peak: AtomicUsize::new(0) }
    }

    #[limit(using = self.fleet)]
    async fn work(&self, ms: u64, others: &AtomicUsize) {
        let now = self.running.fetch_add(1, Ordering::SeqCst) + others.load(Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(ms)).await;
        self.running.fetch_sub(1, Ordering::SeqCst);
    }

    #[limit(using = self.fleet, wait = 0ms)]
    async fn try_work(&self) -> Result<(), Rejected> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_share_the_concurrency_slots_and_wake_on_release() {
    let Some(server) = RedisServer::start() else { return };
    let build = || RedisLimiter::builder(client(&server), "slots").concurrency(3).build();
    let a = Arc::new(Service::new(build().await.unwrap()));
    let b = Arc::new(Service::new(build().await.unwrap()));
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..12 {
        let (mine, other) =
            if i % 2 == 0 { (a.clone(), b.clone()) } else { (b.clone(), a.clone()) };
        tasks.spawn(async move { mine.work(60, &other.running).await });
    }
    tasks.join_all().await;
    let elapsed = start.elapsed();
    let peak = a.peak.load(Ordering::SeqCst).max(b.peak.load(Ordering::SeqCst));
    assert_eq!(peak, 3, "never more than 3 bodies across both replicas, and 3 at times");
    // 12 bodies of 60 ms, 3 at a time: 4 rounds. Waiters learn of freed slots from
    // pub/sub; polling alone (every 200 ms) would take over 800 ms.
    assert!(elapsed >= 240 * MS && elapsed < 600 * MS, "{elapsed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_shedding_across_replicas() {
    let Some(server) = RedisServer::start() else { return };
    let build = || RedisLimiter::builder(client(&server), "shed").concurrency(2).build();
    let (a, b) = (build().await.unwrap(), Service::new(build().await.unwrap()));
    let held = (a.acquire(None).await.unwrap(), a.acquire(None).await.unwrap());
    let asked = Instant::now();
    let rejected = b.try_work().await.unwrap_err();
    assert!(asked.elapsed() < SLACK, "one round trip: {:?}", asked.elapsed());
    assert_eq!(rejected.limit(), LimitKind::Concurrency(2));
    assert_eq!(rejected.function(), Some("try_work"));
    drop(held);
    // The leases go back in the background: soon, not at once.
    let freed = Instant::now();
    while b.try_work().await.is_err() {
        assert!(freed.elapsed() < 200 * MS, "slots freed by the release");
        tokio::time::sleep(MS).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slots_come_back_after_return_error_panic_and_cancellation() {
    let Some(server) = RedisServer::start() else { return };
    let fleet = RedisLimiter::builder(client(&server), "released").concurrency(1).build();
    let service = Arc::new(Service::new(fleet.await.unwrap()));
    let free_again = |service: Arc<Service>| async move {
        let since = Instant::now();
        loop {
            match service.fleet.acquire(Some(Duration::ZERO)).await {
                Ok(permit) => return drop(permit),
                Err(_) => assert!(since.elapsed() < 300 * MS, "the slot came back"),
            }
            tokio::time::sleep(MS).await;
        }
    };
    // Return.
    service.work(1, &AtomicUsize::new(0)).await;
    free_again(service.clone()).await;
    // Panic.
    let panicking = service.clone();
    let panicked = tokio::spawn(async move {
        let _permit = panicking.fleet.acquire(None).await.unwrap();
        panic!("the body panics");
    });
    assert!(panicked.await.unwrap_err().is_panic());
    free_again(service.clone()).await;
    // Cancellation: the task is aborted while its body runs.
    let running = service.clone();
    let task = tokio::spawn(async move { running.work(10_000, &AtomicUsize::new(0)).await });
    while service.running.load(Ordering::SeqCst) == 0 {
        tokio::time::sleep(MS).await;
    }
    assert!(service.try_work().await.is_err(), "held by the running body");
    task.abort();
    let _ = task.await;
    free_again(service).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_replica_frees_its_slots_when_its_leases_expire() {
    let Some(server) = RedisServer::start() else { return };
    let fleet = RedisLimiter::builder(client(&server), "killed")
        .concurrency(2)
        .lease(Duration::from_millis(300))
        .build()
        .await
        .unwrap();
    let mut child = spawn_child(&server, "hold");
    let mut lines = BufReader::new(child.0.stdout.take().unwrap()).lines();
    wait_for(&mut lines, "held");
    // Longer than a lease: the child renews its leases while it holds them.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(fleet.acquire(Some(Duration::ZERO)).await.is_err(), "renewed, still held");
    child.0.kill().unwrap(); // SIGKILL: nothing is given back
    child.0.wait().unwrap();
    let killed = Instant::now();
    assert!(fleet.acquire(Some(Duration::ZERO)).await.is_err(), "held until the leases expire");
    let permit = fleet.acquire(Some(Duration::from_secs(2))).await.unwrap();
    let freed = killed.elapsed();
    // At most a lease after the last renewal (every 100 ms), and the waiter asks again
    // when the first lease expires.
    assert!(freed <= 350 * MS, "freed {freed:?} after the kill");
    assert!(permit.holds_lease());
}

/// A limiter that Redis refuses at its second call (one start per 10 s), with this
/// policy.
async fn one_per_ten_seconds(
    server: &RedisServer,
    name: &str,
    policy: Unavailable,
) -> RedisLimiter {
    RedisLimiter::builder(client(server), name)
        .rate(1, Duration::from_secs(10))
        .on_unavailable(policy)
        .redis_timeout(Duration::from_millis(50))
        .build()
        .await
        .unwrap()
}

/// Waits until `limiter` is back on Redis after a restart (without being rebuilt), and
/// returns Redis's first answer.
async fn until_recovered(
    limiter: &RedisLimiter,
) -> Result<steadfast::redis::RedisPermit<'_>, Rejected> {
    let since = Instant::now();
    loop {
        let permit = limiter.acquire(Some(Duration::ZERO)).await;
        if limiter.redis_available() {
            return permit;
        }
        assert!(since.elapsed() < Duration::from_secs(2), "recovered within 2 s");
        tokio::time::sleep(10 * MS).await;
    }
}

#[tokio::test(flavor = "current_thread")]
async fn redis_killed_fail_open_runs_calls_with_one_error_event_then_recovers() {
    let Some(mut server) = RedisServer::start() else { return };
    let capture = Capture::start();
    let fleet = one_per_ten_seconds(&server, "open", Unavailable::FailOpen).await;
    drop(fleet.acquire(None).await.unwrap());
    assert!(fleet.acquire(Some(Duration::ZERO)).await.is_err(), "Redis enforces the rate");
    server.kill();
    for _ in 0..20 {
        let asked = Instant::now();
        let permit = fleet.acquire(Some(Duration::ZERO)).await.unwrap();
        assert!(asked.elapsed() <= 50 * MS + SLACK, "within redis_timeout: {:?}", asked.elapsed());
        assert!(!permit.holds_lease() && !permit.is_local());
    }
    assert!(!fleet.redis_available());
    let errors: Vec<_> = capture
        .steadfast()
        .into_iter()
        .filter(|event| event.level == tracing::Level::ERROR)
        .collect();
    assert_eq!(errors.len(), 1, "one event per outage: {errors:?}");
    assert_eq!(errors[0].field("limiter"), Some("open"));
    assert_eq!(errors[0].field("policy"), Some("fail open"));
    assert!(!format!("{errors:?}").contains("redis://"), "never the URL");

    server.restart();
    drop(until_recovered(&fleet).await.expect("the restarted Redis is empty: a start is free"));
    assert!(fleet.acquire(Some(Duration::ZERO)).await.is_err(), "the limit is back");
    let infos = capture.steadfast().into_iter().filter(|e| e.level == tracing::Level::INFO);
    assert_eq!(infos.count(), 1, "one event for the recovery");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_killed_fail_closed_rejects_naming_redis_then_recovers() {
    let Some(mut server) = RedisServer::start() else { return };
    let fleet = one_per_ten_seconds(&server, "closed", Unavailable::FailClosed).await;
    server.kill();
    let asked = Instant::now();
    let rejected = fleet.acquire(Some(Duration::from_secs(1))).await.unwrap_err();
    assert!(asked.elapsed() <= 50 * MS + SLACK, "within redis_timeout: {:?}", asked.elapsed());
    assert_eq!(rejected.limit(), LimitKind::Unavailable("closed"));
    assert_eq!(
        rejected.to_string(),
        format!(
            "rejected by the fleet limit `closed` (Redis unavailable) after waiting {:?}",
            rejected.waited()
        )
    );
    // Without a wait budget, a closed call waits for Redis instead of running.
    let waiting = tokio::spawn(async move {
        let permit = fleet.acquire(None).await.map(drop);
        (permit, fleet)
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!waiting.is_finished());
    server.restart();
    let (admitted, fleet) = waiting.await.unwrap();
    admitted.unwrap();
    assert!(fleet.redis_available());
    let refused = fleet.acquire(Some(Duration::ZERO)).await.unwrap_err();
    assert!(matches!(refused.limit(), LimitKind::Rate { starts: 1, .. }), "{refused}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_paused_answers_too_late_so_the_local_limiter_takes_over() {
    let Some(server) = RedisServer::start() else { return };
    let local = Limiter::rate(2, Duration::from_secs(10));
    let fleet = one_per_ten_seconds(&server, "local", Unavailable::Local(local)).await;
    server.pause(); // SIGSTOP: connected, no answer
    for _ in 0..2 {
        let asked = Instant::now();
        let permit = fleet.acquire(Some(Duration::ZERO)).await.unwrap();
        assert!(asked.elapsed() <= 50 * MS + SLACK, "within redis_timeout: {:?}", asked.elapsed());
        assert!(permit.is_local());
    }
    let asked = Instant::now();
    let refused = fleet.acquire(Some(Duration::from_millis(100))).await.unwrap_err();
    assert!(asked.elapsed() <= 150 * MS + SLACK, "redis_timeout + wait: {:?}", asked.elapsed());
    assert_eq!(refused.limit(), LimitKind::Rate { starts: 2, per: Duration::from_secs(10) });
    server.resume();
    // The calls that timed out were still queued, and the first took the start once
    // Redis went on: Redis's own refusal (1 per 10 s) shows that it decides again.
    let refused = until_recovered(&fleet).await.unwrap_err();
    assert_eq!(refused.limit(), LimitKind::Rate { starts: 1, per: Duration::from_secs(10) });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn build_succeeds_while_redis_is_down() {
    let Some(mut server) = RedisServer::start() else { return };
    server.kill();
    let started = Instant::now();
    let fleet = RedisLimiter::builder(client(&server), "late")
        .concurrency(1)
        .on_unavailable(Unavailable::FailClosed)
        .build()
        .await
        .unwrap();
    assert!(started.elapsed() <= 50 * MS + SLACK, "build waits redis_timeout at most");
    assert!(!fleet.redis_available());
    assert!(fleet.acquire(Some(Duration::ZERO)).await.is_err());
    server.restart();
    let permit = until_recovered(&fleet).await.expect("the restarted Redis is empty");
    assert!(permit.holds_lease());
}

/// A fleet-wide keyed limit through the attribute, shedding load (`wait = 0ms`).
#[steadfast::limit(using = limiter, key = tenant, wait = 0ms)]
async fn call(limiter: &RedisLimiter, tenant: &'static str) -> Result<(), Rejected> {
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyed_limits_hold_fleet_wide() {
    let Some(server) = RedisServer::start() else { return };
    let build = || {
        RedisLimiter::builder(client(&server), "tenants").rate(2, Duration::from_secs(10)).build()
    };
    let (a, b) = (build().await.unwrap(), build().await.unwrap());
    call(&a, "acme").await.unwrap();
    call(&b, "acme").await.unwrap();
    let rejected = call(&a, "acme").await.unwrap_err();
    assert_eq!(rejected.limit(), LimitKind::Rate { starts: 2, per: Duration::from_secs(10) });
    assert!(call(&b, "acme").await.is_err(), "the other replica sees the same key");
    call(&b, "globex").await.unwrap(); // another key: its own window
    let seven = <RedisLimiter as KeyedLimit<u64>>::acquire(&a, 7, Some(Duration::ZERO)).await;
    assert!(seven.is_ok(), "keys of any `Display` type");
    // The key's Redis state lives under the limiter's hash tag and expires once idle.
    let ttl = server.command("PTTL {steadfast:tenants}:r:acme");
    let ttl: i64 = ttl.trim_start_matches(':').trim().parse().unwrap();
    assert!(ttl > 9_000 && ttl <= 10_001, "expires a window after its last start: {ttl} ms");
    assert!(Limit::acquire(&a, Some(Duration::ZERO)).await.is_ok(), "no key: its own limit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_script_is_loaded_again_after_noscript() {
    let Some(server) = RedisServer::start() else { return };
    let fleet = RedisLimiter::builder(client(&server), "flushed")
        .rate(100, Duration::from_secs(1))
        .build()
        .await
        .unwrap();
    drop(fleet.acquire(None).await.unwrap());
    assert!(server.command("SCRIPT FLUSH").starts_with("+OK"));
    let permit = fleet.acquire(Some(Duration::ZERO)).await;
    assert!(permit.is_ok() && fleet.redis_available(), "NOSCRIPT: loaded and run again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_limits_are_errors() {
    let client = Client::open("redis://127.0.0.1:1/").unwrap();
    let err = RedisLimiter::builder(client.clone(), "bad").concurrency(0).build().await;
    assert_eq!(
        err.unwrap_err().to_string(),
        "invalid limit: a concurrency limit must allow at least 1"
    );
    let err = RedisLimiter::builder(client.clone(), "bad").rate(2, Duration::from_secs(1)).burst(3);
    assert!(err.build().await.is_err());
    let err = RedisLimiter::builder(client, "bad").burst(1).build().await.unwrap_err();
    assert_eq!(err.to_string(), "invalid limit: a burst needs a rate limit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyed_calls_fall_back_on_a_local_limiter_per_key() {
    let Some(mut server) = RedisServer::start() else { return };
    let local = Limiter::rate(1, Duration::from_secs(10));
    let fleet = RedisLimiter::builder(client(&server), "tenants-local")
        .rate(5, Duration::from_secs(10))
        .on_unavailable(Unavailable::Local(local))
        .build()
        .await
        .unwrap();
    server.kill();
    call(&fleet, "acme").await.unwrap();
    let refused = call(&fleet, "acme").await.unwrap_err();
    assert_eq!(refused.limit(), LimitKind::Rate { starts: 1, per: Duration::from_secs(10) });
    call(&fleet, "globex").await.unwrap(); // its own local limiter
    let permit = fleet.acquire_key("initech", Some(Duration::ZERO)).await.unwrap();
    assert!(permit.is_local());
}

#[tokio::test(flavor = "current_thread")]
async fn too_short_timings_are_clamped_with_an_error_event() {
    let capture = Capture::start();
    let client = Client::open("redis://127.0.0.1:1/").unwrap();
    let fleet = RedisLimiter::builder(client, "hasty")
        .lease(Duration::ZERO)
        .redis_timeout(Duration::from_micros(10))
        .build()
        .await
        .unwrap();
    assert_eq!((fleet.lease(), fleet.redis_timeout()), (3 * MS, 3 * MS));
    let errors: Vec<_> = capture
        .steadfast()
        .into_iter()
        .filter(|event| event.level == tracing::Level::ERROR)
        .filter_map(|event| event.field("message").map(str::to_owned))
        .collect();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(errors[0].contains("`redis_timeout` is too short"), "{errors:?}");
    assert!(errors[1].contains("`lease` is too short"), "{errors:?}");
    assert_eq!(fleet.to_string(), "fleet limit `hasty`: no limit");
    // No limit: every call is admitted, without asking Redis (which is not there).
    assert!(fleet.acquire(Some(Duration::ZERO)).await.is_ok());
}

#[tokio::test(flavor = "current_thread")]
async fn a_limiter_names_itself_and_its_limits_never_the_url() {
    let client = Client::open("redis://user:secret@127.0.0.1:1/").unwrap();
    let fleet = RedisLimiter::builder(client, "payments")
        .concurrency(3)
        .rate(10, Duration::from_secs(1))
        .burst(2)
        .redis_timeout(5 * MS)
        .build()
        .await
        .unwrap();
    let shown = fleet.to_string();
    assert_eq!(
        shown,
        "fleet limit `payments`: concurrency limit of 3 and rate limit of 10 per 1s, burst 2"
    );
    assert!(!format!("{fleet:?}").contains("secret"));
    assert_eq!(fleet.name(), "payments");
    assert_eq!(fleet.concurrency_limit(), Some(3));
    assert_eq!(fleet.rate_limit(), Some((10, Duration::from_secs(1))));
    assert_eq!(fleet.burst_limit(), Some(2));
}
