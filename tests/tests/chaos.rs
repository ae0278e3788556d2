//! Cancellation and panics at any point: proptest scripts random sequences of calls
//! (with bodies that succeed, fail or panic after a random time), clock advances and
//! cancellations (a task aborted at whatever await point it has reached), and resizes
//! (`set_concurrency` while calls run and wait) over
//! `#[limit]` alone and the full stack, with the timeouts and rejections that follow.
//! After every sequence every limiter must be back to full, no body may have run after
//! its caller was dropped, and no retry may have continued.
//!
//! 10 000 cases by default (`PROPTEST_CASES` overrides); failures are saved under
//! `tests/proptest-regressions/` and replayed first.

use std::cell::RefCell;
use std::time::Duration;

use proptest::prelude::*;
use steadfast::{Limiter, error_boundary, limit, retry, timeout};
use steadfast_tests::Failure;

const CONCURRENCY: usize = 2;

thread_local! {
    /// Fresh limiters for every case, so that a leak shows in the case that caused it
    /// (leaked on purpose: `using = ..` borrows them for `'static`).
    static LIMITERS: std::cell::Cell<[&'static Limiter; 2]> =
        std::cell::Cell::new([fresh(), fresh()]);
}

fn fresh() -> &'static Limiter {
    Box::leak(Box::new(Limiter::concurrency(CONCURRENCY)))
}

fn alone() -> &'static Limiter {
    LIMITERS.get()[0]
}

fn stack() -> &'static Limiter {
    LIMITERS.get()[1]
}

#[derive(Clone, Copy, Debug)]
enum Outcome {
    Ok,
    Err,
    Panic,
}

#[derive(Clone, Copy, Debug)]
struct Behavior {
    work_ms: u64,
    outcome: Outcome,
}

#[derive(Clone, Copy, Debug)]
enum Func {
    Limited,
    LimitedWait,
    Stacked,
}

#[derive(Clone, Debug)]
enum Op {
    Call(Func, Behavior),
    Advance(u64),
    Cancel(usize),
    Yield,
    /// `set_concurrency` on the limiter of `#[limit]` alone, while calls run and wait.
    Resize(usize),
}

#[derive(Default)]
struct State {
    /// Attempts started, per call.
    attempts: Vec<u32>,
    /// Attempts when the call was cancelled, per call.
    cancelled_at: Vec<Option<u32>>,
    running: [usize; 2],
    peak: [usize; 2],
    violations: Vec<String>,
}

thread_local! {
    static STATE: RefCell<State> = RefCell::default();
    /// One paused-clock runtime for all cases (the limiters are concurrency limits,
    /// which keep no time).
    static RUNTIME: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
}

struct Running(usize);

impl Drop for Running {
    fn drop(&mut self) {
        STATE.with_borrow_mut(|s| s.running[self.0] -= 1);
    }
}

async fn body(id: usize, which: usize, b: Behavior) -> Result<(), Failure> {
    let _running = STATE.with_borrow_mut(|s| {
        s.attempts[id] += 1;
        if s.cancelled_at[id].is_some() {
            s.violations.push(format!("call {id} ran after it was cancelled"));
        }
        s.running[which] += 1;
        s.peak[which] = s.peak[which].max(s.running[which]);
        Running(which)
    });
    tokio::time::sleep(Duration::from_millis(b.work_ms)).await;
    match b.outcome {
        Outcome::Ok => Ok(()),
        Outcome::Err => Err(Failure),
        Outcome::Panic => panic!("scripted panic"),
    }
}

#[limit(using = alone())]
async fn limited(id: usize, b: Behavior) -> Result<(), Failure> {
    body(id, 0, b).await
}

#[limit(using = alone(), wait = 40ms)]
async fn limited_wait(id: usize, b: Behavior) -> Result<(), Failure> {
    body(id, 0, b).await
}

#[error_boundary(catch_panic)]
#[retry(attempts = 3, delay = 10ms, jitter = 0)]
#[timeout(50ms)]
#[limit(using = stack(), wait = 30ms)]
async fn stacked(id: usize, b: Behavior) -> Result<(), Failure> {
    body(id, 1, b).await
}

fn op() -> impl Strategy<Value = Op> {
    let behavior =
        (0_u64..80, prop_oneof![Just(Outcome::Ok), Just(Outcome::Err), Just(Outcome::Panic)])
            .prop_map(|(work_ms, outcome)| Behavior { work_ms, outcome });
    let func = prop_oneof![Just(Func::Limited), Just(Func::LimitedWait), Just(Func::Stacked)];
    prop_oneof![
        4 => (func, behavior).prop_map(|(f, b)| Op::Call(f, b)),
        3 => (0_u64..60).prop_map(Op::Advance),
        2 => (0_usize..12).prop_map(Op::Cancel),
        1 => Just(Op::Yield),
        1 => (1..=CONCURRENCY).prop_map(Op::Resize),
    ]
}

