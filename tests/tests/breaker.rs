//! `Breaker` without macros, on the paused clock: the scenarios of resilience4j's
//! `CircuitBreakerStateMachineTest` and Polly's circuit-breaker specs, the events, the
//! allocation-free success path, and a proptest against a model of the window.

use std::cell::Cell;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use steadfast::{Breaker, BreakerState, CircuitOpen};
use steadfast_tests::{Capture, Captured};
use tokio::time::{Instant, sleep};
use tracing::Level;

#[derive(Debug, Clone, Copy, PartialEq)]
enum ApiError {
    Down,
    NotFound,
    Open(CircuitOpen),
}

impl From<CircuitOpen> for ApiError {
    fn from(e: CircuitOpen) -> Self {
        ApiError::Open(e)
    }
}

const fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

const fn ms(m: u64) -> Duration {
    Duration::from_millis(m)
}

/// One call through `b` that returns `outcome` at once; `ran` counts bodies that ran.
async fn call(b: &Breaker, outcome: Result<(), ApiError>) -> Result<(), ApiError> {
    b.run(async move { outcome }).await
}

async fn succeed(b: &Breaker) -> Result<(), ApiError> {
    call(b, Ok(())).await
}

async fn fail(b: &Breaker) -> Result<(), ApiError> {
    call(b, Err(ApiError::Down)).await
}

/// The refusal in `out`, if it is one.
fn refusal(out: Result<(), ApiError>) -> Option<CircuitOpen> {
    match out {
        Err(ApiError::Open(open)) => Some(open),
        _ => None,
    }
}

fn messages(events: &[Captured], level: Level) -> Vec<String> {
    events
        .iter()
        .filter(|e| e.level == level)
        .map(|e| e.field("message").unwrap_or_default().to_owned())
        .collect()
}

// ---------------------------------------------------------------- closed → open

#[tokio::test(start_paused = true)]
async fn opens_at_the_rate_as_soon_as_min_calls_are_in() {
    let capture = Capture::start();
    let b = Breaker::new().name("api").min_calls(5).failure_rate(0.5);
    fail(&b).await.unwrap_err();
    fail(&b).await.unwrap_err();
    fail(&b).await.unwrap_err();
    succeed(&b).await.unwrap();
    // 3 of 4 failed, but only 4 calls are in: not judged yet.
    assert_eq!(b.state(), BreakerState::Closed);
    succeed(&b).await.unwrap();
    // The 5th call: 3 of 5 ≥ 0.5, judged at once (the 30 s window is far from full).
    assert_eq!(b.state(), BreakerState::Open);

    let warns: Vec<_> =
        capture.steadfast().into_iter().filter(|e| e.level == Level::WARN).collect();
    assert_eq!(warns.len(), 1);
    assert_eq!(warns[0].field("function"), Some("api"));
    assert_eq!(warns[0].field("failure_rate"), Some("0.6"));
    assert_eq!(warns[0].field("calls"), Some("5"));
    assert_eq!(warns[0].field("message"), Some("circuit opened"));
}

#[tokio::test(start_paused = true)]
async fn an_open_breaker_refuses_without_running_the_body() {
    let capture = Capture::start();
    let b = Breaker::new().name("api").min_calls(2).open_for(secs(15));
    fail(&b).await.unwrap_err();
    sleep(secs(1)).await;
    fail(&b).await.unwrap_err();
    sleep(ms(2500)).await;
    let ran = Cell::new(false);
    let out = b
        .run(async {
            ran.set(true);
            Ok::<(), ApiError>(())
        })
        .await;
    assert!(!ran.get(), "the body of a refused call never runs");
    let open = refusal(out).expect("refused");
    // Opened at 1 s for 15 s: trials at 16 s, 12.5 s from now.
    assert_eq!(open.retry_after(), ms(12_500));
    assert_eq!(open.function(), Some("api"));
    let debug: Vec<_> =
        capture.steadfast().into_iter().filter(|e| e.level == Level::DEBUG).collect();
    assert_eq!(debug.len(), 1, "one DEBUG event per refused call");
    assert_eq!(debug[0].field("function"), Some("api"));
    assert_eq!(debug[0].field("retry_after_ms"), Some("12500"));
}

