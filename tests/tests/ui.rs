//! trybuild cases: `ui/pass` compile, `ui/fail` fail with the `.stderr` shown.
//! Regenerate the expected output with `TRYBUILD=overwrite cargo test -p steadfast-tests --test ui`.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("ui/pass/*.rs");
    t.compile_fail("ui/fail/*.rs");
}
