//! A tour of steadfast: `cargo run --example tour`.
//!
//! Starts a real HTTP "inventory service" on 127.0.0.1 (an ephemeral port) that fails,
//! stalls and throttles on a fixed, seeded schedule, then calls it through functions
//! carrying `#[retry]`, `#[timeout]`, `#[error_boundary]` and `#[limit]`, and a quote
//! endpoint that goes down and comes back behind `#[circuit_breaker]`. The log shows
//! every retry with its delay, every timeout and rejection, the breaker opening and
//! closing, and the error boundaries' reports; a summary table and a per-call timeline
//! end it.

use std::sync::Arc;

use steadfast_examples::timeline;
use steadfast_examples::tour::{CountingLayer, Counts, TourConfig, quiet_demo_panic, run};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let counts = Arc::new(Counts::default());
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_target(false)
                .with_timer(tracing_subscriber::fmt::time::uptime())
                .with_filter(
                    tracing_subscriber::filter::Targets::new()
                        .with_target("steadfast", tracing::Level::DEBUG),
                ),
        )
        .with(CountingLayer(counts.clone()))
        .init();
    // The report's parser panics on purpose; the boundary catches it. Say so in one
    // line instead of the default hook's message (and backtrace).
    quiet_demo_panic(|line| eprintln!("{line}"));

    println!(
        "steadfast tour: an inventory service that fails, stalls and throttles on a seeded schedule\n"
    );
    let summary = run(TourConfig::full(), counts.clone()).await?;
    println!();
    for (id, stock) in &summary.stock {
        match stock {
            Some(n) => println!("  item {id:>2}: stock {n}"),
            None => println!("  item {id:>2}: failed"),
        }
    }
    println!("\n{summary}\n");
    println!("{}", counts.timeline.render(72, timeline::colour_wanted()));
    Ok(())
}
