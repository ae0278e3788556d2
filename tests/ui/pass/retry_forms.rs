// Every accepted form of `#[retry]`.
use std::time::Duration;

use steadfast::retry;

#[derive(Debug)]
struct E;
impl std::fmt::Display for E {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("e")
    }
}
impl E {
    fn transient(&self) -> bool {
        true
    }
    fn hint(&self) -> Option<Duration> {
        None
    }
}

const ATTEMPTS: u32 = 5;

#[retry]
async fn a() -> Result<(), E> { Ok(()) }
#[retry(attempts = 4, delay = 100ms, backoff = exponential, factor = 1.5, max_delay = 2s, jitter = 0.2, max_elapsed = 10s)]
async fn b() -> Result<(), E> { Ok(()) }
#[retry(backoff = linear, jitter = 0)]
async fn c() -> Result<(), E> { Ok(()) }
#[retry(backoff = constant, jitter = 1)]
async fn d() -> Result<(), E> { Ok(()) }
#[retry(when = E::transient, retry_after = E::hint)]
async fn e() -> Result<(), E> { Ok(()) }
#[retry(when = |e| e.transient(), retry_after = |_| Some(Duration::from_secs(1)))]
async fn f() -> Result<(), E> { Ok(()) }
#[retry(attempts = ATTEMPTS, delay = Duration::from_millis(50), factor = 2)]
async fn g() -> Result<(), E> { Ok(()) }
#[steadfast::retry(delay = "250ms")]
async fn h(a: &str, b: &mut Vec<u8>, c: u64, (d, e): (u8, u8), mut f: String) -> Result<(), E> {
    f.push_str(a);
    b.push(d + e);
    let _ = c;
    Ok(())
}

fn main() {
    let mut v = Vec::new();
    let _ = (a(), b(), c(), d(), e(), f(), g());
    let _ = h("", &mut v, 1, (1, 2), String::new());
}
