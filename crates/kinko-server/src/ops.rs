//! What operators and their tools ask the server: `/health` (the process answers), `/ready` (it
//! can serve: its store takes writes), `/metrics` (Prometheus), on the main listener or, with
//! `--metrics-listen ADDR`, on a listener of their own. None of them needs or checks credentials,
//! and none of them says anything about a secret, an account or a caller.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::App;
use crate::http::{health, ready};
use crate::listener::{ConnectionLimits, Plain};
use crate::metrics::{OPENMETRICS_TEXT, PROMETHEUS_TEXT};
use crate::tls::Tls;

/// Every metric, in the OpenMetrics text format when the scraper asks for it, else in
/// Prometheus's text format.
pub(crate) async fn metrics(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let openmetrics = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("application/openmetrics-text"));
    let (body, content_type) = if openmetrics {
        (app.metrics.encode_openmetrics(), OPENMETRICS_TEXT)
    } else {
        (app.metrics.encode(), PROMETHEUS_TEXT)
    };
    let mut resp = (StatusCode::OK, body).into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}

/// Where `/metrics` is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MetricsListen {
    /// On the main listener, beside the AWS APIs.
    #[default]
    Main,
    /// On a listener of its own (with `/health` and `/ready`), not on the main one.
    Addr(SocketAddr),
    /// Nowhere.
    Off,
}

impl std::str::FromStr for MetricsListen {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "main" => Ok(MetricsListen::Main),
            "off" => Ok(MetricsListen::Off),
            addr => addr
                .parse()
                .map(MetricsListen::Addr)
                .map_err(|_| format!("`{s}` is not `main`, `off` or an address such as 127.0.0.1:9780")),
        }
    }
}

impl std::fmt::Display for MetricsListen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MetricsListen::Main => f.write_str("main"),
            MetricsListen::Off => f.write_str("off"),
            MetricsListen::Addr(a) => write!(f, "{a}"),
        }
    }
}

/// The listener of `--metrics-listen ADDR`: `/metrics`, `/health` and `/ready`.
pub(crate) struct OpsListener {
    pub addr: SocketAddr,
    pub task: JoinHandle<std::io::Result<()>>,
}

impl OpsListener {
    pub async fn start(
        addr: SocketAddr,
        app: Arc<App>,
        limits: ConnectionLimits,
        tls: Option<Tls>,
        stop: watch::Receiver<bool>,
    ) -> std::io::Result<OpsListener> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let router = Router::new()
            .route("/metrics", get(metrics))
            .route("/health", get(health))
            .route("/ready", get(ready))
            .with_state(app);
        // With TLS configured, this listener serves HTTPS with the same certificate.
        let task = match tls {
            Some(tls) => tokio::spawn(crate::listener::serve(listener, tls, router, limits, stop)),
            None => tokio::spawn(crate::listener::serve(listener, Plain, router, limits, stop)),
        };
        Ok(OpsListener { addr, task })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_listen_reads_main_off_or_an_address() {
        assert_eq!("main".parse(), Ok(MetricsListen::Main));
        assert_eq!("off".parse(), Ok(MetricsListen::Off));
        assert_eq!(
            "127.0.0.1:9780".parse(),
            Ok(MetricsListen::Addr(SocketAddr::from(([127, 0, 0, 1], 9780))))
        );
        let e = "9780".parse::<MetricsListen>().unwrap_err();
        assert!(e.contains("not `main`, `off` or an address"), "{e}");
        for s in ["main", "off", "[::1]:9780"] {
            assert_eq!(
                s.parse::<MetricsListen>().map(|m| m.to_string()),
                Ok(s.to_owned())
            );
        }
    }
}
