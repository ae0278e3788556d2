//! Arguments of the four attributes: one `Args` type each, parsed with
//! `syn::meta::parser`, every bad argument collected before reporting.

use proc_macro2::{Span, TokenStream};
use syn::meta::ParseNestedMeta;
use syn::parse::{ParseStream, Parser};
use syn::spanned::Spanned as _;
use syn::{Expr, Ident, Lit, LitStr, Token};

use crate::duration::{self, DurationArg};

/// Collects every error of one expansion, so all are reported at once.
#[derive(Default)]
pub struct Errors(Option<syn::Error>);

impl Errors {
    pub fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(error),
            None => self.0 = Some(error),
        }
    }

    pub fn push_new(&mut self, span: Span, message: impl std::fmt::Display) {
        self.push(syn::Error::new(span, message));
    }

    pub fn into_result(self) -> Result<(), syn::Error> {
        self.0.map_or(Ok(()), Err)
    }
}

/// A value and the span of the argument that gave it.
pub struct Spanned<T> {
    pub value: T,
    pub span: Span,
}

/// Stores a key's value once; a second occurrence is an error on the repeated key.
fn set_once<T>(slot: &mut Option<Spanned<T>>, value: T, key: &syn::Path, errors: &mut Errors) {
    if slot.is_some() {
        let name = key_name(key);
        errors.push_new(key.span(), format!("duplicate argument `{name}`"));
    } else {
        *slot = Some(Spanned { value, span: key.span() });
    }
}

fn key_name(path: &syn::Path) -> String {
    path.segments.iter().map(|s| s.ident.to_string()).collect::<Vec<_>>().join("::")
}

