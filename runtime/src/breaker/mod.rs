//! Circuit breakers: stop calling a dependency that keeps failing, and try it again
//! after a while. [`Breaker`] is the runtime of `#[circuit_breaker]`, usable without
//! the attribute through [`Breaker::run`].

mod call;
mod state;
pub(crate) mod window;

use std::fmt;
use std::future::Future;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::time::Duration;

use crate::CircuitOpen;

pub use call::BreakerCall;
use state::Trials;
use window::{Epoch, Window, bucket_width, duration_nanos};

/// The state of a [`Breaker`], as [`Breaker::state`] reports it.
///
/// ```
/// use steadfast::{Breaker, BreakerState};
///
/// static B: Breaker = Breaker::new();
/// assert_eq!(B.state(), BreakerState::Closed);
/// B.isolate();
/// assert_eq!(B.state(), BreakerState::Open);
/// B.reset();
/// assert_eq!(B.state(), BreakerState::Closed);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BreakerState {
    /// Calls run and are recorded in the window.
    Closed,
    /// Calls are refused with [`CircuitOpen`] without running.
    Open,
    /// `open_for` has passed: the next `half_open_calls` calls run as trials, others are
    /// refused.
    HalfOpen,
}

/// A circuit breaker: counts the outcomes of recent calls in a time-based sliding
/// window and, once too many fail, refuses calls for a while instead of running them.
///
/// | builder | meaning | default |
/// |---|---|---|
/// | [`failure_rate(R)`](Self::failure_rate) | opens when, among the calls recorded in the last `window`, at least `min_calls` were recorded and the share of failures is ≥ R (0 < R ≤ 1) | 0.5 |
/// | [`min_calls(N)`](Self::min_calls) | calls needed in the window before it is judged (N ≥ 1); judged as soon as N are recorded | 10 |
/// | [`window(D)`](Self::window) | the sliding window | 30 s |
/// | [`open_for(D)`](Self::open_for) | how long it stays open before trial calls | 15 s |
/// | [`half_open_calls(N)`](Self::half_open_calls) | trial calls let through when half-open; all must succeed to close it | 1 |
/// | [`slow_call(D)`](Self::slow_call) | a call taking longer counts as a failure even if it returns `Ok` | none |
///
/// Every constructor and builder is `const`, so a breaker lives in a `static` and is
/// shared by every function that runs through it:
///
/// ```
/// use std::time::Duration;
/// use steadfast::{Breaker, BreakerState, CircuitOpen};
///
/// static PAYMENTS: Breaker = Breaker::new()
///     .failure_rate(0.5)
///     .min_calls(4)
///     .window(Duration::from_secs(10))
///     .open_for(Duration::from_secs(5));
///
/// #[derive(Debug)]
/// enum PayError { Down, Open(CircuitOpen) }
/// impl From<CircuitOpen> for PayError {
///     fn from(e: CircuitOpen) -> Self { PayError::Open(e) }
/// }
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// for _ in 0..4 {
///     let _ = PAYMENTS.run(async { Err::<(), _>(PayError::Down) }).await;
/// }
/// assert_eq!(PAYMENTS.state(), BreakerState::Open);
/// // Refused at once, without running the body.
/// let refused = PAYMENTS.run(async { Ok::<_, PayError>(unreachable!()) }).await;
/// let Err(PayError::Open(open)) = refused else { panic!() };
/// assert_eq!(open.retry_after(), Duration::from_secs(5));
///
/// tokio::time::sleep(Duration::from_secs(5)).await;
/// assert_eq!(PAYMENTS.state(), BreakerState::HalfOpen);
/// PAYMENTS.run(async { Ok::<_, PayError>(()) }).await.unwrap(); // the trial succeeds
/// assert_eq!(PAYMENTS.state(), BreakerState::Closed);
/// # }
/// ```
///
/// # The window
///
/// A call is recorded when it finishes, at the time it finishes (tokio's clock, so a
/// paused clock gives exact windows). The window is cut into 20 buckets of
/// `window / 20` (rounded up to the nanosecond): a call counts until the end of its
/// bucket plus `window`, so for at most `window` and more than `window · 19/20`. The
/// breaker is judged at every recorded call once at least `min_calls` are in the
/// window, without waiting for the window to fill. Counting is lock-free: a recorded
/// call is one compare-and-swap on its bucket, and a success while no failure is in
/// the window reads nothing else.
///
/// # Open, half-open, closed
///
/// - Open: every call is refused with [`CircuitOpen`] at once, without running; its
///   [`retry_after`](CircuitOpen::retry_after) is the time left until trial calls.
/// - After `open_for`, the next `half_open_calls` calls run as trials and other calls
///   are refused (with `retry_after` zero: trials are under way). When all trials
///   succeed the breaker closes with an empty window; when one fails it opens again
///   for `open_for`.
/// - [`isolate`](Self::isolate) holds it open until [`reset`](Self::reset).
///
/// # What counts
///
/// An `Err` is a failure (with [`run_when`](Self::run_when), only an error for which
/// the predicate is true; other errors count as successes: the dependency answered).
/// With `slow_call`, a call that took longer is a failure even when it returned `Ok`.
/// A panic in the body is recorded as a failure and goes on unwinding. A call whose
/// future is dropped before it finishes is not recorded (a trial call dropped so gives
/// its place to the next caller). A call that finishes after the breaker changed
/// state (it was admitted while closed and the breaker has opened since) is not
/// recorded either.
///
/// # Events
///
/// Target `steadfast`, field `function` (the name given to [`name`](Self::name), or
/// the annotated function): WARN when it opens (`failure_rate`, the share of failures
/// that tripped it, and `calls`, the calls judged), INFO when it goes half-open and
/// when it closes, DEBUG for each refused call (`retry_after_ms`).
///
/// # Invalid values
///
/// Values outside their range are clamped to the nearest valid one — `failure_rate` to
/// (0, 1] (NaN: 0.5), `min_calls` and `half_open_calls` to at least 1, `window` to at
/// least 1 ms — and reported by one ERROR event at the first call; never a panic.
pub struct Breaker {
    config: Config,
    /// `kind | generation << 2`; the generation changes at every transition, so a call
    /// admitted in one period is never recorded in another.
    state: AtomicU64,
    /// When trial calls may start, in nanoseconds since `epoch` (while open).
    open_until: AtomicU64,
    window: Window,
    /// One plus the bucket of the newest failure recorded while closed; zero for none.
    last_failure: AtomicU64,
    /// The trials of the half-open state; also serialises every transition.
    trials: Mutex<Trials>,
    epoch: Epoch,
    /// Whether clamped builder values have been reported.
    reported: AtomicBool,
    /// The name of the `static` that `#[circuit_breaker(using = NAME)]` shares, learnt
    /// at its first call: the `function` label of `steadfast_circuit_state` when the
    /// breaker has no [`name`](Breaker::name) of its own (feature `metrics`).
    #[cfg(feature = "metrics")]
    pub(crate) label: std::sync::OnceLock<&'static str>,
}

