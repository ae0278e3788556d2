// `catch_panic` returns `Err(E::from(Panicked))`: `E` needs that conversion.
use steadfast::error_boundary;

#[derive(Debug)]
struct MyError;

impl std::fmt::Display for MyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("my error")
    }
}

#[error_boundary(catch_panic)]
async fn job() -> Result<(), MyError> {
    Ok(())
}

fn main() {}
