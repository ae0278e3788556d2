//! A fleet-wide limit in Redis against the raw round trip to the same local server, in
//! one run: `PING`, `EVALSHA` of a trivial script (`return 1`), and
//! `RedisLimiter::acquire` (a rate limit that admits every call, as a sliding window
//! and with a burst (GCRA); a concurrency limit
//! whose lease is given back in the background), one caller at a time for the latency
//! (p50, p99) and 16 callers at once for the throughput. Starts its own redis-server
//! on a free port (persistence off).
//!
//! ```sh
//! cargo bench -p steadfast-benches --bench redis
//! ```

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use redis::aio::ConnectionManager;
use steadfast::redis::{Client, RedisLimiter};

const SEQUENTIAL: usize = 20_000;
const CONCURRENT_TASKS: usize = 16;
const CONCURRENT_PER_TASK: usize = 5_000;

struct Server(Child, u16);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_server() -> Server {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .stdout(Stdio::null())
        .spawn()
        .expect("redis-server (scripts/install-tools.sh installs it)");
    // Killed and waited for on drop, whatever happens next.
    let server = Server(child, port);
    for _ in 0..1000 {
        if let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) {
            let mut reply = [0; 7];
            if stream.write_all(b"PING\r\n").is_ok() && stream.read_exact(&mut reply).is_ok() {
                return server;
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    panic!("redis-server did not answer");
}

/// What one variant measures: one operation against Redis.
#[derive(Clone)]
enum Op {
    Ping(ConnectionManager),
    EvalSha(ConnectionManager, Arc<redis::Script>),
    Limiter(Arc<RedisLimiter>),
}

impl Op {
    async fn run(&mut self) {
        match self {
            Op::Ping(conn) => {
                let _: String = redis::cmd("PING").query_async(conn).await.unwrap();
            }
            Op::EvalSha(conn, script) => {
                let _: i64 = script.invoke_async(conn).await.unwrap();
            }
            Op::Limiter(limiter) => {
                let permit = limiter.acquire(Some(Duration::ZERO)).await.unwrap();
                drop(std::hint::black_box(permit));
            }
        }
    }
}

struct Measured {
    p50: Duration,
    p99: Duration,
    per_second: f64,
}

async fn measure(op: &Op) -> Measured {
    let mut one = op.clone();
    for _ in 0..1_000 {
        one.run().await; // warm up
    }
    let mut latencies = Vec::with_capacity(SEQUENTIAL);
    for _ in 0..SEQUENTIAL {
        let start = Instant::now();
        one.run().await;
        latencies.push(start.elapsed());
    }
    latencies.sort_unstable();
    let start = Instant::now();
    let tasks: Vec<_> = (0..CONCURRENT_TASKS)
        .map(|_| {
            let mut op = op.clone();
            tokio::spawn(async move {
                for _ in 0..CONCURRENT_PER_TASK {
                    op.run().await;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let calls = (CONCURRENT_TASKS * CONCURRENT_PER_TASK) as f64;
    Measured {
        p50: latencies[SEQUENTIAL / 2],
        p99: latencies[SEQUENTIAL * 99 / 100],
        per_second: calls / start.elapsed().as_secs_f64(),
    }
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` would pass nothing to run.
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let server = start_server();
    let url = format!("redis://127.0.0.1:{}/", server.1);
    runtime.block_on(async {
        let conn = ConnectionManager::new(Client::open(url.as_str()).unwrap()).await.unwrap();
        let trivial = Arc::new(redis::Script::new("return 1"));
        let rate = RedisLimiter::builder(Client::open(url.as_str()).unwrap(), "bench-rate")
            .rate(u32::MAX, Duration::from_secs(1))
            .redis_timeout(Duration::from_secs(1))
            .build()
            .await
            .unwrap();
        let spaced = RedisLimiter::builder(Client::open(url.as_str()).unwrap(), "bench-gcra")
            .rate(u32::MAX, Duration::from_secs(1))
            .burst(u32::MAX)
            .redis_timeout(Duration::from_secs(1))
            .build()
            .await
            .unwrap();
        let slots = RedisLimiter::builder(Client::open(url.as_str()).unwrap(), "bench-slots")
            .concurrency(1_000_000)
            .redis_timeout(Duration::from_secs(1))
            .build()
            .await
            .unwrap();
        let variants = [
            ("PING", Op::Ping(conn.clone())),
            ("EVALSHA `return 1`", Op::EvalSha(conn.clone(), trivial)),
            ("RedisLimiter, rate", Op::Limiter(Arc::new(rate))),
            ("RedisLimiter, rate with burst (GCRA)", Op::Limiter(Arc::new(spaced))),
            ("RedisLimiter, concurrency (lease)", Op::Limiter(Arc::new(slots))),
        ];
        let mut evalsha = None;
        println!(
            "{:<36} {:>9} {:>9} {:>12} {:>14}",
            "one call", "p50", "p99", "calls/s x16", "p50 / EVALSHA"
        );
        for (name, op) in &variants {
            let measured = measure(op).await;
            if matches!(op, Op::EvalSha(..)) {
                evalsha = Some(measured.p50);
            }
            let ratio = evalsha.map_or(String::from("-"), |base| {
                format!("{:.2}x", measured.p50.as_secs_f64() / base.as_secs_f64())
            });
            println!(
                "{name:<36} {:>9.1?} {:>9.1?} {:>12.0} {ratio:>14}",
                measured.p50, measured.p99, measured.per_second
            );
        }
    });
}
