//! Public documents: the JWK Set and the OpenAPI description.

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use crate::state::AppState;

/// A public JWK, as published (RFC 7517; ML-DSA as `kty: "AKP"`).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // Schema only: the body is idseal_keys::JwkSet.
pub struct JwkSetDoc {
    /// The keys: RSA, EC P-256, OKP Ed25519 and AKP ML-DSA-65, active and in grace.
    keys: Vec<serde_json::Value>,
}

/// Every active signing key and every key in its grace period after rotation.
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "keys",
    responses((status = 200, body = JwkSetDoc, content_type = "application/jwk-set+json")))]
pub async fn jwks(State(st): State<AppState>) -> Response {
    let set = st.key_ring().jwks();
    (
        [
            (header::CONTENT_TYPE, "application/jwk-set+json"),
            (header::CACHE_CONTROL, "public, max-age=300"),
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
        ],
        Json(set),
    )
        .into_response()
}

/// This API's OpenAPI 3.1 description.
#[utoipa::path(get, path = "/openapi.json", tag = "operations",
    responses((status = 200, body = Object, description = "OpenAPI 3.1 document")))]
pub async fn openapi() -> Response {
    Json(crate::openapi::document()).into_response()
}
