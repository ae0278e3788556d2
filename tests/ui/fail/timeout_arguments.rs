// `#[timeout]` takes exactly one duration.
use steadfast::timeout;

#[timeout]
async fn a() -> std::io::Result<()> {
    Ok(())
}

#[timeout(1s, 2s)]
async fn b() -> std::io::Result<()> {
    Ok(())
}

fn main() {}
