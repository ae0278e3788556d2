//! `#[hedge(..)]`: `after` (a duration or a quantile `pNN`), `max`, `when`, `budget`.

use proc_macro2::{Span, TokenStream};
use syn::meta::ParseNestedMeta;
use syn::spanned::Spanned as _;
use syn::{Expr, Lit};

use super::{
    Arg, Given, Number, Parse, int_literal, key, parse_meta, reject, set, unknown, unwrap_group,
    value,
};
use crate::duration::{self, DurationArg};
use crate::errors::Errors;

/// `#[hedge(..)]`.
pub struct HedgeArgs {
    pub after: Option<Arg<After>>,
    pub max: Option<Arg<Expr>>,
    pub when: Option<Arg<Expr>>,
    pub budget: Option<Arg<Expr>>,
    /// Every key written, for the checks across arguments.
    pub given: Given,
    /// The attribute, where "needs `after`" points.
    pub span: Span,
}

/// When the next attempt is due.
pub enum After {
    /// A duration: a literal (in the `static`) or an expression evaluated at each call.
    Duration(DurationArg),
    /// `pNN` or `p999`: the quantile of recent latencies, in thousandths (950 for p95).
    Quantile { per_mille: u16, span: Span },
}

pub const KEYS: &[&str] = &["after", "max", "when", "budget"];

/// The most attempts a call may make (gRPC's limit for hedging; the runtime clamps to it).
const MAX_ATTEMPTS: u32 = 5;

impl Parse for HedgeArgs {
    fn parse(tokens: TokenStream, attribute: Span, errors: &mut Errors) -> Option<Self> {
        let (mut after, mut max, mut when, mut budget) = (None, None, None, None);
        let given = parse_meta(tokens, errors, |meta, errors| {
            let path = &meta.path;
            match key(meta).as_str() {
                "after" => set(&mut after, path, after_value(meta, errors), errors),
                "max" => set(&mut max, path, max_value(meta, errors), errors),
                "when" => set(&mut when, path, value(meta, errors), errors),
                "budget" => set(&mut budget, path, value(meta, errors), errors),
                _ => unknown(meta, "hedge", KEYS, errors),
            }
        });
        Some(HedgeArgs { after, max, when, budget, given, span: attribute })
    }
}

const AFTER: &str = "`after` takes a duration (`after = 50ms`) or a quantile of recent latencies (`after = p95`: `p50` to `p99`, or `p999`)";

/// `after = 50ms`, `after = "50ms"`, `after = EXPR`, or `after = p95`.
fn after_value(meta: &ParseNestedMeta, errors: &mut Errors) -> Option<After> {
    let expr = value(meta, errors)?;
    match unwrap_group(&expr) {
        Expr::Path(path) if path.qself.is_none() => {
            if let Some(ident) = path.path.get_ident() {
                if let Some(quantile) = quantile(&ident.to_string()) {
                    return match quantile {
                        Some(per_mille) => Some(After::Quantile { per_mille, span: ident.span() }),
                        None => reject(ident.span(), AFTER, errors),
                    };
                }
            }
        }
        Expr::Lit(syn::ExprLit { lit: Lit::Int(_) | Lit::Float(_) | Lit::Str(_), .. }) => {}
        Expr::Lit(other) => return reject(other.span(), AFTER, errors),
        _ => {}
    }
    errors.ok(duration::parse(expr)).map(After::Duration)
}

/// For a name of the form `p` and digits: `Some(Some(per_mille))` for `p50` to `p99`
/// and `p999`, `Some(None)` for another (`p100`, `p5`); `None` for any other name.
fn quantile(name: &str) -> Option<Option<u16>> {
    let digits = name.strip_prefix('p')?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(match digits {
        "999" => Some(999),
        two if two.len() == 2 => two.parse::<u16>().ok().filter(|p| *p >= 50).map(|p| p * 10),
        _ => None,
    })
}

/// `max = N`: a constant (it lives in the call site's `static`), from 2 to 5.
fn max_value(meta: &ParseNestedMeta, errors: &mut Errors) -> Option<Expr> {
    let expr = value(meta, errors)?;
    match unwrap_group(&expr) {
        Expr::Lit(_) => match int_literal::<u32>(&expr, errors)? {
            Number::Literal(n) if n < 2 => reject(
                expr.span(),
                "`max` counts the first attempt too and must be at least 2: with 1 there is nothing to race",
                errors,
            ),
            Number::Literal(n) if n > MAX_ATTEMPTS => reject(
                expr.span(),
                format!(
                    "`max` is at most {MAX_ATTEMPTS} attempts at once (gRPC's limit for hedging)"
                ),
                errors,
            ),
            _ => Some(expr),
        },
        Expr::Path(_) => Some(expr),
        other => reject(
            other.span(),
            "`max` must be a constant (a literal or a `const`): it is kept in a `static` shared by every call",
            errors,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::quantile;

    #[test]
    fn quantile_names() {
        assert_eq!(quantile("p95"), Some(Some(950)));
        assert_eq!(quantile("p50"), Some(Some(500)));
        assert_eq!(quantile("p99"), Some(Some(990)));
        assert_eq!(quantile("p999"), Some(Some(999)));
        assert_eq!(quantile("p100"), Some(None));
        assert_eq!(quantile("p5"), Some(None));
        assert_eq!(quantile("p49"), Some(None));
        assert_eq!(quantile("p"), None);
        assert_eq!(quantile("pause"), None);
        assert_eq!(quantile("AFTER"), None);
    }
}
