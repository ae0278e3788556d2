// Every bad argument is reported in one pass, each at its own token.
use steadfast::retry;

#[retry(attempts = 0, factor = 0.1, jitter = -1, backoff = quadratic, delay = 5)]
async fn a() -> std::io::Result<()> {
    Ok(())
}

fn main() {}