/// The validated arguments of a [`Breaker`].
#[derive(Clone, Copy)]
pub(crate) struct Config {
    pub(crate) failure_rate: f64,
    pub(crate) min_calls: u32,
    pub(crate) window: Duration,
    /// `window / 20`, rounded up, in nanoseconds.
    pub(crate) bucket: u64,
    pub(crate) open_for: Duration,
    pub(crate) half_open_calls: u32,
    pub(crate) slow_call: Option<Duration>,
    pub(crate) name: &'static str,
    /// The arguments clamped by the builders, for the ERROR event at the first call.
    pub(crate) clamped: Clamped,
}

/// Builder arguments outside their range and the values used instead.
#[derive(Clone, Copy, Default)]
pub(crate) struct Clamped {
    pub(crate) failure_rate: Option<f64>,
    pub(crate) min_calls: bool,
    pub(crate) window: bool,
    pub(crate) half_open_calls: bool,
}

impl Clamped {
    const fn any(&self) -> bool {
        self.failure_rate.is_some() || self.min_calls || self.window || self.half_open_calls
    }
}

/// The shortest window a breaker (or a retry budget) accepts.
pub(crate) const MIN_WINDOW: Duration = Duration::from_millis(1);

impl Breaker {
    /// A closed breaker with the defaults of `#[circuit_breaker]`: failure rate 0.5,
    /// 10 calls at least, a 30 s window, open for 15 s, one trial call, no slow-call
    /// limit.
    ///
    /// ```
    /// static API: steadfast::Breaker = steadfast::Breaker::new();
    /// assert_eq!(API.state(), steadfast::BreakerState::Closed);
    /// ```
    pub const fn new() -> Self {
        let window = Duration::from_secs(30);
        Self {
            config: Config {
                failure_rate: 0.5,
                min_calls: 10,
                window,
                bucket: bucket_width(duration_nanos(window)),
                open_for: Duration::from_secs(15),
                half_open_calls: 1,
                slow_call: None,
                name: "",
                clamped: Clamped {
                    failure_rate: None,
                    min_calls: false,
                    window: false,
                    half_open_calls: false,
                },
            },
            state: AtomicU64::new(state::CLOSED),
            open_until: AtomicU64::new(0),
            window: Window::new(),
            last_failure: AtomicU64::new(0),
            trials: Mutex::new(Trials::new()),
            epoch: Epoch::new(),
            reported: AtomicBool::new(false),
            #[cfg(feature = "metrics")]
            label: std::sync::OnceLock::new(),
        }
    }

