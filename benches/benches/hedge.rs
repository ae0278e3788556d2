//! Hedged calls: the `#[hedge]` attribute and its runtime (`steadfast::Hedge`).
//!
//! - `hedge_fast_path` (criterion): a call that succeeds on its first poll, in ns per
//!   call: the bare body; `#[hedge(after = 50ms)]` and `#[hedge(after = p95)]` on a
//!   function whose body awaits it; the runtime API (`Hedge::run`) with the same two
//!   delays (a latency recorded per call with p95); a hand-written `tokio::select!`
//!   race of the body against a 50 ms `sleep` (then a second attempt); tower's `Hedge`
//!   (p95, 20 data points, 10 s period) over the same body as a service.
//! - `tail latency` (printed before criterion runs): 10 000 calls one after the other
//!   on tokio's paused clock, of a body that takes 10 ms, or 1 s for 5 % of the
//!   attempts (each attempt drawn from a seeded xorshift, the same sequence for every
//!   variant): p50 / p99 / p99.9 of the call latency and the extra attempts, without
//!   a hedge, and through the attribute with `#[hedge(after = p95)]`, `#[hedge(after =
//!   p95, max = 3)]` and `#[hedge(after = 50ms)]`.
//!
//! ```sh
//! cargo bench -p steadfast-benches --bench hedge -- --warm-up-time 1 --measurement-time 3
//! ```

use std::cell::Cell;
use std::future::Future;
use std::hint::black_box;
use std::time::{Duration, Instant as WallInstant};

use criterion::{Criterion, criterion_group};
use steadfast::{Hedge, hedge};
use steadfast_benches::runtime;
use steadfast_benches::{Out, bare};
use tokio::runtime::Runtime;
use tokio::time::{Instant, sleep};
use tower::{BoxError, Service, ServiceExt};

const AFTER: Duration = Duration::from_millis(50);

static FIXED: Hedge = Hedge::after(AFTER);
static LEARNT: Hedge = Hedge::percentile(95);

#[hedge(after = 50ms)]
async fn attr_fixed(x: &u64, n: u64) -> Out {
    bare(x, n).await
}

#[hedge(after = p95)]
async fn attr_learnt(x: &u64, n: u64) -> Out {
    bare(x, n).await
}

/// The hand-written hedge: the body raced against a timer; when the timer fires first,
/// a second attempt races the first. `biased`, so that a ready body is taken without
/// polling the timer (the fairest hand-written version: no timer registration).
async fn hand_select(x: &u64, n: u64) -> Out {
    let first = bare(x, n);
    tokio::pin!(first);
    tokio::select! {
        biased;
        out = &mut first => out,
        () = sleep(AFTER) => tokio::select! {
            biased;
            out = &mut first => out,
            out = bare(x, n) => out,
        },
    }
}

/// tower's hedge policy: every request may be cloned and hedged.
#[derive(Clone)]
struct Always;

impl tower::hedge::Policy<(u64, u64)> for Always {
    fn clone_request(&self, req: &(u64, u64)) -> Option<(u64, u64)> {
        Some(*req)
    }
    fn can_retry(&self, _: &(u64, u64)) -> bool {
        true
    }
}

/// tower's `Hedge` over the body as a service: p95 of a histogram rotated every 10 s,
/// no hedge before 20 data points (its documented example's settings).
fn tower_hedge() -> tower::hedge::Hedge<
    impl Service<
        (u64, u64),
        Response = u64,
        Error = steadfast_benches::Error,
        Future = impl Future<Output = Out>,
    > + Clone,
    Always,
> {
    tower::hedge::Hedge::new(
        tower::service_fn(|(x, n): (u64, u64)| async move { bare(&x, n).await }),
        Always,
        20,
        0.95,
        Duration::from_secs(10),
    )
}

fn fast_path(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("hedge_fast_path");
    macro_rules! call {
        ($name:literal, |$x:ident, $n:ident| $call:expr) => {
            group.bench_function($name, |b| {
                b.to_async(&rt).iter_custom(|iters| async move {
                    let start = WallInstant::now();
                    for _ in 0..iters {
                        let ($x, $n) = (black_box(&1_u64), black_box(2_u64));
                        black_box($call).expect("success");
                    }
                    start.elapsed()
                })
            });
        };
    }
    call!("bare", |x, n| bare(x, n).await);
    call!("#[hedge(after = 50ms)]", |x, n| attr_fixed(x, n).await);
    call!("#[hedge(after = p95)]", |x, n| attr_learnt(x, n).await);
    call!("Hedge::run after = 50ms", |x, n| FIXED.run(|| bare(x, n)).await);
    call!("Hedge::run after = p95", |x, n| LEARNT.run(|| bare(x, n)).await);
    call!("hand-written select!", |x, n| hand_select(x, n).await);
    let svc = tower_hedge();
    // tower's `Hedge` is not `Clone`: one service (and one histogram) for every
    // sample, taken out of its cell by the loop running now and put back after.
    let svc = std::cell::Cell::new(Some(svc));
    group.bench_function("tower Hedge (p95)", |b| {
        b.to_async(&rt).iter_custom(|iters| {
            let cell = &svc;
            async move {
                let mut svc = cell.take().expect("one loop at a time");
                let start = WallInstant::now();
                for _ in 0..iters {
                    let ready = svc.ready().await.expect("ready");
                    let request = (*black_box(&1_u64), black_box(2_u64));
                    black_box(ready.call(request).await.map_err(|e: BoxError| e)).expect("success");
                }
                let elapsed = start.elapsed();
                cell.set(Some(svc));
                elapsed
            }
        })
    });
    group.finish();
}

// ---------------------------------------------------------------- tail latency

