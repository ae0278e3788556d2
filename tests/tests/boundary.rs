//! `#[error_boundary]`: every error that leaves is logged once, with context and the
//! source chain; panics are caught only with `catch_panic`.

use std::fmt;

use steadfast::{Panicked, error_boundary};
use steadfast_tests::Capture;
use tracing::Level;

#[derive(Debug)]
enum DbError {
    Query(std::io::Error),
    Panic(Panicked),
}

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DbError::Query(_) => f.write_str("query failed"),
            DbError::Panic(p) => write!(f, "{p}"),
        }
    }
}

impl std::error::Error for DbError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DbError::Query(e) => Some(e),
            DbError::Panic(p) => Some(p),
        }
    }
}

impl From<Panicked> for DbError {
    fn from(p: Panicked) -> Self {
        DbError::Panic(p)
    }
}

#[error_boundary("creating user")]
async fn create_user(fail: bool) -> Result<u32, DbError> {
    if fail {
        return Err(DbError::Query(std::io::Error::other("connection reset")));
    }
    Ok(7)
}

#[tokio::test]
async fn an_error_is_logged_once_with_context_and_sources_and_returned_unchanged() {
    let capture = Capture::start();
    let err = create_user(true).await.unwrap_err();
    assert!(matches!(&err, DbError::Query(e) if e.to_string() == "connection reset"));
    let events = capture.steadfast();
    assert_eq!(events.len(), 1);
    let e = &events[0];
    assert_eq!(e.level, Level::ERROR);
    assert_eq!(e.field("function"), Some("create_user"));
    assert_eq!(e.field("context"), Some("creating user"));
    assert_eq!(e.field("error"), Some("query failed"));
    assert_eq!(e.field("sources"), Some("connection reset"));
}

#[tokio::test]
async fn success_logs_nothing() {
    let capture = Capture::start();
    assert_eq!(create_user(false).await.unwrap(), 7);
    assert!(capture.steadfast().is_empty());
}

#[error_boundary(context = "syncing", level = warn)]
async fn sync_job() -> Result<(), DbError> {
    Err(DbError::Query(std::io::Error::other("timeout")))
}

#[error_boundary]
async fn no_context() -> Result<(), DbError> {
    Err(DbError::Query(std::io::Error::other("x")))
}

#[tokio::test]
async fn level_and_context_arguments() {
    let capture = Capture::start();
    sync_job().await.unwrap_err();
    no_context().await.unwrap_err();
    let events = capture.steadfast();
    assert_eq!(events[0].level, Level::WARN);
    assert_eq!(events[0].field("context"), Some("syncing"));
    assert_eq!(events[1].level, Level::ERROR);
    assert_eq!(events[1].field("function"), Some("no_context"));
    assert_eq!(events[1].field("context"), None);
}

#[error_boundary(catch_panic)]
async fn panics_after_an_await(n: usize) -> Result<usize, DbError> {
    tokio::task::yield_now().await;
    let v: Vec<usize> = Vec::new();
    Ok(v[n])
}

#[tokio::test]
async fn catch_panic_turns_a_panic_in_any_poll_into_an_error() {
    let capture = Capture::start();
    let err = panics_after_an_await(3).await.unwrap_err();
    let DbError::Panic(p) = &err else { panic!("expected a caught panic, got {err:?}") };
    assert_eq!(p.message(), "index out of bounds: the len is 0 but the index is 3");
    assert_eq!(p.function(), Some("panics_after_an_await"));
    let events = capture.steadfast();
    assert_eq!(events.len(), 1);
    assert_eq!(
        events[0].field("error"),
        Some(
            "`panics_after_an_await` panicked: index out of bounds: the len is 0 but the index is 3"
        )
    );
}

#[error_boundary]
async fn panics_untouched() -> Result<(), DbError> {
    panic!("not caught");
}

#[tokio::test]
async fn without_catch_panic_a_panic_propagates() {
    let join = tokio::spawn(panics_untouched()).await.unwrap_err();
    assert!(join.is_panic());
    let payload = join.into_panic();
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"not caught"));
}

#[error_boundary("with anyhow")]
async fn anyhow_error() -> anyhow::Result<()> {
    let inner: Result<(), std::io::Error> = Err(std::io::Error::other("disk full"));
    anyhow::Context::context(inner, "writing cache")?;
    Ok(())
}

#[error_boundary]
async fn boxed_error() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    Err(Box::new(DbError::Query(std::io::Error::other("refused"))))
}

#[error_boundary]
async fn string_error() -> Result<(), String> {
    Err("plain text".to_owned())
}

#[tokio::test]
async fn sources_of_anyhow_boxed_and_plain_errors() {
    let capture = Capture::start();
    anyhow_error().await.unwrap_err();
    boxed_error().await.unwrap_err();
    string_error().await.unwrap_err();
    let events = capture.steadfast();
    assert_eq!(events[0].field("error"), Some("writing cache"));
    assert_eq!(events[0].field("sources"), Some("disk full"));
    assert_eq!(events[1].field("error"), Some("query failed"));
    assert_eq!(events[1].field("sources"), Some("refused"));
    assert_eq!(events[2].field("error"), Some("plain text"));
    assert_eq!(events[2].field("sources"), None);
}

#[tokio::test]
async fn the_future_is_send() {
    let handle = tokio::spawn(create_user(false));
    assert_eq!(handle.await.unwrap().unwrap(), 7);
}
