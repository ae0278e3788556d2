// Every accepted form of `#[timeout]` and `#[error_boundary]`.
use std::time::Duration;

use steadfast::{error_boundary, timeout};

const LIMIT: Duration = Duration::from_secs(3);

#[timeout(250ms)]
async fn a() -> std::io::Result<()> { Ok(()) }
#[timeout(1.5s)]
async fn b() -> std::io::Result<()> { Ok(()) }
#[timeout(2m)]
async fn c() -> std::io::Result<()> { Ok(()) }
#[timeout(1h)]
async fn d() -> std::io::Result<()> { Ok(()) }
#[timeout(500us)]
async fn e() -> std::io::Result<()> { Ok(()) }
#[timeout(10ns)]
async fn f() -> std::io::Result<()> { Ok(()) }
#[timeout("250ms")]
async fn g() -> std::io::Result<()> { Ok(()) }
#[timeout(LIMIT)]
async fn h() -> std::io::Result<()> { Ok(()) }
#[timeout(Duration::from_millis(5))]
async fn i() -> std::io::Result<()> { Ok(()) }
#[steadfast::timeout(1s)]
async fn j() -> std::io::Result<()> { Ok(()) }

#[error_boundary]
async fn k() -> std::io::Result<()> { Ok(()) }
#[error_boundary("context")]
async fn l() -> std::io::Result<()> { Ok(()) }
#[error_boundary("context", level = info)]
async fn m() -> std::io::Result<()> { Ok(()) }
#[error_boundary(context = "c", level = debug, catch_panic)]
async fn n() -> anyhow::Result<()> { Ok(()) }
#[error_boundary(level = trace)]
async fn o() -> Result<(), Box<dyn std::error::Error + Send + Sync>> { Ok(()) }

// A private alias of `Result` works like any other.
type Res<T> = Result<T, std::io::Error>;
#[error_boundary]
#[timeout(1s)]
async fn p() -> Res<()> { Ok(()) }

fn main() {
    let _ = (a(), b(), c(), d(), e(), f(), g(), h(), i(), j(), k(), l(), m(), n(), o(), p());
}
