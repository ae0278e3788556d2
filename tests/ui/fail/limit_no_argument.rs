// `#[limit]` needs to know what to limit.
use steadfast::limit;

#[limit]
async fn a() {}

#[limit()]
async fn b() {}

fn main() {}
