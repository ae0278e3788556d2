//! The demo "inventory service": a real HTTP server on 127.0.0.1 (an ephemeral port)
//! that fails, stalls, throttles and returns garbage on a fixed, seeded schedule, and
//! a small client for it.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use steadfast::{CircuitOpen, Panicked, Rejected, TimedOut};

/// What the service does for one request to an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// 200 with `stock=N`.
    Ok,
    /// 503 Service Unavailable.
    Unavailable,
    /// Waits this long before answering 200 (longer than the client's timeout).
    Stall(Duration),
    /// 429 Too Many Requests with `Retry-After: N` seconds.
    Throttle(u64),
    /// 404 Not Found.
    NotFound,
    /// 200 with a body the client's parser chokes on.
    Garbage,
}

/// Per item id, the steps of its first requests; later requests get [`Step::Ok`].
#[derive(Debug, Clone, Default)]
pub struct Plan(pub HashMap<u32, Vec<Step>>);

impl Plan {
    /// A fixed plan for `ids`, drawn from a seeded generator: the same seed gives the
    /// same failures, stalls and throttles on every run.
    pub fn seeded(seed: u64, ids: &[u32], stall: Duration) -> Plan {
        let mut state = seed;
        let mut next = move || {
            // splitmix64
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        let mut plan = HashMap::new();
        for &id in ids {
            let steps = match next() % 10 {
                0..=2 => vec![Step::Unavailable],
                3 => vec![Step::Unavailable, Step::Unavailable],
                4 => vec![Step::Stall(stall)],
                5 => vec![Step::Throttle(1)],
                _ => vec![],
            };
            plan.insert(id, steps);
        }
        Plan(plan)
    }

    /// Adds (or replaces) the steps of one item.
    pub fn with(mut self, id: u32, steps: Vec<Step>) -> Plan {
        self.0.insert(id, steps);
        self
    }
}

/// Counters of what the service saw.
#[derive(Debug, Default)]
pub struct Stats {
    /// Requests to `/items/{id}`.
    pub item_requests: AtomicUsize,
    /// Requests to `/pages/{n}`.
    pub page_requests: AtomicUsize,
    /// Page requests being served now, and the most at once.
    pub pages_in_flight: AtomicUsize,
    /// The most page requests served at once.
    pub pages_peak: AtomicUsize,
    /// Requests to `/quotes/{n}`: the dependency that goes down and comes back.
    pub quote_requests: AtomicUsize,
}

/// How many of the first requests to `/quotes/{n}` fail with 503: the outage.
pub const QUOTE_OUTAGE: usize = 2;

struct Shared {
    plan: Plan,
    seen: Mutex<HashMap<u32, usize>>,
    stats: Arc<Stats>,
    page_delay: Duration,
}

/// A running service.
pub struct Service {
    /// Where it listens.
    pub addr: SocketAddr,
    /// What it saw.
    pub stats: Arc<Stats>,
    task: tokio::task::JoinHandle<()>,
}

impl Service {
    /// Starts the service on 127.0.0.1 with an ephemeral port. Pages take `page_delay`.
    pub async fn start(plan: Plan, page_delay: Duration) -> std::io::Result<Service> {
        let stats = Arc::new(Stats::default());
        let shared = Arc::new(Shared {
            plan,
            seen: Mutex::new(HashMap::new()),
            stats: stats.clone(),
            page_delay,
        });
        let app = Router::new()
            .route("/items/{id}", get(item))
            .route("/pages/{n}", get(page))
            .route("/quotes/{n}", get(quote))
            .with_state(shared);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            // The server runs until the task is aborted (on drop of `Service`).
            let _ = axum::serve(listener, app).await;
        });
        Ok(Service { addr, stats, task })
    }

    /// The base URL, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn item(State(shared): State<Arc<Shared>>, Path(id): Path<u32>) -> Response {
    shared.stats.item_requests.fetch_add(1, Ordering::SeqCst);
    let nth = {
        let mut seen = shared.seen.lock().unwrap_or_else(|e| e.into_inner());
        let n = seen.entry(id).or_insert(0);
        *n += 1;
        *n - 1
    };
    let step = shared.plan.0.get(&id).and_then(|steps| steps.get(nth)).copied().unwrap_or(Step::Ok);
    match step {
        Step::Ok => (StatusCode::OK, format!("stock={}", stock_of(id))).into_response(),
        Step::Unavailable => StatusCode::SERVICE_UNAVAILABLE.into_response(),
        Step::Stall(d) => {
            tokio::time::sleep(d).await;
            (StatusCode::OK, format!("stock={}", stock_of(id))).into_response()
        }
        Step::Throttle(secs) => {
            let mut headers = HeaderMap::new();
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
            (StatusCode::TOO_MANY_REQUESTS, headers).into_response()
        }
        Step::NotFound => StatusCode::NOT_FOUND.into_response(),
        Step::Garbage => (StatusCode::OK, "<html>oops</html>").into_response(),
    }
}

