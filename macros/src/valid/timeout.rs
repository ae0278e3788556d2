//! `#[timeout]` has one argument: nothing to check across.

use super::Validate;
use crate::args::TimeoutArgs;

impl Validate for TimeoutArgs {
    fn needs_result(&self) -> Option<&'static str> {
        Some("timeout")
    }
}