#[tokio::test(start_paused = true)]
async fn stays_closed_below_the_rate() {
    let b = Breaker::new().min_calls(10).failure_rate(0.5);
    for i in 0..100 {
        // The last 4 of every 10 calls fail: at most 0.4 of any prefix.
        let out = if i % 10 >= 6 { fail(&b).await } else { succeed(&b).await };
        assert!(refusal(out).is_none(), "call {i} refused");
    }
    assert_eq!(b.state(), BreakerState::Closed);
}

#[tokio::test(start_paused = true)]
async fn a_failure_rate_of_one_needs_every_call_to_fail() {
    let b = Breaker::new().min_calls(3).failure_rate(1.0);
    fail(&b).await.unwrap_err();
    fail(&b).await.unwrap_err();
    succeed(&b).await.unwrap();
    fail(&b).await.unwrap_err();
    assert_eq!(b.state(), BreakerState::Closed); // 3 of 4
    let b = Breaker::new().min_calls(3).failure_rate(1.0);
    for _ in 0..3 {
        fail(&b).await.unwrap_err();
    }
    assert_eq!(b.state(), BreakerState::Open);
}

#[tokio::test(start_paused = true)]
async fn old_failures_slide_out_of_the_window() {
    // A 20 s window: buckets of 1 s. A call counts until the end of its bucket + 20 s.
    let b = Breaker::new().min_calls(4).failure_rate(0.5).window(secs(20));
    fail(&b).await.unwrap_err();
    fail(&b).await.unwrap_err();
    fail(&b).await.unwrap_err(); // 3 failures at 0 s
    sleep(ms(19_999)).await;
    succeed(&b).await.unwrap();
    // Still in the window at 19.999 s: 3 of 4 → open.
    assert_eq!(b.state(), BreakerState::Open);

    let b = Breaker::new().min_calls(4).failure_rate(0.5).window(secs(20));
    for _ in 0..3 {
        fail(&b).await.unwrap_err();
    }
    sleep(secs(20)).await;
    // At 20 s the three failures have aged out: 1 call is under `min_calls`.
    fail(&b).await.unwrap_err();
    assert_eq!(b.state(), BreakerState::Closed);
    succeed(&b).await.unwrap();
    succeed(&b).await.unwrap();
    succeed(&b).await.unwrap();
    assert_eq!(b.state(), BreakerState::Closed, "1 of 4 in the window");
}

// ---------------------------------------------------------------- open → half-open → closed

/// A breaker that opened at the current time (two failures, `min_calls` 2).
async fn opened(b: &Breaker) {
    fail(b).await.unwrap_err();
    fail(b).await.unwrap_err();
    assert_eq!(b.state(), BreakerState::Open);
}

