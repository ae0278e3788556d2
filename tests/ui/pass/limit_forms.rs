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

// `burst` and `key`.
static PER_USER: steadfast::KeyedLimiter<u64> = steadfast::KeyedLimiter::rate(10, std::time::Duration::from_secs(1));
const BURST: u32 = 2;

#[limit(rate = 10, per = 1s, burst = 1)]
async fn spaced() {}
#[limit(concurrency = 2, rate = 10, per = 1s, burst = BURST, wait = 1s)]
async fn spaced_bounded() -> anyhow::Result<()> { Ok(()) }
#[limit(concurrency = 2, key = user)]
async fn per_user(user: u64) -> u64 { user }
#[limit(rate = 10, per = 1s, burst = 1, key = request.tenant, wait = 0ms)]
async fn per_tenant(request: Request) -> Result<String, steadfast::Rejected> { Ok(request.tenant) }
#[limit(using = PER_USER, key = user)]
async fn shared_per_user(user: u64) {}
#[limit(using = PER_USER, key = ids[0], wait = 10ms)]
async fn first_id(ids: Vec<u64>) -> anyhow::Result<Vec<u64>> { Ok(ids) }
#[limit(concurrency = 1, key = format!("{a}:{b}"))]
async fn computed(a: &str, b: &str) -> usize { a.len() + b.len() }

struct Request {
    tenant: String,
}

struct Tenant {
    id: u64,
    limits: std::sync::Arc<steadfast::KeyedLimiter<u64>>,
}

impl Tenant {
    #[limit(using = self.limits, key = self.id)]
    async fn call(&self) -> u64 { self.id }
    #[limit(concurrency = 1, key = self.id)]
    async fn consume(self) -> u64 { self.id }
}

fn _keyed() {
    let t = Tenant { id: 1, limits: std::sync::Arc::new(steadfast::KeyedLimiter::concurrency(1)) };
    let _ = (spaced(), spaced_bounded(), per_user(1), per_tenant(Request { tenant: String::new() }));
    let _ = (shared_per_user(1), first_id(vec![1]), computed("a", "b"), t.call());
    let _ = t.consume();
}
