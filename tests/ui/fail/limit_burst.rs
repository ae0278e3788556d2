// `burst` spaces the starts of a rate: it needs one, at least 1 start at once, and at
// most the rate's starts; a shared limiter has its own.
use steadfast::{Limiter, limit};

static DB: Limiter = Limiter::rate(10, std::time::Duration::from_secs(1));

#[limit(concurrency = 4, burst = 1)]
async fn without_rate() {}

#[limit(burst = 1)]
async fn nothing_but_burst() {}

#[limit(rate = 10, per = 1s, burst = 20)]
async fn above_rate() {}

#[limit(rate = 10, per = 1s, burst = 0)]
async fn zero() {}

#[limit(using = DB, burst = 1)]
async fn shared() {}

fn main() {}
