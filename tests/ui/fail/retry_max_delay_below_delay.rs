// `max_delay` shorter than the first delay is a contradiction.
use steadfast::retry;

#[retry(delay = 2s, max_delay = 500ms)]
async fn a() -> std::io::Result<()> {
    Ok(())
}

fn main() {}
