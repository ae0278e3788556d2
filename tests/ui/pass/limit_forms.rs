// Every accepted form of `#[limit]`.
use std::sync::Arc;

use steadfast::{Limiter, limit};

const MAX: usize = 8;
static DB: Limiter = Limiter::concurrency(10).and_rate(100, std::time::Duration::from_secs(1));

#[limit(concurrency = 8)]
async fn a() {}
#[limit(concurrency = MAX)]
async fn b() -> u32 { 1 }
#[limit(rate = 100, per = 1s)]
async fn c() {}
#[limit(concurrency = 8, rate = 100, per = 1s, wait = 250ms)]
async fn d() -> anyhow::Result<()> { Ok(()) }
#[limit(using = DB)]
async fn e() {}
#[limit(using = DB, wait = 0ms)]
async fn f() -> Result<(), steadfast::Rejected> { Ok(()) }

struct Service {
    limiter: Limiter,
    shared: Arc<Limiter>,
}

impl Service {
    #[limit(using = self.limiter)]
    async fn g(&self) {}
    #[limit(using = self.shared, wait = 1s)]
    async fn h(&self) -> anyhow::Result<()> { Ok(()) }
}

fn main() {
    let s = Service { limiter: Limiter::concurrency(1), shared: Arc::new(Limiter::concurrency(2)) };
    let _ = (a(), b(), c(), d(), e(), f(), s.g(), s.h());
}
