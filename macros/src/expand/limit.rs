//! `#[limit(..)]`.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::Expr;
use syn::spanned::Spanned;

use super::{Code, Context, Expand, local};
use crate::args::{LimitArgs, unwrap_group};

// Input:
//     #[limit(concurrency = 8, rate = 100, per = 1s, wait = 250ms)]
//     async fn f() -> R { BODY }
//
// Output (INNER: the layers below, as a future; without `wait`,
// `::steadfast::__private::limit(LIMITER, "f", INNER)`):
//     ::steadfast::__private::limit_or_reject(
//         {
//             static __STEADFAST_LIMITER: ::steadfast::__private::Limiter =
//                 ::steadfast::__private::Limiter::concurrency(8).and_rate(100, PER);
//             &__STEADFAST_LIMITER
//         },
//         "f",
//         WAIT,
//         ::steadfast::__private::on_rejected,
//         INNER,
//     )
//
// With `burst = B`, the constructor ends in `.burst(B)`. With `using = SHARED`, the
// limiter is `&(SHARED)`; with `using = PATH` (a `static`), the call is
// `limit_named(&(PATH), "NAME", "f", INNER)` (`limit_named_or_reject` with `wait`),
// NAME the path's last segment, the `limiter` label of the gauges.
//
// With `key = KEY`, the call is `limit_keyed(KEY, &(SHARED), "NAME", "f", INNER)` (with
// `using`; NAME as above, else the function's name) or, with the function's own limits,
//     ::steadfast::__private::limit_per_key(
//         {
//             static __STEADFAST_LIMITER: ::steadfast::__private::KeyedSite =
//                 ::steadfast::__private::KeyedSite::new(CONSTRUCTOR);
//             &__STEADFAST_LIMITER
//         },
//         KEY, "f", INNER,
//     )
// (`_or_reject` forms with `wait`), where a KEY written as a place (`user.id`) is
// `::steadfast::__private::key_copy(&(user.id))`, so that the body keeps the original.
impl Expand for LimitArgs {
    fn expand(&self, cx: &Context, inner: Code) -> Code {
        let Context { name, ret_span, .. } = cx;
        let limiter = match &self.using {
            Some(using) => {
                let expr = &using.value;
                quote_spanned!(expr.span()=> &(#expr))
            }
            None => {
                let ctor = self.constructor();
                let limiter = local("LIMITER");
                // One limiter per annotated function, shared by every call and every
                // instantiation (a `static` in a generic function is not duplicated).
                // Keyed, it holds the limits of every key.
                let (ty, init) = match &self.key {
                    None => (quote!(Limiter), ctor),
                    Some(_) => {
                        (quote!(KeyedSite), quote!(::steadfast::__private::KeyedSite::new(#ctor)))
                    }
                };
                quote!({
                    static #limiter: ::steadfast::__private::#ty = #init;
                    &#limiter
                })
            }
        };
        let inner = inner.future();
        // The runtime function: plain, keyed by a shared limiter, or keyed by the
        // function's own limits.
        let (plain, keyed, per_key) = match &self.wait {
            Some(_) => ("limit_or_reject", "limit_keyed_or_reject", "limit_per_key_or_reject"),
            None => ("limit", "limit_keyed", "limit_per_key"),
        };
        // A shared limiter named by a path reports its gauges under the `static`'s name.
        let label = self.using.as_ref().and_then(|using| static_name(&using.value));
        let named = match &self.wait {
            Some(_) => "limit_named_or_reject",
            None => "limit_named",
        };
        let function = match (&self.key, &self.using) {
            (None, Some(_)) if label.is_some() => named,
            (None, _) => plain,
            (Some(_), Some(_)) => keyed,
            (Some(_), None) => per_key,
        };
        let function = syn::Ident::new(function, Span::call_site());
        // The keyed entry point always takes a label: the static's, else the function's.
        let label = match (&self.key, &self.using, label) {
            (_, _, Some(label)) => Some(quote!(#label,)),
            (Some(_), Some(_), None) => Some(quote!(#name,)),
            _ => None,
        };
        let key = self.key.as_ref().map(|key| {
            let key = key_value(&key.value);
            quote!(#key,)
        });
        // With `using`, the key comes first: its type is known when the limiter is
        // checked against it.
        let head = match (&key, &self.using) {
            (Some(key), Some(_)) => quote!(#key #limiter, #label),
            (Some(key), None) => quote!(#limiter, #key),
            (None, _) => quote!(#limiter, #label),
        };
        let args = match &self.wait {
            Some(wait) => {
                let wait = &wait.value;
                let on_rejected = quote_spanned!(*ret_span=> ::steadfast::__private::on_rejected);
                quote!(#head #name, #wait, #on_rejected, #inner)
            }
            None => quote!(#head #name, #inner),
        };
        match (&self.key, &self.using) {
            // The call and its `.await` are spanned at the limiter: what the compiler
            // derives from a limiter that is not keyed is then reported at the same
            // token as the first error, implied by it and left out.
            (Some(_), Some(using)) => Code::Block(
                quote_spanned!(using.value.span()=> ::steadfast::__private::#function(#args).await),
            ),
            _ => Code::Future(quote!(::steadfast::__private::#function(#args))),
        }
    }
}

/// The name of the `static` a `using = PATH` names: the path's last segment (`DB` of
/// `crate::limits::DB`), as a string literal, when it is written as statics are
/// (`UPPER_CASE`); `None` for any other expression (a field, `self.limiter`, a call, a
/// lowercase local or parameter), whose limiter reports under the function's name.
pub(super) fn static_name(expr: &Expr) -> Option<syn::LitStr> {
    match unwrap_group(expr) {
        Expr::Path(path) if path.qself.is_none() => {
            let last = path.path.segments.last()?;
            let name = last.ident.to_string();
            let is_static = name.bytes().any(|b| b.is_ascii_uppercase())
                && name.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
            is_static.then(|| syn::LitStr::new(&name, last.ident.span()))
        }
        Expr::Paren(paren) => static_name(&paren.expr),
        // `&*FLEET`: a `LazyLock` static.
        Expr::Reference(syn::ExprReference { expr, .. })
        | Expr::Unary(syn::ExprUnary { op: syn::UnOp::Deref(_), expr, .. }) => static_name(expr),
        _ => None,
    }
}

/// The key for one call: a place (`user.id`, `tenant`, `ids[0]`) is copied, so that the
/// body still has it; any other expression's value is used as it is.
fn key_value(key: &Expr) -> TokenStream {
    if is_place(key) {
        quote_spanned!(key.span()=> ::steadfast::__private::key_copy(&(#key)))
    } else {
        quote_spanned!(key.span()=> #key)
    }
}

fn is_place(expr: &Expr) -> bool {
    match unwrap_group(expr) {
        Expr::Path(_) | Expr::Field(_) | Expr::Index(_) => true,
        Expr::Paren(paren) => is_place(&paren.expr),
        Expr::Unary(syn::ExprUnary { op: syn::UnOp::Deref(_), .. }) => true,
        _ => false,
    }
}

impl LimitArgs {
    /// `Limiter::concurrency(N)`, `Limiter::rate(N, PER)`, or both; then `.burst(B)`.
    fn constructor(&self) -> TokenStream {
        let rate = self.rate.as_ref().zip(self.per.as_ref());
        let ctor = match (&self.concurrency, rate) {
            (Some(n), None) => {
                let n = &n.value;
                quote_spanned!(n.span()=> ::steadfast::__private::Limiter::concurrency(#n))
            }
            (Some(n), Some((rate, per))) => {
                let (n, rate, per) = (&n.value, &rate.value, &per.value);
                let ctor =
                    quote_spanned!(n.span()=> ::steadfast::__private::Limiter::concurrency(#n));
                quote_spanned!(rate.span()=> #ctor.and_rate(#rate, #per))
            }
            (None, Some((rate, per))) => {
                let (rate, per) = (&rate.value, &per.value);
                quote_spanned!(rate.span()=> ::steadfast::__private::Limiter::rate(#rate, #per))
            }
            // Validation has reported a limiter without limits.
            (None, None) => return TokenStream::new(),
        };
        match &self.burst {
            Some(burst) => {
                let burst = &burst.value;
                quote_spanned!(burst.span()=> #ctor.burst(#burst))
            }
            None => ctor,
        }
    }
}
