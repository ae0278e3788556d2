// A retry decides on `Err`: the function must return a `Result`.
use steadfast::retry;

#[retry]
async fn a() -> Option<u32> {
    None
}

fn main() {}
