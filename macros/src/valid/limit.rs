//! `#[limit]`: something to limit, `rate` and `per` together, and no limits beside
//! a shared limiter.

use super::{Validate, not_combined};
use crate::args::{LimitArgs, key_span};
use crate::errors::Errors;

impl Validate for LimitArgs {
    fn check(&self, errors: &mut Errors) {
        // A key written but malformed was reported already: it still counts as given.
        let given = |key| self.given.contains(key);
        match (&self.rate, &self.per) {
            (Some(rate), None) if !given("per") => {
                errors.push_new(rate.span, "`rate` needs `per`: `rate = 100, per = 1s`")
            }
            (None, Some(per)) if !given("rate") => {
                errors.push_new(per.span, "`per` needs `rate`: `rate = 100, per = 1s`")
            }
            _ => {}
        }
        if self.using.is_some() {
            let limits = [
                ("concurrency", key_span(&self.concurrency)),
                ("rate", key_span(&self.rate)),
                ("per", key_span(&self.per)),
            ];
            let why = "the shared limiter already defines its limits";
            not_combined("using", why, &limits, errors);
        } else if self.given.only(&["wait"]) {
            // Nothing but `wait` (or nothing at all); an unknown key was reported as such.
            errors.push_new(
                self.span,
                "`#[limit]` needs a limit: `concurrency = N`, `rate = N, per = D`, or `using = LIMITER`",
            );
        }
    }

    fn needs_result(&self) -> Option<&'static str> {
        self.wait.as_ref().map(|_| "limit(wait = ..)")
    }
}
