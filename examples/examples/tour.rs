//! A tour of steadfast: `cargo run --example tour`.
//!
//! A small in-process "inventory service" that fails and stalls on a fixed schedule,
//! and client functions that carry the attributes. The tracing output shows each
//! retry with its delay, each timeout and the error boundary's log.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use steadfast::{TimedOut, error_boundary, retry, timeout};

#[derive(Debug)]
enum InventoryError {
    Unavailable,
    NotFound(u32),
    TimedOut(TimedOut),
}

impl std::fmt::Display for InventoryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InventoryError::Unavailable => f.write_str("service unavailable (503)"),
            InventoryError::NotFound(id) => write!(f, "item {id} not found (404)"),
            InventoryError::TimedOut(t) => write!(f, "{t}"),
        }
    }
}

impl std::error::Error for InventoryError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            InventoryError::TimedOut(t) => Some(t),
            _ => None,
        }
    }
}

impl From<TimedOut> for InventoryError {
    fn from(t: TimedOut) -> Self {
        InventoryError::TimedOut(t)
    }
}

impl InventoryError {
    fn is_transient(&self) -> bool {
        !matches!(self, InventoryError::NotFound(_))
    }
}

/// The fake service: the first two calls fail, every fifth call stalls for 2 s.
static CALLS: AtomicU32 = AtomicU32::new(0);

async fn service(id: u32) -> Result<u32, InventoryError> {
    let n = CALLS.fetch_add(1, Ordering::SeqCst) + 1;
    tokio::time::sleep(Duration::from_millis(20)).await;
    match (n, id) {
        (1 | 2, _) => Err(InventoryError::Unavailable),
        (n, _) if n % 5 == 0 => {
            tokio::time::sleep(Duration::from_secs(2)).await;
            Ok(id * 10)
        }
        (_, 0) => Err(InventoryError::NotFound(id)),
        _ => Ok(id * 10),
    }
}

/// Retries transient errors with exponential backoff; each attempt gets 300 ms.
#[error_boundary("checking stock")]
#[retry(attempts = 4, delay = 100ms, jitter = 0, when = InventoryError::is_transient)]
#[timeout(300ms)]
async fn stock(id: u32) -> Result<u32, InventoryError> {
    service(id).await
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt().with_target(true).with_max_level(tracing::Level::INFO).init();
    let started = tokio::time::Instant::now();
    for id in [7, 8, 0, 9, 11] {
        match stock(id).await {
            Ok(count) => println!("stock({id}) = {count}"),
            Err(e) => println!("stock({id}) failed: {e}"),
        }
    }
    println!("{} service calls in {:.1?}", CALLS.load(Ordering::SeqCst), started.elapsed());
}
