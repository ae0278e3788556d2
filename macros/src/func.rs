//! The annotated item: parsed lightly (the body stays tokens), and the stack of
//! steadfast attributes below the one being expanded. A plain `fn` is kept as one
//! (`#[retry]` and `#[error_boundary]` wrap it); a method that `#[async_trait]` has
//! rewritten is recognised by its `Box::pin(async move { .. })` body.

use proc_macro2::{Delimiter, Span, TokenStream, TokenTree};
use quote::ToTokens;
use syn::parse::{Parse, ParseStream};
use syn::spanned::Spanned;
use syn::{Attribute, ReturnType, Signature, Token, Visibility};

use crate::errors::Errors;
use crate::kind::Kind;

/// An item under an attribute: its outer attributes, and the rest as tokens.
pub struct Item {
    pub attrs: Vec<Attribute>,
    pub rest: TokenStream,
}

impl Parse for Item {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        Ok(Item { attrs: input.call(Attribute::parse_outer)?, rest: input.parse()? })
    }
}

/// One steadfast attribute as written: which one, its argument tokens and where it
/// stands.
pub struct Attr {
    pub kind: Kind,
    /// The attribute's path as written (`retry`, `steadfast::retry`).
    pub path: syn::Path,
    pub args: TokenStream,
    pub span: Span,
}

impl Item {
    /// Splits off the steadfast attributes below the expanding one, in reading order.
    /// All of them are taken, also past a foreign attribute: attribute macros expand
    /// outside-in, so a foreign one wraps whatever is below it anyway, and taking the
    /// whole steadfast stack at least keeps its own layers in reading order.
    pub fn take_stack(&mut self, errors: &mut Errors) -> Vec<Attr> {
        let mut stack = Vec::new();
        let mut kept = Vec::new();
        for attr in std::mem::take(&mut self.attrs) {
            let Some(kind) = Kind::of_attribute(&attr) else {
                kept.push(attr);
                continue;
            };
            let args = match &attr.meta {
                syn::Meta::Path(_) => TokenStream::new(),
                syn::Meta::List(list) => list.tokens.clone(),
                syn::Meta::NameValue(nv) => {
                    let name = kind.name();
                    errors.push_new(
                        nv.eq_token.span,
                        format!("write `#[{name}(...)]`, not `#[{name} = ...]`"),
                    );
                    continue;
                }
            };
            stack.push(Attr { kind, args, span: attr.path().span(), path: attr.path().clone() });
        }
        self.attrs = kept;
        stack
    }
}

/// A function with its body kept as tokens.
pub struct Function {
    pub attrs: Vec<Attribute>,
    pub vis: Visibility,
    pub sig: Signature,
    /// The inner attributes at the top of the body (`#![allow(..)]`): the expansion
    /// puts them at the top of the new body, the one place they are allowed.
    pub inner_attrs: Vec<Attribute>,
    /// The statements of the body, after its inner attributes.
    pub body: TokenStream,
    /// Set when `#[async_trait]` has already turned the `async fn` into a plain `fn`
    /// returning `Box::pin(async move { .. })`: the layers wrap that inner future.
    pub async_trait: Option<AsyncTrait>,
}

/// The parts of a method rewritten by `#[async_trait]`: `PIN(async move { BODY })`
/// with the signature's `-> Pin<Box<dyn Future<Output = OUTPUT> + ..>>`.
pub struct AsyncTrait {
    /// `Box::pin`, as async-trait wrote it.
    pub pin: TokenStream,
    /// The statements inside `async move { .. }`.
    pub body: TokenStream,
    /// The output type of the boxed future: the method's return type as written.
    pub output: syn::Type,
}

impl Function {
    /// Parses `rest` (an item without its attributes) as an `async fn` with a body;
    /// the error names `attribute` and points at the offending token.
    pub fn parse(
        attrs: Vec<Attribute>,
        rest: TokenStream,
        attribute: &str,
    ) -> syn::Result<Function> {
        syn::parse::Parser::parse2(
            |input: ParseStream| {
                let vis: Visibility = input.parse()?;
                let looks_like_fn = input.peek(Token![fn])
                    || input.peek(Token![async])
                    || input.peek(Token![const])
                    || input.peek(Token![unsafe])
                    || input.peek(Token![extern]);
                if !looks_like_fn {
                    let found = input.cursor().token_tree().map(|(tt, _)| tt);
                    let span = found.as_ref().map_or(input.span(), TokenTree::span);
                    let what = found.map(|t| format!(", found `{t}`")).unwrap_or_default();
                    return Err(syn::Error::new(
                        span,
                        format!("`#[{attribute}]` applies to an `async fn`{what}"),
                    ));
                }
                let sig: Signature = input.parse()?;
                if input.peek(Token![;]) {
                    let semi: Token![;] = input.parse()?;
                    return Err(syn::Error::new(
                        semi.span,
                        format!("`#[{attribute}]` needs a function with a body; in a trait, put it on the method of the `impl`"),
                    ));
                }
                let (inner_attrs, body) = match input.parse::<TokenTree>()? {
                    TokenTree::Group(g) if g.delimiter() == Delimiter::Brace => {
                        syn::parse::Parser::parse2(split_inner_attrs, g.stream())?
                    }
                    other => return Err(syn::Error::new(other.span(), "expected the function body `{ ... }`")),
                };
                if !input.is_empty() {
                    return Err(input.error("unexpected tokens after the function body"));
                }
                let async_trait = if sig.asyncness.is_none() && inner_attrs.is_empty() {
                    AsyncTrait::of(&sig, &body)
                } else {
                    None
                };
                Ok(Function { attrs: Vec::new(), vis, sig, inner_attrs, body, async_trait })
            },
            rest,
        )
        .map(|f| Function { attrs, ..f })
    }

