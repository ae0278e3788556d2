//! The core of `cargo run --example nginx`: `#[limit]` against a real rate limiter,
//! nginx's `limit_req` (10 requests per second, a leaky bucket), to show which form of
//! the attribute a server's limit lets through.
//!
//! `scripts/nginx-limit-req.sh` starts Debian's nginx on two free ports of 127.0.0.1,
//! one without a burst and one with `burst=10 nodelay`; this module starts it, sends 50
//! concurrent calls through each form of `#[limit]` to each server, and counts the 429s.
//! The client is a few lines of HTTP/1.1 over a `TcpStream`.

use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use steadfast::limit;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The sliding window: at most 10 starts in any second, so 10 start at once. One
/// window per server (the key), so both servers can be measured at once.
#[limit(rate = 10, per = 1s, key = port)]
pub async fn window(port: u16) -> io::Result<u16> {
    get(port, "/window").await
}

/// GCRA: at most one start at once, then one every 100 ms — nginx's own algorithm.
#[limit(rate = 10, per = 1s, burst = 1, key = port)]
pub async fn spaced(port: u16) -> io::Result<u16> {
    get(port, "/spaced").await
}

/// `GET path` on `127.0.0.1:port`, one connection per request; the status code.
pub async fn get(port: u16, path: &str) -> io::Result<u16> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await?;
    // "HTTP/1.1 429 Too Many Requests": the second word.
    let status = std::str::from_utf8(&response)
        .ok()
        .and_then(|text| text.split_whitespace().nth(1))
        .and_then(|code| code.parse().ok());
    status.ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "not an HTTP response"))
}

/// How one form of the attribute fared against one server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Outcome {
    /// 200 OK.
    pub passed: usize,
    /// 429 Too Many Requests.
    pub too_many: usize,
    /// Anything else: another status or an I/O error.
    pub failed: usize,
    /// From the first call to the last answer.
    pub elapsed: Duration,
}

/// Each form against each server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Report {
    pub window_vs_no_burst: Outcome,
    pub spaced_vs_no_burst: Outcome,
    pub window_vs_burst: Outcome,
    pub spaced_vs_burst: Outcome,
}

/// The nginx that `scripts/nginx-limit-req.sh` runs, killed (and its directory removed)
/// when dropped.
pub struct Nginx {
    process: Child,
    dir: PathBuf,
    /// Configured with `limit_req zone=.. rate=10r/s` and no burst.
    pub no_burst: u16,
    /// Configured with `limit_req zone=.. rate=10r/s burst=10 nodelay`.
    pub burst: u16,
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/nginx-limit-req.sh")
}

impl Nginx {
    /// Whether nginx is installed (the script finds it).
    pub fn installed() -> bool {
        Command::new(script())
            .arg("--check")
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    }

    /// Starts nginx on two free ports, in a new temporary directory, and waits until it
    /// answers.
    pub async fn start() -> io::Result<Nginx> {
        let mut last = None;
        // A port the script found free may be taken before nginx binds it: try again.
        for attempt in 0..5 {
            let dir = std::env::temp_dir().join(format!(
                "steadfast-nginx-{}-{attempt}-{}",
                std::process::id(),
                nanos()
            ));
            match Self::start_in(dir).await {
                Ok(nginx) => return Ok(nginx),
                Err(error) => last = Some(error),
            }
        }
        Err(last.unwrap_or_else(|| io::Error::other("nginx did not start")))
    }

    async fn start_in(dir: PathBuf) -> io::Result<Nginx> {
        std::fs::create_dir_all(&dir)?;
        let mut process = Command::new(script())
            .arg(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        // The first line names the ports; then the script is nginx.
        let mut stdout = process.stdout.take().ok_or_else(|| io::Error::other("no stdout"))?;
        let line = tokio::task::spawn_blocking(move || {
            use std::io::Read;
            let (mut line, mut byte) = (Vec::new(), [0]);
            while stdout.read(&mut byte)? == 1 && byte[0] != b'\n' {
                line.push(byte[0]);
            }
            io::Result::Ok(String::from_utf8_lossy(&line).into_owned())
        })
        .await??;
        let ports: Vec<u16> = line.split_whitespace().filter_map(|p| p.parse().ok()).collect();
        let [no_burst, burst] = ports[..] else {
            let _ = process.kill();
            let _ = process.wait();
            return Err(io::Error::other(format!("the script printed {line:?}, not two ports")));
        };
        let nginx = Nginx { process, dir, no_burst, burst };
        for _ in 0..200 {
            if TcpStream::connect(("127.0.0.1", no_burst)).await.is_ok()
                && TcpStream::connect(("127.0.0.1", burst)).await.is_ok()
            {
                return Ok(nginx);
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Err(io::Error::other("nginx did not listen within 2 s"))
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // One process (`master_process off`): killing it leaves nothing behind.
        let _ = self.process.kill();
        let _ = self.process.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos()
}

/// `calls` concurrent calls of `call`, all spawned at once; what they got.
async fn measure<F, Fut>(calls: usize, call: F) -> Outcome
where
    F: Fn() -> Fut,
    Fut: Future<Output = io::Result<u16>> + Send + 'static,
{
    let started = tokio::time::Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..calls {
        tasks.spawn(call());
    }
    let mut outcome = Outcome::default();
    for status in tasks.join_all().await {
        match status {
            Ok(200) => outcome.passed += 1,
            Ok(429) => outcome.too_many += 1,
            _ => outcome.failed += 1,
        }
    }
    outcome.elapsed = started.elapsed();
    outcome
}

/// Starts nginx and sends `calls` concurrent calls through each form to each server,
/// the four runs at once (each has its own nginx zone and its own key of the limiter).
pub async fn run(calls: usize) -> io::Result<Report> {
    let nginx = Nginx::start().await?;
    let (no_burst, burst) = (nginx.no_burst, nginx.burst);
    let (window_vs_no_burst, spaced_vs_no_burst, window_vs_burst, spaced_vs_burst) = tokio::join!(
        measure(calls, || window(no_burst)),
        measure(calls, || spaced(no_burst)),
        measure(calls, || window(burst)),
        measure(calls, || spaced(burst)),
    );
    drop(nginx);
    Ok(Report { window_vs_no_burst, spaced_vs_no_burst, window_vs_burst, spaced_vs_burst })
}
