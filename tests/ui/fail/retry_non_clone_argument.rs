// Every attempt needs its own copy of an owned argument.
use steadfast::retry;

struct Connection;

#[retry(attempts = 3)]
async fn send(conn: Connection, payload: String) -> std::io::Result<()> {
    let _ = (conn, payload);
    Ok(())
}

fn main() {}
