// The per-function limiter is a `static`: its limits must be constants.
use steadfast::limit;

fn from_config() -> usize {
    4
}

#[limit(concurrency = from_config())]
async fn a() {}

fn main() {}
