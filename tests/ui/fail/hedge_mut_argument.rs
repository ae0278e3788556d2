// The attempts of a hedged call run at the same time: they cannot share a `&mut`
// argument. Each one is reported, naming it.
use steadfast::hedge;

#[hedge(after = 50ms)]
async fn fill(key: &str, buf: &mut Vec<u8>, out: &mut String) -> std::io::Result<()> {
    buf.extend_from_slice(key.as_bytes());
    out.push_str(key);
    Ok(())
}

fn main() {}
