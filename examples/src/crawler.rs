//! The core of `cargo run --example crawler`: `#[limit(concurrency, rate)]` over many
//! pages of the local service.

use std::sync::atomic::Ordering;
use std::time::Duration;

use steadfast::limit;

use crate::service::{Api, ApiError, Plan, Service};

/// At most 4 requests in flight and 20 started in any second, however many tasks call.
#[limit(concurrency = 4, rate = 20, per = 1s)]
pub async fn crawl(api: &Api, page: u32) -> Result<String, ApiError> {
    api.get(&format!("/pages/{page}")).await
}

/// What happened.
#[derive(Debug)]
pub struct Report {
    /// Pages fetched.
    pub fetched: usize,
    /// The most requests the service served at once.
    pub peak_in_flight: usize,
    /// Wall time.
    pub elapsed: Duration,
}

/// Crawls `pages` pages, all spawned at once; each takes the service `page_delay`.
pub async fn run(pages: u32, page_delay: Duration) -> std::io::Result<Report> {
    let service = Service::start(Plan::default(), page_delay).await?;
    let api = Api::new(service.url());
    let started = tokio::time::Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for page in 0..pages {
        let api = api.clone();
        tasks.spawn(async move { crawl(&api, page).await });
    }
    let fetched = tasks.join_all().await.into_iter().filter(Result::is_ok).count();
    Ok(Report {
        fetched,
        peak_in_flight: service.stats.pages_peak.load(Ordering::SeqCst),
        elapsed: started.elapsed(),
    })
}
