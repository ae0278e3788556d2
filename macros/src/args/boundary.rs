//! `#[error_boundary]`, `#[error_boundary("context")]`,
//! `#[error_boundary(context = "..", level = warn, catch_panic)]`.

use proc_macro2::{Span, TokenStream};
use syn::parse::{ParseStream, Parser};
use syn::spanned::Spanned as _;
use syn::{Expr, Ident, Lit, LitStr, Token};

use super::{Arg, Parse, flag, key, one_of, parse_meta, reject, set, unknown, unwrap_group, value};
use crate::errors::Errors;

/// `#[error_boundary(..)]`.
pub struct BoundaryArgs {
    pub context: Option<LitStr>,
    pub level: Option<Ident>,
    pub catch_panic: bool,
}

pub const KEYS: &[&str] = &["context", "level", "catch_panic"];
const LEVELS: &[&str] = &["error", "warn", "info", "debug", "trace"];

impl Parse for BoundaryArgs {
    fn parse(tokens: TokenStream, _: Span, errors: &mut Errors) -> Option<Self> {
        let mut context: Option<Arg<LitStr>> = None;
        let mut level: Option<Arg<Ident>> = None;
        let mut catch_panic: Option<Arg<()>> = None;
        let (leading, rest) = leading_context(tokens, errors);
        if let Some(lit) = leading {
            context = Some(Arg { span: lit.span(), value: lit });
        }
        parse_meta(rest, errors, |meta, errors| {
            let path = &meta.path;
            match key(meta).as_str() {
                "context" => set(&mut context, path, context_value(meta, errors), errors),
                "level" => {
                    let message =
                        "`level` must be one of `error`, `warn`, `info`, `debug`, `trace`";
                    set(&mut level, path, one_of(meta, LEVELS, message, errors), errors)
                }
                "catch_panic" => set(&mut catch_panic, path, flag(meta, errors), errors),
                _ => unknown(meta, "error_boundary", KEYS, errors),
            }
        });
        Some(BoundaryArgs {
            context: context.map(|c| c.value),
            level: level.map(|l| l.value),
            catch_panic: catch_panic.is_some(),
        })
    }
}

/// A leading string literal is the context: `#[error_boundary("creating user")]`.
/// Returns it and the tokens after it.
fn leading_context(tokens: TokenStream, errors: &mut Errors) -> (Option<LitStr>, TokenStream) {
    let split = |input: ParseStream| {
        let lit: Option<LitStr> = if input.peek(LitStr) { Some(input.parse()?) } else { None };
        if lit.is_some() && !input.is_empty() {
            input.parse::<Token![,]>()?;
        }
        Ok((lit, input.parse::<TokenStream>()?))
    };
    errors.ok(split.parse2(tokens)).unwrap_or_default()
}

/// `context = "..."`.
fn context_value(meta: &syn::meta::ParseNestedMeta, errors: &mut Errors) -> Option<LitStr> {
    let expr = value(meta, errors)?;
    match unwrap_group(&expr) {
        Expr::Lit(syn::ExprLit { lit: Lit::Str(s), .. }) => Some(s.clone()),
        other => reject(
            other.span(),
            "`context` must be a string literal: `context = \"creating user\"`",
            errors,
        ),
    }
}
