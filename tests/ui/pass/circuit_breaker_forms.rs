// Every form of `#[circuit_breaker]`, alone and in a stack, and `#[retry(budget = ..)]`.
use std::sync::Arc;
use std::time::Duration;

use steadfast::{Breaker, RetryBudget, circuit_breaker, error_boundary, limit, retry, timeout};

static PAYMENTS: Breaker = Breaker::new();
static API_RETRIES: RetryBudget = RetryBudget::new();
const WINDOW: Duration = Duration::from_secs(60);
const MIN_CALLS: u32 = 20;

fn is_outage(e: &anyhow::Error) -> bool {
    !e.to_string().contains("404")
}

#[circuit_breaker]
async fn defaults() -> anyhow::Result<()> {
    Ok(())
}

#[circuit_breaker(failure_rate = 1, min_calls = MIN_CALLS, window = WINDOW, open_for = Duration::from_secs(5))]
async fn constants() -> anyhow::Result<()> {
    Ok(())
}

#[circuit_breaker(half_open_calls = 3, slow_call = "2s", when = is_outage)]
async fn classified() -> anyhow::Result<()> {
    Ok(())
}

#[circuit_breaker(using = PAYMENTS)]
async fn shared() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    Ok(())
}

#[circuit_breaker(using = ::std::convert::identity(&PAYMENTS))]
async fn by_reference() -> anyhow::Result<()> {
    Ok(())
}

struct Client {
    breaker: Breaker,
    shared: Arc<Breaker>,
    budget: RetryBudget,
}

impl Client {
    #[circuit_breaker(using = self.breaker)]
    async fn field(&self) -> anyhow::Result<()> {
        Ok(())
    }

    #[retry(budget = self.budget)]
    #[circuit_breaker(using = self.shared)]
    async fn arc(&mut self) -> anyhow::Result<()> {
        Ok(())
    }
}

#[error_boundary("paying")]
#[retry(attempts = 4, budget = API_RETRIES)]
#[timeout(1s)]
#[circuit_breaker(using = PAYMENTS)]
#[limit(concurrency = 8)]
async fn stacked<T: Send + Sync>(value: &T, n: u64) -> anyhow::Result<u64> {
    let _ = value;
    Ok(n)
}

#[circuit_breaker(min_calls = 5)]
#[retry(attempts = 3, budget = &API_RETRIES)]
async fn breaker_outside(name: String) -> anyhow::Result<String> {
    Ok(name)
}

fn is_send<T: Send>(_: T) {}

fn main() {
    is_send(defaults());
    is_send(stacked(&1_u8, 2));
    is_send(breaker_outside(String::new()));
    let _ = (constants(), classified(), shared(), by_reference());
    let _ = Client { breaker: Breaker::new(), shared: Arc::new(Breaker::new()), budget: RetryBudget::new() };
}
