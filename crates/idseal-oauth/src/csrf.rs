//! CSRF tokens for HTML forms: `base64url(HMAC-SHA256(k_csrf, "idseal-csrf\0" || binding))`,
//! where `binding` is the session id, or the pre-session cookie before sign-in.

use aws_lc_rs::hmac;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;

/// Domain separation for the MAC input.
const LABEL: &[u8] = b"idseal-csrf\0";

fn mac(key: &[u8; 32], binding: &str) -> hmac::Tag {
    let key = hmac::Key::new(hmac::HMAC_SHA256, key);
    let mut ctx = hmac::Context::with_key(&key);
    ctx.update(LABEL);
    ctx.update(binding.as_bytes());
    ctx.sign()
}

/// The CSRF token for `binding`.
pub fn token(key: &[u8; 32], binding: &str) -> String {
    B64.encode(mac(key, binding))
}

/// Whether `presented` is the CSRF token for `binding` (constant-time comparison).
pub fn check(key: &[u8; 32], binding: &str, presented: &str) -> bool {
    let Ok(tag) = B64.decode(presented) else {
        return false;
    };
    let key = hmac::Key::new(hmac::HMAC_SHA256, key);
    let mut msg = Vec::with_capacity(LABEL.len() + binding.len());
    msg.extend_from_slice(LABEL);
    msg.extend_from_slice(binding.as_bytes());
    hmac::verify(&key, &msg, &tag).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_and_check() {
        let k = [7; 32];
        let t = token(&k, "sid-1");
        assert_eq!(t.len(), 43);
        assert_eq!(t, token(&k, "sid-1"));
        assert!(check(&k, "sid-1", &t));
        assert!(!check(&k, "sid-2", &t));
        assert!(!check(&[8; 32], "sid-1", &t));
        assert!(!check(&k, "sid-1", ""));
        assert!(!check(&k, "sid-1", "!!!"));
        assert!(!check(&k, "sid-1", &t[..42]));
        assert!(!check(&k, "sid-1", &format!("{t}A")));
    }
}
