//! `#[retry(..)]`: the state of one call (its schedule and attempt count), and the
//! loop that runs the body once per attempt.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{Expr, FnArg, Ident, Pat, Token, Type};

use super::{Code, Context, Expand, local};
use crate::args::{Jitter, RetryArgs};

// Input:
//     #[retry(attempts = 3, delay = 100ms)]
//     async fn f(name: String, buf: &mut Vec<u8>, id: &str) -> R { BODY }
//
// Output (INNER: the layers below, as statements):
//     let mut __steadfast_retry = STATE;                       // see `state`
//     let (mut __steadfast_kept_name, mut __steadfast_arg_name) = ::steadfast::__private::first_attempt(
//         name,
//         ::steadfast::__private::Attempts::is_last(&__steadfast_retry),
//         |__steadfast_original| ::steadfast::__private::clone_arg(__steadfast_original),
//     );
//     loop {
//         let __steadfast_delay = {
//             let __steadfast_out = {
//                 let name = ::steadfast::__private::AttemptArg::take(__steadfast_arg_name);
//                 let buf = &mut *buf;                         // reborrowed
//                 INNER                                        // `id` is shared as it is
//             };
//             match ::steadfast::__private::Attempts::after(&mut __steadfast_retry, &__steadfast_out, WHEN, HINT) {
//                 ::core::option::Option::Some(__steadfast_delay) => {
//                     let __steadfast_last = ::steadfast::__private::Attempts::is_last(&__steadfast_retry);
//                     let ::core::option::Option::Some(__steadfast_next) =
//                         ::steadfast::__private::KeptArg::next(&mut __steadfast_kept_name, __steadfast_last)
//                     else {
//                         break __steadfast_out;
//                     };
//                     __steadfast_arg_name = __steadfast_next;   // the next attempt's copy
//                     __steadfast_delay
//                 }
//                 ::core::option::Option::None => break __steadfast_out,
//             }
//         };
//         if ::steadfast::__private::is_wait(__steadfast_delay) {
//             ::steadfast::__private::sleep(__steadfast_delay).await;
//         }
//     }
//
// With `schedule = S`, `on_retry = H` (or both), the decision is
// `::steadfast::__private::after_with(&mut __steadfast_retry, &__steadfast_out, WHEN, HINT,
// ::steadfast::__private::on_retry_hook(&__steadfast_out, H), &mut __steadfast_schedule)`,
// where `let mut __steadfast_schedule = ::steadfast::__private::listed(S);` (or
// `Computed`) comes before the loop. `attempt = n` adds
// `let n: u32 = ::steadfast::__private::attempt_number(&__steadfast_retry);` at the
// top of each attempt. On a plain `fn`, the sleep is
// `::steadfast::__private::sleep_blocking(__steadfast_delay);`.
impl Expand for RetryArgs {
    fn expand(&self, cx: &Context, inner: Code) -> Code {
        let (site, state) = state(cx, self);
        let st = local("retry");
        let schedule = schedule(self);
        let attempts = attempt_loop(cx, self, &st, inner);
        Code::Block(quote! {
            #site
            let mut #st = #state;
            #schedule
            #attempts
        })
    }

    fn reruns_body(&self) -> bool {
        true
    }
}

