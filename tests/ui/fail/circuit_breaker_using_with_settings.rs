// A shared breaker already defines its settings.
use steadfast::{Breaker, CircuitOpen, circuit_breaker};

static PAYMENTS: Breaker = Breaker::new();

#[derive(Debug)]
struct MyError;

impl From<CircuitOpen> for MyError {
    fn from(_: CircuitOpen) -> Self {
        MyError
    }
}

#[circuit_breaker(using = PAYMENTS, failure_rate = 0.2, open_for = 1m)]
async fn a() -> Result<(), MyError> {
    Ok(())
}

#[circuit_breaker(using = PAYMENTS, when = |_: &MyError| true)]
async fn b() -> Result<(), MyError> {
    Ok(())
}

fn main() {}
