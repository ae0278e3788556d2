//! `#[circuit_breaker(..)]`.

use proc_macro2::TokenStream;
use quote::{ToTokens, quote, quote_spanned};
use syn::Ident;
use syn::spanned::Spanned;

use super::{Code, Context, Expand, local};
use crate::args::BreakerArgs;

// Input:
//     #[circuit_breaker(failure_rate = 0.5, min_calls = 10, when = ApiError::is_outage)]
//     async fn f() -> R { BODY }
//
// Output (INNER: the layers below, as a future; without `when`, the classifier is
// `|__steadfast_output| ::steadfast::__private::every_error(__steadfast_output)`):
//     match ::steadfast::__private::breaker_call(
//         {
//             static __STEADFAST_BREAKER: ::steadfast::__private::Breaker =
//                 ::steadfast::__private::Breaker::new().name("f").failure_rate(0.5).min_calls(10);
//             &__STEADFAST_BREAKER
//         },
//         "f",
//         |__steadfast_output| ::steadfast::__private::error_when(__steadfast_output, &(ApiError::is_outage)),
//         INNER,
//     )
//     .await
//     {
//         ::core::result::Result::Ok(__steadfast_out) => __steadfast_out,
//         ::core::result::Result::Err(__steadfast_open) => {
//             __steadfast_refused = ::steadfast::__private::refusal(&__steadfast_open); // under `#[retry]`
//             ::steadfast::__private::on_circuit_open(__steadfast_open)
//         }
//     }
//
// With `using = SHARED`, the breaker is `::steadfast::__private::breaker_of(&(SHARED))`;
// with `using = PATH` (a `static`), `breaker_named(&(PATH), "NAME")`, NAME the path's
// last segment, the `function` label of its state gauge.
// With another breaker below, this one declares `let __steadfast_refused_below_I =
// AtomicBool::new(false);` before the call and its classifier starts with
// `!__steadfast_refused_below_I.load(Relaxed) &&`; the one below stores `true` in its
// `Err` arm (refused) and `false` in its `Ok` arm (the call ran).
impl Expand for BreakerArgs {
    fn expand(&self, cx: &Context, inner: Code) -> Code {
        let Context { name, ret_span, .. } = cx;
        let breaker = match &self.using {
            Some(using) => {
                let expr = &using.value;
                // A `static` named by a path labels the breaker's state gauge.
                match super::limit::static_name(expr) {
                    Some(label) => quote_spanned!(expr.span()=>
                        ::steadfast::__private::breaker_named(&(#expr), #label)),
                    None => {
                        quote_spanned!(expr.span()=> ::steadfast::__private::breaker_of(&(#expr)))
                    }
                }
            }
            None => {
                let ctor = self.constructor(cx);
                let breaker = local("BREAKER");
                // One breaker per annotated function, shared by every call and every
                // instantiation (a `static` in a generic function is not duplicated).
                quote!({
                    static #breaker: ::steadfast::__private::Breaker = #ctor;
                    &#breaker
                })
            }
        };
        let out = local("out");
        let open = local("open");
        // The classifier's path carries the return type's span, so that a non-`Result`
        // return type is reported there, once; the closure's bars do not, so that lints
        // (`redundant_closure`) see generated code.
        // The output's name, too: the bound is reported at the argument of the call.
        let output = syn::Ident::new("__steadfast_output", *ret_span);
        // With a breaker below (maybe under a retry), an output that is its refusal is
        // not a failure of this one: the dependency was not called.
        let not_refused = cx.refusals_below.as_ref().map(|below| {
            quote!(!::core::sync::atomic::AtomicBool::load(&#below, ::core::sync::atomic::Ordering::Relaxed) &&)
        });
        let failed = match &self.when {
            Some(when) => {
                let when = &when.value;
                let classify = quote_spanned!(*ret_span=> ::steadfast::__private::error_when);
                quote!(|#output| #not_refused #classify(#output, &(#when)))
            }
            None => {
                let classify = quote_spanned!(*ret_span=> ::steadfast::__private::every_error);
                quote!(|#output| #not_refused #classify(#output))
            }
        };
        let declare_below = cx
            .refusals_below
            .as_ref()
            .map(|below| quote!(let #below = ::core::sync::atomic::AtomicBool::new(false);));
        // The breaker above learns whether this call was refused or ran.
        let tell_above = |refused: bool| {
            cx.refusals_above.as_ref().map(|above| {
                quote!(::core::sync::atomic::AtomicBool::store(&#above, #refused, ::core::sync::atomic::Ordering::Relaxed);)
            })
        };
        let (ran_above, refused_above) = (tell_above(false), tell_above(true));
        let on_open = quote_spanned!(*ret_span=> ::steadfast::__private::on_circuit_open(#open));
        // A `#[retry]` above learns of the refusal (the error itself is the user's type).
        let tell_retry = cx
            .refused
            .as_ref()
            .map(|refused: &Ident| quote!(#refused = ::steadfast::__private::refusal(&#open);));
        let inner = inner.future();
        let ran = match &ran_above {
            Some(ran) => quote!({ #ran #out }),
            None => quote!(#out),
        };
        Code::Block(quote! {
            #declare_below
            match ::steadfast::__private::breaker_call(#breaker, #name, #failed, #inner).await {
                ::core::result::Result::Ok(#out) => #ran,
                ::core::result::Result::Err(#open) => {
                    #tell_retry
                    #refused_above
                    #on_open
                }
            }
        })
    }

    fn refuses(&self) -> bool {
        true
    }
}

impl BreakerArgs {
    /// `Breaker::new()` with a `const` builder call for each setting given.
    fn constructor(&self, cx: &Context) -> TokenStream {
        let tokens = |value: &dyn ToTokens| value.to_token_stream();
        let settings = [
            ("failure_rate", self.failure_rate.as_ref().map(|a| float(&a.value))),
            ("min_calls", self.min_calls.as_ref().map(|a| tokens(&a.value))),
            ("window", self.window.as_ref().map(|a| tokens(&a.value))),
            ("open_for", self.open_for.as_ref().map(|a| tokens(&a.value))),
            ("half_open_calls", self.half_open_calls.as_ref().map(|a| tokens(&a.value))),
            ("slow_call", self.slow_call.as_ref().map(|a| tokens(&a.value))),
        ];
        let name = &cx.name;
        let mut ctor = quote!(::steadfast::__private::Breaker::new().name(#name));
        for (setter, value) in settings {
            if let Some(value) = value {
                // At the value, so that a type error points at the argument.
                let span = value.span();
                let setter = Ident::new(setter, span);
                ctor.extend(quote_spanned!(span=> .#setter(#value)));
            }
        }
        ctor
    }
}

/// An `f64` for a literal number (`failure_rate = 1` must not be an integer).
fn float(expr: &syn::Expr) -> TokenStream {
    if let syn::Expr::Lit(syn::ExprLit { lit: syn::Lit::Int(int), .. }) = expr {
        if let Ok(v) = int.base10_parse::<u32>() {
            return syn::LitFloat::new(&format!("{v}.0"), int.span()).into_token_stream();
        }
    }
    expr.to_token_stream()
}
