//! `#[hedge(..)]`: the call site's `static` (the delay, `max`, the latency window), and
//! the closure that starts one attempt.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned as _;
use syn::{FnArg, Ident, ReceiverKind, Token, Type};

use super::retry::for_each_binding;
use super::{Code, Context, Expand, local};
use crate::args::{After, HedgeArgs};

// Input:
//     #[hedge(after = 50ms, max = 3, when = Error::is_busy, budget = API)]
//     async fn f(key: String, db: &Db) -> R { BODY }
//
// Output (INNER: the layers below, as a future; MAKE: the closure below):
//     let __steadfast_make = MAKE;                     // typed first: `when` infers `E`
//     ::steadfast::__private::hedge_output(::steadfast::__private::hedge(
//         {
//             static __STEADFAST_HEDGE: ::steadfast::__private::Hedge =
//                 ::steadfast::__private::Hedge::after(D).max(3).name("f");
//             &__STEADFAST_HEDGE
//         },
//         ::core::option::Option::None,                // `Some(D)` for `after = EXPR`
//         Error::is_busy,                              // `::steadfast::__private::any_error`
//         &(API),                                      // `&::steadfast::__private::NoBudget`
//         __steadfast_make,
//     ).await)
//
// where MAKE is
//     move || {
//         let key = ::steadfast::__private::hedge_arg(&key);   // each attempt's clone
//         ::steadfast::__private::hedge_attempt(INNER)           // `db` is shared as it is
//     }
//
// `hedge_attempt` and `hedge_output` are identities on `Result` that tie the attempts'
// output to the signature, so a non-`Result` return type is reported once. With
// `after = p95` the site is `Hedge::percentile(95)` (`Hedge::p999()`). A by-value
// `self` cannot be renamed, so the attempts share it: the closure and the attempt
// borrow (`|| hedge_attempt(async { let key = ..; INNER.await })`).
impl Expand for HedgeArgs {
    fn expand(&self, cx: &Context, inner: Code) -> Code {
        let name = &cx.name;
        let (site, after) = match self.after.as_ref().map(|a| &a.value) {
            Some(After::Quantile { per_mille: 999, span }) => {
                (quote_spanned!(*span=> ::steadfast::__private::Hedge::p999()), None)
            }
            Some(After::Quantile { per_mille, span }) => {
                let percent = syn::LitInt::new(&(per_mille / 10).to_string(), *span);
                (quote_spanned!(*span=> ::steadfast::__private::Hedge::percentile(#percent)), None)
            }
            Some(After::Duration(d)) if d.nanos().is_some() => {
                (quote!(::steadfast::__private::Hedge::after(#d)), None)
            }
            // Evaluated at each call; the site's own delay is then never used.
            Some(After::Duration(d)) => (
                quote!(::steadfast::__private::Hedge::after(::core::time::Duration::ZERO)),
                Some(d),
            ),
            // Validation has reported a missing `after`.
            None => (TokenStream::new(), None),
        };
        let max = self.max.as_ref().map(|m| {
            let max = &m.value;
            quote_spanned!(m.span=> .max(#max))
        });
        let site_static = local("HEDGE");
        let site = quote!({
            static #site_static: ::steadfast::__private::Hedge = #site #max .name(#name);
            &#site_static
        });
        let after = match after {
            Some(d) => quote!(::core::option::Option::Some(#d)),
            None => quote!(::core::option::Option::None),
        };
        let when = match &self.when {
            Some(w) => {
                let w = &w.value;
                quote!(#w)
            }
            None => quote!(::steadfast::__private::any_error),
        };
        let budget = match &self.budget {
            Some(b) => {
                let b = &b.value;
                quote_spanned!(b.span()=> &(#b))
            }
            None => quote!(&::steadfast::__private::NoBudget),
        };
        let clones = clones(cx);
        // At the return type: a body that does not return a `Result` is reported there.
        let attempt = quote_spanned!(cx.ret_span=> ::steadfast::__private::hedge_attempt);
        let make = if shares_receiver(cx) {
            let inner = inner.block();
            quote!(|| #attempt(async { #clones #inner }))
        } else {
            let inner = match inner {
                Code::Future(f) => f,
                Code::Block(b) => quote!(async move { #b }),
            };
            quote!(move || { #clones #attempt(#inner) })
        };
        let output = quote_spanned!(cx.ret_span=> ::steadfast::__private::hedge_output);
        // The closure is typed before the call, so that a `when` closure without
        // annotations (`|e| e.is_transient()`) knows the error type.
        let make_local = local("make");
        Code::Block(quote! {
            let #make_local = #make;
            #output(::steadfast::__private::hedge(#site, #after, #when, #budget, #make_local).await)
        })
    }

    fn reruns_body(&self) -> bool {
        true
    }
}

/// Whether the receiver is taken by value (`self`, `mut self`, `self: Box<Self>`): the
/// body then borrows it (see `expand::function`), and so must the attempts.
fn shares_receiver(cx: &Context) -> bool {
    cx.sig.inputs.iter().any(|arg| match arg {
        FnArg::Receiver(r) => !matches!(r.kind, ReceiverKind::Reference(_, _, None)),
        FnArg::Typed(_) => false,
    })
}

/// Each attempt's own clone of every owned argument, under the argument's name; shared
/// references are used as they are (`&mut` ones were refused by validation).
fn clones(cx: &Context) -> TokenStream {
    let mut owned: Vec<(Ident, Option<Token![mut]>)> = Vec::new();
    for arg in &cx.sig.inputs {
        let FnArg::Typed(typed) = arg else { continue };
        if let Type::Reference(_) = &*typed.ty {
            continue;
        }
        for_each_binding(&typed.pat, &mut |ident, mutability| {
            owned.push((ident.clone(), mutability.copied()));
        });
    }
    let mut out = TokenStream::new();
    for (ident, mutability) in owned {
        // At the argument: a non-`Clone` one is reported there.
        out.extend(quote_spanned! {ident.span()=>
            let #mutability #ident = ::steadfast::__private::hedge_arg(&#ident);
        });
    }
    out
}
