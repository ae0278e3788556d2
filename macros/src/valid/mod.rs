//! Validation, between parsing and expansion: the checks across the arguments of one
//! attribute (a file each) and the checks of the function against its whole stack.
//! It only reads; nothing here changes what is expanded.

mod boundary;
mod breaker;
mod limit;
mod retry;
mod timeout;
// #[hedge]
mod hedge;

use proc_macro2::Span;
use syn::ReturnType;

use crate::errors::Errors;
use crate::func::Function;
use crate::kind::Layer;

/// The checks of one attribute's arguments.
pub trait Validate {
    /// Checks across the arguments (`max_delay` below `delay`, `rate` without
    /// `per`). An argument already reported by the parser is not mentioned again.
    fn check(&self, errors: &mut Errors) {
        let _ = errors;
    }

    /// `Some(name)` if the layer reports through `Err`, so the function must return a
    /// `Result`; `name` is how the error names the attribute (`limit(wait = ..)`).
    fn needs_result(&self) -> Option<&'static str>;

    /// Checks of the function that only this attribute makes (`#[hedge]` refuses
    /// `&mut` arguments).
    fn check_function(&self, function: &Function, errors: &mut Errors) {
        let _ = (function, errors);
    }
}

/// The checks of the function against the layers whose arguments are valid (a layer
/// with a bad argument has already been reported, and only for that).
pub fn check_function(function: &Function, layers: &[Box<dyn Layer>], errors: &mut Errors) {
    for layer in layers {
        layer.check_function(function, errors);
    }
    if let ReturnType::Default = function.sig.output {
        if let Some(name) = layers.iter().find_map(|layer| layer.needs_result()) {
            errors.push_new(
                function.sig.paren_token.span.close(),
                format!("`#[{name}]` needs the function to return `Result<T, E>`; it returns `()`"),
            );
        }
    }
}

/// "`attempts` cannot be combined with `policy`: {why}", at each argument given
/// beside `with`.
fn not_combined(with: &str, why: &str, given: &[(&str, Option<Span>)], errors: &mut Errors) {
    for (name, span) in given {
        if let Some(span) = span {
            errors.push_new(*span, format!("`{name}` cannot be combined with `{with}`: {why}"));
        }
    }
}
