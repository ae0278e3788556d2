// Hedging needs errors to race on: the function returns a `Result`.
use steadfast::hedge;

#[hedge(after = 50ms)]
async fn unit() {}

#[hedge(after = 50ms)]
async fn number() -> u32 {
    1
}

fn main() {}
