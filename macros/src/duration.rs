//! The duration grammar shared by every attribute: `250ms`, `1.5s`, `2m`, `1h`,
//! `500us`, `10ns`, `0` (zero needs no unit), the same as a string literal (`"250ms"`), or any expression of
//! type `std::time::Duration`, evaluated at each call.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote_spanned};
use syn::{Expr, Lit, spanned::Spanned};

/// A duration argument: a constant known at expansion time, or an expression.
#[derive(Clone)]
pub enum DurationArg {
    /// A literal, validated and converted to nanoseconds.
    Const { nanos: u128, span: Span },
    /// Any other expression, emitted as written.
    Expr(Box<Expr>),
}

impl DurationArg {
    /// The value in nanoseconds, when it is a literal.
    pub fn nanos(&self) -> Option<u128> {
        match self {
            DurationArg::Const { nanos, .. } => Some(*nanos),
            DurationArg::Expr(_) => None,
        }
    }

    /// The span of the argument, for errors.
    pub fn span(&self) -> Span {
        match self {
            DurationArg::Const { span, .. } => *span,
            DurationArg::Expr(expr) => expr.span(),
        }
    }
}

impl ToTokens for DurationArg {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        match self {
            DurationArg::Const { nanos, span } => {
                let secs = (nanos / 1_000_000_000) as u64;
                let sub = (nanos % 1_000_000_000) as u32;
                tokens.extend(quote_spanned!(*span=> ::core::time::Duration::new(#secs, #sub)));
            }
            DurationArg::Expr(expr) => {
                // The type ascription makes a wrong type an error at the argument.
                let span = expr.span();
                tokens.extend(quote_spanned!(span=> {
                    let __steadfast_duration: ::core::time::Duration = #expr;
                    __steadfast_duration
                }));
            }
        }
    }
}

const UNITS: &str = "ns, us, ms, s, m or h";

/// Parses a duration argument; literals are checked here, expressions pass through.
pub fn parse(expr: Expr) -> syn::Result<DurationArg> {
    match expr {
        Expr::Group(group) => parse(*group.expr),
        Expr::Paren(paren) if is_literal(&paren.expr) => parse(*paren.expr),
        Expr::Lit(lit) => match &lit.lit {
            Lit::Int(int) => {
                literal(&int.to_string(), int.base10_digits(), int.suffix(), int.span())
            }
            Lit::Float(float) => {
                literal(&float.to_string(), float.base10_digits(), float.suffix(), float.span())
            }
            Lit::Str(text) => parse_str(&text.value(), text.span()),
            other => Err(syn::Error::new(
                other.span(),
                format!("expected a duration such as `250ms` or `1.5s` (units: {UNITS})"),
            )),
        },
        Expr::Unary(syn::ExprUnary { op: syn::UnOp::Neg(_), ref expr, .. }) if is_literal(expr) => {
            Err(syn::Error::new(expr.span(), "a duration cannot be negative"))
        }
        other => Ok(DurationArg::Expr(Box::new(other))),
    }
}

fn is_literal(expr: &Expr) -> bool {
    matches!(expr, Expr::Lit(_))
}

/// `"250ms"`: the same grammar inside a string.
fn parse_str(text: &str, span: Span) -> syn::Result<DurationArg> {
    let text = text.trim();
    let split =
        text.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_')).unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    if digits.is_empty() {
        return Err(syn::Error::new(
            span,
            format!("expected a duration such as \"250ms\" or \"1.5s\" (units: {UNITS})"),
        ));
    }
    literal(text, &digits.replace('_', ""), unit, span)
}

/// Checks one literal: `raw` as written, its decimal `digits` and its `unit` suffix.
fn literal(raw: &str, digits: &str, unit: &str, span: Span) -> syn::Result<DurationArg> {
    let lower = raw.to_ascii_lowercase();
    if lower.starts_with("0x") || lower.starts_with("0o") || lower.starts_with("0b") {
        return Err(syn::Error::new(
            span,
            "durations are written in decimal: hexadecimal, octal and binary literals are not accepted",
        ));
    }
    let per_unit: u128 = match unit {
        "ns" => 1,
        "us" | "µs" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        // Zero needs no unit: `wait = 0` cannot be misread.
        "" if digits.chars().all(|c| c == '0' || c == '.') => {
            return Ok(DurationArg::Const { nanos: 0, span });
        }
        "" => {
            return Err(syn::Error::new(
                span,
                format!("missing unit: write `{digits}ms` or `{digits}s` (units: {UNITS})"),
            ));
        }
        other => {
            return Err(syn::Error::new(span, format!("unknown unit `{other}`: use {UNITS}")));
        }
    };
    let nanos = to_nanos(digits, per_unit).ok_or_else(|| {
        syn::Error::new(span, "this duration does not fit in a `std::time::Duration`")
    })?;
    Ok(DurationArg::Const { nanos, span })
}

/// `digits` (an integer or a decimal fraction) times `per_unit`, exactly, or `None`
/// on overflow or a fraction finer than a nanosecond.
fn to_nanos(digits: &str, per_unit: u128) -> Option<u128> {
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    if fraction.contains(['e', 'E']) || whole.contains(['e', 'E']) {
        return None;
    }
    let whole: u128 = if whole.is_empty() { 0 } else { whole.parse().ok()? };
    let mut nanos = whole.checked_mul(per_unit)?;
    let mut scale = per_unit;
    for digit in fraction.chars() {
        let digit = u128::from(digit.to_digit(10)?);
        if scale % 10 != 0 {
            // Only zeros may follow once the nanosecond is reached.
            if digit != 0 {
                return None;
            }
            continue;
        }
        scale /= 10;
        nanos = nanos.checked_add(digit * scale)?;
    }
    // `Duration` holds u64 seconds.
    (nanos / 1_000_000_000 <= u128::from(u64::MAX)).then_some(nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nanos(src: &str) -> Result<u128, String> {
        let expr: Expr = syn::parse_str(src).map_err(|e| e.to_string())?;
        match parse(expr) {
            Ok(DurationArg::Const { nanos, .. }) => Ok(nanos),
            Ok(DurationArg::Expr(_)) => Err("expr".into()),
            Err(e) => Err(e.to_string()),
        }
    }

    #[test]
    fn units() {
        assert_eq!(nanos("250ms"), Ok(250_000_000));
        assert_eq!(nanos("1.5s"), Ok(1_500_000_000));
        assert_eq!(nanos("2m"), Ok(120_000_000_000));
        assert_eq!(nanos("1h"), Ok(3_600_000_000_000));
        assert_eq!(nanos("500us"), Ok(500_000));
        assert_eq!(nanos("10ns"), Ok(10));
        assert_eq!(nanos("1_000ms"), Ok(1_000_000_000));
        assert_eq!(nanos("0ms"), Ok(0));
        assert_eq!(nanos("0"), Ok(0));
        assert_eq!(nanos("0.0"), Ok(0));
        assert_eq!(nanos("\"0\""), Ok(0));
        assert_eq!(nanos("\"250ms\""), Ok(250_000_000));
        assert_eq!(nanos("\"1.25s\""), Ok(1_250_000_000));
        assert_eq!(
            nanos("1.0000000001s"),
            Err("this duration does not fit in a `std::time::Duration`".into())
        );
        assert_eq!(
            nanos("0.5ns"),
            Err("this duration does not fit in a `std::time::Duration`".into())
        );
    }

    #[test]
    fn rejects_bad_literals() {
        assert!(nanos("250").unwrap_err().starts_with("missing unit: write `250ms`"));
        assert!(nanos("\"250\"").unwrap_err().starts_with("missing unit"));
        assert!(nanos("250sec").unwrap_err().starts_with("unknown unit `sec`"));
        assert!(nanos("\"2 days\"").unwrap_err().starts_with("unknown unit"));
        assert!(nanos("\"ms\"").unwrap_err().starts_with("expected a duration"));
        assert!(nanos("0x10ms").unwrap_err().contains("decimal"));
        assert!(nanos("0b1s").unwrap_err().contains("decimal"));
        assert!(nanos("0o7s").unwrap_err().contains("decimal"));
        assert!(nanos("-5s").unwrap_err().contains("negative"));
        assert!(nanos("'a'").unwrap_err().starts_with("expected a duration"));
        assert!(nanos("99999999999999999999999h").unwrap_err().contains("does not fit"));
    }

    #[test]
    fn expressions_pass_through() {
        assert_eq!(nanos("Duration::from_secs(1)"), Err("expr".into()));
        assert_eq!(nanos("CONFIG.timeout"), Err("expr".into()));
    }
}