#[tokio::test(start_paused = true)]
async fn half_opens_after_open_for() {
    let capture = Capture::start();
    let b = Breaker::new().name("api").min_calls(2).open_for(secs(15));
    opened(&b).await;
    sleep(ms(14_999)).await;
    assert_eq!(b.state(), BreakerState::Open);
    assert_eq!(refusal(succeed(&b).await).unwrap().retry_after(), ms(1));
    sleep(ms(1)).await;
    assert_eq!(b.state(), BreakerState::HalfOpen);
    succeed(&b).await.unwrap(); // the trial
    assert_eq!(b.state(), BreakerState::Closed);
    assert_eq!(
        messages(&capture.steadfast(), Level::INFO),
        [
            "circuit half-open: letting trial calls through",
            "circuit closed: the trial calls succeeded"
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn closes_after_all_trials_succeed_with_an_empty_window() {
    let b = Breaker::new().min_calls(2).open_for(secs(5)).half_open_calls(3);
    opened(&b).await;
    sleep(secs(5)).await;
    // Three trials at once: a fourth caller is refused while they run.
    let trial = || async {
        b.run(async {
            sleep(ms(100)).await;
            Ok::<(), ApiError>(())
        })
        .await
    };
    let (t1, t2, t3, other) = tokio::join!(trial(), trial(), trial(), async {
        tokio::task::yield_now().await;
        succeed(&b).await
    });
    t1.unwrap();
    t2.unwrap();
    t3.unwrap();
    let open = refusal(other).expect("only three trials");
    assert_eq!(open.retry_after(), Duration::ZERO, "trials are under way");
    assert_eq!(b.state(), BreakerState::Closed);
    // Empty window: one failure is not `min_calls`.
    fail(&b).await.unwrap_err();
    assert_eq!(b.state(), BreakerState::Closed);
}

#[tokio::test(start_paused = true)]
async fn a_failed_trial_opens_again_for_open_for() {
    let capture = Capture::start();
    let b = Breaker::new().min_calls(2).open_for(secs(10)).half_open_calls(2);
    opened(&b).await;
    sleep(secs(10)).await;
    succeed(&b).await.unwrap(); // first trial fine
    assert_eq!(b.state(), BreakerState::HalfOpen);
    sleep(secs(1)).await;
    fail(&b).await.unwrap_err(); // second trial fails at 11 s
    assert_eq!(b.state(), BreakerState::Open);
    assert_eq!(refusal(succeed(&b).await).unwrap().retry_after(), secs(10));
    sleep(secs(10)).await;
    assert_eq!(b.state(), BreakerState::HalfOpen);
    let warns = messages(&capture.steadfast(), Level::WARN);
    assert_eq!(warns, ["circuit opened", "circuit opened: a trial call failed"]);
}

// ---------------------------------------------------------------- what counts

#[tokio::test(start_paused = true)]
async fn when_decides_which_errors_are_failures() {
    let b = Breaker::new().min_calls(3);
    let is_outage = |e: &ApiError| matches!(e, ApiError::Down);
    for _ in 0..10 {
        let out = b.run_when(is_outage, async { Err::<(), _>(ApiError::NotFound) }).await;
        assert_eq!(out, Err(ApiError::NotFound), "returned unchanged");
    }
    assert_eq!(b.state(), BreakerState::Closed, "not-found answers count as successes");
    for _ in 0..10 {
        let _ = b.run_when(is_outage, async { Err::<(), _>(ApiError::Down) }).await;
    }
    // 10 of 20 are outages: ≥ 0.5.
    assert_eq!(b.state(), BreakerState::Open);
}

#[tokio::test(start_paused = true)]
async fn slow_successes_count_as_failures() {
    let b = Breaker::new().min_calls(2).slow_call(secs(1));
    let slow = |d| {
        b.run(async move {
            sleep(d).await;
            Ok::<(), ApiError>(())
        })
    };
    slow(secs(1)).await.unwrap(); // exactly the limit: not slow
    slow(ms(1001)).await.unwrap();
    assert_eq!(b.state(), BreakerState::Open, "1 slow of 2");
}

// ---------------------------------------------------------------- sharing, isolate, reset

static SHARED: Breaker = Breaker::new().min_calls(3).open_for(secs(30));

/// What `#[circuit_breaker(using = SHARED)]` expands to.
async fn charge(fail: bool) -> Result<(), ApiError> {
    let body = async move { if fail { Err(ApiError::Down) } else { Ok(()) } };
    match steadfast::__private::breaker_call(
        &SHARED,
        "charge",
        steadfast::__private::every_error,
        body,
    )
    .await
    {
        Ok(out) => out,
        Err(open) => steadfast::__private::on_circuit_open(open),
    }
}

async fn refund(fail: bool) -> Result<(), ApiError> {
    let body = async move { if fail { Err(ApiError::Down) } else { Ok(()) } };
    let when = |e: &ApiError| matches!(e, ApiError::Down);
    let failed = move |out: &Result<(), ApiError>| steadfast::__private::error_when(out, &when);
    match steadfast::__private::breaker_call(&SHARED, "refund", failed, body).await {
        Ok(out) => out,
        Err(open) => steadfast::__private::on_circuit_open(open),
    }
}

#[tokio::test(start_paused = true)]
async fn a_static_breaker_is_shared_by_two_functions() {
    let capture = Capture::start();
    charge(true).await.unwrap_err();
    refund(true).await.unwrap_err();
    charge(true).await.unwrap_err();
    assert_eq!(SHARED.state(), BreakerState::Open);
    let open = refusal(refund(false).await).expect("open for both");
    assert_eq!(open.function(), Some("refund"));
    assert_eq!(open.retry_after(), secs(30));
    assert_eq!(open.to_string(), "`refund` refused: the circuit is open (trial calls in 30s)");
    let warn = capture.steadfast().into_iter().find(|e| e.level == Level::WARN).unwrap();
    assert_eq!(warn.field("function"), Some("charge"), "the call that tripped it");
    SHARED.reset();
    charge(false).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn isolate_holds_it_open_until_reset() {
    let b = Breaker::new().open_for(secs(1));
    b.isolate();
    sleep(secs(3600)).await;
    assert_eq!(b.state(), BreakerState::Open, "no trials while isolated");
    let open = refusal(succeed(&b).await).unwrap();
    assert_eq!(open.retry_after(), Duration::MAX);
    b.reset();
    assert_eq!(b.state(), BreakerState::Closed);
    succeed(&b).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn reset_closes_with_an_empty_window() {
    let b = Breaker::new().min_calls(3);
    fail(&b).await.unwrap_err();
    fail(&b).await.unwrap_err();
    b.reset();
    fail(&b).await.unwrap_err();
    assert_eq!(b.state(), BreakerState::Closed, "the two failures before the reset are gone");
    opened_by(&b, 2).await;
}

async fn opened_by(b: &Breaker, failures: usize) {
    for _ in 0..failures {
        fail(b).await.unwrap_err();
    }
    assert_eq!(b.state(), BreakerState::Open);
}

// ---------------------------------------------------------------- cancellation and panics

#[tokio::test(start_paused = true)]
async fn a_cancelled_call_is_not_recorded() {
    let b = Breaker::new().min_calls(1);
    let out = tokio::time::timeout(
        ms(10),
        b.run(async {
            sleep(secs(5)).await;
            Err::<(), _>(ApiError::Down)
        }),
    )
    .await;
    assert!(out.is_err(), "dropped after 10 ms");
    assert_eq!(b.state(), BreakerState::Closed);
    succeed(&b).await.unwrap();
    assert_eq!(b.state(), BreakerState::Closed);
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_trial_lets_the_next_caller_try() {
    let b = Breaker::new().min_calls(2).open_for(secs(1));
    opened(&b).await;
    sleep(secs(1)).await;
    let mut trial = Box::pin(b.run(async {
        sleep(secs(5)).await;
        Ok::<(), ApiError>(())
    }));
    assert!(futures_poll(trial.as_mut()).is_pending());
    assert!(refusal(succeed(&b).await).is_some(), "the trial is under way");
    drop(trial);
    succeed(&b).await.unwrap();
    assert_eq!(b.state(), BreakerState::Closed);
}

fn futures_poll<F: Future>(f: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    f.poll(&mut Context::from_waker(Waker::noop()))
}

static PANICKY: Breaker = Breaker::new().min_calls(1);

#[tokio::test(start_paused = true)]
async fn a_panic_is_recorded_as_a_failure_and_keeps_unwinding() {
    quiet_panics();
    let joined = tokio::spawn(async { PANICKY.run(async { boom() }).await }).await;
    let payload = joined.unwrap_err().into_panic();
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"scripted panic"));
    assert_eq!(PANICKY.state(), BreakerState::Open);
}

fn boom() -> Result<(), ApiError> {
    panic!("scripted panic")
}

/// Hides the messages of the scripted panics (the others still print).
fn quiet_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if info.payload().downcast_ref::<&str>() != Some(&"scripted panic") {
                default(info);
            }
        }));
    });
}

