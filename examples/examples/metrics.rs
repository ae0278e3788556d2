//! steadfast's metrics on a Prometheus endpoint: `cargo run --example metrics`.
//!
//! Installs `metrics-exporter-prometheus` as the recorder, serves `/metrics` on
//! 127.0.0.1 (a free port), and runs the tour's client against the tour's service
//! (see `cargo run --example tour`). Then prints steadfast's series as a scrape shows
//! them and keeps serving until Ctrl-C (`--once`: exit at once), so that
//! `curl http://127.0.0.1:PORT/metrics` can read them too.

use std::sync::Arc;

use steadfast_examples::metrics::{Exporter, scrape, steadfast_series};
use steadfast_examples::tour::{CountingLayer, Counts, TourConfig, quiet_demo_panic, run};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let counts = Arc::new(Counts::default());
    tracing_subscriber::registry().with(CountingLayer(counts.clone())).init();
    quiet_demo_panic(|line| eprintln!("{line}"));

    let exporter = Exporter::start().await?;
    println!("steadfast metrics at {}\n", exporter.url());
    println!("running the tour's calls (a few seconds)...\n");
    let summary = run(TourConfig::full(), counts).await?;
    println!("{summary}\n");

    let body = scrape(exporter.addr).await?;
    println!("GET {} (steadfast's series):\n", exporter.url());
    for line in steadfast_series(&body) {
        println!("{line}");
    }
    if std::env::args().any(|a| a == "--once") {
        return Ok(());
    }
    println!("\nserving {} until Ctrl-C", exporter.url());
    tokio::signal::ctrl_c().await
}
