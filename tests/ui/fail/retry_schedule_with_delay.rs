// `schedule` lists every delay: `delay`, `backoff` and `factor` cannot go with it
// (`max_delay`, `jitter` and `attempts` can).
use steadfast::retry;

#[retry(schedule = [std::time::Duration::from_millis(10)], delay = 1s, backoff = linear, factor = 3, max_delay = 5s)]
async fn listed() -> std::io::Result<()> {
    Ok(())
}

fn main() {}
