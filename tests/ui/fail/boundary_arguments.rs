// Every bad argument is reported at once, each at its own token.
use steadfast::error_boundary;

#[error_boundary(context = 42, level = loud, catch_panic = true, contxt = "x")]
async fn a() -> std::io::Result<()> {
    Ok(())
}

#[error_boundary("one", context = "two")]
async fn b() -> std::io::Result<()> {
    Ok(())
}

fn main() {}
