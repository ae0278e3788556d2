//! `#[limit(..)]`: `concurrency`, `rate` with `per` (and `burst`), `wait`, `key`, or a
//! shared limiter (`using`).

use proc_macro2::{Span, TokenStream};
use syn::Expr;
use syn::meta::ParseNestedMeta;
use syn::spanned::Spanned as _;

use super::{
    Arg, Given, Number, Parse, duration_value, int_literal, key, parse_meta, reject, set, unknown,
    unwrap_group, value,
};
use crate::duration::DurationArg;
use crate::errors::Errors;

/// `#[limit(..)]`.
pub struct LimitArgs {
    pub concurrency: Option<Arg<Expr>>,
    pub rate: Option<Arg<Expr>>,
    pub per: Option<Arg<DurationArg>>,
    /// `burst = B`: spaced starts (GCRA) instead of the sliding window.
    pub burst: Option<Arg<Expr>>,
    pub wait: Option<Arg<DurationArg>>,
    pub using: Option<Arg<Expr>>,
    /// `key = EXPR`: the limits apply per value of EXPR, evaluated at each call.
    pub key: Option<Arg<Expr>>,
    /// Every key written, for the checks across arguments.
    pub given: Given,
    /// The attribute, where "needs a limit" points.
    pub span: Span,
}

pub const KEYS: &[&str] = &["concurrency", "rate", "per", "burst", "wait", "using", "key"];

impl Parse for LimitArgs {
    fn parse(tokens: TokenStream, attribute: Span, errors: &mut Errors) -> Option<Self> {
        let (mut concurrency, mut rate, mut per, mut burst) = (None, None, None, None);
        let (mut wait, mut using, mut key_expr) = (None, None, None);
        let given = parse_meta(tokens, errors, |meta, errors| {
            let path = &meta.path;
            match key(meta).as_str() {
                "concurrency" => set(&mut concurrency, path, count(meta, errors), errors),
                "rate" => set(&mut rate, path, count(meta, errors), errors),
                "per" => set(&mut per, path, window(meta, errors), errors),
                "burst" => set(&mut burst, path, count(meta, errors), errors),
                "wait" => set(&mut wait, path, duration_value(meta, errors), errors),
                "using" => set(&mut using, path, value(meta, errors), errors),
                "key" => set(&mut key_expr, path, value(meta, errors), errors),
                _ => unknown(meta, "limit", KEYS, errors),
            }
        });
        let key = key_expr;
        Some(LimitArgs { concurrency, rate, per, burst, wait, using, key, given, span: attribute })
    }
}

/// `concurrency = N`, `rate = N` or `burst = N`: a constant (the limiter is a
/// `static`), at least 1.
fn count(meta: &ParseNestedMeta, errors: &mut Errors) -> Option<Expr> {
    let name = key(meta);
    let expr = value(meta, errors)?;
    match unwrap_group(&expr) {
        Expr::Lit(_) => match int_literal::<u64>(&expr, errors)? {
            Number::Literal(0) => {
                let what = match name.as_str() {
                    "rate" => "`rate = 0` would never start a call; the limit",
                    "burst" => "`burst = 0` would never start a call; the burst",
                    _ => "`concurrency = 0` would never run a call; the limit",
                };
                reject(expr.span(), format!("{what} must be at least 1"), errors)
            }
            _ => Some(expr),
        },
        // A `const` item (or a path to one) is accepted.
        Expr::Path(_) => Some(expr),
        other => reject(
            other.span(),
            format!(
                "`{name}` must be a constant (a literal or a `const`): the limiter is a `static` shared by every call; for a limit known only at run time, build a `steadfast::Limiter` and pass `using = ..`"
            ),
            errors,
        ),
    }
}

/// `per = D`: longer than zero.
fn window(meta: &ParseNestedMeta, errors: &mut Errors) -> Option<DurationArg> {
    let per = duration_value(meta, errors)?;
    if per.nanos() == Some(0) {
        return reject(per.span(), "`per` must be longer than zero", errors);
    }
    Some(per)
}
