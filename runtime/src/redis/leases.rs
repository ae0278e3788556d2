//! Concurrency leases: the background task that renews the leases of bodies still
//! running and gives leases back once their permits are dropped (so `drop` only sends
//! a message), and the task that listens for released slots (pub/sub) to wake callers
//! waiting for one.

use std::collections::HashMap;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use ::redis::aio::ConnectionManager;
use tokio::sync::{Notify, mpsc};
use tokio::time::MissedTickBehavior;

use super::scripts::{RELEASE_SCRIPT, RENEW_SCRIPT, micros};

/// At most this many messages are handled per turn of the keeper (releases of one
/// leases key go to Redis in one call).
const BATCH: usize = 256;

/// A waiter with no news asks Redis again after this long at most (the polling
/// fallback behind pub/sub: a lost message, a dead replica's lease expiring).
pub(super) const POLL_AT_MOST: Duration = Duration::from_millis(200);

/// A lease's token and the key of the sorted set that holds it.
#[derive(Debug, Clone)]
pub(super) struct LeaseId {
    pub(super) token: Arc<str>,
    pub(super) key: Arc<str>,
}

/// What the keeper is told.
pub(super) enum Message {
    /// A body holds this lease now: renew it while it runs.
    Held(LeaseId),
    /// Give this lease back (the permit was dropped, or the call that may have taken
    /// it was cancelled or failed before it knew).
    Released(LeaseId),
}

/// What wakes the keeper.
enum Turn {
    Received(usize),
    Renew,
}

/// What the keeper needs to talk to Redis.
pub(super) struct Keeper {
    pub(super) conn: ConnectionManager,
    pub(super) lease: Duration,
    pub(super) redis_timeout: Duration,
    pub(super) channel: String,
    pub(super) limiter: &'static str,
}

impl Keeper {
    /// Runs until every sender is gone (the limiter was dropped), then gives back what
    /// is left.
    pub(super) async fn run(self, mut messages: mpsc::UnboundedReceiver<Message>) {
        let mut held: HashMap<Arc<str>, Arc<str>> = HashMap::new();
        let mut batch = Vec::with_capacity(BATCH);
        // Renewed every third of a lease: a lease survives two missed renewals.
        let every = (self.lease / 3).max(Duration::from_millis(1));
        let mut renewals = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        renewals.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            let renew = !held.is_empty();
            let turn = std::future::poll_fn(|cx| {
                if let Poll::Ready(received) = messages.poll_recv_many(cx, &mut batch, BATCH) {
                    return Poll::Ready(Turn::Received(received));
                }
                if renew && renewals.poll_tick(cx).is_ready() {
                    return Poll::Ready(Turn::Renew);
                }
                Poll::Pending
            });
            match turn.await {
                Turn::Received(received) => {
                    if received == 0 {
                        return;
                    }
                    let mut released: HashMap<Arc<str>, Vec<Arc<str>>> = HashMap::new();
                    for message in batch.drain(..) {
                        match message {
                            Message::Held(id) => {
                                held.insert(id.token, id.key);
                            }
                            Message::Released(id) => {
                                held.remove(&id.token);
                                released.entry(id.key).or_default().push(id.token);
                            }
                        }
                    }
                    for (key, tokens) in released {
                        self.release(&key, &tokens).await;
                    }
                }
                Turn::Renew => {
                    let mut by_key: HashMap<&Arc<str>, Vec<&Arc<str>>> = HashMap::new();
                    for (token, key) in &held {
                        by_key.entry(key).or_default().push(token);
                    }
                    for (key, tokens) in by_key {
                        self.renew(key, &tokens).await;
                    }
                }
            }
        }
    }

    /// Runs `call` on the keeper's connection within `redis_timeout`: whether Redis
    /// answered.
    async fn answered(&self, call: &::redis::ScriptInvocation<'_>) -> bool {
        let mut conn = self.conn.clone();
        let done = tokio::time::timeout(self.redis_timeout, call.invoke_async::<i64>(&mut conn));
        matches!(done.await, Ok(Ok(_)))
    }

    /// Gives leases back. If Redis misses it, they free their slots when they expire.
    async fn release(&self, key: &str, tokens: &[Arc<str>]) {
        let mut call = RELEASE_SCRIPT.key(key);
        call.arg(&self.channel);
        for token in tokens {
            call.arg(&**token);
        }
        if !self.answered(&call).await {
            tracing::debug!(
                target: "steadfast",
                limiter = self.limiter,
                leases = tokens.len(),
                "could not give leases back to Redis; they free their slots when they expire",
            );
        }
    }

    /// Moves leases of bodies still running a lease on.
    async fn renew(&self, key: &str, tokens: &[&Arc<str>]) {
        let mut call = RENEW_SCRIPT.key(key);
        call.arg(micros(self.lease));
        for token in tokens {
            call.arg(&***token);
        }
        if !self.answered(&call).await {
            tracing::debug!(
                target: "steadfast",
                limiter = self.limiter,
                leases = tokens.len(),
                "could not renew leases in Redis; trying again in a third of a lease",
            );
        }
    }
}

/// Listens on the limiter's channel and wakes every local waiter when a slot is freed
/// anywhere in the fleet; reconnects by itself. Aborted when the limiter is dropped.
pub(super) async fn listen(client: ::redis::Client, channel: String, released: Arc<Notify>) {
    let mut backoff = Duration::from_millis(50);
    loop {
        if let Ok(Ok(mut pubsub)) =
            tokio::time::timeout(Duration::from_secs(1), client.get_async_pubsub()).await
        {
            if let Ok(Ok(())) =
                tokio::time::timeout(Duration::from_secs(1), pubsub.subscribe(&channel)).await
            {
                backoff = Duration::from_millis(50);
                let mut messages = std::pin::pin!(pubsub.on_message());
                while std::future::poll_fn(|cx| {
                    futures_core::Stream::poll_next(messages.as_mut(), cx)
                })
                .await
                .is_some()
                {
                    released.notify_waiters();
                }
            }
        }
        // Disconnected: waiters fall back on polling meanwhile; wake them so that they
        // ask Redis now rather than after a message that will not come.
        released.notify_waiters();
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(1));
    }
}
