//! Shared helpers of the integration tests: capturing tracing events, and a
//! `redis-server` of a test's own ([`redis_server`]).

pub mod redis_server;

use std::fmt::Debug;
use std::sync::{Arc, Mutex};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

/// One captured event: level, target and fields rendered as text.
#[derive(Debug, Clone, PartialEq)]
pub struct Captured {
    pub level: Level,
    pub target: String,
    pub fields: Vec<(String, String)>,
    /// The name of the span the event was emitted in, if any.
    pub span: Option<String>,
}

impl Captured {
    /// The value of field `name`, if present.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

struct Recorder;

struct Fields(Vec<(String, String)>);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        self.0.push((field.name().to_owned(), format!("{value:?}")));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.push((field.name().to_owned(), value.to_owned()));
    }
}

impl<S: Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>> Layer<S> for Recorder {
    fn on_event(&self, event: &Event<'_>, cx: Context<'_, S>) {
        let mut fields = Fields(Vec::new());
        event.record(&mut fields);
        let captured = Captured {
            level: *event.metadata().level(),
            target: event.metadata().target().to_owned(),
            fields: fields.0,
            span: cx.event_span(event).map(|s| s.name().to_owned()),
        };
        ACTIVE.with_borrow(|active| {
            if let Some(events) = active {
                events.lock().unwrap().push(captured);
            }
        });
    }
}

thread_local! {
    /// Where the events of this thread go while a [`Capture`] is alive.
    static ACTIVE: std::cell::RefCell<Option<Arc<Mutex<Vec<Captured>>>>> =
        const { std::cell::RefCell::new(None) };
}

/// Captures the events emitted on this thread until it is dropped.
///
/// One global subscriber (installed on first use) records into the capturing thread's
/// buffer. A global subscriber rather than `set_default` per test: tracing caches each
/// callsite's interest, and a callsite first hit by a test without a subscriber, while
/// another test installs its own, can be cached as "never" and lose events.
pub struct Capture {
    events: Arc<Mutex<Vec<Captured>>>,
}

impl Capture {
    /// Starts capturing every event (all levels) on the current thread.
    pub fn start() -> Capture {
        static INSTALL: std::sync::Once = std::sync::Once::new();
        INSTALL.call_once(|| {
            let subscriber = tracing_subscriber::registry().with(Recorder);
            tracing::subscriber::set_global_default(subscriber)
                .expect("no other global subscriber in the test binaries");
        });
        let events = Arc::new(Mutex::new(Vec::new()));
        ACTIVE.with_borrow_mut(|active| *active = Some(events.clone()));
        Capture { events }
    }

    /// The events captured so far with target `steadfast`.
    pub fn steadfast(&self) -> Vec<Captured> {
        self.events.lock().unwrap().iter().filter(|e| e.target == "steadfast").cloned().collect()
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        ACTIVE.with_borrow_mut(|active| *active = None);
    }
}

/// An error type that holds everything the attributes create, for tests that only
/// care whether a call failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failure;

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("failure")
    }
}

impl std::error::Error for Failure {}

impl From<steadfast::TimedOut> for Failure {
    fn from(_: steadfast::TimedOut) -> Self {
        Failure
    }
}

impl From<steadfast::Rejected> for Failure {
    fn from(_: steadfast::Rejected) -> Self {
        Failure
    }
}

impl From<steadfast::Panicked> for Failure {
    fn from(_: steadfast::Panicked) -> Self {
        Failure
    }
}

impl From<steadfast::CircuitOpen> for Failure {
    fn from(_: steadfast::CircuitOpen) -> Self {
        Failure
    }
}

#[cfg(feature = "metrics")]
pub mod metrics;
