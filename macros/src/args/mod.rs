//! Parsing the arguments of each attribute: one `Args` type per attribute (a file
//! each), read with `syn::meta::parser`. Parsing only reads and checks each value on
//! its own; checks across arguments and against the function are in `valid`.
//!
//! Every bad argument is recorded and the rest of its entry skipped, so that all of
//! them are reported at once.

mod boundary;
mod breaker;
mod limit;
mod retry;
mod timeout;
// #[hedge]
mod hedge;

pub use boundary::BoundaryArgs;
pub use breaker::BreakerArgs;
pub use limit::LimitArgs;
pub use retry::{Jitter, RetryArgs};
pub use timeout::TimeoutArgs;
// #[hedge]
#[cfg(test)]
pub use hedge::KEYS as HEDGE_KEYS;
pub use hedge::{After, HedgeArgs};

#[cfg(test)]
pub use {
    boundary::KEYS as BOUNDARY_KEYS, breaker::KEYS as BREAKER_KEYS, limit::KEYS as LIMIT_KEYS,
    retry::KEYS as RETRY_KEYS,
};

use proc_macro2::{Span, TokenStream};
use syn::meta::ParseNestedMeta;
use syn::parse::{ParseStream, Parser};
use syn::spanned::Spanned as _;
use syn::{Expr, Ident, Lit, Token};

use crate::duration::{self, DurationArg};
use crate::errors::Errors;

/// The arguments of one attribute, read from the tokens between its parentheses.
pub trait Parse: Sized {
    /// Records every problem in `errors`; `None` when nothing usable is left.
    /// `attribute` spans the attribute itself, for an error about all of it.
    fn parse(tokens: TokenStream, attribute: Span, errors: &mut Errors) -> Option<Self>;
}

/// An argument's value and the span of its key, where errors about it point.
pub struct Arg<T> {
    pub value: T,
    pub span: Span,
}

/// The span of an argument's key, if the argument was given.
pub fn key_span<T>(arg: &Option<Arg<T>>) -> Option<Span> {
    arg.as_ref().map(|arg| arg.span)
}

/// The keys written in an attribute, valid or not (an unknown or malformed key
/// included), so that a check across arguments can stay silent about a key that
/// was written but already reported.
#[derive(Default)]
pub struct Given(Vec<String>);

impl Given {
    pub fn contains(&self, key: &str) -> bool {
        self.0.iter().any(|k| k == key)
    }

    /// Whether every key written is one of `keys` (also when none was written).
    pub fn only(&self, keys: &[&str]) -> bool {
        self.0.iter().all(|k| keys.contains(&k.as_str()))
    }
}

/// Runs `each` on every entry (`key = value` or a flag) and returns the keys
/// written. `each` records its errors and never fails, so one bad entry does not
/// hide the next.
pub fn parse_meta(
    tokens: TokenStream,
    errors: &mut Errors,
    mut each: impl FnMut(&ParseNestedMeta, &mut Errors),
) -> Given {
    let mut given = Given::default();
    let mut local = Errors::default();
    let parser = syn::meta::parser(|meta| {
        given.0.push(key_name(&meta.path));
        each(&meta, &mut local);
        Ok(())
    });
    if let Err(error) = parser.parse2(tokens) {
        local.push(error);
    }
    errors.append(local);
    given
}

/// The key as a single identifier (`""` for a path such as `a::b`, which no
/// attribute takes).
pub fn key(meta: &ParseNestedMeta) -> String {
    meta.path.get_ident().map(ToString::to_string).unwrap_or_default()
}

/// Stores a parsed value once; a second occurrence is an error on the repeated key.
/// `None` (a value already reported as bad) stores nothing.
pub fn set<T>(slot: &mut Option<Arg<T>>, key: &syn::Path, value: Option<T>, errors: &mut Errors) {
    let Some(value) = value else { return };
    if slot.is_some() {
        errors.push_new(key.span(), format!("duplicate argument `{}`", key_name(key)));
    } else {
        *slot = Some(Arg { value, span: key.span() });
    }
}

fn key_name(path: &syn::Path) -> String {
    path.segments.iter().map(|s| s.ident.to_string()).collect::<Vec<_>>().join("::")
}

/// The arm for a key the attribute does not take: "unknown argument `atempts` of
/// `#[retry]`; did you mean `attempts`?", then its value is skipped.
pub fn unknown(meta: &ParseNestedMeta, attribute: &str, known: &[&str], errors: &mut Errors) {
    errors.push(unknown_key(&meta.path, attribute, known));
    if meta.input.peek(Token![=]) {
        value(meta, errors);
    } else {
        skip_to_comma(meta.input);
    }
}

fn unknown_key(path: &syn::Path, attribute: &str, known: &[&str]) -> syn::Error {
    let name = key_name(path);
    let close = known
        .iter()
        .map(|k| (edit_distance(&name, k), *k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 3))
        .min();
    let message = match close {
        Some((_, k)) => {
            format!("unknown argument `{name}` of `#[{attribute}]`; did you mean `{k}`?")
        }
        None => {
            let expected = known.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ");
            format!("unknown argument `{name}` of `#[{attribute}]`; expected one of {expected}")
        }
    };
    syn::Error::new(path.span(), message)
}