    /// The name logged in events: the identifier without `r#`.
    pub fn name(&self) -> String {
        let name = self.sig.ident.to_string();
        name.strip_prefix("r#").map(str::to_owned).unwrap_or(name)
    }

    /// Whether the function runs synchronously: a plain `fn` that is not an
    /// `#[async_trait]` method.
    pub fn is_blocking(&self) -> bool {
        self.sig.asyncness.is_none() && self.async_trait.is_none()
    }

    /// The error for an attribute that needs an `async fn` on a plain `fn`, at `fn`.
    pub fn not_async(&self, attribute: &str) -> syn::Error {
        syn::Error::new(self.sig.fn_token.span, not_async(&self.sig, &self.attrs, attribute))
    }
}

impl AsyncTrait {
    /// Recognises async-trait's body (as `#[tracing::instrument]` does): the one
    /// expression `PATH::pin(async move { .. })`, under a signature returning
    /// `Pin<Box<dyn Future<Output = R> ..>>`.
    fn of(sig: &Signature, body: &TokenStream) -> Option<AsyncTrait> {
        let output = boxed_future_output(&sig.output)?;
        let mut tokens: Vec<TokenTree> = body.clone().into_iter().collect();
        let TokenTree::Group(call) = tokens.pop()? else { return None };
        if call.delimiter() != Delimiter::Parenthesis
            || !matches!(tokens.last(), Some(TokenTree::Ident(pin)) if pin == "pin")
        {
            return None;
        }
        let inner: Vec<TokenTree> = call.stream().into_iter().collect();
        match inner.as_slice() {
            [TokenTree::Ident(a), TokenTree::Ident(m), TokenTree::Group(block)]
                if a == "async" && m == "move" && block.delimiter() == Delimiter::Brace =>
            {
                Some(AsyncTrait { pin: tokens.into_iter().collect(), body: block.stream(), output })
            }
            _ => None,
        }
    }
}

/// `R` of `-> Pin<Box<dyn Future<Output = R> + ..>>`.
fn boxed_future_output(output: &ReturnType) -> Option<syn::Type> {
    fn last_arg<'a>(ty: &'a syn::Type, name: &str) -> Option<&'a syn::Type> {
        let syn::Type::Path(path) = ty else { return None };
        let last = path.path.segments.last().filter(|s| s.ident == name)?;
        let syn::PathArguments::AngleBracketed(args) = &last.arguments else { return None };
        args.args.iter().find_map(|a| match a {
            syn::GenericArgument::Type(t) => Some(t),
            _ => None,
        })
    }
    let ReturnType::Type(_, ty) = output else { return None };
    let boxed = last_arg(ty, "Pin")?;
    let syn::Type::TraitObject(object) = last_arg(boxed, "Box")? else { return None };
    object.bounds.iter().find_map(|bound| {
        let syn::TypeParamBound::Trait(bound) = bound else { return None };
        let future = bound.path.segments.last().filter(|s| s.ident == "Future")?;
        let syn::PathArguments::AngleBracketed(args) = &future.arguments else { return None };
        args.args.iter().find_map(|a| match a {
            syn::GenericArgument::AssocType(assoc) if assoc.ident == "Output" => {
                Some(assoc.ty.clone())
            }
            _ => None,
        })
    })
}

/// The inner attributes at the top of a body, and the rest of it.
fn split_inner_attrs(input: ParseStream) -> syn::Result<(Vec<Attribute>, TokenStream)> {
    Ok((input.call(Attribute::parse_inner)?, input.parse()?))
}

/// Why a plain `fn` was found, in the words of the likely cause.
fn not_async(sig: &Signature, attrs: &[Attribute], attribute: &str) -> String {
    let rewritten_by_async_trait =
        sig.generics.lifetimes().any(|l| l.lifetime.ident == "async_trait");
    let is_test = attrs.iter().any(|a| a.path().segments.last().is_some_and(|s| s.ident == "test"));
    if rewritten_by_async_trait {
        format!(
            "`#[{attribute}]` found a method rewritten by `#[async_trait]` without its `Box::pin(async move {{ .. }})` body; put the steadfast attributes directly on the `async fn` of the `#[async_trait]` impl"
        )
    } else if is_test {
        format!(
            "`#[{attribute}]` found a plain `fn`: an attribute above it (such as `#[tokio::test]`) has already turned the `async fn` into one; put that attribute below the steadfast attributes"
        )
    } else {
        format!("`#[{attribute}]` applies to an `async fn`: add `async` before `fn`")
    }
}

impl ToTokens for Item {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        for attr in &self.attrs {
            attr.to_tokens(tokens);
        }
        self.rest.to_tokens(tokens);
    }
}
