//! Shared helpers of the integration tests: capturing tracing events.

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

#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<Captured>>>);

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
        self.0.lock().unwrap().push(Captured {
            level: *event.metadata().level(),
            target: event.metadata().target().to_owned(),
            fields: fields.0,
            span: cx.event_span(event).map(|s| s.name().to_owned()),
        });
    }
}

/// Captures the events emitted on this thread until the guard is dropped.
pub struct Capture {
    events: Arc<Mutex<Vec<Captured>>>,
    _guard: tracing::subscriber::DefaultGuard,
}

impl Capture {
    /// Starts capturing every event (all levels) on the current thread.
    pub fn start() -> Capture {
        let recorder = Recorder::default();
        let events = recorder.0.clone();
        let subscriber = tracing_subscriber::registry().with(recorder);
        Capture { events, _guard: tracing::subscriber::set_default(subscriber) }
    }

    /// The events captured so far with target `steadfast`.
    pub fn steadfast(&self) -> Vec<Captured> {
        self.events.lock().unwrap().iter().filter(|e| e.target == "steadfast").cloned().collect()
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
