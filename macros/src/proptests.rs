//! The macro never panics: grammar-aware random attribute arguments and function
//! shapes go through the `proc_macro2`-level expansion, which must return tokens (an
//! expansion or the item with a `compile_error!`), and every error must point inside
//! the input.

use std::ops::Range;
use std::panic::{AssertUnwindSafe, catch_unwind};

use proc_macro2::{TokenStream, TokenTree};
use proptest::prelude::*;

use crate::args::{BOUNDARY_KEYS, BREAKER_KEYS, HEDGE_KEYS, LIMIT_KEYS, RETRY_KEYS};
use crate::kind::Kind;
use crate::stack::attribute;

/// Near misses and oddities, next to the real keys of the four attributes.
const ODD_KEYS: &[&str] = &[
    "atempts",
    "delays",
    "jiter",
    "max_dealy",
    "concurency",
    "rates",
    "self",
    "r#type",
    "a::b",
    "Delay",
    "_",
    "ctx",
    "failure_rat",
    "min_call",
];

fn key() -> impl Strategy<Value = &'static str> {
    prop::sample::select(
        [RETRY_KEYS, BOUNDARY_KEYS, LIMIT_KEYS, HEDGE_KEYS, BREAKER_KEYS, ODD_KEYS].concat(),
    )
}

const VALUES: &[&str] = &[
    "0",
    "1",
    "3",
    "8",
    "4294967296",
    "99999999999999999999999999",
    "-1",
    "-0.5",
    "0.0",
    "0.5",
    "1.5",
    "2.0",
    "1e3",
    "1e3ms",
    "250ms",
    "1.5s",
    "2m",
    "1h",
    "500us",
    "10ns",
    "0ms",
    "5sec",
    "2d",
    "7u32",
    "p95",
    "p999",
    "p100",
    "1.0f64",
    "0x10ms",
    "0o7s",
    "0b1s",
    "\"250ms\"",
    "\"1.5s\"",
    "\"\"",
    "\"x\"",
    "'c'",
    "b'x'",
    "b\"bytes\"",
    "true",
    "false",
    "exponential",
    "linear",
    "constant",
    "warn",
    "trace",
    "quadratic",
    "DB",
    "self.limiter",
    "Duration::from_secs(1)",
    "|e| e.is_retryable()",
    "|_| None",
    "E::is_transient",
    "(1, 2)",
    "[1, 2]",
    "{ 3 }",
    "-5s",
    "(250ms)",
    "foo()",
    "a.b().c",
    "&DB",
    "!",
    "@",
    "#",
    "=>",
    "",
];

fn arg() -> impl Strategy<Value = String> {
    prop_oneof![
        (key(), prop::sample::select(VALUES)).prop_map(|(k, v)| format!("{k} = {v}")),
        key().prop_map(str::to_owned),
        prop::sample::select(VALUES).prop_map(str::to_owned),
        (key(), prop::sample::select(VALUES)).prop_map(|(k, v)| format!("{k}({v})")),
        Just("= 3".to_owned()),
        Just(";".to_owned()),
    ]
}

fn args() -> impl Strategy<Value = String> {
    (prop::collection::vec(arg(), 0..5), prop::sample::select(&[", ", " ", ",, ", ","][..]))
        .prop_map(|(args, sep)| args.join(sep))
}

const NAMES: &[&str] = &["retry", "timeout", "error_boundary", "limit", "steadfast::retry"];

