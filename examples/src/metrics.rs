//! The core of `cargo run --example metrics`: steadfast's metrics (feature `metrics`)
//! exported for Prometheus while the tour's client calls the tour's service.
//!
//! `metrics-exporter-prometheus` is the recorder; its text is served at `/metrics` on
//! 127.0.0.1 (an ephemeral port) by a small axum server, so the exporter needs none of
//! its own HTTP features. [`scrape`] is the other side: one HTTP/1.0 GET over a tokio
//! `TcpStream`, as Prometheus would send it.

use std::net::SocketAddr;

use axum::Router;
use axum::routing::get;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The `/metrics` endpoint, serving until dropped.
pub struct Exporter {
    /// Where it listens.
    pub addr: SocketAddr,
    /// The recorder's handle: `render()` is the scrape's body.
    pub handle: PrometheusHandle,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Exporter {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Exporter {
    /// Installs the Prometheus recorder as the process's recorder (once per process),
    /// describes steadfast's metrics, and serves `/metrics` on 127.0.0.1 at a free port.
    pub async fn start() -> std::io::Result<Exporter> {
        let handle = PrometheusBuilder::new()
            .install_recorder()
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        steadfast::metrics::describe();
        let app = Router::new().route(
            "/metrics",
            get({
                let handle = handle.clone();
                move || std::future::ready(handle.render())
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Exporter { addr, handle, task })
    }

    /// `http://127.0.0.1:PORT/metrics`.
    pub fn url(&self) -> String {
        format!("http://{}/metrics", self.addr)
    }
}

/// GETs `/metrics` from `addr` and returns the body (the Prometheus text format).
pub async fn scrape(addr: SocketAddr) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(addr).await?;
    stream.write_all(b"GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n").await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    let (head, body) = response
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no end of headers"))?;
    if !head.starts_with("HTTP/1.0 200") && !head.starts_with("HTTP/1.1 200") {
        return Err(std::io::Error::other(format!("unexpected response: {head}")));
    }
    Ok(body.to_owned())
}

/// The lines of a scrape that are steadfast's series (no `# HELP`/`# TYPE` lines).
pub fn steadfast_series(scrape: &str) -> Vec<&str> {
    scrape.lines().filter(|line| line.starts_with("steadfast_")).collect()
}

/// The value of the series `series` (a whole `name{labels}` as rendered), if present.
pub fn value(scrape: &str, series: &str) -> Option<f64> {
    scrape.lines().find_map(|line| {
        let (name, value) = line.rsplit_once(' ')?;
        (name == series).then(|| value.parse().ok()).flatten()
    })
}