/// The stock the service reports for an item.
pub fn stock_of(id: u32) -> u32 {
    id * 7 % 100
}

async fn page(State(shared): State<Arc<Shared>>, Path(n): Path<u32>) -> String {
    let stats = &shared.stats;
    stats.page_requests.fetch_add(1, Ordering::SeqCst);
    let now = stats.pages_in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    stats.pages_peak.fetch_max(now, Ordering::SeqCst);
    tokio::time::sleep(shared.page_delay).await;
    stats.pages_in_flight.fetch_sub(1, Ordering::SeqCst);
    format!("page {n}")
}

/// `/quotes/{n}`: down (503) for its first [`QUOTE_OUTAGE`] requests, then up.
async fn quote(State(shared): State<Arc<Shared>>, Path(n): Path<u32>) -> Response {
    let nth = shared.stats.quote_requests.fetch_add(1, Ordering::SeqCst);
    if nth < QUOTE_OUTAGE {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    (StatusCode::OK, format!("quote {n}")).into_response()
}

/// Everything a call to the service can fail with.
#[derive(Debug)]
pub enum ApiError {
    /// A status the client does not expect.
    Status(u16),
    /// 429 with the server's Retry-After.
    Throttled(Duration),
    /// The connection failed.
    Transport(reqwest::Error),
    /// `#[timeout]` gave up.
    TimedOut(TimedOut),
    /// `#[limit(wait = ..)]` turned the call away.
    Rejected(Rejected),
    /// `#[error_boundary(catch_panic)]` caught a panic.
    Panicked(Panicked),
    /// `#[circuit_breaker]` refused the call: the dependency is known to be down.
    Open(CircuitOpen),
}

impl ApiError {
    /// Worth another attempt: 5xx, 429, transport errors and timeouts; not 404.
    pub fn is_transient(&self) -> bool {
        match self {
            ApiError::Status(code) => *code >= 500,
            ApiError::Throttled(_) | ApiError::Transport(_) | ApiError::TimedOut(_) => true,
            ApiError::Rejected(_) | ApiError::Panicked(_) | ApiError::Open(_) => false,
        }
    }

    /// The server's Retry-After, for `#[retry(retry_after = ..)]`.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ApiError::Throttled(d) => Some(*d),
            _ => None,
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApiError::Status(code) => write!(f, "HTTP {code}"),
            ApiError::Throttled(d) => write!(f, "HTTP 429, retry after {d:?}"),
            ApiError::Transport(_) => f.write_str("transport error"),
            ApiError::TimedOut(_) => f.write_str("no answer in time"),
            ApiError::Rejected(_) => f.write_str("shed by a full limit"),
            ApiError::Panicked(_) => f.write_str("the client code panicked"),
            ApiError::Open(_) => f.write_str("refused: the dependency is down"),
        }
    }
}

impl std::error::Error for ApiError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ApiError::Transport(e) => Some(e),
            ApiError::TimedOut(e) => Some(e),
            ApiError::Rejected(e) => Some(e),
            ApiError::Panicked(e) => Some(e),
            ApiError::Open(e) => Some(e),
            ApiError::Status(_) | ApiError::Throttled(_) => None,
        }
    }
}

impl From<reqwest::Error> for ApiError {
    fn from(e: reqwest::Error) -> Self {
        ApiError::Transport(e)
    }
}

impl From<TimedOut> for ApiError {
    fn from(e: TimedOut) -> Self {
        ApiError::TimedOut(e)
    }
}

impl From<Rejected> for ApiError {
    fn from(e: Rejected) -> Self {
        ApiError::Rejected(e)
    }
}

impl From<CircuitOpen> for ApiError {
    fn from(e: CircuitOpen) -> Self {
        ApiError::Open(e)
    }
}

impl From<Panicked> for ApiError {
    fn from(e: Panicked) -> Self {
        ApiError::Panicked(e)
    }
}

/// A client of the service.
#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
    /// A client for the service at `base` (`http://127.0.0.1:PORT`).
    pub fn new(base: String) -> Api {
        Api { http: reqwest::Client::new(), base }
    }

    /// `GET {base}{path}`: the body on 200, an [`ApiError`] otherwise (429 carries
    /// its Retry-After).
    pub async fn get(&self, path: &str) -> Result<String, ApiError> {
        crate::timeline::mark(crate::timeline::Mark::Attempt);
        let response = self.http.get(format!("{}{path}", self.base)).send().await?;
        match response.status().as_u16() {
            200 => Ok(response.text().await?),
            429 => {
                let secs = response
                    .headers()
                    .get(header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<u64>().ok())
                    .unwrap_or(1);
                Err(ApiError::Throttled(Duration::from_secs(secs)))
            }
            code => Err(ApiError::Status(code)),
        }
    }
}
