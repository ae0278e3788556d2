//! Where jitter's randomness comes from: the OS-seeded `RandomState` of std by
//! default, or a per-thread seeded generator for reproducible tests.

use std::cell::Cell;
use std::hash::{BuildHasher, Hasher};

thread_local! {
    // The SplitMix64 state of a seeded thread; `None`: draw from `RandomState`.
    static SEEDED: Cell<Option<u64>> = const { Cell::new(None) };
}

/// Makes the current thread's jitter draws reproducible: after `seed(s)`, the same
/// sequence of retries on this thread draws the same delays (backon's
/// `with_jitter_seed`; p-retry's tests mock `Math.random` for this). Other threads are
/// not affected; a `current_thread` tokio runtime (what `#[tokio::test]` uses) runs
/// every retry of the test on the thread that called it.
///
/// ```
/// use std::time::Duration;
/// use steadfast::RetryPolicy;
///
/// let p = RetryPolicy::new().delay(Duration::from_secs(1)).jitter(0.5);
/// steadfast::jitter::seed(7);
/// let first: Vec<_> = (1..=3).map(|k| p.jittered_delay(k)).collect();
/// steadfast::jitter::seed(7);
/// let again: Vec<_> = (1..=3).map(|k| p.jittered_delay(k)).collect();
/// assert_eq!(first, again);
/// ```
pub fn seed(seed: u64) {
    SEEDED.with(|state| state.set(Some(seed)));
}

/// A uniform number in `[0, 1)`. Unseeded, `RandomState` is seeded from the OS once
/// per thread and stepped on every call: enough for jitter, without a dependency.
pub(super) fn unit_random() -> f64 {
    let bits = SEEDED.with(|state| {
        state.get().map(|s| {
            // SplitMix64: one add and a mix per draw, every seed a full-period stream.
            let next = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
            state.set(Some(next));
            let mut z = next;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        })
    });
    let bits = bits
        .unwrap_or_else(|| std::collections::hash_map::RandomState::new().build_hasher().finish());
    (bits >> 11) as f64 / (1_u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_gives_the_same_draws_and_other_seeds_differ() {
        seed(42);
        let a: Vec<f64> = (0..5).map(|_| unit_random()).collect();
        seed(42);
        let b: Vec<f64> = (0..5).map(|_| unit_random()).collect();
        seed(43);
        let c: Vec<f64> = (0..5).map(|_| unit_random()).collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!(a.iter().all(|x| (0.0..1.0).contains(x)));
        // Another thread is not seeded.
        let other = std::thread::spawn(|| SEEDED.with(Cell::get)).join().unwrap();
        assert_eq!(other, None);
    }
}
