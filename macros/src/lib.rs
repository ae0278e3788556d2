//! Procedural macros of [`steadfast`](https://docs.rs/steadfast). Depend on
//! `steadfast`, which re-exports them with full documentation; the expansions refer
//! to `::steadfast::__private`.
//!
//! Each entry point hands its arguments and item to `stack::attribute`, which takes
//! the steadfast attributes stacked below it and expands the whole stack in one
//! pass: `args` parses each attribute's arguments, `valid` checks them and the
//! function, `expand` generates the code (one file per attribute in each).

mod args;
mod duration;
mod errors;
mod expand;
mod func;
#[cfg(test)]
mod golden;
mod kind;
#[cfg(test)]
mod proptests;
mod stack;
mod valid;

use kind::Kind;
use proc_macro::TokenStream;

/// Re-runs the whole body while it returns `Err` and the policy allows.
/// See `steadfast::retry` for the arguments.
#[proc_macro_attribute]
pub fn retry(args: TokenStream, item: TokenStream) -> TokenStream {
    stack::attribute(Kind::Retry, args.into(), item.into()).into()
}

/// Cancels the body and returns `Err(E::from(TimedOut))` when it has not finished in
/// time. See `steadfast::timeout`.
#[proc_macro_attribute]
pub fn timeout(args: TokenStream, item: TokenStream) -> TokenStream {
    stack::attribute(Kind::Timeout, args.into(), item.into()).into()
}

/// Logs every error that leaves the function, once, with context.
/// See `steadfast::error_boundary`.
#[proc_macro_attribute]
pub fn error_boundary(args: TokenStream, item: TokenStream) -> TokenStream {
    stack::attribute(Kind::ErrorBoundary, args.into(), item.into()).into()
}

/// Limits how many bodies run at once and how many start per window.
/// See `steadfast::limit`.
#[proc_macro_attribute]
pub fn limit(args: TokenStream, item: TokenStream) -> TokenStream {
    stack::attribute(Kind::Limit, args.into(), item.into()).into()
}

// #[hedge]
/// Races another attempt of the body against a slow one; the first `Ok` wins.
/// See `steadfast::hedge`.
#[proc_macro_attribute]
pub fn hedge(args: TokenStream, item: TokenStream) -> TokenStream {
    stack::attribute(Kind::Hedge, args.into(), item.into()).into()
}

/// Stops calling a dependency that keeps failing: refuses calls with
/// `Err(E::from(CircuitOpen))` for a while, then lets trial calls through.
/// See `steadfast::circuit_breaker`.
#[proc_macro_attribute]
pub fn circuit_breaker(args: TokenStream, item: TokenStream) -> TokenStream {
    stack::attribute(Kind::CircuitBreaker, args.into(), item.into()).into()
}
