//! API errors: one JSON shape, `{error, error_description}`, and no internal detail.
//!
//! Internal failures are logged in full on the server with the request id and answered with a
//! bare `server_error` (the axum error-handling example's pattern).

use std::fmt;
use std::marker::PhantomData;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::de::value::MapAccessDeserializer;
use serde::de::{DeserializeOwned, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

/// The error body every endpoint answers with.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// A stable code (RFC 6749 style where one applies).
    pub error: &'static str,
    /// A human-readable explanation; never internal detail.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
}

/// Everything an endpoint can answer with instead of success.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// 400: the request is malformed.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// 401: missing or wrong credentials.
    #[error("unauthorized")]
    Unauthorized,
    /// 404: no such resource.
    #[error("not found")]
    NotFound,
    /// 405: wrong method.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// 413: body over the limit.
    #[error("payload too large")]
    PayloadTooLarge,
    /// 415: body is not JSON.
    #[error("unsupported media type")]
    UnsupportedMediaType,
    /// 429: rate limited or locked out.
    #[error("too many requests")]
    TooManyRequests {
        /// Seconds until a retry can succeed.
        retry_after: u64,
    },
    /// 503: a dependency is down; retry later.
    #[error("temporarily unavailable: {0}")]
    Unavailable(String),
    /// An OAuth 2.1 / OIDC protocol error: its RFC code at its RFC status.
    #[error("oauth: {0}")]
    OAuth(#[from] idseal_oauth::OAuthError),
    /// A refusal with its own status and stable code (passwordless login, admin API: 400, 401,
    /// 403, 404, 409, 422, 503 as the product docs give them). The description is sent: it
    /// must never carry internal detail or a secret.
    #[error("{error} ({status}): {description}")]
    Coded {
        /// HTTP status.
        status: u16,
        /// Stable snake_case code.
        error: &'static str,
        /// Human-readable explanation.
        description: String,
    },
    /// 500: a bug or an unexpected failure. The message is logged, never sent.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    /// Wrap any internal failure; its text stays in the logs.
    pub fn internal(e: impl fmt::Display) -> Self {
        Self::Internal(e.to_string())
    }

    /// A refusal at `status` with a stable `error` code and a description for the caller.
    pub fn coded(status: u16, error: &'static str, description: impl Into<String>) -> Self {
        Self::Coded { status, error, description: description.into() }
    }
}

fn body(status: StatusCode, error: &'static str, description: Option<String>) -> Response {
    (status, Json(ErrorBody { error, error_description: description })).into_response()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            Self::InvalidRequest(d) => body(StatusCode::BAD_REQUEST, "invalid_request", Some(d)),
            Self::Unauthorized => {
                let mut r =
                    body(StatusCode::UNAUTHORIZED, "invalid_token", Some("a valid bearer token is required".into()));
                r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
                r
            }
            Self::NotFound => body(StatusCode::NOT_FOUND, "not_found", None),
            Self::MethodNotAllowed => body(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", None),
            Self::PayloadTooLarge => {
                body(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", Some("the request body is too large".into()))
            }
            Self::UnsupportedMediaType => body(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                Some("expected Content-Type: application/json".into()),
            ),
            Self::TooManyRequests { retry_after } => {
                let mut r =
                    body(StatusCode::TOO_MANY_REQUESTS, "rate_limited", Some(format!("retry after {retry_after} s")));
                r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
                r
            }
            Self::Unavailable(what) => {
                tracing::warn!(%what, "service unavailable");
                body(StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable", None)
            }
            Self::OAuth(e) => oauth_error(&e),
            Self::Coded { status, error, description } => {
                let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
                let description: String = description.chars().filter(|c| !c.is_control()).take(300).collect();
                body(status, error, Some(description))
            }
            Self::Internal(what) => {
                tracing::error!(%what, "internal error");
                body(StatusCode::INTERNAL_SERVER_ERROR, "server_error", None)
            }
        }
    }
}

/// An OAuth error as RFC 6749 §5.2 / RFC 6750 §3 answer it: `{error, error_description}` at the
/// code's status, with the `WWW-Authenticate` challenge for 401 and 403.
fn oauth_error(e: &idseal_oauth::OAuthError) -> Response {
    use idseal_oauth::OAuthError as E;
    if let E::ServerError(what) = e {
        tracing::error!(%what, "internal error in an OAuth flow");
        return body(StatusCode::INTERNAL_SERVER_ERROR, "server_error", None);
    }
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST);
    let description: String = e.description().chars().filter(|c| *c != '"' && *c != '\\' && !c.is_control()).collect();
    let mut r = body(status, e.code(), Some(description.clone()));
    let challenge = match e {
        E::InvalidClient(_) => Some("Basic realm=\"idseal\"".to_owned()),
        E::InvalidToken(_) | E::InsufficientScope(_) => {
            Some(format!("Bearer error=\"{}\", error_description=\"{description}\"", e.code()))
        }
        _ => None,
    };
    if let Some(v) = challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
        r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    r
}

/// A JSON body extractor whose every rejection is an [`ApiError`]. The body must be a JSON
/// object (serde would otherwise also read a struct from an array of its field values). Types
/// it extracts should use `#[serde(deny_unknown_fields)]` where their schema is closed.
pub struct ApiJson<T>(pub T);

/// `T`, read only from a JSON object.
struct ObjectOnly<T>(T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for ObjectOnly<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Object<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for Object<T> {
            type Value = T;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(MapAccessDeserializer::new(map))
            }
        }
        d.deserialize_map(Object(PhantomData)).map(ObjectOnly)
    }
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<ObjectOnly<T>>::from_request(req, state).await {
            Ok(Json(ObjectOnly(v))) => Ok(Self(v)),
            Err(JsonRejection::MissingJsonContentType(_)) => Err(ApiError::UnsupportedMediaType),
            Err(JsonRejection::BytesRejection(r)) if r.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Err(ApiError::PayloadTooLarge)
            }
            Err(JsonRejection::JsonDataError(e)) => Err(ApiError::InvalidRequest(client_detail(&e.body_text()))),
            Err(JsonRejection::JsonSyntaxError(e)) => Err(ApiError::InvalidRequest(client_detail(&e.body_text()))),
            Err(e) => Err(ApiError::InvalidRequest(client_detail(&e.body_text()))),
        }
    }
}

/// The parser's message about the client's own input, shortened. It names fields and
/// positions in the request, never anything of the server.
fn client_detail(text: &str) -> String {
    let t: String = text.chars().filter(|c| !c.is_control()).take(200).collect();
    if t.is_empty() { "malformed JSON body".into() } else { t }
}

impl<T: Serialize> IntoResponse for ApiJson<T> {
    fn into_response(self) -> Response {
        Json(self.0).into_response()
    }
}
