// Inner attributes at the top of a body stay in force under every attribute and
// any stack: the expansion puts them at the top of the new body. With the lints
// denied here, a dropped `#![allow(..)]` would fail to compile.
#![deny(unused_variables, unused_mut)]

use steadfast::{Rejected, TimedOut, error_boundary, limit, retry, timeout};

#[derive(Debug)]
struct E;
impl std::fmt::Display for E {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("e")
    }
}
impl From<TimedOut> for E {
    fn from(_: TimedOut) -> Self {
        E
    }
}
impl From<Rejected> for E {
    fn from(_: Rejected) -> Self {
        E
    }
}

#[retry(attempts = 2)]
async fn retried(x: u32) -> Result<u32, E> {
    #![allow(unused_variables)]
    let unused = 5;
    Ok(x + 1)
}

#[timeout(1s)]
async fn timed(x: u32) -> Result<u32, E> {
    #![allow(unused_variables)]
    let unused = 5;
    Ok(x + 1)
}

#[error_boundary]
async fn bounded(x: u32) -> Result<u32, E> {
    #![allow(unused_variables)]
    let unused = 5;
    Ok(x + 1)
}

#[limit(concurrency = 2)]
async fn limited(x: u32) -> Result<u32, E> {
    #![allow(unused_variables)]
    let unused = 5;
    Ok(x + 1)
}

#[error_boundary("everything")]
#[retry(attempts = 2)]
#[timeout(1s)]
#[limit(concurrency = 2, wait = 1s)]
async fn stacked(x: u32) -> Result<u32, E> {
    #![allow(unused_variables)]
    #![allow(unused_mut)]
    let unused = 5;
    let mut unchanged = x;
    Ok(unchanged)
}

fn main() {
    let _ = (retried(1), timed(1), bounded(1), limited(1), stacked(1));
}
