//! Proof Key for Code Exchange (RFC 7636), S256 only (OAuth 2.1 §4.1.1).

use aws_lc_rs::constant_time::verify_slices_are_equal;
use aws_lc_rs::digest::{SHA256, digest};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;

use crate::error::OAuthError;

/// Length of an S256 challenge: base64url without padding of 32 bytes.
const CHALLENGE_LEN: usize = 43;

/// Check the `code_challenge` and `code_challenge_method` of an authorization request
/// (RFC 7636 §4.3) and return the challenge to store with the code.
///
/// # Errors
///
/// [`OAuthError::InvalidRequest`] when the challenge or method is missing, the method is not
/// `S256` (`plain` is refused, OAuth 2.1 §4.1.1), or the challenge is not 43 base64url characters.
pub fn validate_challenge(challenge: Option<&str>, method: Option<&str>) -> Result<String, OAuthError> {
    let challenge = challenge.ok_or_else(|| invalid("code_challenge is required (PKCE S256)"))?;
    match method {
        None => return Err(invalid("code_challenge_method is required and must be S256")),
        Some("S256") => {}
        Some("plain") => return Err(invalid("code_challenge_method plain is not allowed; use S256")),
        Some(_) => return Err(invalid("code_challenge_method must be S256")),
    }
    if challenge.len() != CHALLENGE_LEN || !challenge.bytes().all(is_base64url) {
        return Err(invalid("code_challenge must be 43 base64url characters (S256)"));
    }
    Ok(challenge.to_owned())
}

/// Check a `code_verifier` against the stored S256 challenge (RFC 7636 §4.6).
///
/// # Errors
///
/// [`OAuthError::InvalidRequest`] when the verifier is not 43 to 128 unreserved characters
/// (RFC 7636 §4.1); [`OAuthError::InvalidGrant`] when it does not match the challenge.
pub fn verify(verifier: &str, challenge: &str) -> Result<(), OAuthError> {
    if !(43..=128).contains(&verifier.len()) || !verifier.bytes().all(is_unreserved) {
        return Err(invalid("code_verifier must be 43 to 128 characters of [A-Za-z0-9-._~]"));
    }
    let computed = B64.encode(digest(&SHA256, verifier.as_bytes()));
    verify_slices_are_equal(computed.as_bytes(), challenge.as_bytes())
        .map_err(|_| OAuthError::InvalidGrant("code_verifier does not match code_challenge".into()))
}

fn invalid(msg: &str) -> OAuthError {
    OAuthError::InvalidRequest(msg.into())
}

fn is_base64url(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

#[cfg(test)]
mod tests {
    use super::*;

    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn rfc7636_appendix_b() {
        assert_eq!(validate_challenge(Some(CHALLENGE), Some("S256")).unwrap(), CHALLENGE);
        verify(VERIFIER, CHALLENGE).unwrap();
    }

    #[test]
    fn challenge_errors() {
        let cases = [
            (None, Some("S256")),
            (Some(CHALLENGE), None),
            (Some(CHALLENGE), Some("plain")),
            (Some(CHALLENGE), Some("s256")),
            (Some("short"), Some("S256")),
            (Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw+cM"), Some("S256")),
            (Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM="), Some("S256")),
        ];
        for (c, m) in cases {
            assert!(matches!(validate_challenge(c, m), Err(OAuthError::InvalidRequest(_))), "{c:?} {m:?}");
        }
        let plain = validate_challenge(Some(CHALLENGE), Some("plain")).unwrap_err();
        assert!(plain.description().contains("plain"));
    }

    #[test]
    fn verifier_errors() {
        let short = &VERIFIER[..42];
        let long = "a".repeat(129);
        let bad_char = format!("{}+", &VERIFIER[..42]);
        let non_ascii = format!("{}é", VERIFIER);
        for v in [short, long.as_str(), bad_char.as_str(), non_ascii.as_str(), ""] {
            assert!(matches!(verify(v, CHALLENGE), Err(OAuthError::InvalidRequest(_))), "{v}");
        }
        let other = "a".repeat(43);
        assert!(matches!(verify(&other, CHALLENGE), Err(OAuthError::InvalidGrant(_))));
        assert!(matches!(verify(VERIFIER, "x"), Err(OAuthError::InvalidGrant(_))));
        verify(&"~".repeat(128), &B64.encode(digest(&SHA256, "~".repeat(128).as_bytes()))).unwrap();
    }
}
