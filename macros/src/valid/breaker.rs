//! `#[circuit_breaker]`: no settings beside a shared breaker.

use super::{Validate, not_combined};
use crate::args::{BreakerArgs, key_span};
use crate::errors::Errors;

impl Validate for BreakerArgs {
    fn check(&self, errors: &mut Errors) {
        if self.using.is_some() {
            let settings = [
                ("failure_rate", key_span(&self.failure_rate)),
                ("min_calls", key_span(&self.min_calls)),
                ("window", key_span(&self.window)),
                ("open_for", key_span(&self.open_for)),
                ("half_open_calls", key_span(&self.half_open_calls)),
                ("slow_call", key_span(&self.slow_call)),
                ("when", key_span(&self.when)),
            ];
            let why = "the shared breaker already defines its settings (`Breaker::new().failure_rate(..)`); to classify errors, use `Breaker::run_when` or a breaker of this function's own";
            not_combined("using", why, &settings, errors);
        }
    }

    fn needs_result(&self) -> Option<&'static str> {
        Some("circuit_breaker")
    }
}
