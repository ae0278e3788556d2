//! `#[retry(..)]`: the schedule (`attempts`, `delay`, `backoff`, `factor`,
//! `max_delay`, `jitter`, `max_elapsed`) or a `policy`, and `when`, `retry_after`.

use proc_macro2::{Span, TokenStream};
use syn::meta::ParseNestedMeta;
use syn::spanned::Spanned as _;
use syn::{Expr, Ident};

use super::{
    Arg, Number, Parse, duration_value, float_literal, int_literal, key, one_of, parse_meta,
    reject, set, unknown, value,
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
    pub jitter: Option<Arg<Expr>>,
    pub max_elapsed: Option<Arg<DurationArg>>,
    pub when: Option<Arg<Expr>>,
    pub retry_after: Option<Arg<Expr>>,
    pub policy: Option<Arg<Expr>>,
    pub budget: Option<Arg<Expr>>,
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

/// `jitter = J`: a literal must be within `[0, 1]`.
fn jitter(meta: &ParseNestedMeta, errors: &mut Errors) -> Option<Expr> {
    let expr = value(meta, errors)?;
    match float_literal(&expr, errors)? {
        Number::Literal(j) if !(0.0..=1.0).contains(&j) => reject(
            expr.span(),
            "`jitter` must be between 0 and 1: each delay d is drawn from [d·(1−J), d·(1+J)]",
            errors,
        ),
        _ => Some(expr),
    }
}

/// `backoff = exponential | linear | constant`.
fn backoff(meta: &ParseNestedMeta, errors: &mut Errors) -> Option<Ident> {
    let message = "`backoff` must be `exponential`, `linear` or `constant`";
    one_of(meta, &["exponential", "linear", "constant"], message, errors)
}
