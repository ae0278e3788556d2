// `after` is a duration or a quantile `p50` … `p99`, `p999`.
use steadfast::hedge;

#[hedge(after = p100)]
async fn a() -> std::io::Result<()> {
    Ok(())
}

#[hedge(after = 50)]
async fn b() -> std::io::Result<()> {
    Ok(())
}

#[hedge(after = true)]
async fn c() -> std::io::Result<()> {
    Ok(())
}

#[hedge(after = "soon")]
async fn d() -> std::io::Result<()> {
    Ok(())
}

fn main() {}
