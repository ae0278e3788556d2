//! Code generation: the whole stack of one function becomes one wrapper around its
//! body. The signature is re-emitted as written; only the body changes. Each layer
//! (a file each) wraps the code of the layers below it, the body at the bottom.

mod boundary;
mod breaker;
mod limit;
mod retry;
mod timeout;
// #[hedge]
mod hedge;

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{FnArg, Ident, LitStr, ReturnType, Signature, Type};

use crate::func::Function;
use crate::kind::Layer;

/// The code generation of one attribute.
pub trait Expand {
    /// Wraps `inner`, the code of the layers below (the body at the bottom).
    fn expand(&self, cx: &Context, inner: Code) -> Code;

    /// Whether the layer runs the body more than once: each run then takes its own
    /// copy of the owned arguments, and the body borrows a by-value `self`.
    fn reruns_body(&self) -> bool {
        false
    }

    /// Whether the layer can refuse a call without running the body (an open circuit
    /// breaker): a layer above that reruns the body then hears of the refusal through
    /// `Context::refused`.
    fn refuses(&self) -> bool {
        false
    }
}

/// A piece of the wrapper: a future expression, or statements (run in the async
/// body) that produce the output.
pub enum Code {
    Future(TokenStream),
    Block(TokenStream),
}

impl Code {
    pub fn future(self) -> TokenStream {
        match self {
            Code::Future(f) => f,
            Code::Block(b) => quote!(async { #b }),
        }
    }

    pub fn block(self) -> TokenStream {
        match self {
            Code::Future(f) => quote!(#f.await),
            Code::Block(b) => b,
        }
    }
}

/// What every layer needs to know about the function.
pub struct Context<'a> {
    /// The name logged in events.
    pub name: LitStr,
    /// Where type errors about the return type point.
    pub ret_span: Span,
    pub sig: &'a Signature,
    /// A plain `fn` (not `async`, not `#[async_trait]`): waits block the thread.
    pub blocking: bool,
    /// For a retry with a circuit breaker below it, and for that breaker: the local
    /// (`Option<Duration>`, declared by the retry for each attempt) in which the
    /// breaker puts the `retry_after` of a refusal.
    pub refused: Option<Ident>,
    /// For a breaker with another breaker below it: the local (an `AtomicBool`) in
    /// which the nearest one below says whether its call was refused, so that this one
    /// does not count the refusal as a failure.
    pub refusals_below: Option<Ident>,
    /// For a breaker with another breaker above it: that breaker's `refusals_below`.
    pub refusals_above: Option<Ident>,
}

/// A name for a generated local (or, in capitals, a `static`): `__steadfast_out`,
/// `__STEADFAST_LIMITER`. It resolves at the macro's own site, so it can neither see
/// nor shadow a name of the user's.
pub fn local(name: &str) -> Ident {
    let prefix =
        if name.chars().all(|c| !c.is_lowercase()) { "__STEADFAST_" } else { "__steadfast_" };
    format_ident!("{prefix}{name}", span = Span::mixed_site())
}

// Input:
//     #[retry(..)] #[timeout(..)]
//     pub async fn f(ARGS) -> R { #![inner] BODY }
//
// Output:
//     pub async fn f(ARGS) -> R {
//         #![inner]
//         RETRY(TIMEOUT(async move { RETURN_EDGE BODY }))
//     }
//
// where each layer's part is shown in its own file. On a plain `fn` (only `#[retry]`
// and `#[error_boundary]`), the bottom is `::steadfast::__private::call(move || {
// RETURN_EDGE BODY })` and waits block. On a method rewritten by `#[async_trait]`,
// `fn f(ARGS) -> Pin<Box<dyn Future<Output = R> + ..>> { Box::pin(async move { BODY }) }`,
// the layers wrap async-trait's `BODY` as the body of an `async fn f(ARGS) -> R`:
//     fn f(ARGS) -> Pin<Box<..>> { Box::pin(async move { RETRY(TIMEOUT(async move { BODY })) }) }
pub fn function(function: &Function, layers: &[Box<dyn Layer>]) -> TokenStream {
    let Function { attrs, vis, sig, inner_attrs, body, async_trait } = function;
    let reruns = layers.iter().any(|l| l.reruns_body());
    let future_sig;
    let (layer_sig, body) = match async_trait {
        Some(at) => {
            future_sig = Signature {
                asyncness: Some(Default::default()),
                output: ReturnType::Type(Default::default(), Box::new(at.output.clone())),
                ..sig.clone()
            };
            let body = if reruns { reborrow_self(sig, &at.body) } else { at.body.clone() };
            (&future_sig, body)
        }
        None => (sig, body.clone()),
    };
    let mut cx = Context {
        name: LitStr::new(&function.name(), sig.ident.span()),
        ret_span: match &layer_sig.output {
            ReturnType::Type(_, ty) => ty.span(),
            ReturnType::Default => sig.ident.span(),
        },
        sig: layer_sig,
        blocking: function.is_blocking(),
        refused: None,
        refusals_below: None,
        refusals_above: None,
    };

    // A `&mut self`/`self` receiver cannot be moved into each run of a body that runs
    // more than once; the body borrows it instead. Everything else is moved (rebound
    // per run), so the future stays `Send` exactly when the original body is.
    let borrows_receiver = reruns
        && sig.inputs.iter().any(|arg| match arg {
            FnArg::Receiver(r) => !matches!(r.kind, syn::ReceiverKind::Reference(_, _, None)),
            FnArg::Typed(_) => false,
        });
    let capture = if borrows_receiver { None } else { Some(quote!(move)) };
    let return_edge = return_edge(layer_sig, cx.ret_span);

    let mut code = if cx.blocking {
        // A closure, so that `return` and `?` in the body end this run, not the call.
        Code::Block(quote!(::steadfast::__private::call(#capture || { #return_edge #body })))
    } else {
        Code::Future(quote!(async #capture { #return_edge #body }))
    };
    for (i, layer) in layers.iter().enumerate().rev() {
        let (above, below) = (&layers[..i], &layers[i + 1..]);
        // A retry hears of the breakers below it up to the next retry (which hears of
        // those below it); a breaker tells the nearest retry above it.
        let nearest_below = below.iter().find(|l| l.reruns_body() || l.refuses());
        let told = (layer.reruns_body() && nearest_below.is_some_and(|l| l.refuses()))
            || (layer.refuses() && above.iter().any(|l| l.reruns_body()));
        cx.refused = told.then(|| local("refused"));
        // Each breaker's own name, so that a breaker between two can both read the one
        // below and tell the one above.
        let flag = |j: usize| local(&format!("refused_below_{j}"));
        cx.refusals_below = (layer.refuses() && below.iter().any(|l| l.refuses())).then(|| flag(i));
        cx.refusals_above =
            if layer.refuses() { above.iter().rposition(|l| l.refuses()).map(flag) } else { None };
        code = layer.expand(&cx, code);
    }
    let mut block = code.block();
    if let Some(at) = async_trait {
        let pin = &at.pin;
        block = quote!(#pin(async move { #block }));
    }

    // A `mut` argument is rebound for every run; the original binding is not mutated.
    let mut_args = reruns
        && sig
            .inputs
            .iter()
            .any(|a| matches!(a, FnArg::Typed(t) if retry::has_mut_binding(&t.pat)));
    let allow_mut = mut_args.then(|| quote!(#[allow(unused_mut)]));
    let block = counted(&cx, sig, block);
    quote! {
        #(#attrs)*
        #allow_mut
        #vis #sig {
            #(#inner_attrs)*
            #block
        }
    }
}

/// async-trait moves the receiver into the body (`let __self = self;`, `let mut
/// __self = self;`); a body that runs more than once reborrows it instead
/// (`&mut *self`, or `&self` for a by-value `self`), as for an `async fn`.
fn reborrow_self(sig: &Signature, body: &TokenStream) -> TokenStream {
    let Some(receiver) = sig.receiver() else { return body.clone() };
    let borrow = match &receiver.kind {
        syn::ReceiverKind::Reference(_, _, None) => return body.clone(),
        syn::ReceiverKind::Reference(_, _, Some(_)) => quote!(&mut *self),
        _ => quote!(&self),
    };
    let tokens: Vec<TokenTree> = body.clone().into_iter().collect();
    let mut out = TokenStream::new();
    let mut i = 0;
    while i < tokens.len() {
        let is = |at: usize, word: &str| matches!(tokens.get(at), Some(TokenTree::Ident(id)) if id == word);
        let punct = |at: usize, c: char| matches!(tokens.get(at), Some(TokenTree::Punct(p)) if p.as_char() == c);
        let name = if is(i + 1, "mut") { i + 2 } else { i + 1 };
        if is(i, "let")
            && is(name, "__self")
            && punct(name + 1, '=')
            && is(name + 2, "self")
            && punct(name + 3, ';')
        {
            out.extend(tokens[i..name + 2].iter().cloned());
            out.extend(borrow.clone());
            i = name + 3;
            continue;
        }
        out.extend(std::iter::once(tokens[i].clone()));
        i += 1;
    }
    out
}

// Input: BLOCK, the whole stack.
//
// Output (the call counted once, by outcome; nothing without the `metrics` feature):
//     let __steadfast_call = ::steadfast::__private::call_start("f");
//     let __steadfast_out: R = { BLOCK };          // `_` for `impl Trait`, `()` for none
//     ::steadfast::__private::call_end(__steadfast_call, (&::steadfast::__private::Ended(&__steadfast_out)).steadfast_failed());
//     __steadfast_out
fn counted(cx: &Context, sig: &Signature, block: TokenStream) -> TokenStream {
    let name = &cx.name;
    let call = local("call");
    let out = local("out");
    // The output is typed as the signature says, as the body's tail was before the
    // count: the layers infer against it (a `#[hedge]` on a non-`Result` function is
    // then reported once, at the return type), and coercions still apply.
    let ty = match &sig.output {
        ReturnType::Type(_, ty) => {
            let mut ty = (**ty).clone();
            erase_impl_trait(&mut ty);
            quote!(#ty)
        }
        ReturnType::Default => quote!(()),
    };
    // Whether the output is an `Err`, by autoref specialisation: any return type works
    // (`#[limit]` without `wait` needs no `Result`).
    quote! {
        let #call = ::steadfast::__private::call_start(#name);
        let #out: #ty = { #block };
        #[allow(unused_imports)]
        use ::steadfast::__private::{EndedOther as _, EndedResult as _};
        ::steadfast::__private::call_end(
            #call,
            (&::steadfast::__private::Ended(&#out)).steadfast_failed(),
        );
        #out
    }
}

/// An unreachable `return` of the declared type, so that `?` and early `return` in
/// the body infer against the signature (as in tracing-attributes).
fn return_edge(sig: &Signature, ret_span: Span) -> TokenStream {
    let ReturnType::Type(_, ty) = &sig.output else {
        return TokenStream::new();
    };
    let mut ty = (**ty).clone();
    erase_impl_trait(&mut ty);
    let ret = local("return");
    quote_spanned! {ret_span=>
        #[allow(unreachable_code, clippy::diverging_sub_expression, clippy::needless_return, clippy::empty_loop)]
        if false {
            let #ret: #ty = loop {};
            return #ret;
        }
    }
}

/// `impl Trait` cannot be named in the body: the return edge uses `_` instead.
fn erase_impl_trait(ty: &mut Type) {
    match ty {
        Type::ImplTrait(_) => {
            *ty = Type::Infer(syn::TypeInfer {
                attrs: Vec::new(),
                underscore_token: Default::default(),
            })
        }
        Type::Array(a) => erase_impl_trait(&mut a.elem),
        Type::Group(g) => erase_impl_trait(&mut g.elem),
        Type::Paren(p) => erase_impl_trait(&mut p.elem),
        Type::Ptr(p) => erase_impl_trait(&mut p.elem),
        Type::Reference(r) => erase_impl_trait(&mut r.elem),
        Type::Slice(s) => erase_impl_trait(&mut s.elem),
        Type::Tuple(t) => t.elems.iter_mut().for_each(erase_impl_trait),
        Type::Path(p) => {
            if let Some(q) = &mut p.qself {
                erase_impl_trait(&mut q.ty);
            }
            for segment in &mut p.path.segments {
                if let syn::PathArguments::AngleBracketed(args) = &mut segment.arguments {
                    for arg in &mut args.args {
                        if let syn::GenericArgument::Type(t) = arg {
                            erase_impl_trait(t);
                        }
                    }
                }
            }
        }
        _ => {}
    }
}
