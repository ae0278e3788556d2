// `0x10ms` would silently mean 16 ms: only decimal literals are accepted.
use steadfast::timeout;

#[timeout(0x10ms)]
async fn a() -> std::io::Result<()> {
    Ok(())
}

#[timeout(0b1s)]
async fn b() -> std::io::Result<()> {
    Ok(())
}

fn main() {}
