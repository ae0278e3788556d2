// A shared limiter already defines its limits.
use steadfast::{Limiter, limit};

static DB: Limiter = Limiter::concurrency(10);

#[limit(using = DB, concurrency = 4)]
async fn a() {}

#[limit(using = DB, rate = 5, per = 1s)]
async fn b() {}

fn main() {}
