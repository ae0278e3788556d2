// `after` says when to hedge: there is no default.
use steadfast::hedge;

#[hedge]
async fn a() -> std::io::Result<()> {
    Ok(())
}

#[hedge(max = 3)]
async fn b() -> std::io::Result<()> {
    Ok(())
}

fn main() {}
