//! The tour's core with a short, explicit schedule: its summary, exactly.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use steadfast_examples::service::{Plan, Step};
use steadfast_examples::timeline::Mark::{self, *};
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
    // The panic hooks, recorded: the one installed before (standing in for the default
    // hook, which would print the message and a backtrace), then the tour's own.
    let loud = Arc::new(Mutex::new(Vec::<String>::new()));
    let quiet = Arc::new(Mutex::new(Vec::<String>::new()));
    std::panic::set_hook(Box::new({
        let loud = loud.clone();
        move |info| loud.lock().unwrap().push(info.to_string())
    }));
    tour::quiet_demo_panic({
        let quiet = quiet.clone();
        move |line| quiet.lock().unwrap().push(line)
    });
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
    let summary = tour::run(config, counts.clone()).await.unwrap();
    let expected = Summary {
        // items, priority lookups, the report, and five quotes
        calls: 5 + 6 + 1 + 5,
        // items: 2 + 2 + 2 + 1 + 1, the report 1, two priority pages; quotes: the two
        // failed attempts that open the breaker and the trial call, none while open
        attempts: 8 + 1 + 2 + 3,
        // items 1, 2, 3 and the first quote
        retries: 3 + 1,
        timeouts: 1,
        rejections: 4,
        panics_caught: 1,
        // item 4's 404 and the report's caught panic
        boundary_errors: 2,
        // three quotes while the dependency was known to be down
        refused: 3,
        dependency_back: true,
        stock: vec![(1, Some(7)), (2, Some(14)), (3, Some(21)), (4, None), (5, Some(35))],
        wall: summary.wall,
    };
    assert_eq!(summary, expected);
    // Item 3 waited for the server's Retry-After of 1 s.
    assert!(summary.wall >= Duration::from_secs(1));
    assert!(summary.to_string().contains("│ refused (open) │        3 │"), "{summary}");

    // The timeline: a row per call, in the order they were made, each as the plan says.
    let calls = counts.timeline.calls();
    let rows: Vec<(String, Vec<Mark>)> =
        calls.iter().map(|c| (c.label.clone(), c.kinds())).collect();
    let row = |label: &str, marks: &[Mark]| (label.to_owned(), marks.to_vec());
    assert_eq!(
        rows[..5],
        [
            row("stock 1", &[Attempt, Retry, Attempt, Ok]), // 503, then answered
            row("stock 2", &[Attempt, Timeout, Retry, Attempt, Ok]), // stalled past 400 ms
            row("stock 3", &[Attempt, Retry, Attempt, Ok]), // 429, Retry-After 1 s
            row("stock 4", &[Attempt, Failed]),             // 404: not retried
            row("stock 5", &[Attempt, Ok]),
        ]
    );
    // Two priority lookups got a slot; four were shed without an attempt.
    let mut priority: Vec<Vec<Mark>> = rows[5..11].iter().map(|(_, m)| m.clone()).collect();
    assert!(rows[5..11].iter().all(|(label, _)| label.starts_with("priority ")));
    priority.sort();
    assert_eq!(
        priority,
        [
            vec![Attempt, Ok],
            vec![Attempt, Ok],
            vec![Rejected, Failed],
            vec![Rejected, Failed],
            vec![Rejected, Failed],
            vec![Rejected, Failed]
        ]
    );
    assert_eq!(rows[11], row("report 99", &[Attempt, Failed])); // the parser's panic, caught
    // The quote dependency: two failed attempts open the breaker, it refuses the next
    // three without a request, and the trial call after `open_for` answers.
    assert_eq!(rows[12], row("quote 0", &[Attempt, Retry, Attempt, Failed]));
    for n in 1..=3 {
        assert_eq!(rows[12 + n], row(&format!("quote {n}"), &[CircuitOpen, Failed]));
    }
    assert_eq!(rows[16], row("quote 4", &[Attempt, Ok]));
    assert_eq!(rows.len(), 17);
    // The picture shows every mark of every row, in order, and no colour when asked.
    let picture = counts.timeline.render(60, false);
    assert!(!picture.contains('\x1b'));
    let drawn: Vec<Vec<Mark>> = picture
        .lines()
        .take(rows.len())
        .map(|line| line.chars().filter_map(Mark::of_glyph).collect())
        .collect();
    assert_eq!(drawn, rows.iter().map(|(_, m)| m.clone()).collect::<Vec<_>>());
    // Time runs left to right: item 3's second attempt (after the 1 s Retry-After)
    // is drawn right of item 1's (after 100 ms).
    let column = |label: &str, nth: usize| {
        let line = picture.lines().find(|l| l.starts_with(label)).unwrap();
        let body: Vec<char> = line.chars().skip_while(|c| *c != '│').collect();
        body.iter().enumerate().filter(|(_, c)| **c == Attempt.glyph()).nth(nth).unwrap().0
    };
    assert!(column("stock 3", 1) > column("stock 1", 1) + 20, "{picture}");

    // The demo panic was reported in one line by the tour's hook, and never reached
    // the previous hook.
    let reported = std::mem::take(&mut *quiet.lock().unwrap());
    assert_eq!(reported.len(), 1, "{reported:?}");
    assert!(reported[0].contains("examples/src/tour.rs"), "{reported:?}");
    assert!(reported[0].contains(": a stock line;"), "{reported:?}");
    assert!(!reported[0].contains('\n'), "{reported:?}");
    assert_eq!(*loud.lock().unwrap(), Vec::<String>::new());

    // Every other panic stays loud: another message, or the same message elsewhere.
    let _ = std::thread::spawn(|| panic!("a real bug")).join();
    let _ = std::thread::spawn(|| panic!("a stock line")).join();
    let loud = std::mem::take(&mut *loud.lock().unwrap());
    assert_eq!(loud.len(), 2, "{loud:?}");
    assert!(
        loud[0].contains("a real bug") && loud[1].contains("examples/tests/tour.rs"),
        "{loud:?}"
    );
    assert!(quiet.lock().unwrap().is_empty());
}
