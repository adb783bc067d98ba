//! The one error type of the X.1280 core, with the HTTP status and stable code the server maps
//! it to. No message carries a secret (OTP, key, token or signature bytes).

/// Why an X.1280 step failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum X1280Error {
    /// A field is malformed (wrong shape, too long, duplicate entry). 400.
    #[error("malformed request: {0}")]
    BadRequest(String),
    /// The presented autoPassword does not match the session's. 401.
    #[error("invalid OTP")]
    InvalidOtp,
    /// The device signature does not verify under the enrolled key. 401.
    #[error("invalid signature")]
    InvalidSignature,
    /// The device timestamp is more than ±30 s away from the server's time. 401.
    #[error("device timestamp outside the accepted window")]
    TimestampSkew,
    /// The session has expired. 404.
    #[error("session expired")]
    Expired,
    /// The requested scopes exceed what the service may ask for (at initiate). 422.
    #[error("invalid scopes for service: {0}")]
    InvalidScopes(String),
    /// The device granted a scope the session did not request (at verify). 400.
    #[error("granted scope was not requested: {0}")]
    ScopesNotRequested(String),
    /// A scope name that is not an `identity:*` scope of ours. 400 (the server reports it as
    /// [`X1280Error::InvalidScopes`] at initiate).
    #[error("unknown scope: {0}")]
    UnknownScope(String),
    /// The device public key is not an acceptable P-256 key. 400.
    #[error("invalid public key: {0}")]
    BadPublicKey(String),
    /// The cryptographic library failed (key generation, signing). 500.
    #[error("cryptographic operation failed")]
    Crypto,
}

impl X1280Error {
    /// The HTTP status the server answers with.
    pub fn status(&self) -> u16 {
        match self {
            Self::BadRequest(_) | Self::ScopesNotRequested(_) | Self::UnknownScope(_) | Self::BadPublicKey(_) => 400,
            Self::InvalidOtp | Self::InvalidSignature | Self::TimestampSkew => 401,
            Self::Expired => 404,
            Self::InvalidScopes(_) => 422,
            Self::Crypto => 500,
        }
    }

    /// A stable snake_case code for the JSON `error` field and the audit log.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest(_) => "invalid_request",
            Self::InvalidOtp => "invalid_otp",
            Self::InvalidSignature => "invalid_signature",
            Self::TimestampSkew => "timestamp_skew",
            Self::Expired => "session_expired",
            Self::InvalidScopes(_) => "invalid_scopes",
            Self::ScopesNotRequested(_) => "scopes_not_requested",
            Self::UnknownScope(_) => "unknown_scope",
            Self::BadPublicKey(_) => "invalid_public_key",
            Self::Crypto => "internal_error",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_codes() {
        let cases = [
            (X1280Error::BadRequest("x".into()), 400, "invalid_request"),
            (X1280Error::InvalidOtp, 401, "invalid_otp"),
            (X1280Error::InvalidSignature, 401, "invalid_signature"),
            (X1280Error::TimestampSkew, 401, "timestamp_skew"),
            (X1280Error::Expired, 404, "session_expired"),
            (X1280Error::InvalidScopes("x".into()), 422, "invalid_scopes"),
            (X1280Error::ScopesNotRequested("x".into()), 400, "scopes_not_requested"),
            (X1280Error::UnknownScope("x".into()), 400, "unknown_scope"),
            (X1280Error::BadPublicKey("x".into()), 400, "invalid_public_key"),
            (X1280Error::Crypto, 500, "internal_error"),
        ];
        for (e, status, code) in cases {
            assert_eq!(e.status(), status, "{e:?}");
            assert_eq!(e.code(), code, "{e:?}");
        }
    }
}
