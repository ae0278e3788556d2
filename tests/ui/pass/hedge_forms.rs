// Every form of `#[hedge]`, on free functions and methods, stacked with the others.
use std::time::Duration;

use steadfast::{RetryBudget, error_boundary, hedge, limit, retry, timeout};

static BUDGET: RetryBudget = RetryBudget::new();
const MAX: u32 = 3;

#[hedge(after = 50ms)]
async fn a(key: &str) -> std::io::Result<usize> {
    Ok(key.len())
}

#[hedge(after = "1.5s", max = 3, when = |e: &std::io::Error| e.kind() == std::io::ErrorKind::TimedOut)]
async fn b(key: String, n: u32) -> std::io::Result<usize> {
    Ok(key.len() + n as usize)
}

#[hedge(after = p50)]
async fn c() -> anyhow::Result<()> {
    Ok(())
}

#[hedge(after = p999, max = MAX, budget = BUDGET)]
async fn d<T: Clone + Send>(value: T) -> Result<T, std::io::Error> {
    Ok(value)
}

#[hedge(after = Duration::from_millis(20))]
async fn e(items: impl Iterator<Item = u8> + Clone) -> std::io::Result<u32> {
    Ok(items.map(u32::from).sum())
}

struct Service {
    budget: RetryBudget,
}

impl Service {
    #[hedge(after = 10ms, budget = self.budget)]
    async fn get<'a>(&'a self, key: &'a str) -> std::io::Result<&'a str> {
        Ok(key)
    }

    #[error_boundary("full stack")]
    #[retry(attempts = 3)]
    #[timeout(1s)]
    #[hedge(after = p95, max = 2)]
    #[limit(concurrency = 8)]
    async fn stacked(&self, (x, y): (u8, u8)) -> std::io::Result<u8> {
        Ok(x + y)
    }
}

trait Store {
    async fn load(&self, key: &str) -> std::io::Result<usize>;
}

impl Store for Service {
    #[hedge(after = 5ms, when = |e| e.kind() == std::io::ErrorKind::WouldBlock)]
    async fn load(&self, key: &str) -> std::io::Result<usize> {
        Ok(key.len())
    }
}

fn main() {
    let _ = (a("k"), b(String::new(), 1), c(), d(1), e([1u8].into_iter()));
    let service = Service { budget: RetryBudget::new() };
    let _ = (service.get("k"), service.stacked((1, 2)), service.load("k"));
}
