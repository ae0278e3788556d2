// Jitter is a fraction of the delay, between 0 and 1.
use steadfast::retry;

#[retry(jitter = 1.5)]
async fn a() -> std::io::Result<()> {
    Ok(())
}

#[retry(jitter = 2)]
async fn b() -> std::io::Result<()> {
    Ok(())
}

fn main() {}
