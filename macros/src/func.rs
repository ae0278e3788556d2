//! The annotated item: parsed lightly (the body stays tokens), and the stack of
//! steadfast attributes below the one being expanded.

use proc_macro2::{Delimiter, Span, TokenStream, TokenTree};
use quote::ToTokens;
use syn::parse::{Parse, ParseStream};
use syn::spanned::Spanned;
use syn::{Attribute, Signature, Token, Visibility};

/// The four attributes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    Retry,
    Timeout,
    ErrorBoundary,
    Limit,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Retry => "retry",
            Kind::Timeout => "timeout",
            Kind::ErrorBoundary => "error_boundary",
            Kind::Limit => "limit",
        }
    }

    fn from_ident(ident: &str) -> Option<Kind> {
        Some(match ident {
            "retry" => Kind::Retry,
            "timeout" => Kind::Timeout,
            "error_boundary" => Kind::ErrorBoundary,
            "limit" => Kind::Limit,
            _ => return None,
        })
    }

    /// `retry`, `steadfast::retry` or `::steadfast::retry`.
    pub fn of_attribute(attr: &Attribute) -> Option<Kind> {
        let path = attr.path();
        let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
        match segments.as_slice() {
            [name] if path.leading_colon.is_none() => Kind::from_ident(name),
            [krate, name] if krate == "steadfast" => Kind::from_ident(name),
            _ => None,
        }
    }
}

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

/// One layer of the stack: the attribute, its argument tokens and where it stands.
pub struct Layer {
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
    pub fn take_stack(&mut self) -> Result<Vec<Layer>, syn::Error> {
        let mut layers = Vec::new();
        let mut kept = Vec::new();
        let mut errors: Option<syn::Error> = None;
        for attr in std::mem::take(&mut self.attrs) {
            match Kind::of_attribute(&attr) {
                Some(kind) => {
                    let args = match &attr.meta {
                        syn::Meta::Path(_) => Ok(TokenStream::new()),
                        syn::Meta::List(list) => Ok(list.tokens.clone()),
                        syn::Meta::NameValue(nv) => Err(syn::Error::new(
                            nv.eq_token.span,
                            format!(
                                "write `#[{}(...)]`, not `#[{} = ...]`",
                                kind.name(),
                                kind.name()
                            ),
                        )),
                    };
                    match args {
                        Ok(args) => layers.push(Layer {
                            kind,
                            args,
                            span: attr.path().span(),
                            path: attr.path().clone(),
                        }),
                        Err(e) => match &mut errors {
                            Some(all) => all.combine(e),
                            None => errors = Some(e),
                        },
                    }
                }
                None => kept.push(attr),
            }
        }
        self.attrs = kept;
        errors.map_or(Ok(layers), Err)
    }
}

/// A function with its body kept as tokens.
pub struct Function {
    pub attrs: Vec<Attribute>,
    pub vis: Visibility,
    pub sig: Signature,
    pub body: TokenStream,
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
                let body = match input.parse::<TokenTree>()? {
                    TokenTree::Group(g) if g.delimiter() == Delimiter::Brace => g.stream(),
                    other => return Err(syn::Error::new(other.span(), "expected the function body `{ ... }`")),
                };
                if !input.is_empty() {
                    return Err(input.error("unexpected tokens after the function body"));
                }
                if sig.asyncness.is_none() {
                    return Err(syn::Error::new(sig.fn_token.span, not_async(&sig, &attrs, attribute)));
                }
                Ok(Function { attrs: Vec::new(), vis, sig, body })
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
}

/// Why a plain `fn` was found, in the words of the likely cause.
fn not_async(sig: &Signature, attrs: &[Attribute], attribute: &str) -> String {
    let rewritten_by_async_trait =
        sig.generics.lifetimes().any(|l| l.lifetime.ident == "async_trait");
    let is_test = attrs.iter().any(|a| a.path().segments.last().is_some_and(|s| s.ident == "test"));
    if rewritten_by_async_trait {
        format!(
            "`#[{attribute}]` cannot wrap a method of an `#[async_trait]` impl: `#[async_trait]` expands first and turns it into a plain `fn`; use native `async fn` in the trait, or put the attribute on an inherent `async fn` that the method calls"
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
