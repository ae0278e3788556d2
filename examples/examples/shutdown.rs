//! `cargo run --example shutdown`: a job retrying every 200 ms stops at once on Ctrl-C
//! (or after 1 s, so that the example ends by itself).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use steadfast_examples::shutdown::run;
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt().with_target(false).init();
    let token = CancellationToken::new();
    let attempts = std::sync::Arc::new(AtomicUsize::new(0));
    let job = tokio::spawn({
        let (token, attempts) = (token.clone(), attempts.clone());
        async move { run(token, &attempts).await }
    });
    tokio::select! {
        _ = tokio::signal::ctrl_c() => println!("Ctrl-C: shutting down"),
        () = tokio::time::sleep(Duration::from_secs(1)) => println!("1 s passed: shutting down"),
    }
    token.cancel();
    let ended = job.await.expect("the job does not panic");
    let at_cancel = attempts.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(500)).await;
    println!(
        "job ended: {ended:?} after {at_cancel} attempts; 500 ms later still {} (no retry in the background)",
        attempts.load(Ordering::SeqCst)
    );
}