    /// Opens when the share of failures among the calls in the window is at least
    /// `rate` (0 < `rate` ≤ 1; others are clamped, see [Invalid values](Self#invalid-values)).
    ///
    /// ```
    /// static STRICT: steadfast::Breaker = steadfast::Breaker::new().failure_rate(0.25);
    /// # let _ = &STRICT;
    /// ```
    pub const fn failure_rate(mut self, rate: f64) -> Self {
        let used = if rate.is_nan() {
            0.5
        } else if rate <= 0.0 {
            f64::MIN_POSITIVE
        } else if rate > 1.0 {
            1.0
        } else {
            rate
        };
        self.config.clamped.failure_rate = if used == rate { None } else { Some(used) };
        self.config.failure_rate = used;
        self
    }

    /// Calls needed in the window before it is judged (at least 1).
    ///
    /// ```
    /// static QUICK: steadfast::Breaker = steadfast::Breaker::new().min_calls(3);
    /// # let _ = &QUICK;
    /// ```
    pub const fn min_calls(mut self, calls: u32) -> Self {
        self.config.clamped.min_calls = calls == 0;
        self.config.min_calls = if calls == 0 { 1 } else { calls };
        self
    }

    /// The length of the sliding window (at least 1 ms).
    ///
    /// ```
    /// use std::time::Duration;
    /// static MINUTE: steadfast::Breaker = steadfast::Breaker::new().window(Duration::from_secs(60));
    /// # let _ = &MINUTE;
    /// ```
    pub const fn window(mut self, window: Duration) -> Self {
        let short = window.as_nanos() < MIN_WINDOW.as_nanos();
        let window = if short { MIN_WINDOW } else { window };
        self.config.clamped.window = short;
        self.config.window = window;
        self.config.bucket = bucket_width(duration_nanos(window));
        self
    }

    /// How long it stays open before it lets trial calls through.
    ///
    /// ```
    /// use std::time::Duration;
    /// static PATIENT: steadfast::Breaker = steadfast::Breaker::new().open_for(Duration::from_secs(60));
    /// # let _ = &PATIENT;
    /// ```
    pub const fn open_for(mut self, open_for: Duration) -> Self {
        self.config.open_for = open_for;
        self
    }

    /// Trial calls let through when half-open (at least 1); all must succeed to close.
    ///
    /// ```
    /// static CAREFUL: steadfast::Breaker = steadfast::Breaker::new().half_open_calls(3);
    /// # let _ = &CAREFUL;
    /// ```
    pub const fn half_open_calls(mut self, calls: u32) -> Self {
        self.config.clamped.half_open_calls = calls == 0;
        self.config.half_open_calls = if calls == 0 { 1 } else { calls };
        self
    }

    /// A call that takes longer than `limit` counts as a failure, even if it returns `Ok`.
    ///
    /// ```
    /// use std::time::Duration;
    /// static SNAPPY: steadfast::Breaker = steadfast::Breaker::new().slow_call(Duration::from_secs(2));
    /// # let _ = &SNAPPY;
    /// ```
    pub const fn slow_call(mut self, limit: Duration) -> Self {
        self.config.slow_call = Some(limit);
        self
    }

    /// The name in the `function` field of the events and in [`CircuitOpen`] for calls
    /// made through [`run`](Self::run) (the attribute uses the function's name), and
    /// the `function` label of `steadfast_circuit_state` (feature `metrics`; unnamed, a
    /// breaker shared by `#[circuit_breaker(using = STATIC)]` reports under `STATIC`).
    ///
    /// ```
    /// static DB: steadfast::Breaker = steadfast::Breaker::new().name("db");
    /// # let _ = &DB;
    /// ```
    pub const fn name(mut self, name: &'static str) -> Self {
        self.config.name = name;
        self
    }

