//! `#[retry]`: the delays must fit under their cap; `schedule` replaces `delay`,
//! `backoff` and `factor`; `policy` replaces the whole schedule and needs the
//! `backoff` feature.

use syn::Expr;

use super::{Validate, not_combined};
use crate::args::{RetryArgs, key_span, unwrap_group};
use crate::errors::Errors;

impl Validate for RetryArgs {
    fn check(&self, errors: &mut Errors) {
        if let (Some(delay), Some(max)) = (&self.delay, &self.max_delay) {
            if let (Some(d), Some(m)) = (delay.value.nanos(), max.value.nanos()) {
                if m < d {
                    errors.push_new(
                        max.value.span(),
                        "`max_delay` is shorter than `delay`: no delay could be as long as the first",
                    );
                }
            }
        }
        if let Some(hook) = &self.on_retry {
            on_retry_closure(&hook.value, errors);
        }
        if self.schedule.is_some() {
            let computed = [
                ("delay", key_span(&self.delay)),
                ("backoff", key_span(&self.backoff)),
                ("factor", key_span(&self.factor)),
            ];
            let why =
                "the schedule lists every delay (`max_delay`, `jitter` and `attempts` still apply)";
            not_combined("schedule", why, &computed, errors);
        }
        if let Some(policy) = &self.policy {
            let schedule = [
                ("attempts", key_span(&self.attempts)),
                ("delay", key_span(&self.delay)),
                ("backoff", key_span(&self.backoff)),
                ("factor", key_span(&self.factor)),
                ("max_delay", key_span(&self.max_delay)),
                ("jitter", key_span(&self.jitter)),
                ("max_elapsed", key_span(&self.max_elapsed)),
                ("schedule", key_span(&self.schedule)),
                ("max_retry_after", key_span(&self.max_retry_after)),
                ("on_retry", key_span(&self.on_retry)),
                ("level", key_span(&self.level)),
            ];
            let why = "the policy decides the schedule (only `when`, `retry_after` and `attempt` go with it)";
            not_combined("policy", why, &schedule, errors);
            if !cfg!(feature = "backoff") {
                errors.push_new(
                    policy.span,
                    "`policy` needs the `backoff` feature: `steadfast = { version = \"..\", features = [\"backoff\"] }` (the `backoff` crate is unmaintained, RUSTSEC-2025-0012; prefer the schedule arguments)",
                );
            }
        }
    }

    fn needs_result(&self) -> Option<&'static str> {
        Some("retry")
    }
}

/// A closure written as `on_retry` must take the error and the `RetryInfo`; a hook of
/// another type is reported by the compiler, through `__private::OnRetryHook`.
fn on_retry_closure(hook: &Expr, errors: &mut Errors) {
    if let Expr::Closure(closure) = unwrap_group(hook) {
        let n = closure.inputs.len();
        if n != 2 {
            let s = if n == 1 { "" } else { "s" };
            let (begin, inputs, end) =
                (&closure.inputs_begin, &closure.inputs, &closure.inputs_end);
            errors.push(syn::Error::new_spanned(
                quote::quote!(#begin #inputs #end),
                format!(
                    "`on_retry` must be a `Fn(&E, &steadfast::RetryInfo)`: this closure takes {n} argument{s}, write `|error, info| ..`"
                ),
            ));
        }
    }
}
