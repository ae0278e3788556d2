// The attributes wrap a future: the function must be `async`.
use steadfast::timeout;

#[timeout(1s)]
fn blocking() -> Result<(), std::io::Error> {
    Ok(())
}

fn main() {}
