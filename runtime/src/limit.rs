//! TEMPORARY: replaced by the real module (helper-1). Never committed.
#![allow(missing_docs)]
use crate::Rejected;
use std::future::Future;
use std::time::Duration;
pub struct Limiter {
    sem: tokio::sync::Semaphore,
}
impl Limiter {
    pub const fn concurrency(n: usize) -> Self {
        Self {
            sem: tokio::sync::Semaphore::const_new(n),
        }
    }
    pub const fn rate(n: u32, _per: Duration) -> Self {
        Self::concurrency(n as usize)
    }
    pub const fn and_rate(self, _n: u32, _per: Duration) -> Self {
        self
    }
}
pub trait Limit {
    type Permit<'a>: Send
    where
        Self: 'a;
    fn acquire(
        &self,
        wait: Option<Duration>,
    ) -> impl Future<Output = Result<Self::Permit<'_>, Rejected>> + Send;
}
impl Limit for Limiter {
    type Permit<'a> = tokio::sync::SemaphorePermit<'a>;
    async fn acquire(&self, _wait: Option<Duration>) -> Result<Self::Permit<'_>, Rejected> {
        Ok(self.sem.acquire().await.unwrap())
    }
}
pub async fn limit<L: Limit + ?Sized, F: Future>(l: &L, _f: &'static str, body: F) -> F::Output {
    let _p = l.acquire(None).await;
    body.await
}
pub async fn limit_or_reject<L: Limit + ?Sized, F: Future>(
    l: &L,
    f: &'static str,
    w: Duration,
    on: fn(Rejected) -> F::Output,
    body: F,
) -> F::Output {
    match l.acquire(Some(w)).await {
        Ok(_p) => body.await,
        Err(r) => on(r.in_function(f)),
    }
}
