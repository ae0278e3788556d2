// A bad argument is the one error reported: the missing `Result` is not mentioned
// until the arguments are right.
use steadfast::retry;

#[retry(attempts = 0)]
async fn f() {}

fn main() {}