const CALLS: usize = 10_000;
const FAST: Duration = Duration::from_millis(10);
const SLOW: Duration = Duration::from_secs(1);

/// A deterministic stream of attempt latencies: 5 % slow.
struct Draws(Cell<u64>);

impl Draws {
    fn new() -> Self {
        Draws(Cell::new(0x9E37_79B9_7F4A_7C15))
    }
    fn next(&self) -> Duration {
        // xorshift64*
        let mut s = self.0.get();
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        self.0.set(s);
        let r = s.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11;
        if r % 100 < 5 { SLOW } else { FAST }
    }
}

fn body(draws: &Draws, attempts: &Cell<u64>) -> impl Future<Output = Out> {
    attempts.set(attempts.get() + 1);
    let latency = draws.next();
    async move {
        sleep(latency).await;
        Ok(1)
    }
}

#[hedge(after = p95)]
async fn tail_p95(draws: &Draws, attempts: &Cell<u64>) -> Out {
    body(draws, attempts).await
}

#[hedge(after = p95, max = 3)]
async fn tail_p95_max3(draws: &Draws, attempts: &Cell<u64>) -> Out {
    body(draws, attempts).await
}

#[hedge(after = 50ms)]
async fn tail_fixed(draws: &Draws, attempts: &Cell<u64>) -> Out {
    body(draws, attempts).await
}

/// The variants of the scenario: no hedge, or one of the hedged functions above.
#[derive(Clone, Copy)]
enum Variant {
    Bare,
    P95,
    P95Max3,
    Fixed50,
}

/// Runs the scenario with `variant`; returns the sorted call latencies and the
/// attempts made.
fn scenario(variant: Variant) -> (Vec<Duration>, u64) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("a runtime");
    rt.block_on(async {
        let draws = Draws::new();
        let attempts = Cell::new(0);
        let mut latencies = Vec::with_capacity(CALLS);
        for _ in 0..CALLS {
            let start = Instant::now();
            match variant {
                Variant::Bare => body(&draws, &attempts).await,
                Variant::P95 => tail_p95(&draws, &attempts).await,
                Variant::P95Max3 => tail_p95_max3(&draws, &attempts).await,
                Variant::Fixed50 => tail_fixed(&draws, &attempts).await,
            }
            .expect("success");
            latencies.push(start.elapsed());
        }
        latencies.sort();
        (latencies, attempts.get())
    })
}

fn quantile(sorted: &[Duration], q: f64) -> Duration {
    let rank = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn tail_latency() {
    println!("tail latency: {CALLS} calls, 10 ms or 1 s (5 % of attempts), paused clock");
    println!("| variant | p50 | p99 | p99.9 | max | extra attempts |");
    println!("|---|---:|---:|---:|---:|---:|");
    let variants = [
        ("no hedge", Variant::Bare),
        ("#[hedge(after = p95)]", Variant::P95),
        ("#[hedge(after = p95, max = 3)]", Variant::P95Max3),
        ("#[hedge(after = 50ms)]", Variant::Fixed50),
    ];
    for (name, variant) in variants {
        let (sorted, attempts) = scenario(variant);
        let extra = attempts - CALLS as u64;
        println!(
            "| {name} | {:?} | {:?} | {:?} | {:?} | {extra} ({:.2} %) |",
            quantile(&sorted, 0.5),
            quantile(&sorted, 0.99),
            quantile(&sorted, 0.999),
            sorted[sorted.len() - 1],
            extra as f64 * 100.0 / CALLS as f64,
        );
    }
}

// ------------------------------------------------- instructions (under Callgrind)

/// Calls per variant in [`instructions`].
const COUNTED: u64 = 100_000;

macro_rules! counted {
    ($name:ident, |$x:ident, $n:ident| $call:expr) => {
        #[inline(never)]
        fn $name(rt: &Runtime) {
            rt.block_on(async {
                for _ in 0..COUNTED {
                    let ($x, $n) = (black_box(&1_u64), black_box(2_u64));
                    black_box($call).expect("success");
                }
            })
        }
    };
}

counted!(count_bare, |x, n| bare(x, n).await);
counted!(count_attr_fixed, |x, n| attr_fixed(x, n).await);
counted!(count_attr_learnt, |x, n| attr_learnt(x, n).await);
counted!(count_fixed, |x, n| FIXED.run(|| bare(x, n)).await);
counted!(count_learnt, |x, n| LEARNT.run(|| bare(x, n)).await);
counted!(count_select, |x, n| hand_select(x, n).await);

#[inline(never)]
fn count_tower(rt: &Runtime) {
    let mut svc = tower_hedge();
    rt.block_on(async {
        for _ in 0..COUNTED {
            let ready = svc.ready().await.expect("ready");
            let request = (*black_box(&1_u64), black_box(2_u64));
            black_box(ready.call(request).await.map_err(|e: BoxError| e)).expect("success");
        }
    })
}

/// `HEDGE_INSTRUCTIONS=1 valgrind --tool=callgrind <bench binary>`: each variant's
/// loop of [`COUNTED`] calls in its own function, for exact instruction counts
/// (`callgrind_annotate --inclusive=yes`, divided by `COUNTED`).
fn instructions() {
    let rt = runtime();
    count_bare(&rt);
    count_attr_fixed(&rt);
    count_attr_learnt(&rt);
    count_fixed(&rt);
    count_learnt(&rt);
    count_select(&rt);
    count_tower(&rt);
}

criterion_group!(benches, fast_path);

fn main() {
    if std::env::var_os("HEDGE_INSTRUCTIONS").is_some() {
        return instructions();
    }
    // `HEDGE_NO_TAIL=1` skips the scenario (when profiling the fast path alone).
    if std::env::var_os("HEDGE_NO_TAIL").is_none() {
        tail_latency();
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
