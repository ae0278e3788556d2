//! Hygiene, edition 2024: the expansions use absolute paths only, so shadowed
//! prelude names and modules named `std`, `core`, `tokio` and `tracing` do not
//! matter, and they pass `deny(warnings, clippy::all, clippy::pedantic)`.
#![deny(warnings, clippy::all, clippy::pedantic)]
#![forbid(unsafe_code)]
#![allow(clippy::missing_panics_doc)]

include!("../hygiene/cases.rs");

#[test]
fn shadowed_names_and_strict_lints() {
    run();
}
