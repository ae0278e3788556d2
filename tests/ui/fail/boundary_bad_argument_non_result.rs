// A bad argument is the one error reported, also where the function does not
// return a `Result`: the item is emitted unchanged, so its body type-checks as
// written.
use steadfast::error_boundary;

#[error_boundary(level = loud)]
async fn f() -> u32 {
    1
}

fn main() {}
