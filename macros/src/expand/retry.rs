//! `#[retry(..)]`: the state of one call (its schedule and attempt count), and the
//! loop that runs the body once per attempt.

use proc_macro2::TokenStream;
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{Expr, FnArg, Ident, Pat, Token, Type};

use super::{Code, Context, Expand, local};
use crate::args::RetryArgs;

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
impl Expand for RetryArgs {
    fn expand(&self, cx: &Context, inner: Code) -> Code {
        let (site, state) = state(cx, self);
        let st = local("retry");
        let attempts = attempt_loop(cx, self, &st, inner);
        Code::Block(quote! {
            #site
            let mut #st = #state;
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
    let new = match &args.max_elapsed {
        // Keeps the first attempt's start time.
        Some(_) => quote!(new),
        None => quote!(untimed),
    };
    if constant_schedule(args) {
        // The schedule lives in a `static`; each call's state holds a reference to it.
        let site_static = local("RETRY");
        let state = quote!({
            static #site_static: ::steadfast::__private::RetrySite = #site;
            ::steadfast::__private::RetryState::#new(&#site_static)
        });
        (TokenStream::new(), state)
    } else {
        // Evaluated at each call; the state borrows it.
        let site_local = local("site");
        (
            quote!(let #site_local = #site;),
            quote!(::steadfast::__private::RetryState::#new(&#site_local)),
        )
    }
}

/// `RetryPolicy::new()` with a setter for each schedule argument given.
fn policy(args: &RetryArgs) -> TokenStream {
    let tokens = |value: &dyn ToTokens| value.to_token_stream();
    let setters = [
        ("attempts", args.attempts.as_ref().map(|a| tokens(&a.value))),
        ("delay", args.delay.as_ref().map(|d| tokens(&d.value))),
        ("backoff", args.backoff.as_ref().map(|b| backoff(&b.value))),
        ("factor", args.factor.as_ref().map(|f| float(&f.value))),
        ("max_delay", args.max_delay.as_ref().map(|d| tokens(&d.value))),
        ("jitter", args.jitter.as_ref().map(|j| float(&j.value))),
        ("max_elapsed", args.max_elapsed.as_ref().map(|d| tokens(&d.value))),
    ];
    let mut policy = quote!(::steadfast::__private::RetryPolicy::new());
    for (setter, value) in setters {
        if let Some(value) = value {
            // At the value, so that a type error points at the argument.
            let span = value.span();
            let setter = Ident::new(setter, span);
            policy.extend(quote_spanned!(span=> .#setter(#value)));
        }
    }
    policy
}

fn backoff(ident: &Ident) -> TokenStream {
    let variant = match ident.to_string().as_str() {
        "linear" => quote!(Linear),
        "constant" => quote!(Constant),
        _ => quote!(Exponential),
    };
    quote!(::steadfast::__private::Backoff::#variant)
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
    let bindings = Bindings::of(cx.sig.inputs.iter());
    let out = local("out");
    let delay = local("delay");
    let first = bindings.first_attempt(st);
    let rebinds = bindings.rebinds();
    let next = bindings.next_attempt(st, &out);
    let after = match guard(cx, args) {
        Some(guard) => quote_spanned! {cx.ret_span=>
            ::steadfast::__private::Attempts::after_guarded(&mut #st, &#out, #when, #hint, #guard)
        },
        None => quote_spanned! {cx.ret_span=>
            ::steadfast::__private::Attempts::after(&mut #st, &#out, #when, #hint)
        },
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
            // A zero delay arms no timer (one would wait for the timer's next tick).
            if ::steadfast::__private::is_wait(#delay) {
                ::steadfast::__private::sleep(#delay).await;
            }
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
    owned: Vec<(Ident, Option<Token![mut]>)>,
    reborrowed: Vec<Ident>,
}

impl Bindings {
    fn of<'a>(inputs: impl Iterator<Item = &'a FnArg>) -> Bindings {
        let mut bindings = Bindings { owned: Vec::new(), reborrowed: Vec::new() };
        for arg in inputs {
            let FnArg::Typed(typed) = arg else { continue };
            match (&*typed.pat, &*typed.ty) {
                (Pat::Ident(p), Type::Reference(r))
                    if p.subpat.is_none() && r.mutability.is_some() =>
                {
                    bindings.reborrowed.push(p.ident.clone());
                }
                (_, Type::Reference(r)) if r.mutability.is_none() => {}
                (pat, _) => for_each_binding(pat, &mut |ident, mutability| {
                    bindings.owned.push((ident.clone(), mutability.copied()));
                }),
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
        for (ident, _) in &self.owned {
            let (arg, kept) = Bindings::locals(ident);
            // The clone is a closure made here: a non-`Clone` argument is reported
            // once, at the argument. The call and its argument carry the argument's
            // span (an argument from the macro would move the error to the
            // attribute); the closure's bars do not, so lints see generated code.
            let original = format_ident!("__steadfast_original", span = ident.span());
            let clone = quote_spanned!(ident.span()=> ::steadfast::__private::clone_arg(#original));
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
        for (ident, mutability) in &self.owned {
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
        for (ident, _) in &self.owned {
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
    [&args.attempts, &args.factor, &args.jitter].into_iter().flatten().all(|a| literal(&a.value))
        && [&args.delay, &args.max_delay, &args.max_elapsed]
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

pub fn has_mut_binding(pat: &Pat) -> bool {
    let mut found = false;
    for_each_binding(pat, &mut |_, m| found |= m.is_some());
    found
}

/// Calls `f` for every by-value binding in an argument pattern.
fn for_each_binding(pat: &Pat, f: &mut impl FnMut(&Ident, Option<&Token![mut]>)) {
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
