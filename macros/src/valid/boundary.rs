//! `#[error_boundary]`'s arguments are independent of each other.

use super::Validate;
use crate::args::BoundaryArgs;

impl Validate for BoundaryArgs {
    fn needs_result(&self) -> Option<&'static str> {
        Some("error_boundary")
    }
}
