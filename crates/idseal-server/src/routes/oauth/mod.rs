//! The OAuth 2.1 / OpenID Connect provider's endpoints (docs/oauth.md).

pub mod authorize;
pub mod clients;
pub mod logout;
pub mod resource;
pub mod token;

use axum::Json;
use axum::extract::State;
use serde_json::Value;

use crate::state::AppState;

/// `GET /.well-known/openid-configuration` (OpenID Connect Discovery 1.0; the same document
/// serves RFC 8414 clients).
#[utoipa::path(
    get, path = "/.well-known/openid-configuration", tag = "oauth",
    responses((status = 200, description = "Provider metadata", body = Object))
)]
pub async fn discovery(State(st): State<AppState>) -> Json<Value> {
    let algs: Vec<&str> = st.settings.algorithms.iter().map(|a| a.as_str()).collect();
    Json(idseal_oauth::discovery::document(&idseal_oauth::discovery::DiscoveryInput {
        issuer: &st.settings.issuer,
        id_token_algs: &algs,
        registration: st.settings.config.oauth.dynamic_registration,
    }))
}
