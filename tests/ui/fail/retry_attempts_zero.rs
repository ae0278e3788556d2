// `attempts` counts the first attempt: 0 would never run the body.
use steadfast::retry;

#[retry(attempts = 0)]
async fn a() -> std::io::Result<()> {
    Ok(())
}

fn main() {}
