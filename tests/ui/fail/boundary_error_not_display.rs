// Errors are logged with `Display`.
use steadfast::error_boundary;

#[derive(Debug)]
struct Opaque;

#[error_boundary]
async fn job() -> Result<(), Opaque> {
    Ok(())
}

fn main() {}
