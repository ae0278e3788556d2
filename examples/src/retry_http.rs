//! The core of `cargo run --example retry_http`: `#[retry]` over an HTTP call, retrying
//! only transient errors and honouring a 429's `Retry-After` header.

use std::sync::atomic::Ordering;
use std::time::Duration;

use steadfast::retry;

use crate::service::{Api, ApiError, Plan, Service, Step};

/// One item, retried on 5xx, 429 (after the server's Retry-After), timeouts and
/// transport errors; a 404 comes back at once.
#[retry(
    attempts = 5,
    delay = 100ms,
    max_elapsed = 10s,
    when = ApiError::is_transient,
    retry_after = ApiError::retry_after
)]
pub async fn fetch_item(api: &Api, id: u32) -> Result<String, ApiError> {
    api.get(&format!("/items/{id}")).await
}

/// What happened.
#[derive(Debug)]
pub struct Report {
    /// The final result.
    pub result: Result<String, ApiError>,
    /// Requests the service received.
    pub attempts: usize,
    /// Wall time.
    pub elapsed: Duration,
}

/// Starts a service that answers item 7 with a 429 (`Retry-After: 1`), then a 503,
/// then the item, and item 404 with a 404; fetches `id`.
pub async fn run(id: u32) -> std::io::Result<Report> {
    let plan = Plan::default()
        .with(7, vec![Step::Throttle(1), Step::Unavailable])
        .with(404, vec![Step::NotFound]);
    let service = Service::start(plan, Duration::ZERO).await?;
    let api = Api::new(service.url());
    let started = tokio::time::Instant::now();
    let result = fetch_item(&api, id).await;
    Ok(Report {
        result,
        attempts: service.stats.item_requests.load(Ordering::SeqCst),
        elapsed: started.elapsed(),
    })
}
