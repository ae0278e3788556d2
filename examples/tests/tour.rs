//! The tour's core with a short, explicit schedule: its summary, exactly.

use std::sync::Arc;
use std::time::Duration;

use steadfast_examples::service::{Plan, Step};
use steadfast_examples::tour::{self, CountingLayer, Counts, Summary, TourConfig};
use tracing_subscriber::layer::SubscriberExt;

#[tokio::test]
async fn the_tour_sums_up_what_happened() {
    // The process-wide subscriber (this test has its own binary): a per-thread one
    // could miss events of callsites whose interest another test cached.
    let counts = Arc::new(Counts::default());
    tracing::subscriber::set_global_default(
        tracing_subscriber::registry().with(CountingLayer(counts.clone())),
    )
    .unwrap();
    let plan = Plan::default()
        .with(1, vec![Step::Unavailable])
        .with(2, vec![Step::Stall(Duration::from_secs(1))])
        .with(3, vec![Step::Throttle(1)])
        .with(4, vec![Step::NotFound])
        .with(99, vec![Step::Garbage]);
    let config = TourConfig {
        plan,
        items: vec![1, 2, 3, 4, 5],
        report_item: 99,
        priority_calls: 6,
        page_delay: Duration::from_millis(300),
    };
    let summary = tour::run(config, counts).await.unwrap();
    let expected = Summary {
        calls: 5 + 6 + 1,
        // items: 2 + 2 + 2 + 1 + 1, the report 1, two priority pages
        attempts: 8 + 1 + 2,
        retries: 3,
        timeouts: 1,
        rejections: 4,
        panics_caught: 1,
        // item 4's 404 and the report's caught panic
        boundary_errors: 2,
        stock: vec![(1, Some(7)), (2, Some(14)), (3, Some(21)), (4, None), (5, Some(35))],
        wall: summary.wall,
    };
    assert_eq!(summary, expected);
    // Item 3 waited for the server's Retry-After of 1 s.
    assert!(summary.wall >= Duration::from_secs(1));
}
