// `#[retry]` and `#[error_boundary]` also wrap a plain `fn` (not a `const fn`);
// `#[timeout]` and `#[limit]` need an `async fn`, and say so even under a `#[retry]`.
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

// A `const fn` cannot sleep or log.
#[retry]
const fn constant() -> Result<(), ()> {
    Ok(())
}

fn main() {}
