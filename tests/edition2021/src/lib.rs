//! Hygiene, edition 2021: the same cases as `tests/tests/hygiene.rs`, in a crate of
//! the previous edition, under `deny(warnings, clippy::all, clippy::pedantic)`.
#![deny(warnings, clippy::all, clippy::pedantic)]
#![forbid(unsafe_code)]
#![allow(clippy::missing_panics_doc)]

include!("../../hygiene/cases.rs");

#[cfg(test)]
mod tests {
    #[test]
    fn shadowed_names_and_strict_lints() {
        super::run();
    }
}
