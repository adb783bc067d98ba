//! The trust lists this server publishes (`trust.publish_dir`, written by `idseal trust
//! publish`), at stable URLs with validators for conditional requests.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::state::AppState;

/// Largest list served.
const MAX_BYTES: u64 = 10 * 1024 * 1024;

/// `GET /trust/{file}`: a signed list from the publish directory (`*.xml`, no path
/// separators). `ETag` is the SHA-256 of the file; `If-None-Match` gives 304.
#[utoipa::path(
    get, path = "/trust/{file}", tag = "trust",
    params(("file" = String, Path, description = "List file name, e.g. governance.xml")),
    responses(
        (status = 200, description = "The signed list", content_type = "application/xml"),
        (status = 304, description = "Not modified"),
        (status = 404, description = "No such list, or nothing published", body = crate::error::ErrorBody),
    )
)]
pub async fn published_list(
    State(st): State<AppState>,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Some(dir) = &st.settings.config.trust.publish_dir else { return Err(ApiError::NotFound) };
    let name_ok = file.len() <= 128
        && file.ends_with(".xml")
        && !file.starts_with('.')
        && file.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if !name_ok {
        return Err(ApiError::NotFound);
    }
    let path = dir.join(&file);
    match tokio::fs::symlink_metadata(&path).await {
        Ok(m) if m.is_file() && m.len() <= MAX_BYTES => {}
        _ => return Err(ApiError::NotFound),
    }
    let body = tokio::fs::read(&path).await.map_err(|_| ApiError::NotFound)?;
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &body);
    let etag: String = format!("\"{}\"", digest.as_ref().iter().map(|b| format!("{b:02x}")).collect::<String>());
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let etag_value = HeaderValue::from_str(&etag).map_err(ApiError::internal)?;
    let mut r = if matches { StatusCode::NOT_MODIFIED.into_response() } else { (StatusCode::OK, body).into_response() };
    let h = r.headers_mut();
    h.insert(header::ETAG, etag_value);
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    if !matches {
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/xml"));
    }
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    Ok(r)
}