const SHAPES: &[&str] = &[
    "async fn f() -> Result<u32, E> { Ok(1) }",
    "async fn f() {}",
    "pub async fn f(a: &str, b: &mut Vec<u8>, c: u64) -> io::Result<()> { Ok(()) }",
    "async fn f(&self) -> Result<(), E> { Ok(()) }",
    "async fn f(&mut self, x: u32) -> Result<(), E> { Ok(()) }",
    "async fn f(self: Box<Self>) -> Result<(), E> { Ok(()) }",
    "async fn f(mut self) -> Result<(), E> { Ok(()) }",
    "async fn f<'a, T: Clone>(x: &'a T, (a, b): (u8, u8), mut y: T) -> Result<&'a T, E> where T: Send { Ok(x) }",
    "async fn f(x: impl AsRef<str>) -> Result<impl Display, E> { Ok(1) }",
    "async unsafe fn f() -> Result<(), E> { Ok(()) }",
    "pub(crate) async fn r#type() -> Result<(), E> { Ok(()) }",
    "fn f() -> Result<(), E> { Ok(()) }",
    "const fn f() {}",
    "async fn f() -> Result<(), E>;",
    "struct S { a: u32 }",
    "const X: u32 = 1;",
    "impl S {}",
    "async fn f() -> Result<(), E> { return Err(e)?; }",
    "async fn f() -> Result<(), E> { #![allow(unused)] Ok(()) }",
    "async",
    "",
    "fn",
    "async fn f( -> {}",
];

fn item() -> impl Strategy<Value = String> {
    let attribute = (prop::sample::select(NAMES), args()).prop_map(|(n, a)| format!("#[{n}({a})]"));
    (
        prop::collection::vec(
            prop_oneof![
                attribute,
                Just("#[doc = \"docs\"]".to_owned()),
                Just("#[tracing::instrument]".to_owned()),
                Just("#[timeout = 5]".to_owned()),
                Just("#[retry]".to_owned()),
            ],
            0..3,
        ),
        prop::sample::select(SHAPES),
    )
        .prop_map(|(attrs, shape)| format!("{} {shape}", attrs.join(" ")))
}

/// The byte range a token stream covers, with nested groups.
fn extent(tokens: &TokenStream, range: &mut Option<Range<usize>>) {
    for tt in tokens.clone() {
        let r = tt.span().byte_range();
        *range = Some(match range.take() {
            Some(all) => all.start.min(r.start)..all.end.max(r.end),
            None => r,
        });
        if let TokenTree::Group(g) = tt {
            extent(&g.stream(), range);
        }
    }
}

/// The spans of every `compile_error` in the output.
fn error_spans(tokens: &TokenStream, out: &mut Vec<Range<usize>>) {
    for tt in tokens.clone() {
        match tt {
            TokenTree::Ident(i) if i == "compile_error" => out.push(i.span().byte_range()),
            TokenTree::Group(g) => error_spans(&g.stream(), out),
            _ => {}
        }
    }
}

fn check(kind: Kind, args: &str, item: &str) -> Result<(), TestCaseError> {
    // Inputs that do not even lex are rejected by rustc before any macro runs.
    let (Ok(args_ts), Ok(item_ts)) = (args.parse::<TokenStream>(), item.parse::<TokenStream>())
    else {
        return Ok(());
    };
    let mut inputs = None;
    extent(&args_ts, &mut inputs);
    let args_range = inputs.take();
    extent(&item_ts, &mut inputs);
    let item_range = inputs;
    let output = catch_unwind(AssertUnwindSafe(|| attribute(kind, args_ts, item_ts)));
    let output = output
        .map_err(|_| TestCaseError::fail(format!("panicked on #[{kind:?}({args})] {item}")))?;
    let mut spans = Vec::new();
    error_spans(&output, &mut spans);
    for span in spans {
        // `0..0` is `Span::call_site()`: the attribute itself.
        let inside = |r: &Option<Range<usize>>| {
            r.as_ref().is_some_and(|r| r.start <= span.start && span.end <= r.end)
        };
        prop_assert!(
            span == (0..0) || inside(&args_range) || inside(&item_range),
            "error span {span:?} outside the input ({args_range:?}, {item_range:?}) for #[{kind:?}({args})] {item}: {output}"
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn never_panics_and_errors_point_into_the_input(
        kind in prop::sample::select(Kind::NAMES).prop_map(|(kind, _)| kind),
        args in args(),
        item in item(),
    ) {
        check(kind, &args, &item)?;
    }
}

#[test]
fn the_check_sees_errors() {
    let output =
        attribute(Kind::Retry, "attempts = 0".parse().unwrap(), "async fn f() {}".parse().unwrap());
    let mut spans = Vec::new();
    error_spans(&output, &mut spans);
    assert!(!spans.is_empty());
}
