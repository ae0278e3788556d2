// `policy` takes a `backoff` crate policy and needs the opt-in `backoff` feature.
use steadfast::retry;

#[retry(policy = make_policy())]
async fn a() -> std::io::Result<()> {
    Ok(())
}

fn make_policy() {}

fn main() {}
