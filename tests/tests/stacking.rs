//! One-pass stacking: the top attribute is the outermost layer.

use std::time::Duration;

use steadfast::{TimedOut, error_boundary, timeout};
use steadfast_tests::Capture;
use tokio::time::{Instant, sleep};

#[derive(Debug)]
enum Error {
    TimedOut(TimedOut),
    Failed,
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::TimedOut(t) => write!(f, "{t}"),
            Error::Failed => f.write_str("failed"),
        }
    }
}

impl From<TimedOut> for Error {
    fn from(t: TimedOut) -> Self {
        Error::TimedOut(t)
    }
}

/// The boundary is outside: it sees (and logs) the timeout.
#[error_boundary("outer boundary")]
#[timeout(1s)]
async fn boundary_over_timeout(work_ms: u64, fail: bool) -> Result<(), Error> {
    sleep(Duration::from_millis(work_ms)).await;
    if fail { Err(Error::Failed) } else { Ok(()) }
}

/// The boundary is inside: a timeout cancels it, so only the body's own errors
/// are logged; the timeout is returned without a log from the boundary.
#[timeout(1s)]
#[error_boundary("inner boundary")]
async fn timeout_over_boundary(work_ms: u64, fail: bool) -> Result<(), Error> {
    sleep(Duration::from_millis(work_ms)).await;
    if fail { Err(Error::Failed) } else { Ok(()) }
}

#[tokio::test(start_paused = true)]
async fn boundary_outside_logs_the_timeout() {
    let capture = Capture::start();
    let start = Instant::now();
    let err = boundary_over_timeout(5_000, false).await.unwrap_err();
    assert!(matches!(err, Error::TimedOut(_)));
    assert_eq!(start.elapsed(), Duration::from_secs(1));
    let events = capture.steadfast();
    assert_eq!(events.len(), 2, "{events:#?}");
    assert_eq!(events[0].field("timeout_ms"), Some("1000"));
    assert_eq!(events[1].field("context"), Some("outer boundary"));
    assert_eq!(events[1].field("error"), Some("`boundary_over_timeout` timed out after 1s"));

    boundary_over_timeout(10, true).await.unwrap_err();
    assert_eq!(capture.steadfast().len(), 3);
}

#[tokio::test(start_paused = true)]
async fn boundary_inside_is_cancelled_by_the_timeout() {
    let capture = Capture::start();
    let start = Instant::now();
    let err = timeout_over_boundary(5_000, false).await.unwrap_err();
    assert!(matches!(err, Error::TimedOut(_)));
    assert_eq!(start.elapsed(), Duration::from_secs(1));
    let events = capture.steadfast();
    assert_eq!(events.len(), 1, "only the timeout's own event: {events:#?}");
    assert_eq!(events[0].field("timeout_ms"), Some("1000"));

    let start = Instant::now();
    timeout_over_boundary(10, true).await.unwrap_err();
    assert_eq!(start.elapsed(), Duration::from_millis(10));
    let events = capture.steadfast();
    assert_eq!(events.len(), 2);
    assert_eq!(events[1].field("context"), Some("inner boundary"));
    assert_eq!(events[1].field("error"), Some("failed"));
}

#[error_boundary]
#[steadfast::timeout(50ms)]
#[timeout(1s)]
async fn nested_timeouts() -> Result<(), Error> {
    sleep(Duration::from_secs(5)).await;
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn paths_and_repeated_layers_stack_in_reading_order() {
    let start = Instant::now();
    let Err(Error::TimedOut(t)) = nested_timeouts().await else { panic!("expected a timeout") };
    assert_eq!(t.after(), Duration::from_millis(50));
    assert_eq!(start.elapsed(), Duration::from_millis(50));
}
