//! Shared limits on how many bodies run at once and how many start per window: the
//! [`Limiter`], the [`Limit`] trait behind `#[limit(using = ..)]`, and the helpers that
//! the attribute's expansion calls.
//!
//! Where each concern lives:
//!
//! | file | holds |
//! |---|---|
//! | `limiter.rs` | [`Limiter`], its constructors, `in_flight`/`waiting`, [`LimiterPermit`], [`InvalidLimit`] |
//! | `concurrency.rs` | the concurrency half: a FIFO semaphore of slots |
//! | `rate.rs` | the rate half: the line for start times and the sleep until one |
//! | `window.rs` | the sliding window's arithmetic (pure: no tokio in its tests) |
//! | `gcra.rs` | `burst`: evenly spaced starts, one compare-and-swap each (pure) |
//! | `waiter.rs` | one caller's wait budget and its place in the `waiting` count |
//! | `keyed.rs` | [`KeyedLimiter`]: limits per key in sharded maps, idle keys forgotten; the [`KeyedLimit`] trait |
//! | `shared.rs` | the [`Limit`] trait, its impls for `&L`/`Arc<L>`, the boxed slow path |
//! | `site.rs` | `KeyedSite`: the limiter of one function's `key = ..` with its own limits, a [`KeyedLimiter`] per key type |
//! | `call.rs` | what the expansion calls: `limit`, `limit_or_reject`, their keyed forms, refusals, events, the diagnostic traits of `key` |

mod call;
mod concurrency;
mod gcra;
mod keyed;
mod limiter;
mod rate;
mod shared;
mod site;
mod waiter;
mod window;

#[cfg(test)]
mod tests;

pub use call::{
    KeyCopy, LimitKey, key_copy, limit, limit_keyed, limit_keyed_or_reject, limit_named,
    limit_named_or_reject, limit_or_reject, limit_per_key, limit_per_key_or_reject,
};
pub use keyed::{KeyedAcquire, KeyedLimit, KeyedLimiter, KeyedPermit};
#[cfg(feature = "redis")]
pub(crate) use limiter::Invalid;
pub use limiter::{InvalidLimit, Limiter, LimiterPermit};
pub use shared::Limit;
pub use site::KeyedSite;
