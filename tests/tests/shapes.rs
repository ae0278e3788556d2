//! Every function shape the attributes accept: methods with each receiver,
//! trait-impl methods, generics, lifetimes, `impl Trait`, `?` and early `return`.

use std::fmt::Display;
use std::time::Duration;

use steadfast::{TimedOut, error_boundary, retry, timeout};

#[derive(Debug, PartialEq)]
enum Error {
    TimedOut,
    Parse,
    Early,
}

impl Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}

impl From<TimedOut> for Error {
    fn from(_: TimedOut) -> Self {
        Error::TimedOut
    }
}

impl From<std::num::ParseIntError> for Error {
    fn from(_: std::num::ParseIntError) -> Self {
        Error::Parse
    }
}

struct Counter {
    count: u32,
    name: String,
}

impl Counter {
    #[error_boundary]
    #[timeout(1s)]
    async fn get(&self) -> Result<u32, Error> {
        Ok(self.count)
    }

    #[timeout(1s)]
    #[error_boundary]
    async fn bump(&mut self, by: u32) -> Result<u32, Error> {
        self.count += by;
        Ok(self.count)
    }

    #[timeout(1s)]
    async fn into_name(self) -> Result<String, Error> {
        Ok(self.name)
    }

    #[timeout(1s)]
    async fn into_upper(mut self) -> Result<String, Error> {
        self.name.make_ascii_uppercase();
        Ok(self.name)
    }

    #[retry(attempts = 3, delay = 10ms, jitter = 0)]
    async fn bump_until(&mut self, target: u32) -> Result<u32, Error> {
        self.count += 1;
        if self.count < target { Err(Error::Early) } else { Ok(self.count) }
    }
}

#[tokio::test(start_paused = true)]
async fn methods_with_every_receiver() {
    let mut c = Counter { count: 1, name: "n".into() };
    assert_eq!(c.get().await, Ok(1));
    assert_eq!(c.bump(2).await, Ok(3));
    assert_eq!(c.bump_until(5).await, Ok(5));
    assert_eq!(c.count, 5);
    assert_eq!(Counter { count: 0, name: "a".into() }.into_name().await, Ok("a".into()));
    assert_eq!(Counter { count: 0, name: "a".into() }.into_upper().await, Ok("A".into()));
}

trait Store {
    async fn load(&self, key: &str) -> Result<String, Error>;
    fn save(&self, key: &str) -> impl Future<Output = Result<(), Error>> + Send;
}

struct Memory;

impl Store for Memory {
    #[error_boundary("loading")]
    #[timeout(100ms)]
    async fn load(&self, key: &str) -> Result<String, Error> {
        if key.is_empty() {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        Ok(key.to_uppercase())
    }

    #[timeout(100ms)]
    async fn save(&self, _key: &str) -> Result<(), Error> {
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn trait_impl_methods() {
    assert_eq!(Memory.load("k").await, Ok("K".into()));
    assert_eq!(Memory.load("").await, Err(Error::TimedOut));
    assert_eq!(Memory.save("k").await, Ok(()));
}

#[timeout(1s)]
async fn generic<T: Display + Send, U>(value: T, other: U) -> Result<String, Error>
where
    U: Into<u64>,
{
    Ok(format!("{value}{}", other.into()))
}

#[error_boundary]
#[timeout(1s)]
async fn with_lifetimes<'a, 'b: 'a>(a: &'a str, _b: &'b str) -> Result<&'a str, Error> {
    Ok(a)
}

#[timeout(1s)]
async fn impl_trait_arg(items: impl IntoIterator<Item = u32>) -> Result<u32, Error> {
    Ok(items.into_iter().sum())
}

#[timeout(1s)]
async fn impl_trait_return(n: u32) -> Result<impl Display, Error> {
    Ok(n * 2)
}

#[error_boundary]
#[timeout(1s)]
async fn question_mark_and_early_return(text: &str) -> Result<u32, Error> {
    if text == "early" {
        return Err(Error::Early);
    }
    let n: u32 = text.parse()?;
    Ok(n)
}

#[timeout(1s)]
async fn patterns((a, b): (u32, u32), mut c: u32) -> Result<u32, Error> {
    c += a * b;
    Ok(c)
}

#[tokio::test(start_paused = true)]
async fn generics_lifetimes_impl_trait_and_control_flow() {
    assert_eq!(generic("x", 3_u8).await, Ok("x3".into()));
    let owned = String::from("abc");
    assert_eq!(with_lifetimes(&owned, "z").await, Ok("abc"));
    assert_eq!(impl_trait_arg(vec![1, 2, 3]).await, Ok(6));
    assert_eq!(impl_trait_return(21).await.unwrap().to_string(), "42");
    assert_eq!(question_mark_and_early_return("12").await, Ok(12));
    assert_eq!(question_mark_and_early_return("x").await, Err(Error::Parse));
    assert_eq!(question_mark_and_early_return("early").await, Err(Error::Early));
    assert_eq!(patterns((2, 3), 1).await, Ok(7));
}

/// Doc comments and other attributes are kept.
#[must_use = "the result matters"]
#[timeout(1s)]
#[allow(clippy::unused_async)]
async fn keeps_attributes() -> Result<(), Error> {
    Ok(())
}

#[tokio::test]
async fn other_attributes_are_kept() {
    keeps_attributes().await.unwrap();
}

/// Inner attributes at the top of the body stay in force: the function denies
/// `unused_variables` and its body allows it again, which compiles only if the
/// `#![allow(..)]` is kept. The body runs as written: `?`, early `return`, retries.
#[deny(unused_variables)]
#[error_boundary]
#[retry(attempts = 3, delay = 10ms, jitter = 0)]
#[timeout(1s)]
async fn inner_attributes(text: String, calls: &mut u32) -> Result<u32, Error> {
    #![allow(unused_variables)]
    let unused = 1;
    *calls += 1;
    if text == "early" {
        return Err(Error::Early);
    }
    Ok(text.parse::<u32>()? + *calls)
}

#[tokio::test(start_paused = true)]
async fn inner_attributes_are_kept_and_the_body_runs_as_written() {
    let mut calls = 0;
    assert_eq!(inner_attributes("1".into(), &mut calls).await, Ok(2));
    assert_eq!(inner_attributes("x".into(), &mut calls).await, Err(Error::Parse));
    assert_eq!(calls, 4, "a parse error is retried: three attempts");
    assert_eq!(inner_attributes("early".into(), &mut calls).await, Err(Error::Early));
    assert_eq!(calls, 7);
}