/// "unknown argument `atempts`; did you mean `attempts`?"
fn unknown_key(path: &syn::Path, attribute: &str, known: &[&str]) -> syn::Error {
    let name = key_name(path);
    let close = known
        .iter()
        .map(|k| (edit_distance(&name, k), *k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 3))
        .min();
    let expected = known.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ");
    let message = match close {
        Some((_, k)) => {
            format!("unknown argument `{name}` of `#[{attribute}]`; did you mean `{k}`?")
        }
        None => {
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
fn value(meta: &ParseNestedMeta, errors: &mut Errors) -> Option<Expr> {
    let key = key_name(&meta.path);
    let input = match meta.value() {
        Ok(input) => input,
        Err(_) => {
            errors.push_new(meta.path.span(), format!("`{key}` needs a value: `{key} = ...`"));
            skip_to_comma(meta.input);
            return None;
        }
    };
    match input.parse::<Expr>() {
        Ok(expr) => Some(expr),
        Err(error) => {
            errors.push(error);
            skip_to_comma(input);
            None
        }
    }
}

fn skip_to_comma(input: ParseStream) {
    while !input.is_empty() && !input.peek(Token![,]) {
        if input.parse::<proc_macro2::TokenTree>().is_err() {
            break;
        }
    }
}

/// A flag (`catch_panic`) must not carry a value.
fn no_value(meta: &ParseNestedMeta, errors: &mut Errors) {
    if !meta.input.is_empty() && !meta.input.peek(Token![,]) {
        let key = key_name(&meta.path);
        errors.push_new(meta.input.span(), format!("`{key}` is a flag and takes no value"));
        skip_to_comma(meta.input);
    }
}

/// Runs a meta parser that never fails by itself: errors go to `errors`.
fn parse_meta(
    tokens: TokenStream,
    errors: &mut Errors,
    mut each: impl FnMut(&ParseNestedMeta, &mut Errors) -> syn::Result<()>,
) {
    let mut local = Errors::default();
    let parser = syn::meta::parser(|meta| each(&meta, &mut local));
    if let Err(error) = parser.parse2(tokens) {
        local.push(error);
    }
    if let Err(error) = local.into_result() {
        errors.push(error);
    }
}

fn unwrap_group(expr: &Expr) -> &Expr {
    match expr {
        Expr::Group(group) => unwrap_group(&group.expr),
        other => other,
    }
}

/// A literal integer, or `None` for another expression.
fn int_literal<T: std::str::FromStr>(expr: &Expr, errors: &mut Errors) -> Option<Option<T>>
where
    T::Err: std::fmt::Display,
{
    match unwrap_group(expr) {
        Expr::Lit(syn::ExprLit { lit: Lit::Int(int), .. }) => match int.base10_parse::<T>() {
            Ok(v) => Some(Some(v)),
            Err(e) => {
                errors.push(e);
                None
            }
        },
        Expr::Lit(other) => {
            errors.push_new(other.span(), "expected an integer");
            None
        }
        _ => Some(None),
    }
}

/// A literal number (integer or float), or `None` for another expression.
fn float_literal(expr: &Expr, errors: &mut Errors) -> Option<Option<f64>> {
    if let Expr::Unary(syn::ExprUnary { op: syn::UnOp::Neg(_), expr: inner, .. }) =
        unwrap_group(expr)
    {
        if matches!(unwrap_group(inner), Expr::Lit(_)) {
            return float_literal(inner, errors).map(|v| v.map(|v| -v));
        }
    }
    let parsed = match unwrap_group(expr) {
        Expr::Lit(syn::ExprLit { lit: Lit::Float(f), .. }) => f.base10_parse::<f64>(),
        Expr::Lit(syn::ExprLit { lit: Lit::Int(i), .. }) => i.base10_parse::<f64>(),
        Expr::Lit(other) => {
            errors.push_new(other.span(), "expected a number");
            return None;
        }
        _ => return Some(None),
    };
    match parsed {
        Ok(v) => Some(Some(v)),
        Err(e) => {
            errors.push(e);
            None
        }
    }
}

fn duration_value(meta: &ParseNestedMeta, errors: &mut Errors) -> Option<DurationArg> {
    let expr = value(meta, errors)?;
    match duration::parse(expr) {
        Ok(d) => Some(d),
        Err(e) => {
            errors.push(e);
            None
        }
    }
}

// ---------------------------------------------------------------------------------

/// `#[timeout(D)]`.
pub struct TimeoutArgs {
    pub after: DurationArg,
}

impl TimeoutArgs {
    pub fn parse(tokens: TokenStream, span: Span, errors: &mut Errors) -> Option<Self> {
        if tokens.is_empty() {
            errors.push_new(span, "`#[timeout]` needs a duration: `#[timeout(800ms)]`");
            return None;
        }
        let parsed = (|input: ParseStream| {
            let expr: Expr = input.parse()?;
            if !input.is_empty() {
                return Err(input.error(
                    "`#[timeout]` takes one duration: `#[timeout(800ms)]` or `#[timeout(EXPR)]`",
                ));
            }
            Ok(expr)
        })
        .parse2(tokens);
        match parsed.and_then(duration::parse) {
            Ok(after) => Some(TimeoutArgs { after }),
            Err(e) => {
                errors.push(e);
                None
            }
        }
    }
}

// ---------------------------------------------------------------------------------

/// `#[error_boundary]`, `#[error_boundary("context")]`,
/// `#[error_boundary(context = "..", level = warn, catch_panic)]`.
pub struct BoundaryArgs {
    pub context: Option<LitStr>,
    pub level: Option<Ident>,
    pub catch_panic: bool,
}

pub(crate) const BOUNDARY_KEYS: &[&str] = &["context", "level", "catch_panic"];
const LEVELS: &[&str] = &["error", "warn", "info", "debug", "trace"];

impl BoundaryArgs {
    pub fn parse(tokens: TokenStream, errors: &mut Errors) -> Self {
        let mut context: Option<Spanned<LitStr>> = None;
        let mut level: Option<Spanned<Ident>> = None;
        let mut catch_panic: Option<Spanned<()>> = None;

        // A leading string literal is the context: `#[error_boundary("creating user")]`.
        let mut rest = tokens;
        let leading = (|input: ParseStream| {
            let lit: Option<LitStr> = if input.peek(LitStr) { Some(input.parse()?) } else { None };
            if lit.is_some() && !input.is_empty() {
                input.parse::<Token![,]>()?;
            }
            Ok((lit, input.parse::<TokenStream>()?))
        })
        .parse2(rest.clone());
        match leading {
            Ok((lit, tail)) => {
                if let Some(lit) = lit {
                    context = Some(Spanned { span: lit.span(), value: lit });
                }
                rest = tail;
            }
            Err(e) => {
                errors.push(e);
                rest = TokenStream::new();
            }
        }

        parse_meta(rest, errors, |meta, errors| {
            if meta.path.is_ident("context") {
                if let Some(expr) = value(meta, errors) {
                    match unwrap_group(&expr) {
                        Expr::Lit(syn::ExprLit { lit: Lit::Str(s), .. }) => {
                            set_once(&mut context, s.clone(), &meta.path, errors)
                        }
                        other => errors.push_new(
                            other.span(),
                            "`context` must be a string literal: `context = \"creating user\"`",
                        ),
                    }
                }
            } else if meta.path.is_ident("level") {
                if let Some(expr) = value(meta, errors) {
                    match unwrap_group(&expr) {
                        Expr::Path(p)
                            if p.path
                                .get_ident()
                                .is_some_and(|i| LEVELS.contains(&i.to_string().as_str())) =>
                        {
                            let ident = p.path.get_ident().cloned();
                            if let Some(ident) = ident {
                                set_once(&mut level, ident, &meta.path, errors);
                            }
                        }
                        other => errors.push_new(
                            other.span(),
                            "`level` must be one of `error`, `warn`, `info`, `debug`, `trace`",
                        ),
                    }
                }
            } else if meta.path.is_ident("catch_panic") {
                no_value(meta, errors);
                set_once(&mut catch_panic, (), &meta.path, errors);
            } else {
                errors.push(unknown_key(&meta.path, "error_boundary", BOUNDARY_KEYS));
                if meta.input.peek(Token![=]) {
                    value(meta, errors);
                } else {
                    skip_to_comma(meta.input);
                }
            }
            Ok(())
        });

        BoundaryArgs {
            context: context.map(|c| c.value),
            level: level.map(|l| l.value),
            catch_panic: catch_panic.is_some(),
        }
    }
}

// ---------------------------------------------------------------------------------

/// `#[retry(..)]`.
#[derive(Default)]
pub struct RetryArgs {
    pub attempts: Option<Spanned<Expr>>,
    pub delay: Option<Spanned<DurationArg>>,
    pub backoff: Option<Spanned<Ident>>,
    pub factor: Option<Spanned<Expr>>,
    pub max_delay: Option<Spanned<DurationArg>>,
    pub jitter: Option<Spanned<Expr>>,
    pub max_elapsed: Option<Spanned<DurationArg>>,
    pub when: Option<Spanned<Expr>>,
    pub retry_after: Option<Spanned<Expr>>,
    pub policy: Option<Spanned<Expr>>,
}

pub(crate) const RETRY_KEYS: &[&str] = &[
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
];

impl RetryArgs {
    pub fn parse(tokens: TokenStream, errors: &mut Errors) -> Self {
        let mut args = RetryArgs::default();
        parse_meta(tokens, errors, |meta, errors| {
            let key = &meta.path;
            let name = key.get_ident().map(ToString::to_string).unwrap_or_default();
            match name.as_str() {
                "attempts" => {
                    if let Some(expr) = value(meta, errors) {
                        match int_literal::<u32>(&expr, errors) {
                            Some(Some(0)) => errors.push_new(
                                expr.span(),
                                "`attempts` counts the first attempt too and must be at least 1",
                            ),
                            Some(_) => set_once(&mut args.attempts, expr, key, errors),
                            None => {}
                        }
                    }
                }
                "factor" => {
                    if let Some(expr) = value(meta, errors) {
                        match float_literal(&expr, errors) {
                            Some(Some(f)) if f.is_nan() || f < 1.0 => errors.push_new(
                                expr.span(),
                                "`factor` must be at least 1.0 (delays never shrink)",
                            ),
                            Some(_) => set_once(&mut args.factor, expr, key, errors),
                            None => {}
                        }
                    }
                }
                "jitter" => {
                    if let Some(expr) = value(meta, errors) {
                        match float_literal(&expr, errors) {
                            Some(Some(j)) if !(0.0..=1.0).contains(&j) => errors.push_new(
                                expr.span(),
                                "`jitter` must be between 0 and 1: each delay d is drawn from [d·(1−J), d·(1+J)]",
                            ),
                            Some(_) => set_once(&mut args.jitter, expr, key, errors),
                            None => {}
                        }
                    }
                }
                "delay" | "max_delay" | "max_elapsed" => {
                    if let Some(d) = duration_value(meta, errors) {
                        let slot = match name.as_str() {
                            "delay" => &mut args.delay,
                            "max_delay" => &mut args.max_delay,
                            _ => &mut args.max_elapsed,
                        };
                        set_once(slot, d, key, errors);
                    }
                }
                "backoff" => {
                    if let Some(expr) = value(meta, errors) {
                        match unwrap_group(&expr) {
                            Expr::Path(p)
                                if p.path.get_ident().is_some_and(|i| {
                                    ["exponential", "linear", "constant"]
                                        .contains(&i.to_string().as_str())
                                }) =>
                            {
                                if let Some(ident) = p.path.get_ident().cloned() {
                                    set_once(&mut args.backoff, ident, key, errors);
                                }
                            }
                            other => errors.push_new(
                                other.span(),
                                "`backoff` must be `exponential`, `linear` or `constant`",
                            ),
                        }
                    }
                }
                "when" | "retry_after" | "policy" => {
                    if let Some(expr) = value(meta, errors) {
                        let slot = match name.as_str() {
                            "when" => &mut args.when,
                            "retry_after" => &mut args.retry_after,
                            _ => &mut args.policy,
                        };
                        set_once(slot, expr, key, errors);
                    }
                }
                _ => {
                    errors.push(unknown_key(key, "retry", RETRY_KEYS));
                    if meta.input.peek(Token![=]) {
                        value(meta, errors);
                    } else {
                        skip_to_comma(meta.input);
                    }
                }
            }
            Ok(())
        });
        args.check(errors);
        args
    }

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
        if let Some(policy) = &self.policy {
            let schedule = [
                ("attempts", self.attempts.as_ref().map(|a| a.span)),
                ("delay", self.delay.as_ref().map(|a| a.span)),
                ("backoff", self.backoff.as_ref().map(|a| a.span)),
                ("factor", self.factor.as_ref().map(|a| a.span)),
                ("max_delay", self.max_delay.as_ref().map(|a| a.span)),
                ("jitter", self.jitter.as_ref().map(|a| a.span)),
                ("max_elapsed", self.max_elapsed.as_ref().map(|a| a.span)),
            ];
            for (name, span) in schedule {
                if let Some(span) = span {
                    errors.push_new(
                        span,
                        format!("`{name}` cannot be combined with `policy`: the policy decides the schedule (only `when` and `retry_after` go with it)"),
                    );
                }
            }
            if !cfg!(feature = "backoff") {
                errors.push_new(
                    policy.span,
                    "`policy` needs the `backoff` feature: `steadfast = { version = \"..\", features = [\"backoff\"] }` (the `backoff` crate is unmaintained, RUSTSEC-2025-0012; prefer the schedule arguments)",
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------

/// `#[limit(..)]`.
#[derive(Default)]
pub struct LimitArgs {
    pub concurrency: Option<Spanned<Expr>>,
    pub rate: Option<Spanned<Expr>>,
    pub per: Option<Spanned<DurationArg>>,
    pub wait: Option<Spanned<DurationArg>>,
    pub using: Option<Spanned<Expr>>,
}

pub(crate) const LIMIT_KEYS: &[&str] = &["concurrency", "rate", "per", "wait", "using"];

impl LimitArgs {
    pub fn parse(tokens: TokenStream, span: Span, errors: &mut Errors) -> Self {
        let mut args = LimitArgs::default();
        if tokens.is_empty() {
            errors.push_new(
                span,
                "`#[limit]` needs a limit: `concurrency = N`, `rate = N, per = D`, or `using = LIMITER`",
            );
            return args;
        }
        // Keys given, valid or not: cross-checks must not add follow-on errors.
        let mut seen: Vec<String> = Vec::new();
        parse_meta(tokens, errors, |meta, errors| {
            let key = &meta.path;
            let name = key.get_ident().map(ToString::to_string).unwrap_or_default();
            seen.push(if LIMIT_KEYS.contains(&name.as_str()) { name.clone() } else { "?".into() });
            match name.as_str() {
                "concurrency" | "rate" => {
                    if let Some(expr) = value(meta, errors) {
                        let ok = match unwrap_group(&expr) {
                            Expr::Lit(_) => match int_literal::<u64>(&expr, errors) {
                                Some(Some(0)) => {
                                    let what = if name == "rate" {
                                        "`rate = 0` would never start a call"
                                    } else {
                                        "`concurrency = 0` would never run a call"
                                    };
                                    errors.push_new(
                                        expr.span(),
                                        format!("{what}; the limit must be at least 1"),
                                    );
                                    false
                                }
                                Some(_) => true,
                                None => false,
                            },
                            // A `const` item (or a path to one) is accepted.
                            Expr::Path(_) => true,
                            other => {
                                errors.push_new(
                                    other.span(),
                                    format!("`{name}` must be a constant (a literal or a `const`): the limiter is a `static` shared by every call; for a limit known only at run time, build a `steadfast::Limiter` and pass `using = ..`"),
                                );
                                false
                            }
                        };
                        if ok {
                            let slot =
                                if name == "rate" { &mut args.rate } else { &mut args.concurrency };
                            set_once(slot, expr, key, errors);
                        }
                    }
                }
                "per" | "wait" => {
                    if let Some(d) = duration_value(meta, errors) {
                        if name == "per" && d.nanos() == Some(0) {
                            errors.push_new(d.span(), "`per` must be longer than zero");
                        } else {
                            let slot = if name == "per" { &mut args.per } else { &mut args.wait };
                            set_once(slot, d, key, errors);
                        }
                    }
                }
                "using" => {
                    if let Some(expr) = value(meta, errors) {
                        set_once(&mut args.using, expr, key, errors);
                    }
                }
                _ => {
                    errors.push(unknown_key(key, "limit", LIMIT_KEYS));
                    if meta.input.peek(Token![=]) {
                        value(meta, errors);
                    } else {
                        skip_to_comma(meta.input);
                    }
                }
            }
            Ok(())
        });
        let given = |key: &str| seen.iter().any(|k| k == key);
        match (&args.rate, &args.per) {
            (Some(rate), None) if !given("per") => {
                errors.push_new(rate.span, "`rate` needs `per`: `rate = 100, per = 1s`")
            }
            (None, Some(per)) if !given("rate") => {
                errors.push_new(per.span, "`per` needs `rate`: `rate = 100, per = 1s`")
            }
            _ => {}
        }
        if args.using.is_some() {
            for (name, span) in [
                ("concurrency", args.concurrency.as_ref().map(|a| a.span)),
                ("rate", args.rate.as_ref().map(|a| a.span)),
                ("per", args.per.as_ref().map(|a| a.span)),
            ] {
                if let Some(span) = span {
                    errors.push_new(
                        span,
                        format!("`{name}` cannot be combined with `using`: the shared limiter already defines its limits"),
                    );
                }
            }
        } else if !["concurrency", "rate", "per", "?"].iter().any(|k| given(k)) {
            errors.push_new(
                span,
                "`#[limit]` needs a limit: `concurrency = N`, `rate = N, per = D`, or `using = LIMITER`",
            );
        }
        args
    }
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
