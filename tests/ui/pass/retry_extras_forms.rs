// The arguments of issue 11, `#[retry]`/`#[error_boundary]` on plain `fn`s, and every
// attribute on `#[async_trait]` methods.
use std::time::Duration;

use steadfast::{RetryInfo, error_boundary, limit, retry, timeout};

#[derive(Debug)]
struct E;
impl std::fmt::Display for E {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("e")
    }
}
impl From<steadfast::TimedOut> for E {
    fn from(_: steadfast::TimedOut) -> Self {
        E
    }
}

fn hook(_: &E, _: &RetryInfo) {}

#[retry(on_retry = hook, backoff = fibonacci, jitter = full, level = info, max_retry_after = 30s, attempt = n)]
async fn a() -> Result<u32, E> { Ok(n) }
#[retry(schedule = [Duration::from_millis(1)], jitter = equal, level = off, on_retry = |_, _| {})]
async fn b() -> Result<(), E> { Ok(()) }
#[retry(schedule = (1..4).map(Duration::from_secs), max_delay = 2s, attempts = 3)]
async fn c() -> Result<(), E> { Ok(()) }

#[error_boundary]
#[retry(attempts = 2, attempt = k)]
fn blocking(mut name: String, buf: &mut Vec<u8>) -> Result<u32, E> {
    name.push('x');
    buf.push(1);
    Ok(k)
}

#[async_trait::async_trait]
trait Store {
    async fn get(&self, key: &str) -> Result<String, E>;
}

struct Memory;

#[async_trait::async_trait]
impl Store for Memory {
    #[error_boundary]
    #[retry(attempts = 2)]
    #[timeout(1s)]
    #[limit(concurrency = 1)]
    async fn get(&self, key: &str) -> Result<String, E> {
        Ok(key.to_owned())
    }
}

fn main() {
    let _ = (a(), b(), c());
    let _ = blocking(String::new(), &mut Vec::new());
    let _ = Memory.get("k");
}
