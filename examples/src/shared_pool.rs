//! The core of `cargo run --example shared_pool`: one `Limiter` shared by several query
//! functions, like a database connection pool.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use steadfast::{Limiter, limit};

/// At most 3 queries at once, whichever function runs them.
pub static POOL: Limiter = Limiter::concurrency(3);

/// Connections in use now, and the most at once.
pub static IN_USE: AtomicUsize = AtomicUsize::new(0);
/// The most connections in use at once.
pub static PEAK: AtomicUsize = AtomicUsize::new(0);

async fn query(ms: u64) {
    let now = IN_USE.fetch_add(1, Ordering::SeqCst) + 1;
    PEAK.fetch_max(now, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(ms)).await;
    IN_USE.fetch_sub(1, Ordering::SeqCst);
}

/// Loads a user.
#[limit(using = POOL)]
pub async fn load_user(id: u32) -> String {
    query(30).await;
    format!("user {id}")
}

/// Loads a user's orders.
#[limit(using = POOL)]
pub async fn load_orders(user: u32) -> Vec<u32> {
    query(50).await;
    vec![user * 10, user * 10 + 1]
}

/// Writes an audit record; gives up after 100 ms without a connection.
#[limit(using = POOL, wait = 100ms)]
pub async fn audit(event: &str) -> Result<(), steadfast::Rejected> {
    query(10).await;
    let _ = event;
    Ok(())
}

/// What happened.
#[derive(Debug, PartialEq, Eq)]
pub struct Report {
    /// Queries that ran.
    pub queries: usize,
    /// Audit writes shed because the pool stayed full for 100 ms.
    pub audits_rejected: usize,
    /// The most connections in use at once.
    pub peak: usize,
}

/// Runs `users` page loads (a user, their orders and an audit record each), all at once.
pub async fn run(users: u32) -> Report {
    PEAK.store(0, Ordering::SeqCst);
    let mut tasks = tokio::task::JoinSet::new();
    for id in 0..users {
        tasks.spawn(async move {
            let (_user, _orders) = tokio::join!(load_user(id), load_orders(id));
            audit("page view").await.is_err()
        });
    }
    let rejected = tasks.join_all().await.into_iter().filter(|r| *r).count();
    Report {
        queries: users as usize * 3 - rejected,
        audits_rejected: rejected,
        peak: PEAK.load(Ordering::SeqCst),
    }
}
