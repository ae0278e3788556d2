// `failure_rate` is a share of calls: in (0, 1]. `min_calls` and `half_open_calls`
// count calls (at least 1), and the window cannot be empty. All reported at once.
use steadfast::{CircuitOpen, circuit_breaker};

#[derive(Debug)]
struct MyError;

impl From<CircuitOpen> for MyError {
    fn from(_: CircuitOpen) -> Self {
        MyError
    }
}

#[circuit_breaker(failure_rate = 0)]
async fn a() -> Result<(), MyError> {
    Ok(())
}

#[circuit_breaker(failure_rate = 1.5, min_calls = 0, half_open_calls = 0, window = 0s)]
async fn b() -> Result<(), MyError> {
    Ok(())
}

#[circuit_breaker(failure_rate = -0.5, min_calls = config.min_calls)]
async fn c() -> Result<(), MyError> {
    Ok(())
}

#[circuit_breaker(falure_rate = 0.5)]
async fn d() -> Result<(), MyError> {
    Ok(())
}

fn main() {}
