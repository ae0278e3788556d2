// The new arguments of `#[retry]`, misspelt: each error is at its value, all at once.
use steadfast::retry;

#[retry(level = loud, attempt = self.n, backoff = golden, max_retry_after = 5, on_retry = |e, info, extra| ())]
async fn misspelt() -> std::io::Result<()> {
    Ok(())
}

fn main() {}
