//! Methods of an `#[async_trait]` impl: every attribute and a full stack wrap the
//! future inside async-trait's `Box::pin(async move { .. })`, for `Send` and `?Send`
//! traits, with `&self`, `&mut self`, owned and borrowed arguments.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use steadfast::{error_boundary, limit, retry, timeout};
use steadfast_tests::{Capture, Failure};
use tokio::time::{Instant, sleep};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[async_trait]
trait Store: Send + Sync {
    async fn get(&self, key: String, fail_until: u32) -> Result<String, Failure>;
    async fn slow(&self, wait: Duration) -> Result<(), Failure>;
    async fn bounded(&self) -> Result<(), Failure>;
    async fn logged(&self, key: &str) -> Result<(), Failure>;
    async fn everything(&self, key: &str, wait: Duration) -> Result<u32, Failure>;
    async fn bump(&mut self, by: u32) -> Result<u32, Failure>;
}

#[derive(Default)]
struct Memory {
    calls: AtomicU32,
    bumps: u32,
}

#[async_trait]
impl Store for Memory {
    #[retry(attempts = 4, delay = 100ms, jitter = 0, attempt = n)]
    async fn get(&self, key: String, fail_until: u32) -> Result<String, Failure> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        if n < fail_until { Err(Failure) } else { Ok(format!("{key}@{n}")) }
    }

    #[timeout(50ms)]
    async fn slow(&self, wait: Duration) -> Result<(), Failure> {
        sleep(wait).await;
        Ok(())
    }

    #[limit(concurrency = 1)]
    async fn bounded(&self) -> Result<(), Failure> {
        sleep(ms(10)).await;
        Ok(())
    }

    #[error_boundary("logging")]
    async fn logged(&self, key: &str) -> Result<(), Failure> {
        let _ = key;
        Err(Failure)
    }

    #[error_boundary]
    #[retry(attempts = 3, delay = 10ms, jitter = 0)]
    #[timeout(20ms)]
    #[limit(concurrency = 2)]
    async fn everything(&self, key: &str, wait: Duration) -> Result<u32, Failure> {
        let n = self.calls.fetch_add(1, Ordering::Relaxed) + 1;
        let _ = key;
        if n < 3 {
            sleep(wait).await;
        }
        Ok(n)
    }

    #[retry(attempts = 3, delay = 0, jitter = 0)]
    async fn bump(&mut self, by: u32) -> Result<u32, Failure> {
        self.bumps += by;
        if self.bumps < 3 * by { Err(Failure) } else { Ok(self.bumps) }
    }
}

#[tokio::test(start_paused = true)]
async fn retry_wraps_the_boxed_future_with_owned_args_and_attempt() {
    let store: Box<dyn Store> = Box::new(Memory::default());
    let start = Instant::now();
    assert_eq!(store.get("k".to_owned(), 3).await, Ok("k@3".to_owned()));
    assert_eq!(start.elapsed(), ms(300));
    assert_eq!(store.get("k".to_owned(), 9).await, Err(Failure));
    assert_eq!(start.elapsed(), ms(300 + 700));
}

#[tokio::test(start_paused = true)]
async fn timeout_limit_and_boundary_on_async_trait_methods() {
    let store = Arc::new(Memory::default());
    let start = Instant::now();
    assert_eq!(store.slow(ms(10)).await, Ok(()));
    assert_eq!(store.slow(ms(500)).await, Err(Failure));
    assert_eq!(start.elapsed(), ms(60));

    let start = Instant::now();
    let (a, b) = tokio::join!(store.bounded(), store.bounded());
    assert_eq!((a, b), (Ok(()), Ok(())));
    assert_eq!(start.elapsed(), ms(20), "one at a time");

    let capture = Capture::start();
    assert_eq!(store.logged("x").await, Err(Failure));
    let events = capture.steadfast();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].field("function"), Some("logged"));
    assert_eq!(events[0].field("context"), Some("logging"));
}

#[tokio::test(start_paused = true)]
async fn a_full_stack_on_an_async_trait_method() {
    let store: Arc<dyn Store> = Arc::new(Memory::default());
    let start = Instant::now();
    // Attempts 1 and 2 time out after 20 ms each; 10 ms and 20 ms between them.
    assert_eq!(store.everything("k", ms(1000)).await, Ok(3));
    assert_eq!(start.elapsed(), ms(20 + 10 + 20 + 20));
}

#[tokio::test(start_paused = true)]
async fn mut_self_is_reborrowed_for_every_attempt() {
    let mut store = Memory::default();
    assert_eq!(store.bump(2).await, Ok(6));
    assert_eq!(store.bumps, 6);
}

fn is_send<T: Send>(_: &T) {}

#[test]
fn the_boxed_futures_are_send() {
    let store = Memory::default();
    is_send(&store.get(String::new(), 1));
    is_send(&store.everything("", ms(1)));
}

// `?Send`: a trait whose futures need not be `Send` (an `Rc` held across an await).
#[async_trait(?Send)]
trait Local {
    async fn count(&self, seen: std::rc::Rc<std::cell::Cell<u32>>) -> Result<u32, Failure>;
}

struct Here;

#[async_trait(?Send)]
impl Local for Here {
    #[error_boundary]
    #[retry(attempts = 3, delay = 5ms, jitter = 0)]
    #[timeout(1s)]
    async fn count(&self, seen: std::rc::Rc<std::cell::Cell<u32>>) -> Result<u32, Failure> {
        sleep(ms(1)).await;
        seen.set(seen.get() + 1);
        if seen.get() < 3 { Err(Failure) } else { Ok(seen.get()) }
    }
}

#[tokio::test(start_paused = true)]
async fn a_not_send_async_trait_method_works_the_same() {
    let seen = std::rc::Rc::new(std::cell::Cell::new(0));
    let start = Instant::now();
    assert_eq!(Here.count(seen.clone()).await, Ok(3));
    assert_eq!(start.elapsed(), ms(1 + 5 + 1 + 10 + 1));
}

// A by-value `self` under `#[retry]` is borrowed by each attempt, as on an `async fn`.
#[async_trait]
trait Consume {
    async fn consume(self, by: u32) -> Result<u32, Failure>;
}

#[async_trait]
impl Consume for Memory {
    #[retry(attempts = 3, delay = 1ms, jitter = 0)]
    async fn consume(self, by: u32) -> Result<u32, Failure> {
        let n = self.calls.fetch_add(by, Ordering::Relaxed) + by;
        if n < 3 * by { Err(Failure) } else { Ok(n) }
    }
}

#[tokio::test(start_paused = true)]
async fn by_value_self_is_borrowed_by_each_attempt() {
    let start = Instant::now();
    assert_eq!(Memory::default().consume(5).await, Ok(15));
    assert_eq!(start.elapsed(), ms(3));
}
