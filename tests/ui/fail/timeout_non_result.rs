// A timeout is reported through `Err`, so the function must return a `Result`.
use steadfast::timeout;

#[timeout(1s)]
async fn count() -> u32 {
    1
}

fn main() {}
