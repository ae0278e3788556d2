//! `cargo run --example fleet`: starts a local redis-server, runs three replicas of a
//! service against one quota of 30 calls per second kept in Redis, and prints what
//! each replica started and the fleet's total.

use std::time::Duration;

use steadfast_examples::fleet::{LocalRedis, run};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let redis = LocalRedis::start()
        .map_err(|err| format!("starting redis-server (apt-get install redis-server): {err}"))?;
    let rate = 30;
    let report = run(&redis.url(), 3, rate, Duration::from_secs(3)).await?;
    for (replica, starts) in report.starts.iter().enumerate() {
        println!("replica {}: {starts} starts, {:.1}/s", replica + 1, report.per_second(*starts));
    }
    println!(
        "fleet: {} starts in {:.1?}, {:.1}/s (quota {rate}/s for all replicas together)",
        report.total(),
        report.elapsed,
        report.per_second(report.total())
    );
    Ok(())
}
