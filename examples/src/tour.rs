//! The core of `cargo run --example tour`: client functions carrying the
//! attributes against the demo service (with a dependency that goes down and comes
//! back, behind a circuit breaker), and a summary of what happened, counted
//! from steadfast's own tracing events.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use steadfast::{circuit_breaker, error_boundary, limit, retry, timeout};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

use crate::service::{Api, ApiError, Plan, Service};
use crate::timeline::{self, Timeline};

/// Checks an item's stock: transient failures are retried with exponential backoff
/// (honouring a 429's Retry-After); each attempt waits for one of 4 slots (at most 10
/// attempts start per second), then gets 400 ms; an error that leaves is logged once.
///
/// `#[limit]` stands above `#[timeout]` so that time spent queueing for a slot does
/// not count against the request's 400 ms (below it, it would).
#[error_boundary("checking stock")]
#[retry(
    attempts = 4,
    delay = 100ms,
    max_delay = 1s,
    when = ApiError::is_transient,
    retry_after = ApiError::retry_after
)]
#[limit(concurrency = 4, rate = 10, per = 1s)]
#[timeout(400ms)]
pub async fn stock(api: &Api, id: u32) -> Result<u32, ApiError> {
    let body = api.get(&format!("/items/{id}")).await?;
    Ok(parse_stock(&body))
}

/// Reads a stock report with a parser that panics on malformed input; the boundary
/// turns the panic into `Err(ApiError::Panicked)` and logs it.
#[error_boundary("reading stock report", catch_panic)]
pub async fn report(api: &Api, id: u32) -> Result<u32, ApiError> {
    let body = api.get(&format!("/items/{id}")).await?;
    Ok(parse_stock(&body))
}

/// A priority lookup that must not queue: with both slots busy it is shed at once.
#[limit(concurrency = 2, wait = 0ms)]
pub async fn priority(api: &Api, page: u32) -> Result<String, ApiError> {
    api.get(&format!("/pages/{page}")).await
}

/// How long the quote breaker stays open before a trial call.
pub const QUOTE_OPEN_FOR: Duration = Duration::from_millis(300);

/// A quote from a dependency that goes down and comes back: two failed calls open the
/// breaker, which then refuses calls at once (no request, no retry) until
/// [`QUOTE_OPEN_FOR`] has passed and a trial call finds it up again.
#[retry(attempts = 2, delay = 50ms, jitter = 0, when = ApiError::is_transient)]
#[circuit_breaker(min_calls = 2, window = 10s, open_for = 300ms)]
pub async fn quote(api: &Api, n: u32) -> Result<String, ApiError> {
    api.get(&format!("/quotes/{n}")).await
}

/// `stock=N` → N. A deliberately trusting parser: it panics on anything else (with
/// one of [`DEMO_PANICS`]).
fn parse_stock(body: &str) -> u32 {
    let value = body.strip_prefix("stock=").expect(DEMO_PANICS[0]);
    value.trim().parse().expect(DEMO_PANICS[1])
}

/// The messages of [`parse_stock`]'s panics: the tour's demo panic.
const DEMO_PANICS: [&str; 2] = ["a stock line", "a number"];

/// Installs a panic hook that reports the tour's demo panic in one line, through
/// `report`, and hands every other panic to the hook that was installed before.
///
/// `#[error_boundary(catch_panic)]` catches the panic, but the process's panic hook
/// runs first (as with `std::panic::catch_unwind`): without this, the default hook
/// would print its message, and with `RUST_BACKTRACE=1` a whole backtrace, in the
/// middle of the tour's output. Only a panic raised in this file with one of the
/// parser's messages is quieted: any other panic stays as loud as it was.
pub fn quiet_demo_panic(report: impl Fn(String) + Send + Sync + 'static) {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let location = info.location().filter(|l| l.file() == file!());
        // `PanicHookInfo::payload_as_str` is newer than the MSRV (1.91).
        let payload = info.payload();
        let message = payload
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
            .unwrap_or_default();
        match location {
            Some(at) if DEMO_PANICS.iter().any(|m| message.starts_with(m)) => report(format!(
                "(the report parser panicked at {}:{}: {message}; #[error_boundary(catch_panic)] \
                 turns it into an error)",
                at.file(),
                at.line(),
            )),
            _ => previous(info),
        }
    }));
}

/// What the tour does.
#[derive(Debug, Clone)]
pub struct TourConfig {
    /// Failures, stalls and throttles per item.
    pub plan: Plan,
    /// The items whose stock is checked, all at once.
    pub items: Vec<u32>,
    /// The item whose report is garbage.
    pub report_item: u32,
    /// How many priority lookups are sent at once.
    pub priority_calls: u32,
    /// How long the service takes for a page.
    pub page_delay: Duration,
}

impl TourConfig {
    /// The full tour: 16 items on a seeded schedule.
    pub fn full() -> TourConfig {
        let items: Vec<u32> = (1..=16).collect();
        let plan = Plan::seeded(2026, &items, Duration::from_secs(2))
            .with(13, vec![crate::service::Step::NotFound])
            .with(99, vec![crate::service::Step::Garbage]);
        TourConfig {
            plan,
            items,
            report_item: 99,
            priority_calls: 6,
            page_delay: Duration::from_millis(200),
        }
    }
}

/// Counts of steadfast's events, by kind: a `tracing` layer.
#[derive(Debug, Default)]
pub struct Counts {
    /// Retries (`#[retry]`'s WARN events).
    pub retries: AtomicUsize,
    /// Timeouts (`#[timeout]`'s WARN events).
    pub timeouts: AtomicUsize,
    /// Rejections (`#[limit(wait)]`'s WARN events).
    pub rejections: AtomicUsize,
    /// Errors logged by `#[error_boundary]`.
    pub boundary_errors: AtomicUsize,
    /// Every call, mark by mark, for the picture under the summary.
    pub timeline: Timeline,
    /// Calls refused by an open breaker (`#[circuit_breaker]`'s DEBUG events).
    pub refused: AtomicUsize,
}

