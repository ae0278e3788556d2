//! `#[circuit_breaker(..)]`: the breaker's own settings (`failure_rate`, `min_calls`,
//! `window`, `open_for`, `half_open_calls`, `slow_call`), `when`, or a shared breaker
//! (`using`).

use proc_macro2::{Span, TokenStream};
use syn::Expr;
use syn::meta::ParseNestedMeta;
use syn::spanned::Spanned as _;

use super::{
    Arg, Given, Number, Parse, duration_value, float_literal, int_literal, key, parse_meta, reject,
    set, unknown, unwrap_group, value,
};
use crate::duration::DurationArg;
use crate::errors::Errors;

/// `#[circuit_breaker(..)]`.
#[derive(Default)]
pub struct BreakerArgs {
    pub failure_rate: Option<Arg<Expr>>,
    pub min_calls: Option<Arg<Expr>>,
    pub window: Option<Arg<DurationArg>>,
    pub open_for: Option<Arg<DurationArg>>,
    pub half_open_calls: Option<Arg<Expr>>,
    pub slow_call: Option<Arg<DurationArg>>,
    pub when: Option<Arg<Expr>>,
    pub using: Option<Arg<Expr>>,
    /// Every key written, for the checks across arguments.
    pub given: Given,
}

pub const KEYS: &[&str] = &[
    "failure_rate",
    "min_calls",
    "window",
    "open_for",
    "half_open_calls",
    "slow_call",
    "when",
    "using",
];

impl Parse for BreakerArgs {
    fn parse(tokens: TokenStream, _: Span, errors: &mut Errors) -> Option<Self> {
        let mut args = BreakerArgs::default();
        args.given = parse_meta(tokens, errors, |meta, errors| {
            let path = &meta.path;
            let a = &mut args;
            match key(meta).as_str() {
                "failure_rate" => {
                    set(&mut a.failure_rate, path, failure_rate(meta, errors), errors)
                }
                "min_calls" => set(&mut a.min_calls, path, count(meta, errors), errors),
                "window" => set(&mut a.window, path, window(meta, errors), errors),
                "open_for" => set(&mut a.open_for, path, constant_duration(meta, errors), errors),
                "half_open_calls" => set(&mut a.half_open_calls, path, count(meta, errors), errors),
                "slow_call" => set(&mut a.slow_call, path, constant_duration(meta, errors), errors),
                "when" => set(&mut a.when, path, value(meta, errors), errors),
                "using" => set(&mut a.using, path, value(meta, errors), errors),
                _ => unknown(meta, "circuit_breaker", KEYS, errors),
            }
        });
        Some(args)
    }
}

/// Why the breaker's settings must be constants.
const CONSTANT: &str = "must be a constant (a literal or a `const`): the breaker is a `static` shared by every call; for settings known only at run time, build a `steadfast::Breaker` and pass `using = ..`";

/// `failure_rate = R`: a literal must be in (0, 1].
fn failure_rate(meta: &ParseNestedMeta, errors: &mut Errors) -> Option<Expr> {
    let expr = value(meta, errors)?;
    if !is_constant(&expr) {
        return reject(expr.span(), format!("`failure_rate` {CONSTANT}"), errors);
    }
    match float_literal(&expr, errors)? {
        Number::Literal(r) if !(r > 0.0 && r <= 1.0) => reject(
            expr.span(),
            "`failure_rate` must be in (0, 1]: the share of failed calls that opens the breaker",
            errors,
        ),
        _ => Some(expr),
    }
}

/// `min_calls = N` or `half_open_calls = N`: a constant, at least 1.
fn count(meta: &ParseNestedMeta, errors: &mut Errors) -> Option<Expr> {
    let name = key(meta);
    let expr = value(meta, errors)?;
    if !is_constant(&expr) {
        return reject(expr.span(), format!("`{name}` {CONSTANT}"), errors);
    }
    match int_literal::<u32>(&expr, errors)? {
        Number::Literal(0) => reject(expr.span(), format!("`{name}` must be at least 1"), errors),
        _ => Some(expr),
    }
}

/// `window = D`: a constant longer than zero.
fn window(meta: &ParseNestedMeta, errors: &mut Errors) -> Option<DurationArg> {
    let window = constant_duration(meta, errors)?;
    if window.nanos() == Some(0) {
        return reject(window.span(), "`window` must be longer than zero", errors);
    }
    Some(window)
}

/// A duration the breaker's `static` can hold: a literal, a `const`, or a call of a
/// `const fn` such as `Duration::from_secs(30)`.
fn constant_duration(meta: &ParseNestedMeta, errors: &mut Errors) -> Option<DurationArg> {
    let name = key(meta);
    let duration = duration_value(meta, errors)?;
    match &duration {
        DurationArg::Expr(expr) if !is_constant(expr) => {
            reject(expr.span(), format!("`{name}` {CONSTANT}"), errors)
        }
        _ => Some(duration),
    }
}

/// Whether `expr` can be a constant: a literal, a path, or a call of a path with such
/// arguments (the compiler checks the rest).
fn is_constant(expr: &Expr) -> bool {
    match unwrap_group(expr) {
        Expr::Lit(_) | Expr::Path(_) => true,
        Expr::Paren(p) => is_constant(&p.expr),
        Expr::Unary(u) => is_constant(&u.expr),
        Expr::Binary(b) => is_constant(&b.left) && is_constant(&b.right),
        Expr::Call(call) => {
            matches!(unwrap_group(&call.func), Expr::Path(_)) && call.args.iter().all(is_constant)
        }
        _ => false,
    }
}
