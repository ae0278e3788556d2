//! `#[hedge]`: `after` is required; the attempts run at the same time, so the function
//! cannot take anything by `&mut`.

use syn::{FnArg, Pat, ReceiverKind, Type};

use super::Validate;
use crate::args::HedgeArgs;
use crate::errors::Errors;
use crate::func::Function;

impl Validate for HedgeArgs {
    fn check(&self, errors: &mut Errors) {
        // A malformed `after` was reported already: it still counts as given.
        if self.after.is_none() && !self.given.contains("after") {
            errors.push_new(
                self.span,
                "`#[hedge]` needs `after`: `#[hedge(after = 50ms)]`, or `#[hedge(after = p95)]` for this function's own 95th-percentile latency",
            );
        }
    }

    fn needs_result(&self) -> Option<&'static str> {
        Some("hedge")
    }

    fn check_function(&self, function: &Function, errors: &mut Errors) {
        for arg in &function.sig.inputs {
            match arg {
                FnArg::Receiver(receiver) if is_mut_receiver(receiver) => {
                    errors.push(syn::Error::new_spanned(
                        receiver,
                        "`#[hedge]` runs attempts at the same time, so they cannot share `&mut self`: take `&self` (with interior mutability for what the attempts change)",
                    ))
                }
                FnArg::Typed(typed) if is_mut_ref(&typed.ty) => {
                    let name = match &*typed.pat {
                        Pat::Ident(p) => format!("`{}`", p.ident),
                        _ => "this argument".to_owned(),
                    };
                    errors.push(syn::Error::new_spanned(
                        typed,
                        format!(
                            "`#[hedge]` runs attempts at the same time, so they cannot share the `&mut` argument {name}: take it by `&` (with interior mutability for what the attempts change), or by value to give each attempt its own clone"
                        ),
                    ));
                }
                _ => {}
            }
        }
    }
}

/// `&mut self`, `&'a mut self` or `self: &mut Self`.
fn is_mut_receiver(receiver: &syn::Receiver) -> bool {
    match &receiver.kind {
        ReceiverKind::Reference(_, _, mutability) => mutability.is_some(),
        ReceiverKind::Typed(_, ty) => is_mut_ref(ty),
        _ => false,
    }
}

fn is_mut_ref(ty: &Type) -> bool {
    match ty {
        Type::Reference(r) => r.mutability.is_some(),
        Type::Group(g) => is_mut_ref(&g.elem),
        Type::Paren(p) => is_mut_ref(&p.elem),
        _ => false,
    }
}