// ---------------------------------------------------------------- invalid values

#[tokio::test(start_paused = true)]
async fn invalid_values_are_clamped_with_one_error_event() {
    let capture = Capture::start();
    let b = Breaker::new()
        .name("cfg")
        .failure_rate(1.5)
        .min_calls(0)
        .half_open_calls(0)
        .window(Duration::ZERO);
    fail(&b).await.unwrap_err(); // min_calls 1, rate 1.0: one failure opens it
    assert_eq!(b.state(), BreakerState::Open);
    succeed(&b).await.unwrap_err();
    let errors: Vec<_> =
        capture.steadfast().into_iter().filter(|e| e.level == Level::ERROR).collect();
    let arguments: Vec<_> = errors.iter().map(|e| e.field("argument").unwrap()).collect();
    assert_eq!(arguments, ["failure_rate", "min_calls", "window", "half_open_calls"]);
    assert_eq!(errors[0].field("value"), Some("1.0"));
    assert_eq!(errors[2].field("value"), Some("1ms"));

    // NaN and non-positive rates.
    let b = Breaker::new().failure_rate(f64::NAN).min_calls(2);
    fail(&b).await.unwrap_err();
    succeed(&b).await.unwrap();
    assert_eq!(b.state(), BreakerState::Open, "NaN is the default 0.5");
    let b = Breaker::new().failure_rate(-1.0).min_calls(1);
    succeed(&b).await.unwrap();
    assert_eq!(b.state(), BreakerState::Closed, "no failure never opens it");
    fail(&b).await.unwrap_err();
    assert_eq!(b.state(), BreakerState::Open);
}

