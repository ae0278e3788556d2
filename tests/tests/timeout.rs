//! `#[timeout(D)]`: exact deadlines on the paused clock, the error, the event.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use steadfast::{TimedOut, timeout};
use steadfast_tests::Capture;
use tokio::time::{Instant, sleep};

#[timeout(800ms)]
async fn load(delay_ms: u64) -> std::io::Result<u64> {
    sleep(Duration::from_millis(delay_ms)).await;
    Ok(delay_ms)
}

#[tokio::test(start_paused = true)]
async fn finishes_in_time_unchanged() {
    let start = Instant::now();
    assert_eq!(load(799).await.unwrap(), 799);
    assert_eq!(start.elapsed(), Duration::from_millis(799));
}

#[tokio::test(start_paused = true)]
async fn times_out_after_exactly_the_duration() {
    let capture = Capture::start();
    let start = Instant::now();
    let err = load(5_000).await.unwrap_err();
    assert_eq!(start.elapsed(), Duration::from_millis(800));
    assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
    let inner = err.get_ref().unwrap().downcast_ref::<TimedOut>().unwrap();
    assert_eq!(inner.after(), Duration::from_millis(800));
    assert_eq!(inner.function(), Some("load"));
    assert_eq!(err.to_string(), "`load` timed out after 800ms");

    let events = capture.steadfast();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].level, tracing::Level::WARN);
    assert_eq!(events[0].field("function"), Some("load"));
    assert_eq!(events[0].field("timeout_ms"), Some("800"));
}

#[tokio::test(start_paused = true)]
async fn the_body_is_dropped_when_the_deadline_passes() {
    static DROPPED: AtomicU64 = AtomicU64::new(0);
    struct Guard;
    impl Drop for Guard {
        fn drop(&mut self) {
            DROPPED.fetch_add(1, Ordering::SeqCst);
        }
    }
    #[timeout(100ms)]
    async fn hangs() -> Result<(), TimedOut> {
        let _guard = Guard;
        std::future::pending::<()>().await;
        Ok(())
    }
    assert!(hangs().await.is_err());
    assert_eq!(DROPPED.load(Ordering::SeqCst), 1);
}

#[timeout(1.5s)]
async fn float_seconds() -> Result<(), TimedOut> {
    sleep(Duration::from_secs(10)).await;
    Ok(())
}

#[timeout(2m)]
async fn minutes() -> Result<(), TimedOut> {
    sleep(Duration::from_secs(3600)).await;
    Ok(())
}

#[timeout("250ms")]
async fn string_literal() -> Result<(), TimedOut> {
    sleep(Duration::from_secs(10)).await;
    Ok(())
}

#[timeout(500us)]
async fn micros() -> Result<(), TimedOut> {
    sleep(Duration::from_secs(10)).await;
    Ok(())
}

static LIMIT_MS: AtomicU64 = AtomicU64::new(100);

// Any `Duration` expression, evaluated at each call.
#[timeout(Duration::from_millis(LIMIT_MS.load(Ordering::SeqCst)))]
async fn configured() -> Result<(), TimedOut> {
    sleep(Duration::from_secs(10)).await;
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn every_duration_form() {
    async fn elapsed<F: Future<Output = Result<(), TimedOut>>>(f: F) -> Duration {
        let start = Instant::now();
        let err = f.await.unwrap_err();
        assert_eq!(start.elapsed(), err.after());
        err.after()
    }
    assert_eq!(elapsed(float_seconds()).await, Duration::from_millis(1500));
    assert_eq!(elapsed(minutes()).await, Duration::from_secs(120));
    assert_eq!(elapsed(string_literal()).await, Duration::from_millis(250));
    // tokio's timer has millisecond resolution: a 500 µs deadline fires at 1 ms.
    let start = Instant::now();
    assert_eq!(micros().await.unwrap_err().after(), Duration::from_micros(500));
    assert_eq!(start.elapsed(), Duration::from_millis(1));
    assert_eq!(elapsed(configured()).await, Duration::from_millis(100));
    LIMIT_MS.store(300, Ordering::SeqCst);
    assert_eq!(elapsed(configured()).await, Duration::from_millis(300));
}

#[tokio::test(start_paused = true)]
async fn the_future_is_send_and_spawnable() {
    fn assert_send<T: Send>(t: T) -> T {
        t
    }
    let handle = tokio::spawn(assert_send(load(10)));
    assert_eq!(handle.await.unwrap().unwrap(), 10);
}

#[tokio::test(start_paused = true)]
async fn works_with_anyhow_and_boxed_errors() {
    #[timeout(10ms)]
    async fn any() -> anyhow::Result<()> {
        sleep(Duration::from_secs(1)).await;
        Ok(())
    }
    #[timeout(10ms)]
    async fn boxed() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        sleep(Duration::from_secs(1)).await;
        Ok(())
    }
    assert!(any().await.unwrap_err().downcast_ref::<TimedOut>().is_some());
    assert!(boxed().await.unwrap_err().downcast_ref::<TimedOut>().is_some());
}

