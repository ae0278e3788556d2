//! One expansion from start to end. The attribute being expanded takes the
//! steadfast attributes below it; each layer's arguments are parsed (`args`) and
//! checked (`valid`), the function is checked against the stack (`valid`), and the
//! whole stack is expanded in one pass (`expand`) — or, on any error, the item is
//! re-emitted unchanged beside every error.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote};

use crate::errors::Errors;
use crate::func::{Attr, Function, Item};
use crate::kind::{Kind, Layer};
use crate::{expand, valid};

/// The entry point of every attribute, over `proc_macro2` tokens so that unit tests
/// can call it. Never panics: on any error it returns the item (without the stack
/// it consumed) and the errors.
pub fn attribute(kind: Kind, args: TokenStream, item: TokenStream) -> TokenStream {
    if is_stacked_marker(&args) {
        // Already expanded by the attribute above it; see `mark_stacked`.
        return item;
    }
    let mut item: Item = match syn::parse2(item.clone()) {
        Ok(parsed) => parsed,
        Err(error) => return with_error(item, error),
    };
    match stack(kind, args, &mut item) {
        Ok(expanded) => expanded,
        Err(error) => with_error(item.into_token_stream(), error),
    }
}

/// Takes the stack off `item` and expands it with the function.
fn stack(kind: Kind, args: TokenStream, item: &mut Item) -> syn::Result<TokenStream> {
    let mut errors = Errors::default();
    let top = Attr {
        kind,
        args,
        span: Span::call_site(),
        path: syn::Path::from(syn::Ident::new(kind.name(), Span::call_site())),
    };
    let below = item.take_stack(&mut errors);
    let consumed: Vec<syn::Path> = below.iter().map(|attr| attr.path.clone()).collect();
    let kinds: Vec<Kind> = std::iter::once(kind).chain(below.iter().map(|a| a.kind)).collect();
    let layers: Vec<Box<dyn Layer>> =
        std::iter::once(top).chain(below).filter_map(|attr| layer(attr, &mut errors)).collect();

    let mut function = match Function::parse(item.attrs.clone(), item.rest.clone(), kind.name()) {
        Ok(function) => function,
        Err(error) => return Err(errors.and(error)),
    };
    if function.is_blocking() {
        // `#[retry]` and `#[error_boundary]` also wrap a plain `fn`; the first attribute
        // that needs an `async fn` says so.
        if let Some(kind) = kinds.iter().find(|kind| !kind.runs_blocking()) {
            return Err(errors.and(function.not_async(kind.name())));
        }
        if let Some(constness) = &function.sig.constness {
            let message = format!(
                "`#[{}]` cannot wrap a `const fn`: it sleeps and logs at run time; remove `const`",
                kind.name()
            );
            return Err(errors.and(syn::Error::new(constness.span, message)));
        }
    }
    valid::check_function(&function, &layers, &mut errors);
    errors.into_result()?;
    function.attrs.extend(mark_stacked(&consumed));
    Ok(expand::function(&function, &layers))
}

/// Parses and checks one attribute's arguments. `None` if any is wrong (the errors
/// recorded): the layer then takes no part in the checks of the function, so the
/// user hears about the bad argument, once, and about nothing that follows from it.
fn layer(attr: Attr, errors: &mut Errors) -> Option<Box<dyn Layer>> {
    let mut own = Errors::default();
    let layer = attr.kind.parse(attr.args, attr.span, &mut own);
    if let Some(layer) = &layer {
        layer.check(&mut own);
    }
    let valid = own.is_empty();
    errors.append(own);
    layer.filter(|_| valid)
}

const STACKED: &str = "__steadfast_stacked";

fn is_stacked_marker(args: &TokenStream) -> bool {
    let mut tokens = args.clone().into_iter();
    matches!((tokens.next(), tokens.next()), (Some(proc_macro2::TokenTree::Ident(i)), None) if i == STACKED)
}

/// The attributes of the stack, expanded here in one pass, are put back with a
/// marker argument: each then expands to the item unchanged, and the user's
/// `use steadfast::{retry, timeout}` counts as used (no `unused_imports` warning).
fn mark_stacked(paths: &[syn::Path]) -> Vec<syn::Attribute> {
    let marker = proc_macro2::Ident::new(STACKED, Span::call_site());
    paths.iter().map(|path| syn::parse_quote!(#[#path(#marker)])).collect()
}

/// The item unchanged beside the errors, so the rest of the crate (and the IDE)
/// keeps working and only the real problems are reported.
fn with_error(item: TokenStream, error: syn::Error) -> TokenStream {
    let error = error.into_compile_error();
    quote!(#item #error)
}
