//! `GET /health` for load balancers, and `GET /metrics` for Prometheus.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::state::AppState;

/// One dependency's status.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Check {
    /// `ok` or `down`.
    pub status: &'static str,
    /// What is wrong, in operator terms (no secrets).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// The health report.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Health {
    /// `ok` when every check is ok, else `down`.
    pub status: &'static str,
    /// Per dependency: `database`, `keys`.
    pub checks: BTreeMap<&'static str, Check>,
}

fn ok() -> Check {
    Check { status: "ok", detail: None }
}

fn down(detail: impl Into<String>) -> Check {
    Check { status: "down", detail: Some(detail.into()) }
}

/// Health of the server and its dependencies; 503 when one is down.
#[utoipa::path(get, path = "/health", tag = "operations",
    responses((status = 200, body = Health, description = "Everything is up"),
              (status = 503, body = Health, description = "A dependency is down")))]
pub async fn health(State(st): State<AppState>) -> Response {
    let mut checks = BTreeMap::new();
    let db = tokio::time::timeout(std::time::Duration::from_secs(2), st.store.ping()).await;
    checks.insert(
        "database",
        match db {
            Ok(Ok(())) => ok(),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "health: database down");
                down("database unreachable")
            }
            Err(_) => down("database timed out"),
        },
    );
    let ring = st.key_ring();
    let missing: Vec<&str> =
        st.settings.algorithms.iter().filter(|a| ring.signer(**a).is_err()).map(|a| a.as_str()).collect();
    checks.insert(
        "keys",
        if missing.is_empty() { ok() } else { down(format!("no active key for {}", missing.join(", "))) },
    );
    let all_ok = checks.values().all(|c| c.status == "ok");
    let status = if all_ok { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(Health { status: if all_ok { "ok" } else { "down" }, checks })).into_response()
}

/// Prometheus metrics in the OpenMetrics text format.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, content_type = "application/openmetrics-text", body = String)))]
pub async fn metrics(State(st): State<AppState>) -> Response {
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], st.metrics.render())
        .into_response()
}
