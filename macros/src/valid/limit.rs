//! `#[limit]`: something to limit, `rate` and `per` together, `burst` with a rate and
//! not above it, and no limits beside a shared limiter.

use syn::spanned::Spanned as _;

use super::{Validate, not_combined};
use crate::args::{LimitArgs, Number, int_literal, key_span};
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
                ("burst", key_span(&self.burst)),
            ];
            let why = "the shared limiter already defines its limits";
            not_combined("using", why, &limits, errors);
        } else if self.given.only(&["wait", "key"]) {
            // Nothing but `wait` or `key` (or nothing at all); an unknown key was
            // reported as such.
            errors.push_new(
                self.span,
                "`#[limit]` needs a limit: `concurrency = N`, `rate = N, per = D`, or `using = LIMITER`",
            );
        } else {
            self.check_burst(errors);
        }
    }

    fn needs_result(&self) -> Option<&'static str> {
        self.wait.as_ref().map(|_| "limit(wait = ..)")
    }
}

impl LimitArgs {
    /// `burst` spaces the starts of a rate: it needs one, and at most `rate` start at once.
    fn check_burst(&self, errors: &mut Errors) {
        let Some(burst) = &self.burst else { return };
        let Some(rate) = &self.rate else {
            if !self.given.contains("rate") {
                errors.push_new(
                    burst.span,
                    "`burst` needs a rate to space: `rate = 10, per = 1s, burst = 1` starts one call every 100 ms",
                );
            }
            return;
        };
        // Both literals (a `const` is checked by the limiter's constructor, at compile
        // time too); each was checked on its own when parsed, so nothing is reported here.
        let literal = |expr| match int_literal::<u64>(expr, &mut Errors::default()) {
            Some(Number::Literal(n)) => Some(n),
            _ => None,
        };
        if let (Some(b), Some(r)) = (literal(&burst.value), literal(&rate.value)) {
            if b > r {
                errors.push_new(
                    burst.value.span(),
                    format!(
                        "`burst = {b}` is above `rate = {r}`: at most `rate` calls can start at once; the burst must be between 1 and {r}"
                    ),
                );
            }
        }
    }
}
