//! `KeyedLimiter`: each key its own window, slots and line; idle keys forgotten.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::{Instant, sleep};

use super::{MS, SEC, settle};
use crate::limit::call::{Described, limit_keyed, limit_keyed_or_reject};
use crate::limit::{KeyedLimit, KeyedLimiter};

/// Spawns one caller per key in `keys`, in order, and returns when each got its permit.
async fn start_times(limiter: &'static KeyedLimiter<u32>, keys: &[u32]) -> Vec<(u32, Duration)> {
    let t0 = Instant::now();
    let tasks: Vec<_> = keys
        .iter()
        .map(|&key| {
            tokio::spawn(async move {
                let _permit = limiter.acquire(key, None).await.unwrap();
                (key, t0.elapsed())
            })
        })
        .collect();
    let mut starts = Vec::new();
    for task in tasks {
        starts.push(task.await.unwrap());
    }
    starts
}

#[tokio::test(start_paused = true)]
async fn each_key_has_its_own_window() {
    static L: KeyedLimiter<u32> = KeyedLimiter::rate(2, SEC);
    let starts = start_times(&L, &[1, 1, 1, 2, 2, 1, 3]).await;
    let ms: Vec<(u32, u128)> = starts.iter().map(|(key, at)| (*key, at.as_millis())).collect();
    assert_eq!(ms, [(1, 0), (1, 0), (1, 1000), (2, 0), (2, 0), (1, 1000), (3, 0)]);
}

#[tokio::test(start_paused = true)]
async fn each_key_has_its_own_spaced_starts() {
    static L: KeyedLimiter<u32> = KeyedLimiter::rate(10, SEC).burst(1);
    let starts = start_times(&L, &[7, 7, 8, 7, 8]).await;
    let ms: Vec<(u32, u128)> = starts.iter().map(|(key, at)| (*key, at.as_millis())).collect();
    assert_eq!(ms, [(7, 0), (7, 100), (8, 0), (7, 200), (8, 100)]);
}

#[tokio::test(start_paused = true)]
async fn each_key_has_its_own_slots_and_fifo_line() {
    static L: KeyedLimiter<u32> = KeyedLimiter::concurrency(1);
    let t0 = Instant::now();
    let order = Arc::new(Mutex::new(Vec::new()));
    let tasks: Vec<_> = [(1, 0), (1, 1), (2, 2), (1, 3), (2, 4)]
        .into_iter()
        .map(|(key, id)| {
            let order = order.clone();
            tokio::spawn(limit_keyed(key, &L, "L", "f", async move {
                order.lock().unwrap().push((id, t0.elapsed()));
                sleep(100 * MS).await;
            }))
        })
        .collect();
    settle().await;
    assert_eq!(L.keys(), 2);
    for task in tasks {
        task.await.unwrap();
    }
    let order: Vec<(u32, u128)> =
        order.lock().unwrap().iter().map(|(id, at)| (*id, at.as_millis())).collect();
    // Key 1: callers 0, 1, 3 one after another; key 2: 2 and 4, alongside.
    assert_eq!(order, [(0, 0), (2, 0), (1, 100), (4, 100), (3, 200)]);
}

#[tokio::test(start_paused = true)]
async fn a_full_key_rejects_with_a_wait_and_others_pass() {
    static L: KeyedLimiter<&str> = KeyedLimiter::concurrency(1);
    let held = L.acquire("a", None).await.unwrap();
    let t0 = Instant::now();
    let rejected = limit_keyed_or_reject("a", &L, "L", "f", 250 * MS, Err, async { Ok(()) }).await;
    let rejected = rejected.unwrap_err();
    assert_eq!((rejected.waited(), rejected.function()), (250 * MS, Some("f")));
    assert_eq!(t0.elapsed(), 250 * MS);
    assert!(L.acquire("b", Some(Duration::ZERO)).await.is_ok());
    drop(held);
    assert!(L.acquire("a", Some(Duration::ZERO)).await.is_ok());
}

#[tokio::test(start_paused = true)]
async fn idle_keys_are_forgotten() {
    static L: KeyedLimiter<u64> = KeyedLimiter::rate(1, SEC);
    for key in 0..100_000 {
        drop(L.acquire(key, None).await.unwrap());
    }
    // Within the window every key must remember its start; the map sweeps as it grows,
    // so it holds every key still (none is idle yet).
    assert_eq!(L.keys(), 100_000);
    // A start within the window still counts: key 0 waits for its next.
    let t0 = Instant::now();
    drop(L.acquire(0, None).await.unwrap());
    assert_eq!(t0.elapsed(), SEC);
    sleep(500 * MS).await;
    // At 1.5 s, all keys but 0 (whose start was at 1 s) had their last start a window
    // ago or more: forgotten.
    assert_eq!(L.keys(), 1);
    sleep(500 * MS).await;
    assert_eq!(L.keys(), 0);
}

#[tokio::test(start_paused = true)]
async fn idle_keys_are_swept_as_later_calls_pass_by() {
    static L: KeyedLimiter<u64> = KeyedLimiter::concurrency(2);
    for key in 0..10_000 {
        drop(L.acquire(key, None).await.unwrap());
    }
    // Without a rate, a key is idle once nobody holds it; new keys sweep the shards as
    // they double, so the map never holds much more than the keys in use.
    let held: Vec<_> = futures_in_order(&L, 10_000..10_010).await;
    assert!(L.keys() <= 10, "{} keys", L.keys());
    drop(held);
    assert_eq!(L.keys(), 0);
}

async fn futures_in_order(
    limiter: &'static KeyedLimiter<u64>,
    keys: std::ops::Range<u64>,
) -> Vec<crate::limit::KeyedPermit<'static>> {
    let mut permits = Vec::new();
    for key in keys {
        permits.push(limiter.acquire(key, None).await.unwrap());
    }
    permits
}

#[tokio::test(start_paused = true)]
async fn keys_held_or_waited_for_are_never_forgotten() {
    static L: KeyedLimiter<u64> = KeyedLimiter::concurrency(1).and_rate(1, SEC);
    let held = L.acquire(1, None).await.unwrap();
    let waiting = tokio::spawn(async { L.acquire(1, None).await.map(drop) });
    settle().await;
    sleep(10 * SEC).await;
    assert_eq!(L.keys(), 1);
    drop(held);
    waiting.await.unwrap().unwrap();
    assert_eq!(L.keys(), 1, "its start was just now");
    sleep(SEC).await;
    assert_eq!(L.keys(), 0);
}

#[test]
fn keyed_limiters_describe_their_limits() {
    static L: KeyedLimiter<u64> = KeyedLimiter::concurrency(2).and_rate(5, SEC);
    assert_eq!(L.to_string(), "concurrency limit of 2 and rate limit of 5 per 1s per key");
    assert_eq!(Described(&crate::limit::call::ByKey::new(&L)).to_string(), L.to_string());
    assert_eq!(
        format!("{L:?}"),
        "KeyedLimiter { concurrency: Some(2), rate: Some((5, 1s)), burst: None, .. }"
    );
    fn is_keyed<L: KeyedLimit<u64> + Sync>(_: &L) {}
    is_keyed(&L);
    is_keyed(&&L);
    is_keyed(&Arc::new(KeyedLimiter::<u64>::rate(1, SEC)));
}
