//! `cargo run --example retry_http`: `#[retry]` with `when` and `retry_after` against a
//! local service that answers 429 (Retry-After: 1), then 503, then the item.

use steadfast_examples::retry_http::run;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt().with_target(false).init();
    let report = run(7).await?;
    println!(
        "item 7: {:?} after {} requests in {:.2?}",
        report.result, report.attempts, report.elapsed
    );
    let report = run(404).await?;
    println!(
        "item 404: {:?} after {} request (not retried)",
        report.result.map_err(|e| e.to_string()),
        report.attempts
    );
    Ok(())
}
