//! `#[retry(..)]`: the schedule (`attempts`, `delay`, `backoff`, `factor`,
//! `max_delay`, `jitter`, `max_elapsed`), a `schedule` list or a `policy`, and
//! `when`, `retry_after`, `max_retry_after`, `on_retry`, `level`, `attempt`.

use proc_macro2::{Span, TokenStream};
use syn::meta::ParseNestedMeta;
use syn::spanned::Spanned as _;
use syn::{Expr, Ident};

use super::{
    Arg, Number, Parse, duration_value, float_literal, int_literal, key, one_of, parse_meta,
    reject, set, unknown, unwrap_group, value,
};
use crate::duration::DurationArg;
use crate::errors::Errors;

/// `#[retry(..)]`.
#[derive(Default)]
pub struct RetryArgs {
    pub attempts: Option<Arg<Expr>>,
    pub delay: Option<Arg<DurationArg>>,
    pub backoff: Option<Arg<Ident>>,
    pub factor: Option<Arg<Expr>>,
    pub max_delay: Option<Arg<DurationArg>>,
    pub jitter: Option<Arg<Jitter>>,
    pub max_elapsed: Option<Arg<DurationArg>>,
    pub when: Option<Arg<Expr>>,
    pub retry_after: Option<Arg<Expr>>,
    pub policy: Option<Arg<Expr>>,
    /// The delays as a list (`IntoIterator<Item = Duration>`), instead of
    /// `delay`/`backoff`/`factor`.
    pub schedule: Option<Arg<Expr>>,
    pub on_retry: Option<Arg<Expr>>,
    /// `None`: `level = off`.
    pub level: Option<Arg<Option<Ident>>>,
    pub max_retry_after: Option<Arg<DurationArg>>,
    /// The name the body sees the attempt number under.
    pub attempt: Option<Arg<Ident>>,
    pub budget: Option<Arg<Expr>>,
}

/// `jitter = J`, `jitter = full` or `jitter = equal`.
pub enum Jitter {
    /// Uniform in `[d·(1−J), d·(1+J)]`.
    Spread(Box<Expr>),
    /// Uniform in `[0, d]`.
    Full,
    /// Uniform in `[d/2, d]`.
    Equal,
}

pub const KEYS: &[&str] = &[
    "attempts",
    "delay",
    "backoff",
    "factor",
    "max_delay",
    "jitter",
    "max_elapsed",
    "when",
    "retry_after",
    "policy",
    "schedule",
    "on_retry",
    "level",
    "max_retry_after",
    "attempt",
    "budget",
];

impl Parse for RetryArgs {
    fn parse(tokens: TokenStream, _: Span, errors: &mut Errors) -> Option<Self> {
        let mut args = RetryArgs::default();
        parse_meta(tokens, errors, |meta, errors| {
            let path = &meta.path;
            let a = &mut args;
            match key(meta).as_str() {
                "attempts" => set(&mut a.attempts, path, attempts(meta, errors), errors),
                "delay" => set(&mut a.delay, path, duration_value(meta, errors), errors),
                "backoff" => set(&mut a.backoff, path, backoff(meta, errors), errors),
                "factor" => set(&mut a.factor, path, factor(meta, errors), errors),
                "max_delay" => set(&mut a.max_delay, path, duration_value(meta, errors), errors),
                "jitter" => set(&mut a.jitter, path, jitter(meta, errors), errors),
                "max_elapsed" => {
                    set(&mut a.max_elapsed, path, duration_value(meta, errors), errors)
                }
                "when" => set(&mut a.when, path, value(meta, errors), errors),
                "retry_after" => set(&mut a.retry_after, path, value(meta, errors), errors),
                "policy" => set(&mut a.policy, path, value(meta, errors), errors),
                "schedule" => set(&mut a.schedule, path, value(meta, errors), errors),
                "on_retry" => set(&mut a.on_retry, path, value(meta, errors), errors),
                "level" => set(&mut a.level, path, level(meta, errors), errors),
                "max_retry_after" => {
                    set(&mut a.max_retry_after, path, duration_value(meta, errors), errors)
                }
                "attempt" => set(&mut a.attempt, path, attempt(meta, errors), errors),
                "budget" => set(&mut a.budget, path, value(meta, errors), errors),
                _ => unknown(meta, "retry", KEYS, errors),
            }
        });
        Some(args)
    }
}

/// `attempts = N`: a literal must be at least 1.
fn attempts(meta: &ParseNestedMeta, errors: &mut Errors) -> Option<Expr> {
    let expr = value(meta, errors)?;
    match int_literal::<u32>(&expr, errors)? {
        Number::Literal(0) => reject(
            expr.span(),
            "`attempts` counts the first attempt too and must be at least 1",
            errors,
        ),
        _ => Some(expr),
    }
}

/// `factor = F`: a literal must be at least 1.
fn factor(meta: &ParseNestedMeta, errors: &mut Errors) -> Option<Expr> {
    let expr = value(meta, errors)?;
    match float_literal(&expr, errors)? {
        Number::Literal(f) if f.is_nan() || f < 1.0 => {
            reject(expr.span(), "`factor` must be at least 1.0 (delays never shrink)", errors)
        }
        _ => Some(expr),
    }
}

/// `jitter = J` (a literal must be within `[0, 1]`), `jitter = full` or
/// `jitter = equal`.
fn jitter(meta: &ParseNestedMeta, errors: &mut Errors) -> Option<Jitter> {
    let expr = value(meta, errors)?;
    if let Expr::Path(path) = unwrap_group(&expr) {
        match path.path.get_ident() {
            Some(ident) if ident == "full" => return Some(Jitter::Full),
            Some(ident) if ident == "equal" => return Some(Jitter::Equal),
            _ => {}
        }
    }
    match float_literal(&expr, errors)? {
        Number::Literal(j) if !(0.0..=1.0).contains(&j) => reject(
            expr.span(),
            "`jitter` must be between 0 and 1 (each delay d is drawn from [d·(1−J), d·(1+J)]), `full` or `equal`",
            errors,
        ),
        _ => Some(Jitter::Spread(Box::new(expr))),
    }
}

/// `backoff = exponential | linear | constant | fibonacci`.
fn backoff(meta: &ParseNestedMeta, errors: &mut Errors) -> Option<Ident> {
    let message = "`backoff` must be `exponential`, `linear`, `constant` or `fibonacci`";
    one_of(meta, &["exponential", "linear", "constant", "fibonacci"], message, errors)
}

/// `level = error | warn | info | debug | trace | off`; `off` is `None`.
fn level(meta: &ParseNestedMeta, errors: &mut Errors) -> Option<Option<Ident>> {
    let message = "`level` must be `error`, `warn`, `info`, `debug`, `trace` or `off`";
    let allowed = ["error", "warn", "info", "debug", "trace", "off"];
    one_of(meta, &allowed, message, errors).map(|level| (level != "off").then_some(level))
}

/// `attempt = NAME`: a plain identifier, bound in the body.
fn attempt(meta: &ParseNestedMeta, errors: &mut Errors) -> Option<Ident> {
    let expr = value(meta, errors)?;
    let ident = match unwrap_group(&expr) {
        Expr::Path(p) if p.qself.is_none() => p.path.get_ident().cloned(),
        _ => None,
    };
    if ident.is_none() {
        errors.push_new(
            unwrap_group(&expr).span(),
            "`attempt` takes the name to bind the attempt number to: `attempt = n`",
        );
    }
    ident
}