// ---------------------------------------------------------------- allocation

#[test]
fn the_closed_success_path_allocates_nothing() {
    static B: Breaker = Breaker::new();
    static SLOW: Breaker = Breaker::new().slow_call(Duration::from_secs(1));
    let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
    let _context = runtime.enter();
    let run = |b: &'static Breaker| {
        let mut fut = pin!(b.run(async { Ok::<u64, ApiError>(3) }));
        match futures_poll(fut.as_mut()) {
            Poll::Ready(out) => assert_eq!(out.unwrap(), 3),
            Poll::Pending => panic!("finishes on the first poll"),
        }
    };
    run(&B);
    run(&SLOW);
    assert_eq!(allocation_counter::measure(|| run(&B)).count_total, 0);
    assert_eq!(allocation_counter::measure(|| run(&SLOW)).count_total, 0);
    // With failures in the window the judgement reads the buckets: still no allocation.
    let mut fail = pin!(B.run(async { Err::<u64, ApiError>(ApiError::Down) }));
    assert!(futures_poll(fail.as_mut()).is_ready());
    assert_eq!(allocation_counter::measure(|| run(&B)).count_total, 0);
}

// ---------------------------------------------------------------- model

mod model {
    //! A proptest of random scripts through a breaker, against a plain model: a list of
    //! recorded calls and the state machine of DESIGN.md, on the same clock.

    use super::*;
    use proptest::prelude::*;

    const WINDOW: Duration = Duration::from_secs(2); // buckets of 100 ms
    const BUCKET_MS: u64 = 100;
    const OPEN_FOR_MS: u64 = 1_000;
    const SLOW_MS: u64 = 100;
    const MIN_CALLS: u64 = 3;
    const RATE: f64 = 0.5;
    const TRIALS: u32 = 2;

    #[derive(Debug, Clone, Copy)]
    enum Op {
        Success,
        Failure,
        /// A body that panics on its first poll.
        Panic,
        /// An `Ok` that takes 150 ms (slower than `slow_call`).
        Slow,
        /// A body that waits; dropped after its first poll.
        Cancel,
        /// Time passes (ms).
        Wait(u64),
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

