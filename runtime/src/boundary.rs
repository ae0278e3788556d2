//! `#[error_boundary]`: log every error that leaves a function, with context, once.

use std::error::Error;
use std::fmt;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;
use tracing::Level;

use crate::Panicked;

/// Where errors are logged and how: the function name, an optional context message
/// and the level. This is what `#[error_boundary]` builds, usable on its own.
///
/// ```
/// use steadfast::ErrorBoundary;
/// use tracing::Level;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// static BOUNDARY: ErrorBoundary = ErrorBoundary::new("create_user")
///     .context("creating user")
///     .level(Level::WARN);
///
/// let result: Result<(), std::io::Error> = BOUNDARY
///     .run(async { Err(std::io::Error::other("disk full")) })
///     .await; // logged at WARN with function, context, error and source chain
/// assert!(result.is_err());
/// # }
/// ```
#[derive(Debug, Clone, Copy)]
pub struct ErrorBoundary {
    function: &'static str,
    context: Option<&'static str>,
    level: Level,
}

impl ErrorBoundary {
    /// A boundary for the function (or operation) named `function`, logging at ERROR.
    pub const fn new(function: &'static str) -> Self {
        Self { function, context: None, level: Level::ERROR }
    }

    /// Adds a context message ("creating user") to every logged error.
    pub const fn context(mut self, context: &'static str) -> Self {
        self.context = Some(context);
        self
    }

    /// Logs at `level` instead of ERROR.
    pub const fn level(mut self, level: Level) -> Self {
        self.level = level;
        self
    }

    /// Awaits `body`; an `Err` is logged once with its `source()` chain and returned
    /// unchanged. The success path logs nothing and allocates nothing.
    pub async fn run<T, E, F>(&self, body: F) -> Result<T, E>
    where
        F: Future<Output = Result<T, E>>,
        E: Error + 'static,
    {
        let out = body.await;
        if let Err(error) = &out {
            self.log(error, error.source());
        }
        out
    }

    /// Like [`run`](Self::run), and a panic in any poll of `body` is caught and
    /// returned as `Err(E::from(Panicked))` (and logged). The panic hook still runs,
    /// as with `std::panic::catch_unwind`.
    ///
    /// ```
    /// use steadfast::{ErrorBoundary, Panicked};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let result: Result<(), Panicked> = ErrorBoundary::new("job")
    ///     .run_catching(async { panic!("bad input") })
    ///     .await;
    /// assert_eq!(result.unwrap_err().message(), "bad input");
    /// # }
    /// ```
    pub async fn run_catching<T, E, F>(&self, body: F) -> Result<T, E>
    where
        F: Future<Output = Result<T, E>>,
        E: Error + From<Panicked> + 'static,
    {
        self.run(catch_panic(self.function, |p| Err(E::from(p)), body)).await
    }

    /// Logs `error` (with the `source()` chain starting at `source`) as this boundary
    /// would. For error types that are not `std::error::Error` (`anyhow::Error`,
    /// `Box<dyn Error>`), pass their inner error's source.
    pub fn log(&self, error: &dyn fmt::Display, source: Option<&(dyn Error + 'static)>) {
        let sources = source.map(|s| tracing::field::display(Sources(s)));
        let (function, context) = (self.function, self.context);
        // A tracing callsite needs its level as a constant, hence one per level.
        macro_rules! emit {
            ($level:expr) => {
                tracing::event!(
                    target: "steadfast",
                    $level,
                    function,
                    context,
                    error = %error,
                    sources,
                    "error left the function",
                )
            };
        }
        match self.level {
            Level::ERROR => emit!(Level::ERROR),
            Level::WARN => emit!(Level::WARN),
            Level::INFO => emit!(Level::INFO),
            Level::DEBUG => emit!(Level::DEBUG),
            _ => emit!(Level::TRACE),
        }
    }
}

/// Displays an error's `source()` chain as `first: second: ...`.
struct Sources<'a>(&'a (dyn Error + 'static));

impl fmt::Display for Sources<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut next = Some(self.0);
        let mut first = true;
        while let Some(error) = next {
            if !first {
                f.write_str(": ")?;
            }
            write!(f, "{error}")?;
            first = false;
            next = error.source();
        }
        Ok(())
    }
}

/// Polls `body`, turning a panic in any poll into `on_panic(Panicked)`.
#[doc(hidden)]
pub fn catch_panic<F: Future>(
    function: &'static str,
    on_panic: fn(Panicked) -> F::Output,
    body: F,
) -> CatchPanic<F> {
    CatchPanic { body, function, on_panic }
}

