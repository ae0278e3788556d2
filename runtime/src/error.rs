//! The errors that the attributes create: [`TimedOut`], [`Rejected`] and [`Panicked`].
//!
//! They enter the function's own error type through `From`, so each implements
//! `std::error::Error + Send + Sync + 'static`: `Box<dyn Error + Send + Sync>` and
//! `anyhow::Error` hold them unchanged.
//!
//! Room to grow without a breaking change: the structs keep their fields private
//! (built with `new`, read with methods), and [`LimitKind`] is `#[non_exhaustive]`, as
//! every public enum that may gain variants is.

use std::fmt;
use std::time::Duration;

/// The body of a `#[timeout(D)]` function (or of [`crate::timeout()`]) did not finish
/// within `D`; its future was dropped.
///
/// ```
/// use std::time::Duration;
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let slow = async {
///     tokio::time::sleep(Duration::from_secs(5)).await;
///     Ok::<_, steadfast::TimedOut>(())
/// };
/// let err = steadfast::timeout(Duration::from_millis(800), slow).await.unwrap_err();
/// assert_eq!(err.after(), Duration::from_millis(800));
/// assert_eq!(err.to_string(), "timed out after 800ms");
/// // `TimedOut` also converts into `std::io::Error` of kind `TimedOut`.
/// let io: std::io::Error = err.into();
/// assert_eq!(io.kind(), std::io::ErrorKind::TimedOut);
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimedOut {
    after: Duration,
    function: Option<&'static str>,
}

impl TimedOut {
    /// A timeout of `after`, raised outside of an annotated function.
    pub const fn new(after: Duration) -> Self {
        Self { after, function: None }
    }

    /// A timeout of `after` in the function named `function`.
    pub const fn in_function(after: Duration, function: &'static str) -> Self {
        Self { after, function: Some(function) }
    }

    /// How long the body was given.
    pub const fn after(&self) -> Duration {
        self.after
    }

    /// The annotated function's name, if the timeout came from an attribute.
    pub const fn function(&self) -> Option<&'static str> {
        self.function
    }
}

impl fmt::Display for TimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.function {
            Some(name) => write!(f, "`{name}` timed out after {:?}", self.after),
            None => write!(f, "timed out after {:?}", self.after),
        }
    }
}

impl std::error::Error for TimedOut {}

impl From<TimedOut> for std::io::Error {
    fn from(err: TimedOut) -> Self {
        std::io::Error::new(std::io::ErrorKind::TimedOut, err)
    }
}

/// Which limit turned a caller away; part of [`Rejected`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LimitKind {
    /// At most this many bodies may run at once.
    Concurrency(usize),
    /// At most `starts` bodies may start in any window of length `per`.
    Rate {
        /// Starts allowed per window.
        starts: u32,
        /// The window.
        per: Duration,
    },
    /// A limit of another implementation of [`crate::Limit`], described by its name.
    Other(&'static str),
    /// A fleet-wide limit, named, whose store did not answer: a `RedisLimiter` with
    /// `Unavailable::FailClosed` while Redis is unreachable (feature `redis`).
    Unavailable(&'static str),
}

impl fmt::Display for LimitKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LimitKind::Concurrency(n) => write!(f, "concurrency limit of {n}"),
            LimitKind::Rate { starts, per } => write!(f, "rate limit of {starts} per {per:?}"),
            LimitKind::Other(name) => write!(f, "limit `{name}`"),
            LimitKind::Unavailable(name) => write!(f, "fleet limit `{name}` (Redis unavailable)"),
        }
    }
}

/// A `#[limit(.., wait = D)]` caller did not get a slot within `D`; the body did not run.
///
/// ```
/// use std::time::Duration;
/// use steadfast::{LimitKind, Rejected};
///
/// let err = Rejected::new(LimitKind::Concurrency(8), Duration::from_millis(250));
/// assert_eq!(err.limit(), LimitKind::Concurrency(8));
/// assert_eq!(err.waited(), Duration::from_millis(250));
/// assert_eq!(err.to_string(), "rejected by the concurrency limit of 8 after waiting 250ms");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rejected {
    limit: LimitKind,
    waited: Duration,
    function: Option<&'static str>,
}

impl Rejected {
    /// A rejection by `limit` after the caller waited `waited`.
    pub const fn new(limit: LimitKind, waited: Duration) -> Self {
        Self { limit, waited, function: None }
    }

    /// The same rejection, attributed to the function named `function`.
    pub const fn in_function(mut self, function: &'static str) -> Self {
        self.function = Some(function);
        self
    }

    /// The limit that was full.
    pub const fn limit(&self) -> LimitKind {
        self.limit
    }

    /// How long the caller waited before it was turned away (zero for load shedding).
    pub const fn waited(&self) -> Duration {
        self.waited
    }

    /// The annotated function's name, if the rejection came from an attribute.
    pub const fn function(&self) -> Option<&'static str> {
        self.function
    }
}

impl fmt::Display for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(name) = self.function {
            write!(f, "`{name}` ")?;
        }
        write!(f, "rejected by the {} after waiting {:?}", self.limit, self.waited)
    }
}

impl std::error::Error for Rejected {}

