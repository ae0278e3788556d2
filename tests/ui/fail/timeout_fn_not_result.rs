// `steadfast::timeout` returns the timeout inside the future's `Result`; a future of
// anything else is told to use `steadfast::deadline`.
use std::time::Duration;

async fn next() -> Option<u32> {
    Some(1)
}

async fn run() {
    let _ = steadfast::timeout(Duration::from_secs(1), next()).await;
    // What the hint points to:
    let _: Result<Option<u32>, steadfast::TimedOut> =
        steadfast::deadline(Duration::from_secs(1), next()).await;
}

fn main() {
    let _ = run();
}