// A body that keeps tokio's coop budget spent: its every poll ends `Pending` with the
// budget at zero, so a timer polled under that budget would never look at the clock.
#[timeout(50ms)]
async fn spins() -> Result<(), TimedOut> {
    loop {
        tokio::task::consume_budget().await;
    }
}

#[tokio::test]
async fn fires_under_a_body_that_exhausts_the_coop_budget() {
    // Real clock: a busy task never lets a paused clock advance. The outer timeout
    // keeps a regression from hanging the suite.
    let start = std::time::Instant::now();
    let out = tokio::time::timeout(Duration::from_secs(5), spins()).await;
    let elapsed = start.elapsed();
    let err = out.expect("`#[timeout(50ms)]` must fire before the outer 5 s").unwrap_err();
    assert_eq!(err.after(), Duration::from_millis(50));
    assert!(
        (Duration::from_millis(50)..Duration::from_millis(250)).contains(&elapsed),
        "{elapsed:?}"
    );

    // The runtime form too.
    let start = std::time::Instant::now();
    let busy = async {
        loop {
            tokio::task::consume_budget().await;
        }
    };
    let out: Result<Result<(), TimedOut>, _> = tokio::time::timeout(
        Duration::from_secs(5),
        steadfast::timeout(Duration::from_millis(50), busy),
    )
    .await;
    assert!(out.expect("`steadfast::timeout` must fire").is_err());
    assert!(start.elapsed() < Duration::from_millis(250), "{:?}", start.elapsed());
}

// 300 ms of synchronous work before the first real wait count against the 200 ms.
#[timeout(200ms)]
async fn blocks_then_waits() -> Result<(), TimedOut> {
    std::thread::sleep(Duration::from_millis(300));
    sleep(Duration::from_secs(10)).await;
    Ok(())
}

#[tokio::test]
async fn the_deadline_counts_synchronous_work_before_the_first_await() {
    let start = std::time::Instant::now();
    let out = tokio::time::timeout(Duration::from_secs(5), blocks_then_waits()).await;
    let elapsed = start.elapsed();
    assert!(out.expect("must time out").is_err());
    // The deadline passed during the blocking part: the timer fires on its first
    // poll (~300 ms), not 200 ms after the first `Pending` (~500 ms).
    assert!(
        (Duration::from_millis(300)..Duration::from_millis(400)).contains(&elapsed),
        "{elapsed:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn the_deadline_counts_from_the_first_poll_not_from_the_call() {
    let call = load(5_000);
    sleep(Duration::from_secs(3)).await; // created, not yet polled
    let start = Instant::now();
    assert!(call.await.is_err());
    assert_eq!(start.elapsed(), Duration::from_millis(800));
}

#[tokio::test(start_paused = true)]
async fn a_body_ready_before_the_deadline_on_a_later_poll_is_returned() {
    // Several polls, all within the deadline: the one timer armed on the first
    // `Pending` is reused.
    #[timeout(100ms)]
    async fn steps() -> Result<u32, TimedOut> {
        for _ in 0..9 {
            sleep(Duration::from_millis(10)).await;
        }
        Ok(9)
    }
    let start = Instant::now();
    assert_eq!(steps().await, Ok(9));
    assert_eq!(start.elapsed(), Duration::from_millis(90));
}

#[tokio::test(start_paused = true)]
async fn deadline_times_out_any_future_and_keeps_its_output() {
    // An `Option` output: `steadfast::timeout` needs a `Result`, `deadline` does not.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<u32>(1);
    let start = Instant::now();
    let err = steadfast::deadline(Duration::from_millis(250), rx.recv()).await.unwrap_err();
    assert_eq!(start.elapsed(), Duration::from_millis(250));
    assert_eq!(err.after(), Duration::from_millis(250));
    tx.send(7).await.unwrap();
    assert_eq!(steadfast::deadline(Duration::from_millis(250), rx.recv()).await, Ok(Some(7)));
    // A `Result` keeps its own error type inside.
    let out: Result<Result<u8, &str>, TimedOut> =
        steadfast::deadline(Duration::from_secs(1), async { Err("own error") }).await;
    assert_eq!(out, Ok(Err("own error")));
    // A poll loop that never ends, bounded.
    let start = Instant::now();
    let looped = steadfast::deadline(Duration::from_millis(40), async {
        loop {
            sleep(Duration::from_millis(15)).await;
        }
    });
    assert!(looped.await.is_err());
    assert_eq!(start.elapsed(), Duration::from_millis(40));
}
