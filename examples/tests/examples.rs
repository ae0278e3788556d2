//! Each example's core, checked: the tour with a short schedule, and the smaller ones.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use steadfast_examples::service::{Plan, Step};
use steadfast_examples::tour::{CountingLayer, Counts, Summary, TourConfig};
use steadfast_examples::{crawler, retry_http, shared_pool, shutdown, tour};
use tracing_subscriber::layer::SubscriberExt;

#[tokio::test]
async fn the_tour_sums_up_what_happened() {
    let counts = Arc::new(Counts::default());
    let _guard = tracing::subscriber::set_default(
        tracing_subscriber::registry().with(CountingLayer(counts.clone())),
    );
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

#[tokio::test]
async fn retry_http_honours_retry_after_and_skips_permanent_errors() {
    let report = retry_http::run(7).await.unwrap();
    assert_eq!(report.result.unwrap(), "stock=49");
    assert_eq!(report.attempts, 3);
    assert!(
        report.elapsed >= Duration::from_secs(1),
        "slept the Retry-After: {:?}",
        report.elapsed
    );

    let report = retry_http::run(404).await.unwrap();
    assert!(matches!(report.result, Err(steadfast_examples::service::ApiError::Status(404))));
    assert_eq!(report.attempts, 1);
}

#[tokio::test]
async fn the_crawler_keeps_both_limits() {
    let report = crawler::run(30, Duration::from_millis(20)).await.unwrap();
    assert_eq!(report.fetched, 30);
    assert!(report.peak_in_flight <= 4, "{report:?}");
    // 30 starts at 20 per second: the 21st cannot start before 1 s.
    assert!(report.elapsed >= Duration::from_secs(1), "{report:?}");
}

#[tokio::test(start_paused = true)]
async fn the_shared_pool_caps_every_function_together() {
    let report = shared_pool::run(20).await;
    // 40 loads queue FIFO for 3 connections; an audit queued behind more than 100 ms
    // of them is shed. On the paused clock the outcome is exact.
    assert_eq!(report, shared_pool::Report { queries: 45, audits_rejected: 15, peak: 3 });
    assert_eq!((shared_pool::POOL.in_flight(), shared_pool::POOL.waiting()), (0, 0));
}

#[tokio::test(start_paused = true)]
async fn shutdown_stops_retrying_at_once() {
    let token = tokio_util::sync::CancellationToken::new();
    let attempts = Arc::new(AtomicUsize::new(0));
    let job = tokio::spawn({
        let (token, attempts) = (token.clone(), attempts.clone());
        async move { shutdown::run(token, &attempts).await }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    token.cancel();
    assert_eq!(job.await.unwrap(), shutdown::Ended::Cancelled);
    // Attempts at 0, 200 and 400 ms; none after the cancellation.
    assert_eq!(attempts.load(Ordering::SeqCst), 3);
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(attempts.load(Ordering::SeqCst), 3);
}
