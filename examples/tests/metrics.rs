//! `cargo run --example metrics`'s core: the tour's calls recorded by the Prometheus
//! exporter, scraped over HTTP, every series checked. (Its own binary: the recorder is
//! the process's.)

use std::sync::Arc;
use std::time::Duration;

use steadfast_examples::metrics::{Exporter, scrape, steadfast_series, value};
use steadfast_examples::service::{Plan, Step};
use steadfast_examples::tour::{self, Counts, TourConfig};

#[tokio::test]
async fn a_scrape_shows_every_outcome_of_the_tour() {
    tour::quiet_demo_panic(|_| {});
    let exporter = Exporter::start().await.unwrap();
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
    let summary = tour::run(config, Arc::new(Counts::default())).await.unwrap();
    // 5 stock checks, 6 priority lookups, a report and 5 quotes.
    assert_eq!(summary.calls, 17);

    let body = scrape(exporter.addr).await.unwrap();
    let calls = |function: &str, outcome: &str| {
        value(
            &body,
            &format!("steadfast_calls_total{{function=\"{function}\",outcome=\"{outcome}\"}}"),
        )
    };
    // Items 1, 2, 3 and 5 answered (after retries); item 4's 404 is an error.
    assert_eq!(calls("stock", "ok"), Some(4.0), "{body}");
    assert_eq!(calls("stock", "error"), Some(1.0), "{body}");
    // Item 2's timed-out attempt was retried: the call did not time out.
    assert_eq!(calls("stock", "timeout"), None, "{body}");
    assert_eq!(value(&body, "steadfast_retries_total{function=\"stock\"}"), Some(3.0), "{body}");
    // Two priority lookups got a slot, four were shed.
    assert_eq!(calls("priority", "ok"), Some(2.0), "{body}");
    assert_eq!(calls("priority", "rejected"), Some(4.0), "{body}");
    // The quote dependency went down: the first call failed twice (one retry) and
    // opened the breaker, which refused the next three; the trial call after
    // `open_for` answered and closed it.
    assert_eq!(calls("quote", "error"), Some(1.0), "{body}");
    assert_eq!(calls("quote", "circuit_open"), Some(3.0), "{body}");
    assert_eq!(calls("quote", "ok"), Some(1.0), "{body}");
    assert_eq!(value(&body, "steadfast_retries_total{function=\"quote\"}"), Some(1.0), "{body}");
    assert_eq!(value(&body, "steadfast_circuit_state{function=\"quote\"}"), Some(0.0), "{body}");
    // The report's parser panicked; the boundary caught it.
    assert_eq!(calls("report", "panic"), Some(1.0), "{body}");
    // The histogram (a summary in the exporter's default rendering) counts every call.
    let count = |f: &str| {
        value(&body, &format!("steadfast_call_duration_seconds_count{{function=\"{f}\"}}"))
    };
    assert_eq!(
        (count("stock"), count("priority"), count("report")),
        (Some(5.0), Some(6.0), Some(1.0))
    );
    // The limiters are idle again.
    for limiter in ["stock", "priority"] {
        for gauge in ["steadfast_limit_in_flight", "steadfast_limit_waiting"] {
            let series = format!("{gauge}{{limiter=\"{limiter}\"}}");
            if gauge == "steadfast_limit_waiting" && limiter == "priority" {
                // `wait = 0ms`: nobody ever waited for a priority slot.
                assert_eq!(value(&body, &series), None, "{body}");
            } else {
                assert_eq!(value(&body, &series), Some(0.0), "{series} in {body}");
            }
        }
    }
    // Described: the scrape carries the help text.
    assert!(body.contains("# HELP steadfast_calls_total "), "{body}");
    assert!(body.contains("# TYPE steadfast_calls_total counter"), "{body}");
    assert!(steadfast_series(&body).len() >= 10, "{body}");
}
