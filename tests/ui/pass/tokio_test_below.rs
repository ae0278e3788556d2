// Steadfast attributes above `#[tokio::test]` / `#[tokio::main]`.
use steadfast::{retry, timeout};

#[timeout(1s)]
#[retry(attempts = 2)]
#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    Ok(())
}