/// The body of an `#[error_boundary(catch_panic)]` function panicked; the panic was
/// caught and turned into this error.
///
/// ```
/// use steadfast::Panicked;
///
/// let err = Panicked::new("index out of bounds");
/// assert_eq!(err.message(), "index out of bounds");
/// assert_eq!(err.to_string(), "panicked: index out of bounds");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Panicked {
    message: String,
    function: Option<&'static str>,
}

impl Panicked {
    /// A caught panic with this message.
    pub fn new(message: impl Into<String>) -> Self {
        Self { message: message.into(), function: None }
    }

    /// A caught panic in the function named `function`.
    pub fn in_function(message: impl Into<String>, function: &'static str) -> Self {
        Self { message: message.into(), function: Some(function) }
    }

    /// Builds the error from a payload returned by `std::panic::catch_unwind`.
    pub fn from_payload(payload: &(dyn std::any::Any + Send), function: &'static str) -> Self {
        let message = if let Some(s) = payload.downcast_ref::<&'static str>() {
            (*s).to_owned()
        } else if let Some(s) = payload.downcast_ref::<String>() {
            s.clone()
        } else {
            "panic with a non-string payload".to_owned()
        };
        Self::in_function(message, function)
    }

    /// The panic message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The annotated function's name, if the panic was caught by an attribute.
    pub fn function(&self) -> Option<&'static str> {
        self.function
    }
}

impl fmt::Display for Panicked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.function {
            Some(name) => write!(f, "`{name}` panicked: {}", self.message),
            None => write!(f, "panicked: {}", self.message),
        }
    }
}

impl std::error::Error for Panicked {}

/// A call refused by an open circuit breaker ([`crate::Breaker`], `#[circuit_breaker]`);
/// the body did not run.
///
/// [`retry_after`](Self::retry_after) is the time until the breaker lets trial calls
/// through: zero while trial calls are already under way (half-open), `Duration::MAX`
/// while it is held open by [`Breaker::isolate`](crate::Breaker::isolate).
///
/// ```
/// use std::time::Duration;
/// use steadfast::CircuitOpen;
///
/// let err = CircuitOpen::new(Duration::from_secs(3)).in_function("charge");
/// assert_eq!(err.retry_after(), Duration::from_secs(3));
/// assert_eq!(err.function(), Some("charge"));
/// assert_eq!(err.to_string(), "`charge` refused: the circuit is open (trial calls in 3s)");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CircuitOpen {
    retry_after: Duration,
    function: Option<&'static str>,
}

impl CircuitOpen {
    /// A refusal whose breaker lets trial calls through after `retry_after`.
    pub const fn new(retry_after: Duration) -> Self {
        Self { retry_after, function: None }
    }

    /// The same refusal, attributed to the function named `function`.
    pub const fn in_function(mut self, function: &'static str) -> Self {
        self.function = Some(function);
        self
    }

    /// The time until the breaker lets trial calls through (see the type's docs).
    pub const fn retry_after(&self) -> Duration {
        self.retry_after
    }

    /// The function whose call was refused, if known.
    pub const fn function(&self) -> Option<&'static str> {
        self.function
    }
}

impl fmt::Display for CircuitOpen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(name) = self.function {
            write!(f, "`{name}` ")?;
        }
        f.write_str("refused: the circuit is open")?;
        match self.retry_after {
            Duration::ZERO => f.write_str(" (trial calls under way)"),
            Duration::MAX => f.write_str(" (held open until reset)"),
            after => write!(f, " (trial calls in {after:?})"),
        }
    }
}

impl std::error::Error for CircuitOpen {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_send_sync_static_errors() {
        fn is_error<E: std::error::Error + Send + Sync + 'static>() {}
        is_error::<TimedOut>();
        is_error::<Rejected>();
        is_error::<Panicked>();
        is_error::<CircuitOpen>();
    }

    #[test]
    fn circuit_open_display() {
        assert_eq!(
            CircuitOpen::new(Duration::from_millis(1500)).to_string(),
            "refused: the circuit is open (trial calls in 1.5s)"
        );
        assert_eq!(
            CircuitOpen::new(Duration::ZERO).in_function("f").to_string(),
            "`f` refused: the circuit is open (trial calls under way)"
        );
        assert_eq!(
            CircuitOpen::new(Duration::MAX).to_string(),
            "refused: the circuit is open (held open until reset)"
        );
    }

    #[test]
    fn display_names_the_function() {
        let t = TimedOut::in_function(Duration::from_millis(800), "load_profile");
        assert_eq!(t.to_string(), "`load_profile` timed out after 800ms");
        let r = Rejected::new(
            LimitKind::Rate { starts: 5, per: Duration::from_secs(1) },
            Duration::ZERO,
        )
        .in_function("crawl");
        assert_eq!(
            r.to_string(),
            "`crawl` rejected by the rate limit of 5 per 1s after waiting 0ns"
        );
        let p = Panicked::from_payload(&String::from("boom"), "f");
        assert_eq!(p.to_string(), "`f` panicked: boom");
        let p = Panicked::from_payload(&"static boom", "f");
        assert_eq!(p.message(), "static boom");
        let p = Panicked::from_payload(&42_u32, "f");
        assert_eq!(p.message(), "panic with a non-string payload");
    }

    #[test]
    fn timed_out_into_io_error() {
        let io: std::io::Error = TimedOut::new(Duration::from_secs(1)).into();
        assert_eq!(io.kind(), std::io::ErrorKind::TimedOut);
        assert!(io.get_ref().unwrap().is::<TimedOut>());
    }
}