/// Levenshtein distance, for "did you mean" hints.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (diagonal + usize::from(ca != *cb)).min(row[j] + 1).min(above + 1);
            diagonal = above;
        }
    }
    row[b.len()]
}

/// Reads `= EXPR` after a key. On a malformed value, records the error and skips to
/// the next `,` so the remaining arguments are still checked.
pub fn value(meta: &ParseNestedMeta, errors: &mut Errors) -> Option<Expr> {
    let Ok(input) = meta.value() else {
        let key = key_name(&meta.path);
        errors.push_new(meta.path.span(), format!("`{key}` needs a value: `{key} = ...`"));
        skip_to_comma(meta.input);
        return None;
    };
    let expr = errors.ok(input.parse::<Expr>());
    if expr.is_none() {
        skip_to_comma(input);
    }
    expr
}

fn skip_to_comma(input: ParseStream) {
    while !input.is_empty() && !input.peek(Token![,]) {
        if input.parse::<proc_macro2::TokenTree>().is_err() {
            break;
        }
    }
}

/// A flag (`catch_panic`) must not carry a value.
pub fn flag(meta: &ParseNestedMeta, errors: &mut Errors) -> Option<()> {
    if !meta.input.is_empty() && !meta.input.peek(Token![,]) {
        let key = key_name(&meta.path);
        errors.push_new(meta.input.span(), format!("`{key}` is a flag and takes no value"));
        skip_to_comma(meta.input);
    }
    Some(())
}

/// `= DURATION` after a key.
pub fn duration_value(meta: &ParseNestedMeta, errors: &mut Errors) -> Option<DurationArg> {
    let expr = value(meta, errors)?;
    errors.ok(duration::parse(expr))
}

/// `= IDENT` where the identifier is one of `allowed`; else `message` at the value.
pub fn one_of(
    meta: &ParseNestedMeta,
    allowed: &[&str],
    message: &str,
    errors: &mut Errors,
) -> Option<Ident> {
    let expr = value(meta, errors)?;
    let ident = match unwrap_group(&expr) {
        Expr::Path(p) => p.path.get_ident().filter(|i| allowed.contains(&i.to_string().as_str())),
        _ => None,
    };
    if ident.is_none() {
        errors.push_new(unwrap_group(&expr).span(), message);
    }
    ident.cloned()
}

pub fn unwrap_group(expr: &Expr) -> &Expr {
    match expr {
        Expr::Group(group) => unwrap_group(&group.expr),
        other => other,
    }
}

/// What a numeric argument turned out to be.
pub enum Number<T> {
    /// A literal, with its value.
    Literal(T),
    /// Any other expression, checked by the compiler (and at run time).
    Expr,
}

/// A literal integer or another expression; `None` (recorded) for another literal.
pub fn int_literal<T: std::str::FromStr>(expr: &Expr, errors: &mut Errors) -> Option<Number<T>>
where
    T::Err: std::fmt::Display,
{
    match unwrap_group(expr) {
        Expr::Lit(syn::ExprLit { lit: Lit::Int(int), .. }) => {
            errors.ok(int.base10_parse::<T>()).map(Number::Literal)
        }
        Expr::Lit(other) => {
            errors.push_new(other.span(), "expected an integer");
            None
        }
        _ => Some(Number::Expr),
    }
}

/// A literal number (integer or float, maybe negated) or another expression; `None`
/// (recorded) for another literal.
pub fn float_literal(expr: &Expr, errors: &mut Errors) -> Option<Number<f64>> {
    if let Expr::Unary(syn::ExprUnary { op: syn::UnOp::Neg(_), expr: inner, .. }) =
        unwrap_group(expr)
    {
        if matches!(unwrap_group(inner), Expr::Lit(_)) {
            return float_literal(inner, errors).map(|n| match n {
                Number::Literal(v) => Number::Literal(-v),
                Number::Expr => Number::Expr,
            });
        }
    }
    let parsed = match unwrap_group(expr) {
        Expr::Lit(syn::ExprLit { lit: Lit::Float(f), .. }) => f.base10_parse::<f64>(),
        Expr::Lit(syn::ExprLit { lit: Lit::Int(i), .. }) => i.base10_parse::<f64>(),
        Expr::Lit(other) => {
            errors.push_new(other.span(), "expected a number");
            return None;
        }
        _ => return Some(Number::Expr),
    };
    errors.ok(parsed).map(Number::Literal)
}

/// Records `message` at `span`, for a value that is not stored.
pub fn reject<T>(span: Span, message: impl std::fmt::Display, errors: &mut Errors) -> Option<T> {
    errors.push_new(span, message);
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_works() {
        assert_eq!(edit_distance("atempts", "attempts"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("jiter", "jitter"), 1);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn did_you_mean() {
        let path: syn::Path = syn::parse_str("atempts").unwrap();
        let e = unknown_key(&path, "retry", RETRY_KEYS);
        assert_eq!(
            e.to_string(),
            "unknown argument `atempts` of `#[retry]`; did you mean `attempts`?"
        );
        let path: syn::Path = syn::parse_str("colour").unwrap();
        let e = unknown_key(&path, "limit", LIMIT_KEYS);
        assert!(e.to_string().contains("expected one of `concurrency`"));
    }
}
