// A missing argument is the one error reported: nothing about the return type, and
// nothing that names another attribute.
use steadfast::timeout;

#[timeout]
async fn f() {}

fn main() {}
