// A duration literal needs a unit.
use steadfast::timeout;

#[timeout(250)]
async fn a() -> std::io::Result<()> {
    Ok(())
}

#[timeout("250")]
async fn b() -> std::io::Result<()> {
    Ok(())
}

fn main() {}
