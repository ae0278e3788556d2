//! `#[limit(..)]`.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use super::{Code, Context, Expand, local};
use crate::args::LimitArgs;

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
// With `using = SHARED`, the limiter is `&(SHARED)`.
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
                quote!({
                    static #limiter: ::steadfast::__private::Limiter = #ctor;
                    &#limiter
                })
            }
        };
        let inner = inner.future();
        Code::Future(match &self.wait {
            Some(wait) => {
                let wait = &wait.value;
                let on_rejected = quote_spanned!(*ret_span=> ::steadfast::__private::on_rejected);
                quote!(::steadfast::__private::limit_or_reject(#limiter, #name, #wait, #on_rejected, #inner))
            }
            None => quote!(::steadfast::__private::limit(#limiter, #name, #inner)),
        })
    }
}

impl LimitArgs {
    /// `Limiter::concurrency(N)`, `Limiter::rate(N, PER)`, or both.
    fn constructor(&self) -> TokenStream {
        let rate = self.rate.as_ref().zip(self.per.as_ref());
        match (&self.concurrency, rate) {
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
            (None, None) => TokenStream::new(),
        }
    }
}
