// `rate` and `per` go together.
use steadfast::limit;

#[limit(rate = 100)]
async fn a() {}

#[limit(per = 1s)]
async fn b() {}

fn main() {}
