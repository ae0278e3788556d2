//! Code generation: the whole stack of one function becomes one wrapper around its
//! body. The signature is re-emitted as written; only the body changes.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{FnArg, LitStr, Pat, ReturnType, Type};

use crate::args::{BoundaryArgs, Errors, LimitArgs, RetryArgs, TimeoutArgs};
use crate::func::{Function, Item, Kind, Layer};

/// The entry point of every attribute, over `proc_macro2` tokens so that unit tests
/// can call it. Never panics: on any error it returns the item (without the stack
/// it consumed) and the errors.
pub fn attribute(kind: Kind, args: TokenStream, item: TokenStream) -> TokenStream {
    if is_stacked_marker(&args) {
        // Already expanded by the attribute above it; see `mark_stacked`.
        return item;
    }
    let mut parsed: Item = match syn::parse2(item.clone()) {
        Ok(parsed) => parsed,
        Err(error) => return with_error(item, error),
    };
    let mut errors = Errors::default();
    let mut layers = vec![Layer {
        kind,
        args,
        span: Span::call_site(),
        path: syn::Path::from(syn::Ident::new(kind.name(), Span::call_site())),
    }];
    let mut consumed = Vec::new();
    match parsed.take_stack() {
        Ok(stack) => {
            consumed = stack.iter().map(|l| l.path.clone()).collect();
            layers.extend(stack);
        }
        Err(error) => errors.push(error),
    }
    let parsed_layers: Vec<Parsed> =
        layers.into_iter().map(|l| Parsed::new(l, &mut errors)).collect();

    let function = match Function::parse(parsed.attrs.clone(), parsed.rest.clone(), kind.name()) {
        Ok(function) => Some(function),
        Err(error) => {
            errors.push(error);
            None
        }
    };
    if let Some(function) = &function {
        check_function(function, &parsed_layers, &mut errors);
    }
    match (errors.into_result(), function) {
        (Ok(()), Some(mut function)) => {
            function.attrs.extend(mark_stacked(&consumed));
            generate(&function, &parsed_layers)
        }
        (Err(error), _) => with_error(parsed.into_token_stream(), error),
        (Ok(()), None) => parsed.into_token_stream(),
    }
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

/// The item unchanged beside the error, so the rest of the crate (and the IDE) keeps
/// working and only the real problem is reported.
fn with_error(item: TokenStream, error: syn::Error) -> TokenStream {
    let error = error.into_compile_error();
    quote!(#item #error)
}

/// One layer with its arguments parsed.
enum Parsed {
    Retry(Box<RetryArgs>),
    Timeout(TimeoutArgs),
    Boundary(BoundaryArgs),
    Limit(Box<LimitArgs>),
}

impl Parsed {
    fn new(layer: Layer, errors: &mut Errors) -> Parsed {
        match layer.kind {
            Kind::Retry => Parsed::Retry(Box::new(RetryArgs::parse(layer.args, errors))),
            Kind::Timeout => match TimeoutArgs::parse(layer.args, layer.span, errors) {
                Some(args) => Parsed::Timeout(args),
                // Keep the slot; the error is already recorded.
                None => Parsed::Boundary(BoundaryArgs {
                    context: None,
                    level: None,
                    catch_panic: false,
                }),
            },
            Kind::ErrorBoundary => Parsed::Boundary(BoundaryArgs::parse(layer.args, errors)),
            Kind::Limit => {
                Parsed::Limit(Box::new(LimitArgs::parse(layer.args, layer.span, errors)))
            }
        }
    }

    /// The layer reports through `Err`, so the function must return a `Result`.
    fn needs_result(&self) -> Option<&'static str> {
        match self {
            Parsed::Retry(_) => Some("retry"),
            Parsed::Timeout(_) => Some("timeout"),
            Parsed::Boundary(_) => Some("error_boundary"),
            Parsed::Limit(args) => args.wait.as_ref().map(|_| "limit(wait = ..)"),
        }
    }
}

fn check_function(function: &Function, layers: &[Parsed], errors: &mut Errors) {
    if let ReturnType::Default = function.sig.output {
        if let Some(name) = layers.iter().find_map(Parsed::needs_result) {
            errors.push_new(
                function.sig.paren_token.span.close(),
                format!("`#[{name}]` needs the function to return `Result<T, E>`; it returns `()`"),
            );
        }
    }
}

/// A piece of the wrapper: a future expression, or statements (run in the async
/// body) that produce the output.
enum Code {
    Future(TokenStream),
    Block(TokenStream),
}

impl Code {
    fn future(self) -> TokenStream {
        match self {
            Code::Future(f) => f,
            Code::Block(b) => quote!(async { #b }),
        }
    }

    fn block(self) -> TokenStream {
        match self {
            Code::Future(f) => quote!(#f.await),
            Code::Block(b) => b,
        }
    }
}

/// What every layer needs to know about the function.
struct Context {
    name: LitStr,
    /// Where type errors about the return type point.
    ret_span: Span,
}

fn generate(function: &Function, layers: &[Parsed]) -> TokenStream {
    let Function { attrs, vis, sig, body } = function;
    let cx = Context {
        name: LitStr::new(&function.name(), sig.ident.span()),
        ret_span: match &sig.output {
            ReturnType::Type(_, ty) => ty.span(),
            ReturnType::Default => sig.ident.span(),
        },
    };
    let retried = layers.iter().any(|l| matches!(l, Parsed::Retry(_)));

    // Under #[retry] a `&mut self`/`self` receiver cannot be moved into each attempt;
    // the body borrows it instead. Everything else is moved (rebound per attempt), so
    // the future stays `Send` exactly when the original body is.
    let borrows_receiver = retried
        && sig.inputs.iter().any(|arg| match arg {
            FnArg::Receiver(r) => !matches!(r.kind, syn::ReceiverKind::Reference(_, _, None)),
            FnArg::Typed(_) => false,
        });
    let capture = if borrows_receiver { None } else { Some(quote!(move)) };

    let return_edge = match &sig.output {
        ReturnType::Type(_, ty) => {
            let mut ty = (**ty).clone();
            erase_impl_trait(&mut ty);
            let ret = format_ident!("__steadfast_return", span = Span::mixed_site());
            // An unreachable `return` of the declared type, so `?` and early `return`
            // in the body infer against the signature (as in tracing-attributes).
            quote_spanned! {cx.ret_span=>
                #[allow(unreachable_code, clippy::diverging_sub_expression, clippy::needless_return, clippy::empty_loop)]
                if false {
                    let #ret: #ty = loop {};
                    return #ret;
                }
            }
        }
        ReturnType::Default => TokenStream::new(),
    };

    let mut code = Code::Future(quote!(async #capture { #return_edge #body }));
    for layer in layers.iter().rev() {
        code = match layer {
            Parsed::Timeout(args) => timeout(&cx, args, code),
            Parsed::Boundary(args) => boundary(&cx, args, code),
            Parsed::Limit(args) => limit(&cx, args, code),
            Parsed::Retry(args) => retry(&cx, args, &sig.inputs, code),
        };
    }
    let block = code.block();

    let mut_args = retried
        && sig.inputs.iter().any(|a| matches!(a, FnArg::Typed(t) if has_mut_binding(&t.pat)));
    let allow_mut = mut_args.then(|| quote!(#[allow(unused_mut)]));
    quote! {
        #(#attrs)*
        #allow_mut
        #vis #sig {
            #block
        }
    }
}

fn timeout(cx: &Context, args: &TimeoutArgs, inner: Code) -> Code {
    let Context { name, ret_span } = cx;
    let after = &args.after;
    let inner = inner.future();
    let out = format_ident!("__steadfast_out", span = Span::mixed_site());
    let error = format_ident!("__steadfast_error", span = Span::mixed_site());
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

fn boundary(cx: &Context, args: &BoundaryArgs, inner: Code) -> Code {
    let Context { name, ret_span } = cx;
    let inner = if args.catch_panic {
        let on_panic = quote_spanned!(*ret_span=> ::steadfast::__private::on_panic);
        let inner = inner.future();
        quote!(::steadfast::__private::catch_panic(#name, #on_panic, #inner).await)
    } else {
        inner.block()
    };
    let context = args.context.as_ref().map(|c| quote!(.context(#c)));
    let level = args.level.as_ref().map(|l| {
        let level = format_ident!("{}", l.to_string().to_uppercase(), span = l.span());
        quote!(.level(::steadfast::__private::Level::#level))
    });
    let out = format_ident!("__steadfast_out", span = Span::mixed_site());
    let error = format_ident!("__steadfast_error", span = Span::mixed_site());
    let display = format_ident!("__steadfast_display", span = Span::mixed_site());
    let error_of = quote_spanned!(*ret_span=> ::steadfast::__private::boundary_error(&#out));
    Code::Block(quote! {
        let #out = { #inner };
        if let ::core::option::Option::Some((#display, #error)) = #error_of {
            #[allow(unused_imports)]
            use ::steadfast::__private::{SourceViaDeref as _, SourceViaDisplay as _, SourceViaError as _};
            ::steadfast::__private::log_boundary(
                &::steadfast::__private::ErrorBoundary::new(#name) #context #level,
                #display,
                (&&&::steadfast::__private::SourceOf(#error)).steadfast_source(),
            );
        }
        #out
    })
}

fn limit(cx: &Context, args: &LimitArgs, inner: Code) -> Code {
    let Context { name, ret_span } = cx;
    let limiter = match &args.using {
        Some(using) => {
            let expr = &using.value;
            quote_spanned!(expr.span()=> &(#expr))
        }
        None => {
            let mut ctor = match &args.concurrency {
                Some(n) => {
                    let n = &n.value;
                    quote_spanned!(n.span()=> ::steadfast::__private::Limiter::concurrency(#n))
                }
                None => TokenStream::new(),
            };
            if let (Some(rate), Some(per)) = (&args.rate, &args.per) {
                let (rate, per) = (&rate.value, &per.value);
                ctor = if ctor.is_empty() {
                    quote_spanned!(rate.span()=> ::steadfast::__private::Limiter::rate(#rate, #per))
                } else {
                    quote_spanned!(rate.span()=> #ctor.and_rate(#rate, #per))
                };
            }
            let limiter = format_ident!("__STEADFAST_LIMITER", span = Span::mixed_site());
            // One limiter per annotated function, shared by every call and every
            // instantiation (a `static` in a generic function is not duplicated).
            quote!({
                static #limiter: ::steadfast::__private::Limiter = #ctor;
                &#limiter
            })
        }
    };
    let inner = inner.future();
    Code::Future(match &args.wait {
        Some(wait) => {
            let wait = &wait.value;
            let on_rejected = quote_spanned!(*ret_span=> ::steadfast::__private::on_rejected);
            quote!(::steadfast::__private::limit_or_reject(#limiter, #name, #wait, #on_rejected, #inner))
        }
        None => quote!(::steadfast::__private::limit(#limiter, #name, #inner)),
    })
}

fn retry(
    cx: &Context,
    args: &RetryArgs,
    inputs: &syn::punctuated::Punctuated<FnArg, syn::Token![,]>,
    inner: Code,
) -> Code {
    let Context { name, ret_span } = cx;
    let mut site_local = None;
    let state = match &args.policy {
        Some(policy) => {
            let policy = &policy.value;
            quote_spanned!(policy.span()=> ::steadfast::__private::BackoffState::new(#policy, #name))
        }
        None => {
            let mut policy = quote!(::steadfast::__private::RetryPolicy::new());
            if let Some(a) = &args.attempts {
                let v = &a.value;
                policy.extend(quote_spanned!(v.span()=> .attempts(#v)));
            }
            if let Some(d) = &args.delay {
                let v = &d.value;
                policy.extend(quote!(.delay(#v)));
            }
            if let Some(b) = &args.backoff {
                let variant = match b.value.to_string().as_str() {
                    "linear" => quote!(Linear),
                    "constant" => quote!(Constant),
                    _ => quote!(Exponential),
                };
                policy.extend(quote!(.backoff(::steadfast::__private::Backoff::#variant)));
            }
            if let Some(f) = &args.factor {
                let v = float(&f.value);
                policy.extend(quote!(.factor(#v)));
            }
            if let Some(d) = &args.max_delay {
                let v = &d.value;
                policy.extend(quote!(.max_delay(#v)));
            }
            if let Some(j) = &args.jitter {
                let v = float(&j.value);
                policy.extend(quote!(.jitter(#v)));
            }
            if let Some(d) = &args.max_elapsed {
                let v = &d.value;
                policy.extend(quote!(.max_elapsed(#v)));
            }
            let site = quote!(::steadfast::__private::RetrySite::new(#policy, #name));
            let new = match &args.max_elapsed {
                // Keeps the first attempt's start time.
                Some(_) => quote!(new),
                None => quote!(untimed),
            };
            let site_ident = format_ident!("__STEADFAST_RETRY", span = Span::mixed_site());
            if constant_schedule(args) {
                // Every argument is a literal: the schedule lives in a `static`, and
                // each call's state holds a reference to it.
                quote!({
                    static #site_ident: ::steadfast::__private::RetrySite = #site;
                    ::steadfast::__private::RetryState::#new(&#site_ident)
                })
            } else {
                // Evaluated at each call; the state borrows it.
                let local = format_ident!("__steadfast_site", span = Span::mixed_site());
                site_local = Some(quote!(let #local = #site;));
                quote!(::steadfast::__private::RetryState::#new(&#local))
            }
        }
    };
    let when = match &args.when {
        Some(w) => w.value.to_token_stream(),
        None => quote!(::steadfast::__private::any_error),
    };
    let hint = match &args.retry_after {
        Some(h) => h.value.to_token_stream(),
        None => quote!(::steadfast::__private::no_hint),
    };
    let rebinds = inputs.iter().map(rebind);
    let st = format_ident!("__steadfast_retry", span = Span::mixed_site());
    let out = format_ident!("__steadfast_out", span = Span::mixed_site());
    let after = quote_spanned!(*ret_span=> ::steadfast::__private::Attempts::after(&mut #st, &#out, #when, #hint));
    let delay = format_ident!("__steadfast_delay", span = Span::mixed_site());
    let inner = inner.block();
    Code::Block(quote! {
        #site_local
        let mut #st = #state;
        loop {
            let #out = {
                #(#rebinds)*
                #inner
            };
            match #after {
                ::core::option::Option::Some(#delay) => ::steadfast::__private::sleep(#delay).await,
                ::core::option::Option::None => break #out,
            }
        }
    })
}

/// Whether every schedule argument is a literal, so that the schedule is a constant.
fn constant_schedule(args: &RetryArgs) -> bool {
    let literal = |expr: &syn::Expr| matches!(expr, syn::Expr::Lit(_));
    let constant = |d: &crate::duration::DurationArg| d.nanos().is_some();
    [&args.attempts, &args.factor, &args.jitter].into_iter().flatten().all(|a| literal(&a.value))
        && [&args.delay, &args.max_delay, &args.max_elapsed]
            .into_iter()
            .flatten()
            .all(|d| constant(&d.value))
}

/// An `f64` for a literal number argument (`jitter = 0` must not be an integer).
fn float(expr: &syn::Expr) -> TokenStream {
    if let syn::Expr::Lit(syn::ExprLit { lit: syn::Lit::Int(int), .. }) = expr {
        if let Ok(v) = int.base10_parse::<u32>() {
            let lit = syn::LitFloat::new(&format!("{v}.0"), int.span());
            return lit.into_token_stream();
        }
    }
    expr.to_token_stream()
}

/// What each attempt of `#[retry]` binds an argument to: `&mut` arguments are
/// reborrowed, shared references reused, owned values cloned (a non-`Clone` one is
/// an error at the argument).
fn rebind(arg: &FnArg) -> TokenStream {
    let FnArg::Typed(typed) = arg else {
        return TokenStream::new();
    };
    match (&*typed.pat, &*typed.ty) {
        (Pat::Ident(p), Type::Reference(r)) if p.subpat.is_none() && r.mutability.is_some() => {
            let ident = &p.ident;
            quote_spanned!(ident.span()=> let #ident = &mut *#ident;)
        }
        (_, Type::Reference(r)) if r.mutability.is_none() => TokenStream::new(),
        (pat, _) => {
            let mut out = TokenStream::new();
            for_each_binding(pat, &mut |ident, mutability| {
                out.extend(quote_spanned! {ident.span()=>
                    let #mutability #ident = ::steadfast::__private::clone_arg(&#ident);
                });
            });
            out
        }
    }
}

fn has_mut_binding(pat: &Pat) -> bool {
    let mut found = false;
    for_each_binding(pat, &mut |_, m| found |= m.is_some());
    found
}

/// Calls `f` for every by-value binding in an argument pattern.
fn for_each_binding(pat: &Pat, f: &mut impl FnMut(&syn::Ident, Option<&syn::Token![mut]>)) {
    match pat {
        Pat::Ident(p) => {
            if p.by_ref.is_none() {
                f(&p.ident, p.mutability.as_ref());
            }
            if let Some((_, sub)) = &p.subpat {
                for_each_binding(sub, f);
            }
        }
        Pat::Tuple(t) => t.elems.iter().for_each(|p| for_each_binding(p, f)),
        Pat::TupleStruct(t) => t.elems.iter().for_each(|p| for_each_binding(p, f)),
        Pat::Struct(s) => s.fields.iter().for_each(|fp| for_each_binding(&fp.pat, f)),
        Pat::Slice(s) => s.elems.iter().for_each(|p| for_each_binding(p, f)),
        Pat::Paren(p) => for_each_binding(&p.pat, f),
        Pat::Reference(r) => for_each_binding(&r.pat, f),
        Pat::Type(t) => for_each_binding(&t.pat, f),
        _ => {}
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

#[cfg(test)]
mod tests {
    use super::*;

    fn expand(kind: Kind, args: &str, item: &str) -> String {
        attribute(kind, args.parse().unwrap(), item.parse().unwrap()).to_string()
    }

    #[test]
    fn prints_an_expansion() {
        let out = expand(
            Kind::ErrorBoundary,
            "\"ctx\"",
            "#[retry(attempts = 2)] #[timeout(1s)] #[limit(concurrency = 2, wait = 0ms)] async fn f(a: &str, mut n: u32, v: &mut Vec<u32>) -> Result<u32, E> { Ok(1) }",
        );
        println!("{out}");
        assert!(!out.contains("compile_error"));
    }
}
