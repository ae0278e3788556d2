// Each argument may appear once.
use steadfast::retry;

#[retry(attempts = 3, delay = 1s, attempts = 5)]
async fn a() -> std::io::Result<()> {
    Ok(())
}

fn main() {}
