// `#[tokio::test]` above a steadfast attribute expands first and makes the function
// a plain `fn`; written below, it works.
use steadfast::timeout;

#[tokio::test]
#[timeout(1s)]
async fn slow() -> std::io::Result<()> {
    Ok(())
}

fn main() {}
