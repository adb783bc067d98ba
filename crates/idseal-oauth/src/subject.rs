//! Subject identifiers: pairwise (OIDC Core §8.1) and the sector they are computed for.

use aws_lc_rs::hmac;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;

/// A pairwise subject identifier (OIDC Core §8.1):
/// `base64url(HMAC-SHA256(key, sector || 0x00 || internal_id))`, 43 characters.
///
/// The zero byte separates the sector from the id, so no two (sector, id) pairs share an input.
pub fn pairwise(key: &[u8; 32], sector: &str, internal_id: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, key);
    let mut ctx = hmac::Context::with_key(&key);
    ctx.update(sector.as_bytes());
    ctx.update(&[0]);
    ctx.update(internal_id.as_bytes());
    B64.encode(ctx.sign())
}

/// The sector identifier of a redirect URI: its host, lower-cased (OIDC Core §8.1).
/// `None` when the URI does not parse or has no host (custom schemes of native apps).
pub fn sector_of(redirect_uri: &str) -> Option<String> {
    let url = url::Url::parse(redirect_uri).ok()?;
    let host = url.host_str()?;
    if host.is_empty() { None } else { Some(host.to_ascii_lowercase()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairwise_is_stable_and_separated() {
        let k = [1; 32];
        let a = pairwise(&k, "rp.example", "user-1");
        assert_eq!(a.len(), 43);
        assert_eq!(a, pairwise(&k, "rp.example", "user-1"));
        assert_ne!(a, pairwise(&k, "other.example", "user-1"));
        assert_ne!(a, pairwise(&k, "rp.example", "user-2"));
        assert_ne!(a, pairwise(&[2; 32], "rp.example", "user-1"));
        // The separator keeps ("ab", "c") and ("a", "bc") apart.
        assert_ne!(pairwise(&k, "ab", "c"), pairwise(&k, "a", "bc"));
    }

    #[test]
    fn sectors() {
        assert_eq!(sector_of("https://RP.Example.com:8443/cb?x=1").as_deref(), Some("rp.example.com"));
        assert_eq!(sector_of("http://127.0.0.1:9000/cb").as_deref(), Some("127.0.0.1"));
        assert_eq!(sector_of("http://[::1]/cb").as_deref(), Some("[::1]"));
        assert_eq!(sector_of("com.example.app:/cb"), None);
        assert_eq!(sector_of("not a url"), None);
    }
}