/// Polls `future` once; `None` if it is not ready.
fn poll_now<F: Future>(future: F) -> Option<F::Output> {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match future.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(out) => Some(out),
        std::task::Poll::Pending => None,
    }
}

async fn settle() {
    for _ in 0..8 {
        tokio::task::yield_now().await;
    }
}

fn run(ops: &[Op]) -> Result<(), TestCaseError> {
    STATE.with_borrow_mut(|s| *s = State::default());
    LIMITERS.set([fresh(), fresh()]);
    let local = tokio::task::LocalSet::new();
    RUNTIME.with(|runtime| {
        local.block_on(runtime, async {
            let mut handles = Vec::new();
            for op in ops {
                match *op {
                    Op::Call(func, b) => {
                        let id = handles.len();
                        STATE.with_borrow_mut(|s| {
                            s.attempts.push(0);
                            s.cancelled_at.push(None);
                        });
                        handles.push(match func {
                            Func::Limited => tokio::task::spawn_local(limited(id, b)),
                            Func::LimitedWait => tokio::task::spawn_local(limited_wait(id, b)),
                            Func::Stacked => tokio::task::spawn_local(stacked(id, b)),
                        });
                    }
                    Op::Advance(ms) => {
                        tokio::time::advance(Duration::from_millis(ms)).await;
                        settle().await;
                    }
                    Op::Cancel(i) => {
                        if let Some(handle) = handles.get(i) {
                            handle.abort();
                            STATE.with_borrow_mut(|s| {
                                let attempts = s.attempts[i];
                                s.cancelled_at[i].get_or_insert(attempts);
                            });
                        }
                    }
                    Op::Yield => settle().await,
                    Op::Resize(n) => alone().set_concurrency(n).expect("a valid limit"),
                }
            }
            // Let every call finish (bodies take < 80 ms, retries < 1 s in all). A call
            // still pending after that waits for a slot that was never given back.
            tokio::time::sleep(Duration::from_secs(10)).await;
            for (id, handle) in handles.into_iter().enumerate() {
                if !handle.is_finished() {
                    STATE.with_borrow_mut(|s| {
                        s.violations.push(format!("call {id} never finished"))
                    });
                    handle.abort();
                }
                if let Err(e) = handle.await {
                    // A panic escapes only from `#[limit]` alone; the stack catches it.
                    assert!(e.is_cancelled() || e.is_panic());
                }
            }
        })
    });
    let state = STATE.with_borrow_mut(std::mem::take);
    prop_assert!(state.violations.is_empty(), "{:?}", state.violations);
    for (id, cancelled) in state.cancelled_at.iter().enumerate() {
        if let Some(at) = cancelled {
            prop_assert_eq!(
                state.attempts[id],
                *at,
                "call {} kept retrying after it was dropped",
                id
            );
        }
    }
    prop_assert_eq!(state.running, [0, 0]);
    prop_assert!(state.peak[0] <= CONCURRENCY && state.peak[1] <= CONCURRENCY, "{:?}", state.peak);
    for limiter in LIMITERS.get() {
        prop_assert_eq!(
            (limiter.in_flight(), limiter.waiting()),
            (0, 0),
            "limiter not back to full"
        );
    }
    // However it was resized while in use, back at its limit it has exactly that many
    // slots: none lost, none made up.
    let limiter = alone();
    limiter.set_concurrency(CONCURRENCY).expect("a valid limit");
    let held: Vec<_> = (0..CONCURRENCY)
        .map_while(|_| poll_now(limiter.acquire(Some(Duration::ZERO))).and_then(Result::ok))
        .collect();
    prop_assert_eq!(held.len(), CONCURRENCY, "slots lost by resizing");
    prop_assert!(
        poll_now(limiter.acquire(Some(Duration::ZERO))).is_some_and(|r| r.is_err()),
        "a slot made up by resizing"
    );
    drop(held);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 10_000,
        failure_persistence: Some(Box::new(
            proptest::test_runner::FileFailurePersistence::Direct("proptest-regressions/chaos.txt"),
        )),
        ..ProptestConfig::default()
    })]

    #[test]
    fn limiters_come_back_to_full_and_nothing_runs_after_cancellation(
        ops in prop::collection::vec(op(), 1..40),
    ) {
        // Scripted panics are expected; keep the output readable.
        std::panic::set_hook(Box::new(|_| {}));
        run(&ops)?;
    }
}
