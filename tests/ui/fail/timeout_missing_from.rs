// The error type must be able to hold a `steadfast::TimedOut`.
use steadfast::timeout;

#[derive(Debug)]
struct MyError;

#[timeout(1s)]
async fn load() -> Result<u32, MyError> {
    Ok(1)
}

fn main() {}
