// `key` says what the limits apply per; it needs limits, and a key that can be hashed.
use steadfast::limit;

#[derive(Clone, PartialEq, Eq)]
struct Session;

#[limit(key = user)]
async fn no_limit(user: u64) {
    let _ = user;
}

#[limit(concurrency = 2, key = session)]
async fn not_a_key(session: Session) {
    let _ = session;
}

fn main() {}
