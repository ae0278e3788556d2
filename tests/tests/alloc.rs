//! The success path allocates nothing: a counting global allocator
//! (`allocation-counter`) measures one successful call of each attribute and of the
//! full stack, polled once to completion.

use std::pin::pin;
use std::task::{Context, Poll, Waker};

use steadfast::{error_boundary, limit, retry, timeout};
use steadfast_tests::Failure;

async fn bare(x: &u64, n: u64) -> Result<u64, Failure> {
    Ok(*x + n)
}

#[retry(attempts = 3, delay = 100ms)]
async fn retried(x: &u64, n: u64) -> Result<u64, Failure> {
    Ok(*x + n)
}

#[timeout(1s)]
async fn timed(x: &u64, n: u64) -> Result<u64, Failure> {
    Ok(*x + n)
}

#[error_boundary("context", catch_panic)]
async fn bounded(x: &u64, n: u64) -> Result<u64, Failure> {
    Ok(*x + n)
}

#[limit(concurrency = 8)]
async fn limited(x: &u64, n: u64) -> Result<u64, Failure> {
    Ok(*x + n)
}

#[limit(rate = 1000000, per = 1s)]
async fn rate_limited(x: &u64, n: u64) -> Result<u64, Failure> {
    Ok(*x + n)
}

#[error_boundary("everything", catch_panic)]
#[retry(attempts = 4, delay = 100ms, max_elapsed = 10s)]
#[timeout(800ms)]
#[limit(concurrency = 8, wait = 1s)]
async fn stacked(x: &u64, n: u64) -> Result<u64, Failure> {
    Ok(*x + n)
}

#[error_boundary]
async fn logged(x: &u64, n: u64) -> Result<u64, Failure> {
    Ok(*x + n)
}

// A schedule with an argument evaluated at each call: the retry state borrows a
// schedule built on the stack instead of a `static` one.
#[retry(attempts = 3, delay = std::time::Duration::from_millis(100))]
async fn retried_with_expression(x: &u64, n: u64) -> Result<u64, Failure> {
    Ok(*x + n)
}

// Up to 64 starts per window the rate limiter keeps exact start times.
#[limit(rate = 10, per = 1s)]
async fn rate_limited_exactly(x: &u64, n: u64) -> Result<u64, Failure> {
    Ok(*x + n)
}

#[limit(concurrency = 8, rate = 1000, per = 1s)]
async fn both_limits(x: &u64, n: u64) -> Result<u64, Failure> {
    Ok(*x + n)
}

#[limit(concurrency = 8, wait = 0ms)]
async fn shedding(x: &u64, n: u64) -> Result<u64, Failure> {
    Ok(*x + n)
}

static SHARED: steadfast::Limiter = steadfast::Limiter::concurrency(4);

#[limit(using = SHARED)]
async fn shared(x: &u64, n: u64) -> Result<u64, Failure> {
    Ok(*x + n)
}

/// Allocations made while polling `make()`'s future to completion (it must finish
/// on the first poll), after one warm-up call.
fn allocations<F: Future<Output = Result<u64, Failure>>>(make: impl Fn() -> F) -> u64 {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
    let _context = runtime.enter();
    let mut cx = Context::from_waker(Waker::noop());
    let mut run = || {
        let mut fut = pin!(make());
        match fut.as_mut().poll(&mut cx) {
            Poll::Ready(out) => assert_eq!(out.unwrap(), 3),
            Poll::Pending => panic!("the success path must finish on the first poll"),
        }
    };
    run();
    allocation_counter::measure(run).count_total
}

#[test]
fn the_counter_counts() {
    let info = allocation_counter::measure(|| drop(Box::new(1_u64)));
    assert_eq!(info.count_total, 1);
}

#[test]
fn no_allocation_on_the_success_path() {
    let x = 1;
    assert_eq!(allocations(|| bare(&x, 2)), 0);
    assert_eq!(allocations(|| retried(&x, 2)), 0, "#[retry]");
    assert_eq!(allocations(|| timed(&x, 2)), 0, "#[timeout]");
    assert_eq!(allocations(|| bounded(&x, 2)), 0, "#[error_boundary]");
    assert_eq!(allocations(|| limited(&x, 2)), 0, "#[limit(concurrency)]");
    assert_eq!(allocations(|| rate_limited(&x, 2)), 0, "#[limit(rate)]");
    assert_eq!(allocations(|| stacked(&x, 2)), 0, "the full stack");
}

#[test]
fn no_allocation_on_the_success_path_of_other_forms() {
    let x = 1;
    assert_eq!(allocations(|| logged(&x, 2)), 0, "#[error_boundary] without catch_panic");
    assert_eq!(allocations(|| retried_with_expression(&x, 2)), 0, "#[retry(delay = expr)]");
    assert_eq!(allocations(|| rate_limited_exactly(&x, 2)), 0, "#[limit(rate <= 64)]");
    assert_eq!(allocations(|| both_limits(&x, 2)), 0, "#[limit(concurrency, rate)]");
    assert_eq!(allocations(|| shedding(&x, 2)), 0, "#[limit(wait = 0ms)]");
    assert_eq!(allocations(|| shared(&x, 2)), 0, "#[limit(using = ..)]");
}
