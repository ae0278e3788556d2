//! The core of `cargo run --example fleet`: three replicas of a service (tasks here,
//! processes or machines in production) share one quota kept in Redis, through
//! `#[limit(using = self.fleet)]` on a `RedisLimiter`.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use steadfast::limit;
use steadfast::redis::{Client, RedisLimiter, Unavailable};
use tokio::time::Instant;

/// A replica of the service: its own Redis client and limiter, the same limiter name.
pub struct Replica {
    fleet: RedisLimiter,
    /// Calls started by this replica.
    pub starts: AtomicU64,
}

impl Replica {
    /// Builds a replica's limiter: `rate` starts per second for the whole fleet.
    pub async fn new(url: &str, rate: u32) -> Result<Replica, Box<dyn std::error::Error>> {
        let fleet = RedisLimiter::builder(Client::open(url)?, "partner-api")
            .rate(rate, Duration::from_secs(1))
            // While Redis is down each replica keeps to a third of the quota.
            .on_unavailable(Unavailable::Local(steadfast::Limiter::try_new(
                None,
                Some((rate.div_ceil(3), Duration::from_secs(1))),
            )?))
            .build()
            .await?;
        Ok(Replica { fleet, starts: AtomicU64::new(0) })
    }

    /// A call to the partner's API, within the fleet's quota.
    #[limit(using = self.fleet)]
    pub async fn call_partner(&self) {
        self.starts.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// What each replica started, over how long.
#[derive(Debug)]
pub struct Report {
    /// Starts per replica.
    pub starts: Vec<u64>,
    /// How long the replicas ran.
    pub elapsed: Duration,
}

impl Report {
    /// Starts of the whole fleet.
    pub fn total(&self) -> u64 {
        self.starts.iter().sum()
    }

    /// Starts per second of `starts`.
    pub fn per_second(&self, starts: u64) -> f64 {
        starts as f64 / self.elapsed.as_secs_f64()
    }
}

/// Runs `replicas` replicas, each with 4 callers as fast as the limit lets them, for
/// `run_for`, against the Redis at `url`, under one quota of `rate` per second.
pub async fn run(
    url: &str,
    replicas: usize,
    rate: u32,
    run_for: Duration,
) -> Result<Report, Box<dyn std::error::Error>> {
    let mut fleet = Vec::new();
    for _ in 0..replicas {
        fleet.push(Arc::new(Replica::new(url, rate).await?));
    }
    let start = Instant::now();
    let until = start + run_for;
    let mut tasks = tokio::task::JoinSet::new();
    for replica in &fleet {
        for _ in 0..4 {
            let replica = replica.clone();
            tasks.spawn(async move {
                // The last call may start at `until` and finish a little later.
                while Instant::now() < until {
                    tokio::select! {
                        () = replica.call_partner() => {}
                        () = tokio::time::sleep_until(until) => {}
                    }
                }
            });
        }
    }
    tasks.join_all().await;
    let starts = fleet.iter().map(|replica| replica.starts.load(Ordering::Relaxed)).collect();
    Ok(Report { starts, elapsed: start.elapsed() })
}

/// A `redis-server` of the example's own on a free port of 127.0.0.1, persistence
/// off, killed when dropped.
pub struct LocalRedis {
    child: Child,
    port: u16,
}

impl LocalRedis {
    /// Starts `redis-server` (Debian's package: `apt-get install redis-server`) and
    /// waits until it answers.
    pub fn start() -> std::io::Result<LocalRedis> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let redis = LocalRedis { child, port };
        for _ in 0..1000 {
            if redis.answers() {
                return Ok(redis);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        Err(std::io::Error::other("redis-server did not answer within 5 s"))
    }

    /// The URL to give `Client::open`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    fn answers(&self) -> bool {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) else { return false };
        let mut reply = [0; 7];
        stream.write_all(b"PING\r\n").is_ok()
            && stream.read_exact(&mut reply).is_ok()
            && &reply == b"+PONG\r\n"
    }
}

impl Drop for LocalRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether `redis-server` is installed.
pub fn redis_installed() -> bool {
    Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}