// Input:
//     #[retry(attempts = 3, delay = 100ms)]           (every argument a literal)
//
// Output:
//     {
//         static __STEADFAST_RETRY: ::steadfast::__private::RetrySite = ::steadfast::__private::RetrySite::new(
//             ::steadfast::__private::RetryPolicy::new().attempts(3).delay(DELAY),
//             "f",
//         );
//         ::steadfast::__private::RetryState::untimed(&__STEADFAST_RETRY)   // `new` with `max_elapsed`
//     }
//
// With an argument evaluated at each call (`delay = cfg.delay`), the site is a local
// (`let __steadfast_site = RetrySite::new(..);`, returned first) that the state
// borrows; with `policy = P`, the state is `BackoffState::new(P, "f")`.
/// The statements that set up the state (possibly none), and the state.
fn state(cx: &Context, args: &RetryArgs) -> (TokenStream, TokenStream) {
    let name = &cx.name;
    if let Some(policy) = &args.policy {
        let policy = &policy.value;
        let state = quote_spanned!(policy.span()=> ::steadfast::__private::BackoffState::new(#policy, #name));
        return (TokenStream::new(), state);
    }
    let policy = policy(args);
    let site = quote!(::steadfast::__private::RetrySite::new(#policy, #name));
    // Where the state keeps the first attempt's start: on std's clock (a plain `fn`),
    // on tokio's (for `max_elapsed`, or for the hook's `RetryInfo::elapsed`), or nowhere.
    let (new, hooked) = if cx.blocking {
        (quote!(blocking), None)
    } else if args.max_elapsed.is_some() {
        (quote!(new), None)
    } else if args.on_retry.is_some() {
        (quote!(timed), Some(quote!(, true)))
    } else {
        (quote!(untimed), None)
    };
    if constant_schedule(args) {
        // The schedule lives in a `static`; each call's state holds a reference to it.
        let site_static = local("RETRY");
        let state = quote!({
            static #site_static: ::steadfast::__private::RetrySite = #site;
            ::steadfast::__private::RetryState::#new(&#site_static #hooked)
        });
        (TokenStream::new(), state)
    } else {
        // Evaluated at each call; the state borrows it.
        let site_local = local("site");
        let state = quote!(::steadfast::__private::RetryState::#new(&#site_local #hooked));
        (quote!(let #site_local = #site;), state)
    }
}

/// `RetryPolicy::new()` with a setter for each schedule argument given (under
/// `for_schedule(..)` with a `schedule`).
fn policy(args: &RetryArgs) -> TokenStream {
    let tokens = |value: &dyn ToTokens| Some(value.to_token_stream());
    let setters = [
        args.attempts.as_ref().map(|a| ("attempts", tokens(&a.value))),
        args.delay.as_ref().map(|d| ("delay", tokens(&d.value))),
        args.backoff.as_ref().map(|b| ("backoff", Some(backoff(&b.value)))),
        args.factor.as_ref().map(|f| ("factor", Some(float(&f.value)))),
        args.max_delay.as_ref().map(|d| ("max_delay", tokens(&d.value))),
        args.jitter.as_ref().map(|j| match &j.value {
            Jitter::Spread(j) => ("jitter", Some(float(j))),
            Jitter::Full => ("full_jitter", None),
            Jitter::Equal => ("equal_jitter", None),
        }),
        args.max_elapsed.as_ref().map(|d| ("max_elapsed", tokens(&d.value))),
        args.max_retry_after.as_ref().map(|d| ("max_retry_after", tokens(&d.value))),
        args.level.as_ref().map(|l| ("level", Some(level(&l.value)))),
    ];
    let mut policy = quote!(::steadfast::__private::RetryPolicy::new());
    for (setter, value) in setters.into_iter().flatten() {
        // At the value, so that a type error points at the argument.
        let span = value.as_ref().map_or_else(Span::call_site, |v| v.span());
        let setter = Ident::new(setter, span);
        policy.extend(quote_spanned!(span=> .#setter(#value)));
    }
    if args.schedule.is_some() {
        policy = quote!(::steadfast::__private::for_schedule(#policy));
    }
    policy
}

fn backoff(ident: &Ident) -> TokenStream {
    let variant = match ident.to_string().as_str() {
        "linear" => quote!(Linear),
        "constant" => quote!(Constant),
        "fibonacci" => quote!(Fibonacci),
        _ => quote!(Exponential),
    };
    quote!(::steadfast::__private::Backoff::#variant)
}

/// `Some(Level::WARN)` for `level = warn`, `None` for `level = off`.
fn level(level: &Option<Ident>) -> TokenStream {
    match level {
        Some(level) => {
            let level = format_ident!("{}", level.to_string().to_uppercase(), span = level.span());
            quote!(::core::option::Option::Some(::steadfast::__private::Level::#level))
        }
        None => quote!(::core::option::Option::None),
    }
}

/// The delays of a `schedule` (or of the policy, for an `on_retry` alone), before the
/// loop; nothing without either.
fn schedule(args: &RetryArgs) -> TokenStream {
    let schedule = local("schedule");
    match (&args.schedule, &args.on_retry) {
        (Some(list), _) => {
            let list = &list.value;
            let listed = quote_spanned!(list.span()=> ::steadfast::__private::listed(#list));
            quote!(let mut #schedule = #listed;)
        }
        (None, Some(_)) => quote!(let mut #schedule = ::steadfast::__private::Computed;),
        (None, None) => TokenStream::new(),
    }
}

/// The loop around the attempts; `st` is the state.
fn attempt_loop(cx: &Context, args: &RetryArgs, st: &Ident, inner: Code) -> TokenStream {
    let when = match &args.when {
        Some(w) => w.value.to_token_stream(),
        None => quote!(::steadfast::__private::any_error),
    };
    let hint = match &args.retry_after {
        Some(h) => h.value.to_token_stream(),
        None => quote!(::steadfast::__private::no_hint),
    };
    let bindings = Bindings::of(cx.sig);
    let out = local("out");
    let delay = local("delay");
    let first = bindings.first_attempt(st);
    let rebinds = bindings.rebinds();
    let next = bindings.next_attempt(st, &out);
    let after = if args.schedule.is_some() || args.on_retry.is_some() {
        let hook = match &args.on_retry {
            Some(hook) => {
                let hook = &hook.value;
                // At the hook, so that a hook of the wrong type is reported there.
                quote_spanned!(hook.span()=> ::steadfast::__private::on_retry_hook(&#out, #hook))
            }
            None => quote!(::steadfast::__private::no_hook),
        };
        let schedule = local("schedule");
        match guard(cx, args) {
            Some(guard) => quote_spanned! {cx.ret_span=>
                ::steadfast::__private::after_with_guarded(&mut #st, &#out, #when, #hint, #hook, &mut #schedule, #guard)
            },
            None => quote_spanned! {cx.ret_span=>
                ::steadfast::__private::after_with(&mut #st, &#out, #when, #hint, #hook, &mut #schedule)
            },
        }
    } else {
        match guard(cx, args) {
            Some(guard) => quote_spanned! {cx.ret_span=>
                ::steadfast::__private::Attempts::after_guarded(&mut #st, &#out, #when, #hint, #guard)
            },
            None => quote_spanned! {cx.ret_span=>
                ::steadfast::__private::Attempts::after(&mut #st, &#out, #when, #hint)
            },
        }
    };
    let attempt = args.attempt.as_ref().map(|name| {
        let name = &name.value;
        quote!(let #name: u32 = ::steadfast::__private::attempt_number(&#st);)
    });
    let sleep = if cx.blocking {
        quote!(::steadfast::__private::sleep_blocking(#delay);)
    } else {
        // A zero delay arms no timer (one would wait for the timer's next tick).
        quote! {
            if ::steadfast::__private::is_wait(#delay) {
                ::steadfast::__private::sleep(#delay).await;
            }
        }
    };
    let deposit = deposit(args);
    let refused = cx.refused.as_ref().map(|r| quote!(let mut #r = ::core::option::Option::None;));
    let inner = inner.block();
    // The attempt's output ends with the block, before the sleep: the future does not
    // hold it while waiting.
    quote! {
        #deposit
        #first
        loop {
            let #delay = {
                #refused
                let #out = {
                    #attempt
                    #rebinds
                    #inner
                };
                match #after {
                    ::core::option::Option::Some(#delay) => {
                        #next
                        #delay
                    }
                    ::core::option::Option::None => break #out,
                }
            };
            #sleep
        }
    }
}

// Input:
//     #[retry(budget = B)] #[circuit_breaker]
//
// Output (the decision after each attempt; `__steadfast_refused` is set by the
// breaker when it refused the attempt):
//     ::steadfast::RetryBudget::deposit(::steadfast::__private::budget_of(&(B)));   // before the loop
//     ...
//     ::steadfast::__private::Attempts::after_guarded(&mut __steadfast_retry, &__steadfast_out, WHEN, HINT,
//         ::steadfast::__private::Guard::none()
//             .refused(__steadfast_refused)
//             .budget(::steadfast::__private::budget_of(&(B))),
//     )
/// What else decides a retry: a refusal by a breaker below, a budget; `None` if neither.
fn guard(cx: &Context, args: &RetryArgs) -> Option<TokenStream> {
    if cx.refused.is_none() && args.budget.is_none() {
        return None;
    }
    let refused = cx.refused.as_ref().map(|r| quote!(.refused(#r)));
    let budget = args.budget.as_ref().map(|b| {
        let budget = budget_of(&b.value);
        quote!(.budget(#budget))
    });
    Some(quote!(::steadfast::__private::Guard::none() #refused #budget))
}

/// Every call deposits into the budget before its first attempt.
fn deposit(args: &RetryArgs) -> Option<TokenStream> {
    args.budget.as_ref().map(|b| {
        let budget = budget_of(&b.value);
        quote!(::steadfast::__private::RetryBudget::deposit(#budget);)
    })
}

/// The budget named by `budget = B`, spanned at `B` so that a value that is not a
/// `RetryBudget` is reported there.
fn budget_of(budget: &Expr) -> TokenStream {
    quote_spanned!(budget.span()=> ::steadfast::__private::budget_of(&(#budget)))
}

/// How each argument reaches every attempt: shared references are used as they
/// are, `&mut` ones reborrowed, and owned bindings cloned for every attempt but the
/// last, which takes the original (a non-`Clone` one is an error at the argument).
struct Bindings {
    owned: Vec<Owned>,
    reborrowed: Vec<Ident>,
}

/// An owned binding, and whether the body needs it mutably (a `mut` binding, an
/// `FnMut`/`FnOnce` closure): a non-`Clone` one is then told to take `&mut`, not `&`.
struct Owned {
    ident: Ident,
    mutability: Option<Token![mut]>,
    wants_mut: bool,
}

impl Bindings {
    fn of(sig: &syn::Signature) -> Bindings {
        let mut bindings = Bindings { owned: Vec::new(), reborrowed: Vec::new() };
        for arg in &sig.inputs {
            let FnArg::Typed(typed) = arg else { continue };
            match (&*typed.pat, &*typed.ty) {
                (Pat::Ident(p), Type::Reference(r))
                    if p.subpat.is_none() && r.mutability.is_some() =>
                {
                    bindings.reborrowed.push(p.ident.clone());
                }
                (_, Type::Reference(r)) if r.mutability.is_none() => {}
                (pat, ty) => {
                    let called = calls_mutably(ty, &sig.generics);
                    for_each_binding(pat, &mut |ident, mutability| {
                        bindings.owned.push(Owned {
                            ident: ident.clone(),
                            mutability: mutability.copied(),
                            wants_mut: called || mutability.is_some(),
                        });
                    });
                }
            }
        }
        bindings
    }

    /// The locals of an owned binding: this attempt's copy, and what the later
    /// attempts draw from.
    fn locals(ident: &Ident) -> (Ident, Ident) {
        let ident = ident.unraw();
        (local(&format!("arg_{ident}")), local(&format!("kept_{ident}")))
    }

    /// Before the loop: the first attempt's copies (the originals if it is the last).
    fn first_attempt(&self, st: &Ident) -> TokenStream {
        let mut out = TokenStream::new();
        for Owned { ident, wants_mut, .. } in &self.owned {
            let (arg, kept) = Bindings::locals(ident);
            // The clone is a closure made here: a non-`Clone` argument is reported
            // once, at the argument. The call and its argument carry the argument's
            // span (an argument from the macro would move the error to the
            // attribute); the closure's bars do not, so lints see generated code.
            let original = format_ident!("__steadfast_original", span = ident.span());
            let clone_arg =
                Ident::new(if *wants_mut { "clone_arg_mut" } else { "clone_arg" }, ident.span());
            let clone =
                quote_spanned!(ident.span()=> ::steadfast::__private::#clone_arg(#original));
            let closure = quote!(|#original| #clone);
            out.extend(quote_spanned! {ident.span()=>
                let (mut #kept, mut #arg) = ::steadfast::__private::first_attempt(
                    #ident,
                    ::steadfast::__private::Attempts::is_last(&#st),
                    #closure
                );
            });
        }
        out
    }

    /// At the top of each attempt: the bindings the body sees.
    fn rebinds(&self) -> TokenStream {
        let mut out = TokenStream::new();
        for Owned { ident, mutability, .. } in &self.owned {
            let (arg, _) = Bindings::locals(ident);
            out.extend(quote_spanned! {ident.span()=>
                let #mutability #ident = ::steadfast::__private::AttemptArg::take(#arg);
            });
        }
        for ident in &self.reborrowed {
            out.extend(quote_spanned!(ident.span()=> let #ident = &mut *#ident;));
        }
        out
    }

    /// Before sleeping for a retry: the next attempt's copies. Should the originals be
    /// gone already (the state said the last attempt had run), the call ends with
    /// the last result rather than running without them.
    fn next_attempt(&self, st: &Ident, out: &Ident) -> TokenStream {
        if self.owned.is_empty() {
            return TokenStream::new();
        }
        let last = local("last");
        let next = local("next");
        let mut tokens = quote!(let #last = ::steadfast::__private::Attempts::is_last(&#st););
        for Owned { ident, .. } in &self.owned {
            let (arg, kept) = Bindings::locals(ident);
            tokens.extend(quote! {
                let ::core::option::Option::Some(#next) =
                    ::steadfast::__private::KeptArg::next(&mut #kept, #last)
                else {
                    break #out;
                };
                #arg = #next;
            });
        }
        tokens
    }
}

/// Whether every schedule argument is a literal, so that the schedule is a constant.
fn constant_schedule(args: &RetryArgs) -> bool {
    let literal = |expr: &Expr| matches!(expr, Expr::Lit(_));
    let jitter = args.jitter.as_ref().is_none_or(|j| match &j.value {
        Jitter::Spread(j) => literal(j),
        Jitter::Full | Jitter::Equal => true,
    });
    jitter
        && [&args.attempts, &args.factor].into_iter().flatten().all(|a| literal(&a.value))
        && [&args.delay, &args.max_delay, &args.max_elapsed, &args.max_retry_after]
            .into_iter()
            .flatten()
            .all(|d| d.value.nanos().is_some())
}

/// An `f64` for a literal number argument (`jitter = 0` must not be an integer).
fn float(expr: &Expr) -> TokenStream {
    if let Expr::Lit(syn::ExprLit { lit: syn::Lit::Int(int), .. }) = expr {
        if let Ok(v) = int.base10_parse::<u32>() {
            return syn::LitFloat::new(&format!("{v}.0"), int.span()).into_token_stream();
        }
    }
    expr.to_token_stream()
}

/// Whether `ty` is an `FnMut`/`FnOnce` closure, as `impl FnMut(..)` or as a type
/// parameter bounded so (in its declaration or the `where` clause).
fn calls_mutably(ty: &Type, generics: &syn::Generics) -> bool {
    let mutable_call = |bounds: &syn::punctuated::Punctuated<syn::TypeParamBound, Token![+]>| {
        bounds.iter().any(|b| {
            matches!(b, syn::TypeParamBound::Trait(t)
                if t.path.segments.last().is_some_and(|s| s.ident == "FnMut" || s.ident == "FnOnce"))
        })
    };
    match ty {
        Type::ImplTrait(t) => mutable_call(&t.bounds),
        Type::Paren(p) => calls_mutably(&p.elem, generics),
        Type::Group(g) => calls_mutably(&g.elem, generics),
        Type::Path(p) if p.qself.is_none() => {
            let Some(name) = p.path.get_ident() else { return false };
            let declared =
                generics.type_params().any(|t| t.ident == *name && mutable_call(&t.bounds));
            let in_where = generics.where_clause.as_ref().is_some_and(|w| {
                w.predicates.iter().any(|pred| match pred {
                    syn::WherePredicate::Type(pt) => {
                        matches!(&pt.bounded_ty, Type::Path(b) if b.path.is_ident(name))
                            && mutable_call(&pt.bounds)
                    }
                    _ => false,
                })
            });
            declared || in_where
        }
        _ => false,
    }
}

pub fn has_mut_binding(pat: &Pat) -> bool {
    let mut found = false;
    for_each_binding(pat, &mut |_, m| found |= m.is_some());
    found
}

/// Calls `f` for every by-value binding in an argument pattern.
pub(super) fn for_each_binding(pat: &Pat, f: &mut impl FnMut(&Ident, Option<&Token![mut]>)) {
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
