//! Waiting at scale: 1 000 to 1 000 000 tasks queue for 8 slots, through
//! `#[limit(using = WAITING)]` (a `Limiter::concurrency(8)`) and through a bare tokio
//! `Semaphore`, in one run. Prints, for each count and each variant, the wall time per
//! task (spawned together on a two-worker runtime, each yielding once in its body; the
//! median of five runs, the variants taking turns) and the heap bytes per waiting task
//! (all of them queued behind held slots, counted on a one-thread runtime).
//!
//! ```sh
//! cargo bench -p steadfast-benches --bench waiting
//! ```

use std::future::Future;
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use steadfast_benches::{
    Out, WAITING, WAITING_SLOTS, poll_once, waiting_limited, waiting_semaphore,
};
use tokio::runtime::{Builder, Runtime};

const COUNTS: [usize; 4] = [1_000, 10_000, 100_000, 1_000_000];

/// Timed runs per count and variant.
const RUNS: usize = 5;

fn median(mut runs: Vec<Duration>) -> Duration {
    runs.sort_unstable();
    runs[runs.len() / 2]
}

/// Wall time per task: `n` tasks spawned at once, each one call, all awaited.
fn time_per_task<F>(rt: &Runtime, n: usize, call: fn(&'static u64, u64) -> F) -> Duration
where
    F: Future<Output = Out> + Send + 'static,
{
    static X: u64 = 1;
    rt.block_on(async {
        let start = Instant::now();
        let tasks: Vec<_> = (0..n as u64).map(|i| tokio::spawn(call(&X, i))).collect();
        for task in tasks {
            black_box(task.await.expect("no panic")).expect("success");
        }
        start.elapsed() / u32::try_from(n).expect("a small count")
    })
}

/// Heap bytes per waiting task: `n` tasks spawned while every slot is held, run until
/// each waits, counted (the task, its future and its place in line; the handles are
/// counted too, the same for both variants), then let through.
fn bytes_per_waiter<F>(
    n: usize,
    hold: impl FnOnce() -> Box<dyn Send>,
    call: fn(&'static u64, u64) -> F,
) -> f64
where
    F: Future<Output = Out> + Send + 'static,
{
    static X: u64 = 1;
    static POLLED: AtomicUsize = AtomicUsize::new(0);
    POLLED.store(0, Ordering::Relaxed);
    let rt = Builder::new_current_thread().build().expect("a runtime");
    let held = hold();
    let mut tasks = Vec::new();
    let info = allocation_counter::measure(|| {
        rt.block_on(async {
            tasks = (0..n as u64)
                .map(|i| {
                    tokio::spawn(async move {
                        // In the task's first poll, just before it queues.
                        POLLED.fetch_add(1, Ordering::Relaxed);
                        call(&X, i).await
                    })
                })
                .collect();
            while POLLED.load(Ordering::Relaxed) < n {
                tokio::task::yield_now().await;
            }
        });
    });
    drop(held);
    rt.block_on(async {
        for task in tasks {
            black_box(task.await.expect("no panic")).expect("success");
        }
    });
    info.bytes_current as f64 / n as f64
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is read.
    let rt = Builder::new_multi_thread().worker_threads(2).build().expect("a runtime");
    println!(
        "| waiting tasks | steadfast ns/task | Semaphore ns/task | × Semaphore | steadfast B/waiter | Semaphore B/waiter | + B/waiter |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    for n in COUNTS {
        // Warm both once at this size (the runtime's queues and the allocator grow),
        // then five runs each, taking turns: the medians.
        time_per_task(&rt, n, waiting_limited);
        time_per_task(&rt, n, waiting_semaphore);
        let (mut steadfast, mut semaphore) = (Vec::new(), Vec::new());
        for _ in 0..RUNS {
            steadfast.push(time_per_task(&rt, n, waiting_limited));
            semaphore.push(time_per_task(&rt, n, waiting_semaphore));
        }
        let (steadfast, semaphore) = (median(steadfast), median(semaphore));
        let hold_limiter = || -> Box<dyn Send> {
            let held: Vec<_> =
                (0..8).map(|_| poll_once(WAITING.acquire(None)).expect("free")).collect();
            Box::new(held)
        };
        let limiter_bytes = bytes_per_waiter(n, hold_limiter, waiting_limited);
        let semaphore_bytes = bytes_per_waiter(
            n,
            || Box::new(WAITING_SLOTS.try_acquire_many(8).expect("free")),
            waiting_semaphore,
        );
        println!(
            "| {n} | {:.0} | {:.0} | {:.2} | {limiter_bytes:.0} | {semaphore_bytes:.0} | {:+.0} |",
            steadfast.as_nanos(),
            semaphore.as_nanos(),
            steadfast.as_secs_f64() / semaphore.as_secs_f64(),
            limiter_bytes - semaphore_bytes,
        );
    }
}