    #[derive(Debug, Clone, Copy, PartialEq)]
    enum State {
        Closed,
        Open { until: u64 },
        HalfOpen { admitted: u32, succeeded: u32 },
    }

    struct Model {
        state: State,
        /// Calls recorded while closed: (finish time in ms, failed).
        calls: Vec<(u64, bool)>,
        /// The breaker's time origin: its first clock read (the first recorded call).
        epoch: Option<u64>,
    }

    impl Model {
        fn bucket(&self, t: u64) -> u64 {
            (t - self.epoch.unwrap()) / BUCKET_MS
        }

        /// Admission at `t`: `Err(retry_after_ms)` when refused, `Ok(is_trial)` else.
        fn admit(&mut self, t: u64) -> Result<bool, u64> {
            match self.state {
                State::Closed => Ok(false),
                State::Open { until } if t < until => Err(until - t),
                State::Open { .. } => {
                    self.state = State::HalfOpen { admitted: 1, succeeded: 0 };
                    Ok(true)
                }
                State::HalfOpen { admitted, succeeded } if admitted < TRIALS => {
                    self.state = State::HalfOpen { admitted: admitted + 1, succeeded };
                    Ok(true)
                }
                State::HalfOpen { .. } => Err(0),
            }
        }

        fn finish(&mut self, t: u64, failed: bool) {
            self.epoch.get_or_insert(t);
            match self.state {
                State::Closed => {
                    self.calls.push((t, failed));
                    let now = self.bucket(t);
                    let window: Vec<_> =
                        self.calls.iter().filter(|(at, _)| now - self.bucket(*at) < 20).collect();
                    let total = window.len() as u64;
                    let failures = window.iter().filter(|(_, f)| *f).count() as u64;
                    if total >= MIN_CALLS && failures as f64 >= RATE * total as f64 {
                        self.state = State::Open { until: t + OPEN_FOR_MS };
                    }
                }
                State::HalfOpen { admitted, succeeded } => {
                    if failed {
                        self.state = State::Open { until: t + OPEN_FOR_MS };
                    } else if succeeded + 1 >= TRIALS {
                        self.state = State::Closed;
                        self.calls.clear();
                    } else {
                        self.state = State::HalfOpen { admitted, succeeded: succeeded + 1 };
                    }
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
                State::Open { .. } | State::HalfOpen { .. } => BreakerState::HalfOpen,
            }
        }
    }

