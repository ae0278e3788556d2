//! The attributes steadfast has, and what a parsed one can do.
//!
//! A new attribute adds a variant to `Kind`, its row in `Kind::NAMES` and its arm in
//! `Kind::parse`; its `Args` type (in `args/`) implements `Parse`, `Validate` (in
//! `valid/`) and `Expand` (in `expand/`), and `lib.rs` gets its entry point. A new
//! attribute needs an `async fn` unless `Kind::runs_blocking` says otherwise (its
//! `Expand` then handles `Context::blocking`).

use proc_macro2::{Span, TokenStream};
use syn::Attribute;

use crate::args::{BoundaryArgs, BreakerArgs, LimitArgs, Parse, RetryArgs, TimeoutArgs};
// #[hedge]
use crate::args::HedgeArgs;
use crate::errors::Errors;
use crate::expand::Expand;
use crate::valid::Validate;

/// One steadfast attribute.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    Retry,
    Timeout,
    ErrorBoundary,
    Limit,
    // #[hedge]
    Hedge,
    CircuitBreaker,
}

/// One layer of the stack with its arguments parsed: validated by `valid`, then
/// expanded by `expand`.
pub trait Layer: Validate + Expand {}

impl<T: Validate + Expand> Layer for T {}

impl Kind {
    /// Every attribute with the name it is written with.
    pub const NAMES: &[(Kind, &str)] = &[
        (Kind::Retry, "retry"),
        (Kind::Timeout, "timeout"),
        (Kind::ErrorBoundary, "error_boundary"),
        (Kind::Limit, "limit"),
        // #[hedge]
        (Kind::Hedge, "hedge"),
        (Kind::CircuitBreaker, "circuit_breaker"),
    ];

    /// Parses the attribute's argument tokens; see [`Parse::parse`].
    pub fn parse(
        self,
        args: TokenStream,
        span: Span,
        errors: &mut Errors,
    ) -> Option<Box<dyn Layer>> {
        match self {
            Kind::Retry => layer::<RetryArgs>(args, span, errors),
            Kind::Timeout => layer::<TimeoutArgs>(args, span, errors),
            Kind::ErrorBoundary => layer::<BoundaryArgs>(args, span, errors),
            Kind::Limit => layer::<LimitArgs>(args, span, errors),
            // #[hedge]
            Kind::Hedge => layer::<HedgeArgs>(args, span, errors),
            Kind::CircuitBreaker => layer::<BreakerArgs>(args, span, errors),
        }
    }

    /// Whether the attribute also applies to a plain `fn` (its waits block the
    /// thread); the others need an `async fn`.
    pub fn runs_blocking(self) -> bool {
        matches!(self, Kind::Retry | Kind::ErrorBoundary)
    }

    pub fn name(self) -> &'static str {
        Kind::NAMES.iter().find(|(kind, _)| *kind == self).map_or("", |(_, name)| name)
    }

    fn from_ident(ident: &str) -> Option<Kind> {
        Kind::NAMES.iter().find(|(_, name)| *name == ident).map(|(kind, _)| *kind)
    }

    /// `retry`, `steadfast::retry` or `::steadfast::retry`.
    pub fn of_attribute(attr: &Attribute) -> Option<Kind> {
        let path = attr.path();
        let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
        match segments.as_slice() {
            [name] if path.leading_colon.is_none() => Kind::from_ident(name),
            [krate, name] if krate == "steadfast" => Kind::from_ident(name),
            _ => None,
        }
    }
}

fn layer<A: Parse + Layer + 'static>(
    args: TokenStream,
    span: Span,
    errors: &mut Errors,
) -> Option<Box<dyn Layer>> {
    A::parse(args, span, errors).map(|args| Box::new(args) as Box<dyn Layer>)
}