    /// Runs `body` through the breaker: refused with `Err(E::from(CircuitOpen))` without
    /// polling it while the breaker is open, else run and recorded (every `Err` is a
    /// failure).
    ///
    /// ```
    /// use steadfast::{Breaker, CircuitOpen};
    ///
    /// static DB: Breaker = Breaker::new().min_calls(1);
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let out: Result<u32, Box<dyn std::error::Error + Send + Sync>> = DB.run(async { Ok(7) }).await;
    /// assert_eq!(out.unwrap(), 7);
    /// let _ = DB.run(async { Err::<u32, Box<dyn std::error::Error + Send + Sync>>("down".into()) }).await;
    /// let refused = DB.run(async { Ok::<u32, Box<dyn std::error::Error + Send + Sync>>(7) }).await;
    /// assert!(refused.unwrap_err().is::<CircuitOpen>());
    /// # }
    /// ```
    pub fn run<T, E, F>(&self, body: F) -> impl Future<Output = Result<T, E>>
    where
        F: Future<Output = Result<T, E>>,
        E: From<CircuitOpen>,
    {
        self.run_when(|_: &E| true, body)
    }

    /// Like [`run`](Self::run), but only the errors for which `when` is true are
    /// failures; other errors count as successes (the dependency answered).
    ///
    /// ```
    /// use steadfast::{Breaker, BreakerState, CircuitOpen};
    ///
    /// #[derive(Debug)]
    /// enum ApiError { NotFound, Outage, Open(CircuitOpen) }
    /// impl From<CircuitOpen> for ApiError {
    ///     fn from(e: CircuitOpen) -> Self { ApiError::Open(e) }
    /// }
    ///
    /// static API: Breaker = Breaker::new().min_calls(2);
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let is_outage = |e: &ApiError| matches!(e, ApiError::Outage);
    /// for _ in 0..5 {
    ///     let _ = API.run_when(is_outage, async { Err::<(), _>(ApiError::NotFound) }).await;
    /// }
    /// assert_eq!(API.state(), BreakerState::Closed); // a 404 is an answer
    /// let _ = API.run_when(is_outage, async { Err::<(), _>(ApiError::Outage) }).await;
    /// let _ = API.run_when(is_outage, async { Err::<(), _>(ApiError::Outage) }).await;
    /// # assert_eq!(API.state(), BreakerState::Closed); // 2 of 7
    /// # }
    /// ```
    pub fn run_when<T, E, F, W>(&self, when: W, body: F) -> impl Future<Output = Result<T, E>>
    where
        F: Future<Output = Result<T, E>>,
        E: From<CircuitOpen>,
        W: Fn(&E) -> bool,
    {
        let failed = move |out: &Result<T, E>| out.as_ref().is_err_and(&when);
        call::Run::new(self.call(self.config.name, failed, body))
    }

    /// `body` as a call through the breaker, named `function`, with `failed` telling
    /// which outputs are failures: resolves to `Err(CircuitOpen)` when refused. The
    /// expansion of `#[circuit_breaker]` (through `__private::breaker_call`).
    pub(crate) fn call<F, C>(
        &self,
        function: &'static str,
        failed: C,
        body: F,
    ) -> BreakerCall<'_, F, C>
    where
        F: Future,
        C: Fn(&F::Output) -> bool,
    {
        BreakerCall::new(self, function, failed, body)
    }

    /// The current state. Once `open_for` has passed, an open breaker reports
    /// [`BreakerState::HalfOpen`]: the next call will be a trial.
    ///
    /// ```
    /// let b = steadfast::Breaker::new();
    /// assert_eq!(b.state(), steadfast::BreakerState::Closed);
    /// ```
    pub fn state(&self) -> BreakerState {
        self.current_state()
    }

    /// Holds the breaker open (every call refused, `retry_after` = `Duration::MAX`) until
    /// [`reset`](Self::reset): for maintenance windows, or a dependency known to be down.
    ///
    /// ```
    /// use steadfast::{Breaker, BreakerState};
    /// let b = Breaker::new();
    /// b.isolate();
    /// assert_eq!(b.state(), BreakerState::Open);
    /// ```
    pub fn isolate(&self) {
        self.hold_open();
    }

    /// Closes the breaker with an empty window (also ends [`isolate`](Self::isolate)).
    ///
    /// ```
    /// use steadfast::{Breaker, BreakerState};
    /// let b = Breaker::new();
    /// b.isolate();
    /// b.reset();
    /// assert_eq!(b.state(), BreakerState::Closed);
    /// ```
    pub fn reset(&self) {
        self.close_by_hand();
    }
}

impl Default for Breaker {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Breaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Breaker")
            .field("state", &self.state())
            .field("failure_rate", &self.config.failure_rate)
            .field("min_calls", &self.config.min_calls)
            .field("window", &self.config.window)
            .field("open_for", &self.config.open_for)
            .field("half_open_calls", &self.config.half_open_calls)
            .field("slow_call", &self.config.slow_call)
            .finish_non_exhaustive()
    }
}
