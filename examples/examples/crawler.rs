//! `cargo run --example crawler`: 40 pages through `#[limit(concurrency = 4, rate = 20,
//! per = 1s)]`, all requested at once.

use std::time::Duration;

use steadfast_examples::crawler::run;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let report = run(40, Duration::from_millis(50)).await?;
    println!(
        "fetched {} pages in {:.2?}, never more than {} at once (limit 4) and 20 per second",
        report.fetched, report.elapsed, report.peak_in_flight
    );
    Ok(())
}
