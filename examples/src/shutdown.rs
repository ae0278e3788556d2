//! The core of `cargo run --example shutdown`: a retrying job stops the moment its task
//! is cancelled (Ctrl-C, or a `CancellationToken`): nothing keeps retrying in the
//! background.

use std::sync::atomic::{AtomicUsize, Ordering};

use steadfast::retry;
use tokio_util::sync::CancellationToken;

/// The sync job's error.
#[derive(Debug)]
pub struct Unreachable;

impl std::fmt::Display for Unreachable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("upstream unreachable")
    }
}

/// Tries to sync with an upstream that never answers, every 200 ms, 100 times.
#[retry(attempts = 100, delay = 200ms, backoff = constant, jitter = 0)]
pub async fn sync(attempts: &AtomicUsize) -> Result<(), Unreachable> {
    attempts.fetch_add(1, Ordering::SeqCst);
    Err(Unreachable)
}

/// How the job ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Ended {
    /// Cancelled: the retry loop was dropped where it stood.
    Cancelled,
    /// All attempts failed.
    GaveUp,
    /// The upstream answered after all.
    Synced,
}

/// Runs the job until it ends or `token` is cancelled.
pub async fn run(token: CancellationToken, attempts: &AtomicUsize) -> Ended {
    tokio::select! {
        () = token.cancelled() => Ended::Cancelled,
        result = sync(attempts) => match result {
            Ok(()) => Ended::Synced,
            Err(_) => Ended::GaveUp,
        },
    }
}