/// Runs `body`, turning a panic into `on_panic(Panicked)`: [`catch_panic`] for a
/// plain `fn` under `#[error_boundary(catch_panic)]`.
#[doc(hidden)]
pub fn catch_panic_blocking<T>(
    function: &'static str,
    on_panic: fn(Panicked) -> T,
    body: impl FnOnce() -> T,
) -> T {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(out) => out,
        Err(payload) => on_panic(Panicked::from_payload(&*payload, function)),
    }
}

pin_project! {
    /// The future of [`catch_panic`]: holds `body` once (an `async fn` would hold it
    /// twice, as its argument and as the future it awaits).
    #[doc(hidden)]
    pub struct CatchPanic<F: Future> {
        #[pin]
        body: F,
        function: &'static str,
        on_panic: fn(Panicked) -> F::Output,
    }
}

// By hand: a body future is rarely `Debug` (an `async` block never is).
impl<F: Future> fmt::Debug for CatchPanic<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CatchPanic").field("function", &self.function).finish_non_exhaustive()
    }
}

impl<F: Future> Future for CatchPanic<F> {
    type Output = F::Output;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let body = this.body;
        match catch_unwind(AssertUnwindSafe(|| body.poll(cx))) {
            Ok(poll) => poll,
            Err(payload) => {
                Poll::Ready((this.on_panic)(Panicked::from_payload(&*payload, this.function)))
            }
        }
    }
}

/// Autoref dispatch used by the `#[error_boundary]` expansion to find an error's
/// `source()` chain: `(&&&SourceOf(e)).steadfast_source()` picks the first that
/// applies of `E: Error`, `E: Deref<Target: Error>` (`anyhow::Error`,
/// `Box<dyn Error + Send + Sync>`) and plain `Display`.
#[doc(hidden)]
#[derive(Debug)]
pub struct SourceOf<'a, E: ?Sized>(pub &'a E);

#[doc(hidden)]
pub trait SourceViaError {
    fn steadfast_source(&self) -> Option<&(dyn Error + 'static)>;
}

impl<E: Error + ?Sized> SourceViaError for &&SourceOf<'_, E> {
    fn steadfast_source(&self) -> Option<&(dyn Error + 'static)> {
        self.0.source()
    }
}

#[doc(hidden)]
pub trait SourceViaDeref {
    fn steadfast_source(&self) -> Option<&(dyn Error + 'static)>;
}

impl<E, T> SourceViaDeref for &SourceOf<'_, E>
where
    E: std::ops::Deref<Target = T> + ?Sized,
    T: Error + ?Sized + 'static,
{
    fn steadfast_source(&self) -> Option<&(dyn Error + 'static)> {
        (**self.0).source()
    }
}

#[doc(hidden)]
pub trait SourceViaDisplay {
    fn steadfast_source(&self) -> Option<&(dyn Error + 'static)>;
}

impl<E: ?Sized> SourceViaDisplay for SourceOf<'_, E> {
    fn steadfast_source(&self) -> Option<&(dyn Error + 'static)> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Outer(std::io::Error);
    impl fmt::Display for Outer {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("outer")
        }
    }
    impl Error for Outer {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn sources_chain_is_joined() {
        let e = Outer(std::io::Error::other("inner"));
        assert_eq!(Sources(&e).to_string(), "outer: inner");
    }

    #[test]
    #[allow(clippy::needless_borrow)] // the borrows select the impl
    fn source_dispatch_prefers_error_then_deref_then_display() {
        let typed = Outer(std::io::Error::other("inner"));
        assert_eq!((&&&SourceOf(&typed)).steadfast_source().unwrap().to_string(), "inner");

        let any = anyhow::Error::new(std::io::Error::other("root")).context("ctx");
        assert_eq!((&&&SourceOf(&any)).steadfast_source().unwrap().to_string(), "root");

        let boxed: Box<dyn Error + Send + Sync> = Box::new(Outer(std::io::Error::other("in box")));
        assert_eq!((&&&SourceOf(&boxed)).steadfast_source().unwrap().to_string(), "in box");

        let text = String::from("plain");
        assert!((&&&SourceOf(&text)).steadfast_source().is_none());
    }

    #[test]
    fn every_type_is_debug() {
        let boundary = ErrorBoundary::new("f").context("ctx");
        assert!(format!("{boundary:?}").contains("ctx"));
        let future = catch_panic("load", Err::<(), Panicked>, async { Ok(()) });
        assert_eq!(format!("{future:?}"), r#"CatchPanic { function: "load", .. }"#);
        assert_eq!(format!("{:?}", SourceOf(&7)), "SourceOf(7)");
    }

    #[tokio::test]
    async fn catch_panic_returns_the_message() {
        let out: Result<(), Panicked> = catch_panic("f", Err, async { panic!("boom {}", 1) }).await;
        assert_eq!(out.unwrap_err().message(), "boom 1");
    }
}
