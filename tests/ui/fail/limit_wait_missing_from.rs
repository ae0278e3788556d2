// With `wait`, a rejection is returned as `Err(E::from(Rejected))`.
use steadfast::limit;

#[derive(Debug)]
struct MyError;

#[limit(concurrency = 2, wait = 100ms)]
async fn a() -> Result<(), MyError> {
    Ok(())
}

#[limit(concurrency = 2, wait = 100ms)]
async fn b() -> u32 {
    1
}

fn main() {}
