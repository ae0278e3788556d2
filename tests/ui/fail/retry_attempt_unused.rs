// `attempt = n` binds `n` with the span written: an unused one warns (here denied) there.
#![deny(unused_variables)]

use steadfast::retry;

#[retry(attempt = n)]
async fn unused() -> std::io::Result<()> {
    Ok(())
}

fn main() {}
