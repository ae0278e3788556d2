//! Shared code of the examples.

#[doc = include_str!("../../docs/from-nodejs.md")]
pub mod from_nodejs {}
