// Every attempt of a hedged call needs its own copy of an owned argument.
use steadfast::hedge;

struct Connection;

#[hedge(after = 50ms)]
async fn send(conn: Connection, payload: String) -> std::io::Result<()> {
    let _ = (conn, payload);
    Ok(())
}

fn main() {}
