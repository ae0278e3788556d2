//! Shared code of the examples.

#[doc = include_str!("../../docs/from-nodejs.md")]
pub mod from_nodejs {}

#[doc = include_str!("../../docs/migrating.md")]
pub mod migrating {}

pub mod crawler;
pub mod fleet;
pub mod metrics;
pub mod nginx;
pub mod retry_http;
pub mod service;
pub mod shared_pool;
pub mod shutdown;
pub mod timeline;
pub mod tour;
