// `max` counts the first attempt: with 1 there is nothing to race. More than 5 is
// refused too.
use steadfast::hedge;

#[hedge(after = 50ms, max = 1)]
async fn a() -> std::io::Result<()> {
    Ok(())
}

#[hedge(after = 50ms, max = 8)]
async fn b() -> std::io::Result<()> {
    Ok(())
}

fn main() {}
