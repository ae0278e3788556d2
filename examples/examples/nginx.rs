//! `cargo run --example nginx`: 50 concurrent calls through `#[limit(rate = 10, per = 1s)]`
//! and through `#[limit(rate = 10, per = 1s, burst = 1)]`, against nginx's `limit_req`
//! (10r/s) without a burst and with `burst=10 nodelay`; how many get a 429.
//!
//! Needs Debian's `nginx-light` (`scripts/install-tools.sh` installs it);
//! `scripts/nginx-limit-req.sh` starts it on free ports, its files in a temporary
//! directory.

use steadfast_examples::nginx::{Nginx, Outcome, run};

fn row(form: &str, server: &str, outcome: Outcome) {
    println!(
        "{form:<42} {server:<28} {:>3} passed  {:>3} × 429  in {:.1?}",
        outcome.passed, outcome.too_many, outcome.elapsed
    );
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    if !Nginx::installed() {
        eprintln!("nginx is not installed: run scripts/install-tools.sh (Debian's nginx-light)");
        std::process::exit(2);
    }
    let report = run(50).await?;
    let (window, spaced) =
        ("#[limit(rate = 10, per = 1s)]", "#[limit(rate = 10, per = 1s, burst = 1)]");
    let (plain, burst) = ("limit_req rate=10r/s", "... burst=10 nodelay");
    println!("50 concurrent calls each:");
    row(window, plain, report.window_vs_no_burst);
    row(spaced, plain, report.spaced_vs_no_burst);
    row(window, burst, report.window_vs_burst);
    row(spaced, burst, report.spaced_vs_burst);
    Ok(())
}
