// `budget` names a shared `RetryBudget`.
use steadfast::{Breaker, retry};

static RETRIES: Breaker = Breaker::new();

#[retry(budget = RETRIES)]
async fn a() -> Result<(), std::io::Error> {
    Ok(())
}

#[retry(budget = 20)]
async fn b() -> Result<(), std::io::Error> {
    Ok(())
}

fn main() {}
