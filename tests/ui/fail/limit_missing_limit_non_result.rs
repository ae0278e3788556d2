// `wait` alone limits nothing: that is the one error, and `wait`'s need for a
// `Result` is not mentioned on top of it.
use steadfast::limit;

#[limit(wait = 1s)]
async fn f() {}

fn main() {}
