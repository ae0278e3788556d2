//! `#[timeout(D)]`: one duration.

use proc_macro2::{Span, TokenStream};
use syn::Expr;
use syn::parse::{ParseStream, Parser};

use super::Parse;
use crate::duration::{self, DurationArg};
use crate::errors::Errors;

/// `#[timeout(D)]`.
pub struct TimeoutArgs {
    pub after: DurationArg,
}

impl Parse for TimeoutArgs {
    fn parse(tokens: TokenStream, attribute: Span, errors: &mut Errors) -> Option<Self> {
        if tokens.is_empty() {
            errors.push_new(attribute, "`#[timeout]` needs a duration: `#[timeout(800ms)]`");
            return None;
        }
        let one_expr = |input: ParseStream| {
            let expr: Expr = input.parse()?;
            if !input.is_empty() {
                return Err(input.error(
                    "`#[timeout]` takes one duration: `#[timeout(800ms)]` or `#[timeout(EXPR)]`",
                ));
            }
            Ok(expr)
        };
        let after = errors.ok(one_expr.parse2(tokens).and_then(duration::parse))?;
        Some(TimeoutArgs { after })
    }
}
