//! Cancellation and panics at any point: proptest scripts random sequences of calls
//! (with bodies that succeed, fail or panic after a random time), clock advances and
//! cancellations (a task aborted at whatever await point it has reached), and resizes
//! (`set_concurrency` while calls run and wait) over
//! `#[limit]` alone and the full stack, with the timeouts and rejections that follow.
//! After every sequence every limiter must be back to full, no body may have run after
//! its caller was dropped, and no retry may have continued. The `breaker` module
//! scripts calls through `#[circuit_breaker]` against a model of its window and states.
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

mod breaker {
    //! Random scripts of successes, failures, panics, slow calls, cancellations and
    //! clock advances through `#[circuit_breaker]` (and `#[retry]` above one), against a
    //! plain model of the window and the states: after every step the breaker's state,
    //! whether a body ran, and every refusal's `retry_after` are what the model says.

    use std::cell::Cell;
    use std::panic::{AssertUnwindSafe, catch_unwind};
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};
    use std::time::Duration;

    use proptest::prelude::*;
    use steadfast::{Breaker, BreakerState, CircuitOpen, circuit_breaker};
    use tokio::time::{Instant, sleep};

    const BUCKET_MS: u64 = 100; // a 2 s window
    const OPEN_FOR_MS: u64 = 1_000;
    const SLOW_MS: u64 = 100;
    const MIN_CALLS: usize = 3;
    const TRIALS: u32 = 2;

    #[derive(Debug, Clone, Copy, PartialEq)]
    enum E {
        Down,
        Open(CircuitOpen),
    }

    impl From<CircuitOpen> for E {
        fn from(e: CircuitOpen) -> Self {
            E::Open(e)
        }
    }

    #[derive(Debug, Clone, Copy)]
    enum Op {
        Success,
        Failure,
        Panic,
        /// An `Ok` after 150 ms: slower than `slow_call`.
        Slow,
        /// Polled once, then dropped.
        Cancel,
        Wait(u64),
    }

    struct Dependency {
        breaker: Breaker,
        ran: Cell<u32>,
    }

    impl Dependency {
        #[circuit_breaker(using = self.breaker)]
        async fn call(&self, op: Op) -> Result<(), E> {
            self.ran.set(self.ran.get() + 1);
            match op {
                Op::Failure => Err(E::Down),
                Op::Panic => panic!("scripted panic"),
                Op::Slow => {
                    sleep(Duration::from_millis(150)).await;
                    Ok(())
                }
                Op::Cancel => {
                    sleep(Duration::from_secs(1)).await;
                    Err(E::Down)
                }
                _ => Ok(()),
            }
        }
    }

    #[derive(Debug, Clone, Copy, PartialEq)]
    enum State {
        Closed,
        Open { until: u64 },
        HalfOpen { admitted: u32, succeeded: u32 },
    }

    /// The model: calls recorded while closed (finish time, failed) and the states.
    struct Model {
        state: State,
        calls: Vec<(u64, bool)>,
        epoch: Option<u64>,
    }

    impl Model {
        fn admit(&mut self, t: u64) -> Result<(), u64> {
            match self.state {
                State::Closed => Ok(()),
                State::Open { until } if t < until => Err(until - t),
                State::Open { .. } => {
                    self.state = State::HalfOpen { admitted: 1, succeeded: 0 };
                    Ok(())
                }
                State::HalfOpen { admitted, succeeded } if admitted < TRIALS => {
                    self.state = State::HalfOpen { admitted: admitted + 1, succeeded };
                    Ok(())
                }
                State::HalfOpen { .. } => Err(0),
            }
        }

        fn finish(&mut self, t: u64, failed: bool) {
            let epoch = *self.epoch.get_or_insert(t);
            let bucket = |at: u64| (at - epoch) / BUCKET_MS;
            match self.state {
                State::Closed => {
                    self.calls.push((t, failed));
                    let now = bucket(t);
                    self.calls.retain(|(at, _)| now - bucket(*at) < 20);
                    let failures = self.calls.iter().filter(|(_, f)| *f).count();
                    if self.calls.len() >= MIN_CALLS && 2 * failures >= self.calls.len() {
                        self.state = State::Open { until: t + OPEN_FOR_MS };
                    }
                }
                State::HalfOpen { .. } if failed => {
                    self.state = State::Open { until: t + OPEN_FOR_MS }
                }
                State::HalfOpen { succeeded, .. } if succeeded + 1 >= TRIALS => {
                    self.state = State::Closed;
                    self.calls.clear();
                }
                State::HalfOpen { admitted, succeeded } => {
                    self.state = State::HalfOpen { admitted, succeeded: succeeded + 1 }
                }
                State::Open { .. } => unreachable!("no call runs while open"),
            }
        }

        fn cancel(&mut self) {
            if let State::HalfOpen { admitted, succeeded } = self.state {
                self.state = State::HalfOpen { admitted: admitted - 1, succeeded };
            }
        }

        fn observed(&self, t: u64) -> BreakerState {
            match self.state {
                State::Closed => BreakerState::Closed,
                State::Open { until } if t < until => BreakerState::Open,
                _ => BreakerState::HalfOpen,
            }
        }
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => Just(Op::Success),
            4 => Just(Op::Failure),
            1 => Just(Op::Panic),
            1 => Just(Op::Slow),
            1 => Just(Op::Cancel),
            3 => (1..1_500_u64).prop_map(Op::Wait),
        ]
    }

    fn poll_once<F: Future>(f: std::pin::Pin<&mut F>) -> Poll<F::Output> {
        f.poll(&mut Context::from_waker(Waker::noop()))
    }

    fn run(script: &[Op]) -> Result<(), TestCaseError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        let _context = rt.enter();
        let dep = Dependency {
            breaker: Breaker::new()
                .min_calls(MIN_CALLS as u32)
                .failure_rate(0.5)
                .window(Duration::from_secs(2))
                .open_for(Duration::from_millis(OPEN_FOR_MS))
                .half_open_calls(TRIALS)
                .slow_call(Duration::from_millis(SLOW_MS)),
            ran: Cell::new(0),
        };
        let mut model = Model { state: State::Closed, calls: Vec::new(), epoch: None };
        let start = rt.block_on(async { Instant::now() });
        let now = || rt.block_on(async { start.elapsed().as_millis() as u64 });
        for (i, &op) in script.iter().enumerate() {
            let t = now();
            let ran = dep.ran.get();
            let admitted = if let Op::Wait(_) = op { Ok(()) } else { model.admit(t) };
            match op {
                Op::Wait(d) => rt.block_on(sleep(Duration::from_millis(d))),
                Op::Success | Op::Failure | Op::Slow => {
                    let out = rt.block_on(dep.call(op));
                    match admitted {
                        Err(after) => {
                            let Err(E::Open(open)) = out else {
                                return Err(TestCaseError::fail(format!(
                                    "op {i}: {out:?}, not refused"
                                )));
                            };
                            prop_assert_eq!(
                                open.retry_after(),
                                Duration::from_millis(after),
                                "op {}",
                                i
                            );
                        }
                        Ok(()) => model.finish(now(), !matches!(op, Op::Success)),
                    }
                }
                Op::Panic => {
                    let mut fut = pin!(dep.call(op));
                    let polled = catch_unwind(AssertUnwindSafe(|| poll_once(fut.as_mut())));
                    match admitted {
                        Err(_) => prop_assert!(matches!(polled, Ok(Poll::Ready(Err(E::Open(_)))))),
                        Ok(()) => {
                            prop_assert!(polled.is_err(), "the panic goes on unwinding");
                            model.finish(t, true);
                        }
                    }
                }
                Op::Cancel => {
                    let polled = {
                        let mut fut = pin!(dep.call(op));
                        poll_once(fut.as_mut()).is_ready()
                    };
                    match admitted {
                        Err(_) => prop_assert!(polled),
                        Ok(()) => {
                            prop_assert!(!polled);
                            model.cancel();
                        }
                    }
                }
            }
            let body_ran = dep.ran.get() > ran;
            prop_assert_eq!(body_ran, admitted.is_ok() && !matches!(op, Op::Wait(_)), "op {}", i);
            let t = now();
            prop_assert_eq!(
                dep.breaker.state(),
                model.observed(t),
                "after op {} ({:?}) at {} ms",
                i,
                op,
                t
            );
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn the_attribute_follows_the_model(script in proptest::collection::vec(op(), 1..120)) {
            static QUIET: std::sync::Once = std::sync::Once::new();
            QUIET.call_once(|| {
                let default = std::panic::take_hook();
                std::panic::set_hook(Box::new(move |info| {
                    if info.payload().downcast_ref::<&str>() != Some(&"scripted panic") {
                        default(info);
                    }
                }));
            });
            run(&script)?;
        }
    }
}
