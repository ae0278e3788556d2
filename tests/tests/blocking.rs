//! `#[retry]` and `#[error_boundary]` on plain (non-`async`) functions: the same
//! schedule, `when`, `retry_after`, `on_retry`, events and errors, sleeping with
//! `std::thread::sleep` (so these tests run on the real clock, with tight bounds).

use std::cell::{Cell, RefCell};
use std::time::{Duration, Instant};

use steadfast::{Panicked, RetryInfo, error_boundary, retry};
use steadfast_tests::Capture;

#[derive(Debug, Clone, PartialEq)]
enum DiskError {
    Busy(u32),
    Missing,
    Panicked,
}

impl std::fmt::Display for DiskError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}

impl DiskError {
    fn is_busy(&self) -> bool {
        matches!(self, DiskError::Busy(_))
    }
}

impl From<Panicked> for DiskError {
    fn from(_: Panicked) -> Self {
        DiskError::Panicked
    }
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

thread_local! {
    static CALLS: Cell<u32> = const { Cell::new(0) };
    static AT: RefCell<Vec<Instant>> = const { RefCell::new(Vec::new()) };
    static HOOKED: RefCell<Vec<(u32, Duration)>> = const { RefCell::new(Vec::new()) };
}

fn call() -> u32 {
    AT.with_borrow_mut(|at| at.push(Instant::now()));
    CALLS.with(|c| {
        c.set(c.get() + 1);
        c.get()
    })
}

fn reset() {
    CALLS.with(|c| c.set(0));
    AT.with_borrow_mut(Vec::clear);
    HOOKED.with_borrow_mut(Vec::clear);
}

/// The gaps between attempts.
fn gaps() -> Vec<Duration> {
    AT.with_borrow(|at| at.windows(2).map(|w| w[1] - w[0]).collect())
}

/// Each gap is at least the delay slept (the sleep is real) and, with `slack`, at most
/// that much longer.
fn assert_gaps(expected: &[u64], slack: Option<u64>) {
    let gaps = gaps();
    assert_eq!(gaps.len(), expected.len(), "{gaps:?}");
    for (gap, want) in gaps.iter().zip(expected) {
        assert!(*gap >= ms(*want), "{gaps:?} vs {expected:?}");
        if let Some(slack) = slack {
            assert!(*gap < ms(*want + slack), "{gaps:?} vs {expected:?} (+{slack} ms)");
        }
    }
}

#[retry(attempts = 4, delay = 10ms, jitter = 0, when = DiskError::is_busy)]
fn read_block(name: String, buf: &mut Vec<u8>) -> Result<usize, DiskError> {
    let n = call();
    buf.push(n as u8);
    if name == "missing" {
        return Err(DiskError::Missing);
    }
    if n < 3 { Err(DiskError::Busy(n)) } else { Ok(buf.len()) }
}

#[test]
fn a_plain_fn_is_retried_with_thread_sleeps_on_the_same_schedule() {
    reset();
    let mut buf = Vec::new();
    let started = Instant::now();
    assert_eq!(read_block("a".to_owned(), &mut buf), Ok(3));
    assert_eq!(buf, [1, 2, 3]);
    // The real clock, with a tight bound: 10 ms then 20 ms, each overshooting by less
    // than a thread wake-up on a loaded 2-core CI machine.
    assert_gaps(&[10, 20], Some(40));
    assert!(started.elapsed() < ms(30 + 60));
    // `when` false: returned at once, unslept.
    reset();
    assert_eq!(read_block("missing".to_owned(), &mut buf), Err(DiskError::Missing));
    assert_eq!(CALLS.with(Cell::get), 1);
}

#[retry(attempts = 3, delay = 5ms, jitter = 0, on_retry = |_: &DiskError, i: &RetryInfo| HOOKED.with_borrow_mut(|h| h.push((i.attempt(), i.delay()))), attempt = k)]
fn always_busy() -> Result<(), DiskError> {
    call();
    Err(DiskError::Busy(k))
}

#[test]
fn the_last_error_is_returned_with_hooks_and_warn_events() {
    reset();
    let capture = Capture::start();
    assert_eq!(always_busy(), Err(DiskError::Busy(3)));
    assert_gaps(&[5, 10], None);
    assert_eq!(HOOKED.with_borrow(Clone::clone), [(1, ms(5)), (2, ms(10))]);
    let events = capture.steadfast();
    assert_eq!(events.len(), 2, "{events:#?}");
    assert!(events.iter().all(|e| e.level == tracing::Level::WARN));
    assert_eq!(events[0].field("function"), Some("always_busy"));
    assert_eq!(events[1].field("delay_ms"), Some("10"));
}

#[retry(schedule = [ms(2), ms(8)], attempts = 5)]
fn listed() -> Result<(), DiskError> {
    Err(DiskError::Busy(call()))
}

#[test]
fn a_schedule_runs_out_on_a_plain_fn_too() {
    reset();
    assert_eq!(listed(), Err(DiskError::Busy(3)));
    assert_gaps(&[2, 8], None);
}

#[error_boundary("reading the index", catch_panic)]
#[retry(attempts = 2, delay = 1ms, jitter = 0)]
fn index(panic: bool) -> Result<u32, DiskError> {
    let n = call();
    if panic {
        panic!("index corrupt");
    }
    Err(DiskError::Busy(n))
}

#[test]
fn a_boundary_over_retry_on_a_plain_fn_logs_the_final_error_once() {
    reset();
    let capture = Capture::start();
    assert_eq!(index(false), Err(DiskError::Busy(2)));
    let errors: Vec<_> =
        capture.steadfast().into_iter().filter(|e| e.level == tracing::Level::ERROR).collect();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert_eq!(errors[0].field("error"), Some("Busy(2)"));
    assert_eq!(errors[0].field("context"), Some("reading the index"));
    // A panic is caught (and not retried: it is not an `Err` of the body).
    reset();
    assert_eq!(index(true), Err(DiskError::Panicked));
    assert_eq!(CALLS.with(Cell::get), 1);
}

struct Disk {
    reads: u32,
}

impl Disk {
    #[retry(attempts = 3, delay = 0, jitter = 0)]
    fn read(&mut self, at: u64) -> Result<u64, DiskError> {
        self.reads += 1;
        if self.reads < 3 { Err(DiskError::Busy(self.reads)) } else { Ok(at) }
    }
}

#[test]
fn methods_with_mut_self_are_retried() {
    let mut disk = Disk { reads: 0 };
    let started = Instant::now();
    assert_eq!(disk.read(7), Ok(7));
    assert_eq!(disk.reads, 3);
    assert!(started.elapsed() < ms(5), "a zero delay does not sleep");
}