/// The layer that fills [`Counts`].
#[derive(Clone, Default)]
pub struct CountingLayer(pub Arc<Counts>);

impl<S: Subscriber> Layer<S> for CountingLayer {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        if event.metadata().target() != "steadfast" {
            return;
        }
        struct Has<'a>(&'a mut Vec<&'static str>);
        impl Visit for Has<'_> {
            fn record_debug(&mut self, field: &Field, _: &dyn fmt::Debug) {
                self.0.push(field.name());
            }
        }
        let mut names = Vec::new();
        event.record(&mut Has(&mut names));
        timeline::mark_event(&names, *event.metadata().level());
        let counter = if names.contains(&"delay_ms") {
            &self.0.retries
        } else if names.contains(&"timeout_ms") {
            &self.0.timeouts
        } else if names.contains(&"waited_ms") && *event.metadata().level() == tracing::Level::WARN
        {
            &self.0.rejections
        } else if names.contains(&"context") {
            &self.0.boundary_errors
        } else if names.contains(&"retry_after_ms") {
            &self.0.refused
        } else {
            return;
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// What happened in a tour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Calls of the annotated functions.
    pub calls: usize,
    /// Requests the service received (attempts that got as far as the network).
    pub attempts: usize,
    /// Retries.
    pub retries: usize,
    /// Timeouts.
    pub timeouts: usize,
    /// Calls shed by a full limit.
    pub rejections: usize,
    /// Panics caught by an error boundary.
    pub panics_caught: usize,
    /// Errors logged by error boundaries.
    pub boundary_errors: usize,
    /// Calls refused by an open circuit breaker, without a request.
    pub refused: usize,
    /// Whether the dependency that went down answered again (the breaker closed).
    pub dependency_back: bool,
    /// Stock per item (`None` where the call failed), in item order.
    pub stock: Vec<(u32, Option<u32>)>,
    /// Wall time.
    pub wall: Duration,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rows = [
            ("calls", self.calls.to_string()),
            ("attempts", self.attempts.to_string()),
            ("retries", self.retries.to_string()),
            ("timeouts", self.timeouts.to_string()),
            ("rejections", self.rejections.to_string()),
            ("panics caught", self.panics_caught.to_string()),
            ("errors logged", self.boundary_errors.to_string()),
            ("refused (open)", self.refused.to_string()),
            ("wall time", format!("{:.2?}", self.wall)),
        ];
        writeln!(f, "┌────────────────┬──────────┐")?;
        for (name, value) in rows {
            writeln!(f, "│ {name:<14} │ {value:>8} │")?;
        }
        write!(f, "└────────────────┴──────────┘")
    }
}

/// Starts the service, runs the client calls, and sums up (events are counted by the
/// [`CountingLayer`] holding `counts`, which the caller installs).
pub async fn run(config: TourConfig, counts: Arc<Counts>) -> std::io::Result<Summary> {
    let service = Service::start(config.plan.clone(), config.page_delay).await?;
    let api = Api::new(service.url());
    let started = tokio::time::Instant::now();

    // Every item at once: the limit spaces them, the retries absorb the failures.
    let mut checks = tokio::task::JoinSet::new();
    for &id in &config.items {
        let (api, row) = (api.clone(), counts.timeline.row(format!("stock {id}")));
        checks.spawn(async move { (id, row.record(stock(&api, id)).await.ok()) });
    }
    // A burst of priority lookups while the checks run: two get through, the rest
    // are shed at once.
    let mut lookups = tokio::task::JoinSet::new();
    for page in 0..config.priority_calls {
        let (api, row) = (api.clone(), counts.timeline.row(format!("priority {page}")));
        lookups.spawn(async move { row.record(priority(&api, page)).await });
    }
    let row = counts.timeline.row(format!("report {}", config.report_item));
    let panics_caught = match row.record(report(&api, config.report_item)).await {
        Err(ApiError::Panicked(_)) => 1,
        _ => 0,
    };
    let mut stock = checks.join_all().await;
    stock.sort_unstable();
    lookups.join_all().await;

    // A dependency that goes down and comes back. The first quote's two attempts fail
    // and open the breaker; the next three are refused at once (no request, and the
    // retry above does not sleep against it); after `open_for` the trial call finds
    // the dependency up and closes the breaker.
    for n in 0..=3 {
        let _ = counts.timeline.row(format!("quote {n}")).record(quote(&api, n)).await;
    }
    tokio::time::sleep(QUOTE_OPEN_FOR).await;
    let row = counts.timeline.row("quote 4");
    let dependency_back = row.record(quote(&api, 4)).await.is_ok();

    let stats = &service.stats;
    Ok(Summary {
        calls: config.items.len() + config.priority_calls as usize + 1 + 5,
        attempts: stats.item_requests.load(Ordering::SeqCst)
            + stats.page_requests.load(Ordering::SeqCst)
            + stats.quote_requests.load(Ordering::SeqCst),
        retries: counts.retries.load(Ordering::Relaxed),
        timeouts: counts.timeouts.load(Ordering::Relaxed),
        rejections: counts.rejections.load(Ordering::Relaxed),
        panics_caught,
        boundary_errors: counts.boundary_errors.load(Ordering::Relaxed),
        refused: counts.refused.load(Ordering::Relaxed),
        dependency_back,
        stock,
        wall: started.elapsed(),
    })
}
