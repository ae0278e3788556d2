//! Instructions per successful call, counted by Callgrind through gungraun: exact and
//! repeatable, whatever else the machine is doing. Each benchmark polls one call
//! once; the runtime, the first-call initialisation and a warm-up call are in the
//! setup, which is not counted.
//!
//! Needs valgrind and `gungraun-runner` at the version of the `gungraun` crate
//! (`scripts/install-gungraun.sh`); `cargo test` never builds or runs it.
//!
//! ```sh
//! scripts/install-gungraun.sh
//! cargo bench -p steadfast-benches --bench instructions
//! cargo bench -p steadfast-benches --bench instructions -- --save-baseline=main  # keep
//! cargo bench -p steadfast-benches --bench instructions -- --baseline=main       # compare
//! ```

use std::hint::black_box;
use std::sync::LazyLock;

use backon::{ExponentialBuilder, Retryable};
use gungraun::{library_benchmark, library_benchmark_group, main};
#[cfg(feature = "metrics")]
use steadfast_benches::hand_metered;
use steadfast_benches::{
    DELAY, Out, bare, bounded, broken, hand_boundary, hand_limit, hand_rate, hand_retry,
    hand_stacked, hand_timeout, hedged, limited, poll_once, rate_limited, retried, stacked, timed,
};
use tokio::runtime::Runtime;

static RUNTIME: LazyLock<Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_current_thread().enable_time().build().expect("a runtime")
});

/// Enters the runtime for the rest of the process (each benchmark runs in a process
/// of its own), makes one call of every function so that lazy initialisation is not
/// counted, and returns `x`.
fn warmed_up(x: u64) -> u64 {
    std::mem::forget(RUNTIME.enter());
    let x_ref = &x;
    for out in [
        poll_once(bare(x_ref, 2)),
        poll_once(retried(x_ref, 2)),
        poll_once(hand_retry(x_ref, 2)),
        poll_once(backon_retry(x_ref, 2)),
        poll_once(tokio_retry(x_ref, 2)),
        poll_once(timed(x_ref, 2)),
        poll_once(hand_timeout(x_ref, 2)),
        poll_once(bounded(x_ref, 2)),
        poll_once(hand_boundary(x_ref, 2)),
        poll_once(limited(x_ref, 2)),
        poll_once(hand_limit(x_ref, 2)),
        poll_once(rate_limited(x_ref, 2)),
        poll_once(hand_rate(x_ref, 2)),
        poll_once(stacked(x_ref, 2)),
        poll_once(hand_stacked(x_ref, 2)),
        poll_once(broken(x_ref, 2)),
        poll_once(hedged(x_ref, 2)),
    ] {
        assert_eq!(out, Ok(x + 2));
    }
    x
}

async fn backon_retry(x: &u64, n: u64) -> Out {
    (|| bare(x, n))
        .retry(ExponentialBuilder::default().with_min_delay(DELAY).with_max_times(2))
        .await
}

async fn tokio_retry(x: &u64, n: u64) -> Out {
    tokio_retry::Retry::start([DELAY, 2 * DELAY], || bare(x, n)).await
}

/// One benchmark per function: a single call, polled once.
macro_rules! one_call {
    ($($(#[$attr:meta])* $bench:ident => $function:ident,)*) => {$(
        $(#[$attr])*
        #[library_benchmark]
        #[bench::call(warmed_up(1))]
        fn $bench(x: u64) -> Out {
            black_box(poll_once($function(black_box(&x), black_box(2))))
        }
    )*};
}

one_call! {
    bare_call => bare,
    retry_steadfast => retried,
    retry_hand_written => hand_retry,
    retry_backon => backon_retry,
    retry_tokio_retry => tokio_retry,
    timeout_steadfast => timed,
    timeout_tokio => hand_timeout,
    error_boundary_steadfast => bounded,
    error_boundary_hand_written => hand_boundary,
    limit_steadfast => limited,
    limit_semaphore => hand_limit,
    rate_steadfast => rate_limited,
    rate_hand_written => hand_rate,
    stack_steadfast => stacked,
    stack_hand_written => hand_stacked,
    breaker_steadfast => broken,
    hedge_steadfast => hedged,
    // The hand-written instrumentation with the `metrics` macros: what the feature's
    // cost is compared with.
    #[cfg(feature = "metrics")]
    metrics_hand_written => hand_metered,
}

library_benchmark_group!(
    name = retry,
    benchmarks = [bare_call, retry_steadfast, retry_hand_written, retry_backon, retry_tokio_retry]
);
library_benchmark_group!(name = timeout, benchmarks = [timeout_steadfast, timeout_tokio]);
library_benchmark_group!(
    name = error_boundary,
    benchmarks = [error_boundary_steadfast, error_boundary_hand_written]
);
library_benchmark_group!(name = limit, benchmarks = [limit_steadfast, limit_semaphore]);
library_benchmark_group!(name = rate, benchmarks = [rate_steadfast, rate_hand_written]);
library_benchmark_group!(name = stack, benchmarks = [stack_steadfast, stack_hand_written]);
#[cfg(feature = "metrics")]
library_benchmark_group!(
    name = metered,
    benchmarks = [error_boundary_steadfast, metrics_hand_written]
);

library_benchmark_group!(name = breaker, benchmarks = [breaker_steadfast]);
library_benchmark_group!(name = hedge, benchmarks = [hedge_steadfast]);

/// Every group, and `$extra` (the groups of the bench crate's features).
macro_rules! all_groups {
    ($($extra:ident),*) => {
        main!(
            library_benchmark_groups = retry,
            timeout,
            error_boundary,
            limit,
            rate,
            stack,
            breaker,
            hedge
            $(, $extra)*
        );
    };
}

#[cfg(feature = "metrics")]
all_groups!(metered);
#[cfg(not(feature = "metrics"))]
all_groups!();
