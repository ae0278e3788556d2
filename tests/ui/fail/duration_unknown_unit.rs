// Units are ns, us, ms, s, m and h.
use steadfast::timeout;

#[timeout(5sec)]
async fn a() -> std::io::Result<()> {
    Ok(())
}

#[timeout(2d)]
async fn b() -> std::io::Result<()> {
    Ok(())
}

fn main() {}
