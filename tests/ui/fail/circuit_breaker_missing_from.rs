// An open breaker returns `Err(E::from(CircuitOpen))`; the function must return a
// `Result`, and `using` must name a `Breaker`.
use steadfast::{Limiter, circuit_breaker};

#[derive(Debug)]
struct MyError;

#[circuit_breaker]
async fn a() -> Result<(), MyError> {
    Ok(())
}

#[circuit_breaker]
async fn b() -> u32 {
    1
}

#[circuit_breaker]
async fn c() {}

static NOT_A_BREAKER: Limiter = Limiter::concurrency(1);

#[circuit_breaker(using = NOT_A_BREAKER)]
async fn d() -> anyhow::Result<()> {
    Ok(())
}

#[circuit_breaker]
fn e() -> anyhow::Result<()> {
    Ok(())
}

fn main() {}
