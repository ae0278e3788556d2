// Exponential delays never shrink.
use steadfast::retry;

#[retry(factor = 0.5)]
async fn a() -> std::io::Result<()> {
    Ok(())
}

fn main() {}
