// A limit of zero would never run anything; a zero window means nothing.
use steadfast::limit;

#[limit(concurrency = 0)]
async fn a() {}

#[limit(rate = 0, per = 1s)]
async fn b() {}

#[limit(rate = 10, per = 0ms)]
async fn c() {}

fn main() {}
