//! `#[error_boundary(..)]`.

use quote::{format_ident, quote, quote_spanned};

use super::{Code, Context, Expand, local};
use crate::args::BoundaryArgs;

// On a plain `fn`, `catch_panic_blocking("f", on_panic, || { INNER })` instead.
//
// Input:
//     #[error_boundary("creating user", level = warn, catch_panic)]
//     async fn f() -> R { BODY }
//
// Output (INNER: the layers below; without `catch_panic`, `INNER.await` alone):
//     let __steadfast_out = {
//         ::steadfast::__private::catch_panic("f", ::steadfast::__private::on_panic, INNER).await
//     };
//     if let ::core::option::Option::Some((__steadfast_display, __steadfast_error)) =
//         ::steadfast::__private::boundary_error(&__steadfast_out)
//     {
//         use ::steadfast::__private::{SourceViaDeref as _, SourceViaDisplay as _, SourceViaError as _};
//         ::steadfast::__private::log_boundary(
//             &::steadfast::__private::ErrorBoundary::new("f")
//                 .context("creating user")
//                 .level(::steadfast::__private::Level::WARN),
//             __steadfast_display,
//             (&&&::steadfast::__private::SourceOf(__steadfast_error)).steadfast_source(),
//         );
//     }
//     __steadfast_out
impl Expand for BoundaryArgs {
    fn expand(&self, cx: &Context, inner: Code) -> Code {
        let Context { name, ret_span, .. } = cx;
        let inner = if self.catch_panic {
            let on_panic = quote_spanned!(*ret_span=> ::steadfast::__private::on_panic);
            if cx.blocking {
                let inner = inner.block();
                quote!(::steadfast::__private::catch_panic_blocking(#name, #on_panic, || { #inner }))
            } else {
                let inner = inner.future();
                quote!(::steadfast::__private::catch_panic(#name, #on_panic, #inner).await)
            }
        } else {
            inner.block()
        };
        let context = self.context.as_ref().map(|c| quote!(.context(#c)));
        let level = self.level.as_ref().map(|l| {
            let level = format_ident!("{}", l.to_string().to_uppercase(), span = l.span());
            quote!(.level(::steadfast::__private::Level::#level))
        });
        let out = local("out");
        let error = local("error");
        let display = local("display");
        let error_of = quote_spanned!(*ret_span=> ::steadfast::__private::boundary_error(&#out));
        // The source chain is found by autoref specialisation (`&&&SourceOf`), which
        // needs the error's concrete type: hence the three trait imports.
        Code::Block(quote! {
            let #out = { #inner };
            if let ::core::option::Option::Some((#display, #error)) = #error_of {
                #[allow(unused_imports)]
                use ::steadfast::__private::{SourceViaDeref as _, SourceViaDisplay as _, SourceViaError as _};
                ::steadfast::__private::log_boundary(
                    &::steadfast::__private::ErrorBoundary::new(#name) #context #level,
                    #display,
                    (&&&::steadfast::__private::SourceOf(#error)).steadfast_source()
                );
            }
            #out
        })
    }
}
