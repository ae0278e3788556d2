//! The success path allocates nothing: a counting global allocator
//! (`allocation-counter`) measures one successful call of each attribute and of the
//! full stack, polled once to completion.
//!
//! An owned argument of `#[retry]` is cloned for every attempt but the last, which
//! takes the original: `attempts = 1` never clones, a first attempt that may be
//! followed by others clones once, and three failed attempts clone twice.

use std::pin::pin;
use std::sync::atomic::{AtomicU32, Ordering};
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

// An owned `String`: the only attempt takes it as it is.
#[retry(attempts = 1)]
async fn retried_once_owned(name: String) -> Result<u64, Failure> {
    Ok(name.len() as u64)
}

// The first of three attempts gets a clone: the original is kept for the last.
#[retry(attempts = 3, delay = 100ms)]
async fn retried_owned(name: String) -> Result<u64, Failure> {
    Ok(name.len() as u64)
}

#[error_boundary("everything")]
#[retry(attempts = 1)]
#[timeout(800ms)]
#[limit(concurrency = 8)]
async fn stacked_once_owned(name: String) -> Result<u64, Failure> {
    Ok(name.len() as u64)
}

/// Allocations made while polling `make()`'s future to completion (it must finish
/// on the first poll), after one warm-up call.
fn allocations<F: Future<Output = Result<u64, Failure>>>(make: impl Fn() -> F) -> u64 {
    allocations_owned(|| (), |()| make())
}

/// Like [`allocations`], for a function that takes an owned argument: `arg()` is
/// built before the counting starts, so only what the call itself allocates counts.
fn allocations_owned<A, F: Future<Output = Result<u64, Failure>>>(
    arg: impl Fn() -> A,
    make: impl Fn(A) -> F,
) -> u64 {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
    let _context = runtime.enter();
    let mut cx = Context::from_waker(Waker::noop());
    let mut run = |arg: A| {
        let mut fut = pin!(make(arg));
        match fut.as_mut().poll(&mut cx) {
            Poll::Ready(out) => assert_eq!(out.unwrap(), 3),
            Poll::Pending => panic!("the success path must finish on the first poll"),
        }
    };
    run(arg());
    let arg = arg();
    allocation_counter::measure(|| run(arg)).count_total
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

#[test]
fn an_owned_argument_is_cloned_only_when_another_attempt_may_follow() {
    let name = || "abc".to_owned();
    assert_eq!(allocations_owned(name, retried_once_owned), 0, "attempts = 1 never clones");
    assert_eq!(allocations_owned(name, stacked_once_owned), 0, "the full stack, attempts = 1");
    // The first attempt clones the `String` (one allocation): it may not be the last.
    assert_eq!(allocations_owned(name, retried_owned), 1, "attempts = 3");
}

// ---- how many clones: one per attempt but the last --------------------------------

static CLONES: AtomicU32 = AtomicU32::new(0);

/// Counts its clones; no other test in this binary clones one.
#[derive(Debug)]
struct Counted(String);

impl Clone for Counted {
    fn clone(&self) -> Self {
        CLONES.fetch_add(1, Ordering::SeqCst);
        Counted(self.0.clone())
    }
}

static CALLS: AtomicU32 = AtomicU32::new(0);

/// Fails until its `succeed_on`-th call; every attempt sees the argument as passed.
#[retry(attempts = 3, delay = 10ms, jitter = 0)]
async fn three_attempts(arg: Counted, succeed_on: u32) -> Result<u64, Failure> {
    assert_eq!(arg.0, "abc");
    let call = CALLS.fetch_add(1, Ordering::SeqCst) + 1;
    if call < succeed_on { Err(Failure) } else { Ok(u64::from(call)) }
}

#[retry(attempts = 1)]
async fn one_attempt(arg: Counted) -> Result<u64, Failure> {
    assert_eq!(arg.0, "abc");
    Err(Failure)
}

/// `call`'s output and the clones of a `Counted` made while it ran.
async fn with_clones<T>(call: impl Future<Output = T>) -> (T, u32) {
    let before = CLONES.load(Ordering::SeqCst);
    let out = call.await;
    (out, CLONES.load(Ordering::SeqCst) - before)
}

// One test, so that no other thread clones a `Counted` or calls `three_attempts`
// meanwhile.
#[tokio::test(start_paused = true)]
async fn clones_for_every_attempt_but_the_last() {
    let counted = || Counted("abc".to_owned());

    CALLS.store(0, Ordering::SeqCst);
    let (out, clones) = with_clones(three_attempts(counted(), u32::MAX)).await;
    assert_eq!((out, CALLS.load(Ordering::SeqCst)), (Err(Failure), 3));
    assert_eq!(clones, 2, "three failed attempts: the first two clone, the last takes it");

    CALLS.store(0, Ordering::SeqCst);
    let (out, clones) = with_clones(three_attempts(counted(), 2)).await;
    assert_eq!((out, clones), (Ok(2), 2), "the second attempt may not be the last either");

    CALLS.store(0, Ordering::SeqCst);
    let (out, clones) = with_clones(three_attempts(counted(), 1)).await;
    assert_eq!((out, clones), (Ok(1), 1), "the first attempt clones even when it succeeds");

    let (out, clones) = with_clones(one_attempt(counted())).await;
    assert_eq!((out, clones), (Err(Failure), 0), "attempts = 1 never clones");
}

static ZERO_CALLS: AtomicU32 = AtomicU32::new(0);

#[retry(attempts = 150, delay = 0)]
async fn zero_delay(arg: &str) -> Result<u64, Failure> {
    ZERO_CALLS.fetch_add(1, Ordering::SeqCst);
    if arg.is_empty() { Ok(0) } else { Err(Failure) }
}

/// A zero delay arms no timer: 150 failing attempts finish within one poll (a timer,
/// even of zero, would return `Pending` until the timer's next tick).
#[test]
fn a_zero_delay_does_not_sleep() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
    let _context = runtime.enter();
    let mut cx = Context::from_waker(Waker::noop());
    let mut fut = pin!(zero_delay("x"));
    assert!(matches!(fut.as_mut().poll(&mut cx), Poll::Ready(Err(Failure))));
    assert_eq!(ZERO_CALLS.load(Ordering::SeqCst), 150);
}

static FULL: steadfast::Limiter = steadfast::Limiter::concurrency(1);

#[limit(using = FULL)]
async fn queued(x: &u64, n: u64) -> Result<u64, Failure> {
    Ok(*x + n)
}

/// A caller that has to wait for a slot allocates its place in line once: tokio's
/// semaphore future with the limiter and the waiting count (104 bytes, against 128
/// for the `async` block it replaced), and its own future is no bigger than a
/// hand-written semaphore wait's (tests/tests/future_size.rs).
#[test]
fn a_waiting_caller_boxes_only_its_place_in_line() {
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let _context = runtime.enter();
    let mut cx = Context::from_waker(Waker::noop());
    let held = pin!(FULL.acquire(None));
    let Poll::Ready(Ok(held)) = held.poll(&mut cx) else { panic!("a free slot") };
    let x = 1;
    let mut waiting = pin!(queued(&x, 2));
    let info = allocation_counter::measure(|| assert!(waiting.as_mut().poll(&mut cx).is_pending()));
    assert_eq!((info.count_total, info.bytes_total), (1, 104));
    assert_eq!(FULL.waiting(), 1);
    drop(held);
    assert!(matches!(waiting.as_mut().poll(&mut cx), Poll::Ready(Ok(3))));
    assert_eq!((FULL.waiting(), FULL.in_flight()), (0, 0));
}
