//! With the attributes users already stack: `#[tracing::instrument]` above or below
//! ours, and generic trait impls. (`#[async_trait]` impls: see `async_trait.rs`.)

use std::fmt::Display;
use std::time::Duration;

use steadfast::{TimedOut, error_boundary, retry, timeout};
use steadfast_tests::Capture;

#[derive(Debug, PartialEq)]
struct Error(&'static str);

impl Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl From<TimedOut> for Error {
    fn from(_: TimedOut) -> Self {
        Error("timed out")
    }
}

#[tracing::instrument(name = "instrument_above")]
#[retry(attempts = 2, delay = 10ms, jitter = 0)]
#[timeout(50ms)]
async fn instrument_above(fail: bool) -> Result<u32, Error> {
    if fail { Err(Error("failed")) } else { Ok(1) }
}

#[retry(attempts = 2, delay = 10ms, jitter = 0)]
#[tracing::instrument(name = "instrument_below")]
#[timeout(50ms)]
async fn instrument_below(fail: bool) -> Result<u32, Error> {
    if fail { Err(Error("failed")) } else { Ok(2) }
}

#[tokio::test(start_paused = true)]
async fn tracing_instrument_above_is_inside_below_is_outside() {
    let capture = Capture::start();
    assert_eq!(instrument_above(false).await, Ok(1));
    assert_eq!(instrument_below(false).await, Ok(2));
    assert_eq!(instrument_above(true).await, Err(Error("failed")));
    assert_eq!(instrument_below(true).await, Err(Error("failed")));
    let events = capture.steadfast();
    assert_eq!(events.len(), 2, "one retry event each: {events:#?}");
    // Attribute macros expand top-down, each wrapping what the one above produced.
    // Above the stack, `instrument` expands first and ends up inside it: one span per
    // attempt, and the retry event is outside any span.
    assert_eq!(events[0].field("function"), Some("instrument_above"));
    assert_eq!(events[0].span, None);
    // Below the stack, it wraps the whole steadfast wrapper: one span per call, with
    // the retry event inside it.
    assert_eq!(events[1].field("function"), Some("instrument_below"));
    assert_eq!(events[1].span.as_deref(), Some("instrument_below"));
}

trait Fetch {
    async fn fetch(&self, key: u32) -> Result<String, Error>;
}

struct Cache<T> {
    value: T,
}

impl<T: Display + Sync> Fetch for Cache<T> {
    #[error_boundary]
    #[retry(attempts = 3, delay = 10ms, jitter = 0, when = |e: &Error| e.0 != "fatal")]
    #[timeout(100ms)]
    async fn fetch(&self, key: u32) -> Result<String, Error> {
        match key {
            0 => Err(Error("fatal")),
            1 => {
                tokio::time::sleep(Duration::from_secs(1)).await;
                Ok(String::new())
            }
            _ => Ok(format!("{}:{key}", self.value)),
        }
    }
}

#[tokio::test(start_paused = true)]
async fn generic_trait_impls() {
    let cache = Cache { value: "v" };
    assert_eq!(cache.fetch(7).await, Ok("v:7".into()));
    assert_eq!(cache.fetch(0).await, Err(Error("fatal")));
    let start = tokio::time::Instant::now();
    assert_eq!(Cache { value: 3.5 }.fetch(1).await, Err(Error("timed out")));
    assert_eq!(start.elapsed(), Duration::from_millis(100 + 10 + 100 + 20 + 100));
}
