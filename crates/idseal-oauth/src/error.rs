//! The error type of this crate: one variant per OAuth 2.x / OpenID Connect error code.

/// An OAuth 2.1 / OpenID Connect protocol error. Each variant carries a human-readable
/// description (RFC 6749 §5.2 `error_description`); [`OAuthError::code`] gives the RFC code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OAuthError {
    /// The request is missing a parameter, repeats one or is otherwise malformed (RFC 6749 §4.1.2.1, §5.2).
    #[error("invalid_request: {0}")]
    InvalidRequest(String),
    /// Client authentication failed (RFC 6749 §5.2).
    #[error("invalid_client: {0}")]
    InvalidClient(String),
    /// The grant (code, refresh token) is invalid, expired, revoked or was issued to another client (RFC 6749 §5.2).
    #[error("invalid_grant: {0}")]
    InvalidGrant(String),
    /// The client may not use this grant or response type (RFC 6749 §5.2).
    #[error("unauthorized_client: {0}")]
    UnauthorizedClient(String),
    /// The grant type is not supported (RFC 6749 §5.2).
    #[error("unsupported_grant_type: {0}")]
    UnsupportedGrantType(String),
    /// The requested scope is invalid, unknown or exceeds what the client may ask for (RFC 6749 §5.2).
    #[error("invalid_scope: {0}")]
    InvalidScope(String),
    /// The resource owner or the server denied the request (RFC 6749 §4.1.2.1).
    #[error("access_denied: {0}")]
    AccessDenied(String),
    /// The response type is not supported (RFC 6749 §4.1.2.1).
    #[error("unsupported_response_type: {0}")]
    UnsupportedResponseType(String),
    /// `prompt=none` was requested but the user is not signed in (OIDC Core §3.1.2.6).
    #[error("login_required: {0}")]
    LoginRequired(String),
    /// `prompt=none` was requested but consent is needed (OIDC Core §3.1.2.6).
    #[error("consent_required: {0}")]
    ConsentRequired(String),
    /// `prompt=none` was requested but some user interaction is needed (OIDC Core §3.1.2.6).
    #[error("interaction_required: {0}")]
    InteractionRequired(String),
    /// The access token (or other presented token) is invalid, expired or revoked (RFC 6750 §3.1).
    #[error("invalid_token: {0}")]
    InvalidToken(String),
    /// The access token lacks the scope the resource needs (RFC 6750 §3.1).
    #[error("insufficient_scope: {0}")]
    InsufficientScope(String),
    /// A redirect URI in client metadata is not acceptable (RFC 7591 §3.2.2).
    #[error("invalid_redirect_uri: {0}")]
    InvalidRedirectUri(String),
    /// Some other client metadata value is not acceptable (RFC 7591 §3.2.2).
    #[error("invalid_client_metadata: {0}")]
    InvalidClientMetadata(String),
    /// The server hit an unexpected condition (RFC 6749 §4.1.2.1).
    #[error("server_error: {0}")]
    ServerError(String),
}

impl OAuthError {
    /// The RFC error code (`error` parameter).
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidRequest(_) => "invalid_request",
            Self::InvalidClient(_) => "invalid_client",
            Self::InvalidGrant(_) => "invalid_grant",
            Self::UnauthorizedClient(_) => "unauthorized_client",
            Self::UnsupportedGrantType(_) => "unsupported_grant_type",
            Self::InvalidScope(_) => "invalid_scope",
            Self::AccessDenied(_) => "access_denied",
            Self::UnsupportedResponseType(_) => "unsupported_response_type",
            Self::LoginRequired(_) => "login_required",
            Self::ConsentRequired(_) => "consent_required",
            Self::InteractionRequired(_) => "interaction_required",
            Self::InvalidToken(_) => "invalid_token",
            Self::InsufficientScope(_) => "insufficient_scope",
            Self::InvalidRedirectUri(_) => "invalid_redirect_uri",
            Self::InvalidClientMetadata(_) => "invalid_client_metadata",
            Self::ServerError(_) => "server_error",
        }
    }

    /// The HTTP status this error is answered with (RFC 6749 §5.2, RFC 6750 §3.1).
    pub fn status(&self) -> u16 {
        match self {
            Self::InvalidClient(_) | Self::InvalidToken(_) => 401,
            Self::InsufficientScope(_) => 403,
            Self::ServerError(_) => 500,
            _ => 400,
        }
    }

    /// The human-readable description (`error_description`).
    pub fn description(&self) -> &str {
        match self {
            Self::InvalidRequest(d)
            | Self::InvalidClient(d)
            | Self::InvalidGrant(d)
            | Self::UnauthorizedClient(d)
            | Self::UnsupportedGrantType(d)
            | Self::InvalidScope(d)
            | Self::AccessDenied(d)
            | Self::UnsupportedResponseType(d)
            | Self::LoginRequired(d)
            | Self::ConsentRequired(d)
            | Self::InteractionRequired(d)
            | Self::InvalidToken(d)
            | Self::InsufficientScope(d)
            | Self::InvalidRedirectUri(d)
            | Self::InvalidClientMetadata(d)
            | Self::ServerError(d) => d,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_and_status() {
        let d = || "d".to_owned();
        let cases = [
            (OAuthError::InvalidRequest(d()), "invalid_request", 400),
            (OAuthError::InvalidClient(d()), "invalid_client", 401),
            (OAuthError::InvalidGrant(d()), "invalid_grant", 400),
            (OAuthError::UnauthorizedClient(d()), "unauthorized_client", 400),
            (OAuthError::UnsupportedGrantType(d()), "unsupported_grant_type", 400),
            (OAuthError::InvalidScope(d()), "invalid_scope", 400),
            (OAuthError::AccessDenied(d()), "access_denied", 400),
            (OAuthError::UnsupportedResponseType(d()), "unsupported_response_type", 400),
            (OAuthError::LoginRequired(d()), "login_required", 400),
            (OAuthError::ConsentRequired(d()), "consent_required", 400),
            (OAuthError::InteractionRequired(d()), "interaction_required", 400),
            (OAuthError::InvalidToken(d()), "invalid_token", 401),
            (OAuthError::InsufficientScope(d()), "insufficient_scope", 403),
            (OAuthError::InvalidRedirectUri(d()), "invalid_redirect_uri", 400),
            (OAuthError::InvalidClientMetadata(d()), "invalid_client_metadata", 400),
            (OAuthError::ServerError(d()), "server_error", 500),
        ];
        for (e, code, status) in cases {
            assert_eq!(e.code(), code);
            assert_eq!(e.status(), status, "{code}");
            assert_eq!(e.description(), "d");
            assert_eq!(e.to_string(), format!("{code}: d"));
        }
    }
}