    fn run_script(script: &[Op]) -> Result<(), TestCaseError> {
        quiet_panics();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        let b = Breaker::new()
            .min_calls(MIN_CALLS as u32)
            .failure_rate(RATE)
            .window(WINDOW)
            .open_for(ms(OPEN_FOR_MS))
            .half_open_calls(TRIALS)
            .slow_call(ms(SLOW_MS));
        // The breaker reads tokio's clock: `state()` and the manual polls below must see the
        // paused one.
        let _context = rt.enter();
        let mut model = Model { state: State::Closed, calls: Vec::new(), epoch: None };
        let start = rt.block_on(async { Instant::now() });
        let now = || rt.block_on(async { start.elapsed().as_millis() as u64 });
        for (i, op) in script.iter().enumerate() {
            let t = now();
            let ran = Cell::new(false);
            match *op {
                Op::Wait(d) => rt.block_on(async { sleep(ms(d)).await }),
                Op::Success | Op::Failure | Op::Slow => {
                    let out = rt.block_on(b.run(async {
                        ran.set(true);
                        match op {
                            Op::Failure => Err(ApiError::Down),
                            Op::Slow => {
                                sleep(ms(150)).await;
                                Ok(())
                            }
                            _ => Ok(()),
                        }
                    }));
                    match model.admit(t) {
                        Err(retry_after) => {
                            let open = refusal(out).expect("refused");
                            prop_assert_eq!(open.retry_after(), ms(retry_after), "op {}", i);
                            prop_assert!(!ran.get());
                        }
                        Ok(_) => {
                            prop_assert!(ran.get());
                            model.finish(now(), !matches!(op, Op::Success));
                        }
                    }
                }
                Op::Panic => {
                    let fut = b.run(async {
                        ran.set(true);
                        boom()
                    });
                    let mut fut = Box::pin(fut);
                    let polled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        futures_poll(fut.as_mut())
                    }));
                    drop(fut);
                    match model.admit(t) {
                        Err(_) => prop_assert!(matches!(polled, Ok(Poll::Ready(Err(_))))),
                        Ok(_) => {
                            prop_assert!(polled.is_err(), "the panic goes on unwinding");
                            model.finish(t, true);
                        }
                    }
                }
                Op::Cancel => {
                    let mut fut = Box::pin(b.run(async {
                        ran.set(true);
                        sleep(secs(1)).await;
                        Err::<(), ApiError>(ApiError::Down)
                    }));
                    let polled = futures_poll(fut.as_mut());
                    drop(fut);
                    match model.admit(t) {
                        Err(_) => prop_assert!(polled.is_ready()),
                        Ok(_) => {
                            prop_assert!(polled.is_pending());
                            model.cancel();
                        }
                    }
                }
            }
            let t = now();
            prop_assert_eq!(b.state(), model.observed(t), "after op {} ({:?}) at {} ms", i, op, t);
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn the_breaker_follows_the_model(script in proptest::collection::vec(op(), 1..120)) {
            run_script(&script)?;
        }
    }
}

// ---------------------------------------------------------------- with a retry loop

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}

/// A retry loop around a breaker, as the expansion of `#[retry] #[circuit_breaker]`
/// decides: a refusal ends the retry unless the breaker reopens before the next delay.
async fn retried_through(b: &Breaker, ran: &Cell<u32>) -> (Result<(), ApiError>, Duration) {
    let delay = ms(100);
    let start = Instant::now();
    let out = steadfast::RetryPolicy::new()
        .attempts(3)
        .delay(delay)
        .jitter(0.0)
        .when(move |e: &ApiError| match e {
            ApiError::Open(open) => !steadfast::__private::refusal_ends_retry(open, delay),
            _ => true,
        })
        .run(|| {
            b.run(async {
                ran.set(ran.get() + 1);
                Ok(())
            })
        })
        .await;
    (out, start.elapsed())
}

#[tokio::test(start_paused = true)]
async fn a_retry_over_an_open_breaker_returns_at_once() {
    let b = Breaker::new().min_calls(2).open_for(secs(15));
    opened(&b).await;
    let ran = Cell::new(0);
    let (out, took) = retried_through(&b, &ran).await;
    assert_eq!(refusal(out).unwrap().retry_after(), secs(15));
    assert_eq!(took, Duration::ZERO, "no backoff sleep against a breaker open for 15 s");
    assert_eq!(ran.get(), 0);

    // Open for less than the next delay: the retry sleeps its 100 ms and the trial runs.
    let b = Breaker::new().min_calls(2).open_for(ms(50));
    opened(&b).await;
    let (out, took) = retried_through(&b, &ran).await;
    out.unwrap();
    assert_eq!(took, ms(100));
    assert_eq!(ran.get(), 1);
    assert_eq!(b.state(), BreakerState::Closed);
}

#[test]
fn calls_are_send_and_the_breaker_is_sync() {
    fn send<T: Send>(_: &T) {}
    fn sync<T: Sync>() {}
    sync::<Breaker>();
    sync::<steadfast::RetryBudget>();
    static B: Breaker = Breaker::new();
    let call = B.run(async { Ok::<(), ApiError>(()) });
    send(&call);
    let call =
        steadfast::__private::breaker_call(&B, "f", steadfast::__private::every_error, async {
            Ok::<(), ApiError>(())
        });
    send(&call);
}
