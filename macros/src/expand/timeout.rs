//! `#[timeout(D)]`.

use quote::{quote, quote_spanned};

use super::{Code, Context, Expand, local};
use crate::args::TimeoutArgs;

// Input:
//     #[timeout(800ms)]
//     async fn f() -> R { BODY }
//
// Output (INNER: the layers below, as a future):
//     match ::steadfast::__private::timeout_in(::core::time::Duration::new(0, 800000000), INNER).await {
//         ::core::result::Result::Ok(__steadfast_out) => __steadfast_out,
//         ::core::result::Result::Err(__steadfast_error) => ::steadfast::__private::on_timeout(
//             ::steadfast::__private::timed_out(__steadfast_error, "f"),
//         ),
//     }
impl Expand for TimeoutArgs {
    fn expand(&self, cx: &Context, inner: Code) -> Code {
        let Context { name, ret_span, .. } = cx;
        let after = &self.after;
        let inner = inner.future();
        let out = local("out");
        let error = local("error");
        // The whole call carries the return type's span: a missing `From<TimedOut>` is
        // reported at the signature.
        let on_timeout = quote_spanned! {*ret_span=>
            ::steadfast::__private::on_timeout(::steadfast::__private::timed_out(#error, #name))
        };
        // The conversion and the function's name stay here, in code, so that the
        // future holds no more than `tokio::time::timeout` would, plus `after`.
        Code::Block(quote! {
            match ::steadfast::__private::timeout_in(#after, #inner).await {
                ::core::result::Result::Ok(#out) => #out,
                ::core::result::Result::Err(#error) => #on_timeout,
            }
        })
    }
}
