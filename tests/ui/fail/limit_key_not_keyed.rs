// `key` with `using` needs a keyed limiter: a `Limiter` has one set of limits for all.
use steadfast::{KeyedLimiter, Limiter, limit};

static DB: Limiter = Limiter::concurrency(10);
static PER_USER: KeyedLimiter<u64> = KeyedLimiter::concurrency(2);

#[limit(using = DB, key = user)]
async fn shared_by_all(user: u64) {
    let _ = user;
}

// A keyed limiter for another key type is not one for this key.
#[limit(using = PER_USER, key = name)]
async fn other_key_type(name: String) {
    let _ = name;
}

fn main() {}
