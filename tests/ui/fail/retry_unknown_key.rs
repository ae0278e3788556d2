// Unknown arguments are reported with a hint when one is close.
use steadfast::retry;

#[retry(atempts = 3, max_dealy = 5s, colour = 1)]
async fn a() -> std::io::Result<()> {
    Ok(())
}

fn main() {}
