// `policy` replaces the schedule arguments; only `when` and `retry_after` go with it.
use steadfast::retry;

#[retry(policy = make_policy(), attempts = 3, delay = 1s)]
async fn a() -> std::io::Result<()> {
    Ok(())
}

fn make_policy() {}

fn main() {}
