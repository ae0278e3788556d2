// Only functions can carry the attributes.
use steadfast::error_boundary;

#[error_boundary]
struct Config {
    retries: u32,
}

fn main() {}
