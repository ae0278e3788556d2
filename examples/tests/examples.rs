//! The smaller examples' cores, checked (the tour has its own file, `tour.rs`).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use steadfast_examples::{crawler, retry_http, shared_pool, shutdown};

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

/// Against a real nginx (`limit_req`, 10r/s), when it is installed; with
/// `STEADFAST_REQUIRE_NGINX=1` (set by `.ci/run` after installing it) a missing nginx is
/// a failure, not a skip. Real time: about five seconds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn against_nginx_the_spaced_form_passes_where_the_window_gets_429s() {
    use steadfast_examples::nginx::{Nginx, run};

    if !Nginx::installed() {
        assert!(
            std::env::var_os("STEADFAST_REQUIRE_NGINX").is_none_or(|v| v != "1"),
            "STEADFAST_REQUIRE_NGINX=1 but nginx is not installed (scripts/install-tools.sh)"
        );
        eprintln!("skipped: nginx is not installed (scripts/install-tools.sh installs it)");
        return;
    }
    let report = run(50).await.unwrap();
    let all = [
        report.window_vs_no_burst,
        report.spaced_vs_no_burst,
        report.window_vs_burst,
        report.spaced_vs_burst,
    ];
    for outcome in all {
        assert_eq!((outcome.passed + outcome.too_many, outcome.failed), (50, 0), "{report:?}");
    }
    // The window starts ten at once, every second: nginx takes one of each ten.
    let window = report.window_vs_no_burst;
    assert!((4..=6).contains(&window.passed), "{report:?}");
    // Spaced starts match nginx's spacing; only the network between the two clocks can
    // bring two requests a little closer than 100 ms.
    assert!(report.spaced_vs_no_burst.too_many <= 5, "{report:?}");
    // With `burst=10 nodelay`, nginx takes both.
    assert_eq!((report.window_vs_burst.passed, report.spaced_vs_burst.passed), (50, 50));
    // The window's five rounds take four seconds; fifty starts 100 ms apart, 4.9 s.
    assert!(window.elapsed >= Duration::from_secs(4), "{report:?}");
    assert!(report.spaced_vs_no_burst.elapsed >= Duration::from_millis(4900), "{report:?}");
}
