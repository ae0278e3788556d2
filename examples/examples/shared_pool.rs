//! `cargo run --example shared_pool`: three query functions share one
//! `static POOL: Limiter = Limiter::concurrency(3)`.

use steadfast_examples::shared_pool::{POOL, run};

#[tokio::main]
async fn main() {
    let report = run(20).await;
    println!(
        "{} queries, {} audit writes shed after waiting 100 ms, at most {} connections at once; pool now: {} in flight, {} waiting",
        report.queries,
        report.audits_rejected,
        report.peak,
        POOL.in_flight(),
        POOL.waiting()
    );
}
