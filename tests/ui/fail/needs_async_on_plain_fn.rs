// `#[retry]` and `#[error_boundary]` also wrap a plain `fn`; `#[timeout]` and
// `#[limit]` need an `async fn`, and say so even under a `#[retry]`.
use steadfast::{limit, retry};

#[retry]
#[steadfast::timeout(1s)]
fn timed() -> std::io::Result<()> {
    Ok(())
}

#[limit(concurrency = 1)]
fn limited() -> std::io::Result<()> {
    Ok(())
}

fn main() {}
