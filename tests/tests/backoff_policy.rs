//! `#[retry(policy = ..)]` with the opt-in `backoff` feature:
//! `cargo test -p steadfast-tests --features backoff --test backoff_policy`.
#![cfg(feature = "backoff")]

use std::time::Duration;

use steadfast::backoff::backoff::{Constant, Stop};
use steadfast::retry;
use tokio::time::Instant;

#[derive(Debug, PartialEq)]
enum Error {
    Busy(u32),
    Fatal,
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}

#[retry(policy = Constant::new(Duration::from_millis(100)), when = |e: &Error| *e != Error::Fatal)]
async fn constant(calls: &mut u32, succeed_at: u32, fatal: bool) -> Result<u32, Error> {
    *calls += 1;
    if fatal {
        return Err(Error::Fatal);
    }
    if *calls < succeed_at { Err(Error::Busy(*calls)) } else { Ok(*calls) }
}

#[retry(policy = Stop {})]
async fn stop(calls: &mut u32) -> Result<(), Error> {
    *calls += 1;
    Err(Error::Busy(*calls))
}

#[tokio::test(start_paused = true)]
async fn the_policy_decides_the_delays() {
    let start = Instant::now();
    let mut calls = 0;
    assert_eq!(constant(&mut calls, 4, false).await, Ok(4));
    assert_eq!(start.elapsed(), Duration::from_millis(300));

    let mut calls = 0;
    assert_eq!(constant(&mut calls, 4, true).await, Err(Error::Fatal));
    assert_eq!(calls, 1);

    let mut calls = 0;
    assert_eq!(stop(&mut calls).await, Err(Error::Busy(1)));
}

#[retry(attempts = 3, delay = 100ms, jitter = 0)]
async fn default_schedule(calls: &mut u32) -> Result<(), Error> {
    *calls += 1;
    Err(Error::Busy(*calls))
}

#[tokio::test(start_paused = true)]
async fn the_feature_leaves_the_default_path_unchanged() {
    let start = Instant::now();
    let mut calls = 0;
    assert_eq!(default_schedule(&mut calls).await, Err(Error::Busy(3)));
    assert_eq!(start.elapsed(), Duration::from_millis(300));
}

#[tokio::test(start_paused = true)]
async fn retry_events_leave_out_max_attempts_the_policy_does_not_know() {
    let capture = steadfast_tests::Capture::start();
    let mut calls = 0;
    assert_eq!(constant(&mut calls, 3, false).await, Ok(3));
    let events = capture.steadfast();
    assert_eq!(events.len(), 2, "{events:#?}");
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e.level, tracing::Level::WARN);
        assert_eq!(e.field("function"), Some("constant"));
        assert_eq!(e.field("attempt"), Some((i + 1).to_string().as_str()));
        assert_eq!(e.field("delay_ms"), Some("100"));
        // `max_attempts = 0` was a lie: the `backoff` policy decides when to stop.
        assert_eq!(e.field("max_attempts"), None);
    }
}

#[retry(policy = Constant::new(Duration::from_millis(10)), attempt = n)]
async fn numbered(seen: &mut Vec<u32>) -> Result<u32, Error> {
    seen.push(n);
    if n < 3 { Err(Error::Busy(n)) } else { Ok(n) }
}

#[tokio::test(start_paused = true)]
async fn attempt_goes_with_a_policy() {
    let mut seen = Vec::new();
    let start = Instant::now();
    assert_eq!(numbered(&mut seen).await, Ok(3));
    assert_eq!(seen, [1, 2, 3]);
    assert_eq!(start.elapsed(), Duration::from_millis(20));
}
