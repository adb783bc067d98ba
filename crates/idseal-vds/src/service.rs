//! The service payload (manifest `0x0A0002`): a relying service's own seal, shown to the holder's
//! phone so that the phone can tell who asks (product spec §4.9, docs/vds.md "Service seals").
//!
//! The content rules of its fields are manifest formats (`serviceid`, `label`, `origin`,
//! `scopes`), so the generic payload decoder already refuses a bad value; [`Service`] is the
//! typed view.

use idseal_types::UnixTime;

use crate::error::VdsError;
use crate::manifest::Manifest;
use crate::payload::{Fields, Value, bad_value, decode_fields, encode_fields, take_str, take_uint};

/// The prefix every scope of a service seal carries.
pub const SCOPE_PREFIX: &str = "identity:";

/// Whether `c` could make a displayed name read differently from its bytes: control
/// characters, bidirectional marks, embeddings, overrides and isolates, and invisible format
/// characters (zero-width spaces and joiners, word joiner, BOM). The same set as OAuth client
/// names (idseal-oauth).
fn is_hidden(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}' | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{206f}' | '\u{feff}'
        )
}

/// `serviceid`: `a-z`, `0-9`, `.`, `_`, `-` (the length is the manifest's).
pub(crate) fn check_service_id(key: &str, s: &str) -> Result<(), VdsError> {
    if s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')) {
        Ok(())
    } else {
        Err(bad_value(key, "not a-z 0-9 . _ -"))
    }
}

/// `label`: no hidden characters (see [`is_hidden`]), no leading or trailing white space.
pub(crate) fn check_label(key: &str, s: &str) -> Result<(), VdsError> {
    if s.chars().any(is_hidden) {
        return Err(bad_value(key, "control, bidirectional or invisible format character"));
    }
    if s.starts_with(char::is_whitespace) || s.ends_with(char::is_whitespace) {
        return Err(bad_value(key, "leading or trailing white space"));
    }
    Ok(())
}

/// A DNS host name in lowercase ASCII: labels of 1 to 63 `a-z0-9-` not starting or ending with
/// `-`, 253 characters at most, no trailing dot.
fn is_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

/// `origin`: `https://host[:port]`, or `http://localhost[:port]` and `http://127.0.0.1[:port]`
/// for development; canonical (lowercase, the scheme's default port omitted), without path
/// (not even `/`), query, fragment or userinfo.
pub(crate) fn check_origin(key: &str, s: &str) -> Result<(), VdsError> {
    let (rest, default_port, loopback_only) = if let Some(rest) = s.strip_prefix("https://") {
        (rest, 443, false)
    } else if let Some(rest) = s.strip_prefix("http://") {
        (rest, 80, true)
    } else {
        return Err(bad_value(key, "not an https:// origin (http:// only for localhost)"));
    };
    if rest.contains(['/', '?', '#', '\\']) {
        return Err(bad_value(key, "an origin has no path, query or fragment"));
    }
    if rest.contains('@') {
        return Err(bad_value(key, "an origin has no userinfo"));
    }
    let (host, port) = match rest.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (rest, None),
    };
    if let Some(port) = port {
        let digits = !port.is_empty() && port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit());
        let value = port.parse::<u16>().ok().filter(|p| digits && *p != 0 && !port.starts_with('0'));
        match value {
            None => return Err(bad_value(key, "the port is not 1-65535 in decimal")),
            Some(p) if p == default_port => return Err(bad_value(key, "the default port is not written")),
            Some(_) => {}
        }
    }
    if loopback_only {
        if host != "localhost" && host != "127.0.0.1" {
            return Err(bad_value(key, "http:// is only for localhost and 127.0.0.1"));
        }
    } else if !is_host(host) {
        return Err(bad_value(key, "the host is not a lowercase DNS name"));
    }
    Ok(())
}

/// Whether `scope` is one `identity:[a-z0-9_]+` scope.
pub fn is_scope(scope: &str) -> bool {
    scope.strip_prefix(SCOPE_PREFIX).is_some_and(|name| {
        !name.is_empty() && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    })
}

/// `scopes`: scopes separated by single spaces, each [`is_scope`], no duplicates, at least one.
pub(crate) fn check_scopes(key: &str, s: &str) -> Result<(), VdsError> {
    let mut seen: Vec<&str> = Vec::new();
    for scope in s.split(' ') {
        if !is_scope(scope) {
            return Err(bad_value(key, "not identity:[a-z0-9_]+ scopes separated by single spaces"));
        }
        if seen.contains(&scope) {
            return Err(bad_value(key, "duplicate scope"));
        }
        seen.push(scope);
    }
    Ok(())
}

/// The service payload (manifest `0x0A0002`). Nothing in it is personal data, so `Debug` shows
/// every field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Service {
    /// `sid`: the service id, 1 to 64 characters `a-z0-9._-`.
    pub service_id: String,
    /// `name`: the display name, 1 to 64 characters, no control or bidirectional characters.
    pub name: String,
    /// `url`: the service's web origin (`https://host[:port]`, or loopback `http://`).
    pub url: String,
    /// `scp`: the scopes the service may request (its scope ceiling), each `identity:…`.
    pub scopes: Vec<String>,
    /// `exp`: expiry, Unix seconds.
    pub expires_at: UnixTime,
}

impl Service {
    /// The map entries in manifest order (scopes joined by single spaces).
    pub fn to_fields(&self) -> Fields {
        let exp = u64::try_from(self.expires_at.as_secs()).unwrap_or(u64::MAX);
        vec![
            ("sid".into(), Value::Str(self.service_id.clone())),
            ("name".into(), Value::Str(self.name.clone())),
            ("url".into(), Value::Str(self.url.clone())),
            ("scp".into(), Value::Str(self.scopes.join(" "))),
            ("exp".into(), Value::Uint(exp)),
        ]
    }

    /// The service from checked entries (see [`decode_fields`]).
    pub fn from_fields(mut fields: Fields) -> Result<Self, VdsError> {
        let exp = take_uint(&mut fields, "exp")?;
        let service = Self {
            service_id: take_str(&mut fields, "sid")?,
            name: take_str(&mut fields, "name")?,
            url: take_str(&mut fields, "url")?,
            scopes: take_str(&mut fields, "scp")?.split(' ').map(str::to_owned).collect(),
            expires_at: UnixTime::from_secs(
                i64::try_from(exp).map_err(|_| VdsError::TimeOutOfRange { what: "expiry" })?,
            ),
        };
        if let Some((key, _)) = fields.into_iter().next() {
            return Err(VdsError::UnknownKey { key });
        }
        Ok(service)
    }

    /// The canonical payload bytes under the service manifest. Each scope is checked on its
    /// own first, so that `["identity:a identity:b"]` cannot pass as two scopes.
    pub fn encode(&self) -> Result<Vec<u8>, VdsError> {
        if self.expires_at.as_secs() < 0 {
            return Err(VdsError::TimeOutOfRange { what: "expiry" });
        }
        if !self.scopes.iter().all(|s| is_scope(s)) {
            return Err(bad_value("scp", "not identity:[a-z0-9_]+ scopes separated by single spaces"));
        }
        encode_fields(&self.to_fields(), Manifest::service()?)
    }

    /// Reads a service payload from the start of `buf`; returns it and the payload length.
    pub fn decode(buf: &[u8]) -> Result<(Self, usize), VdsError> {
        let (fields, used) = decode_fields(buf, Manifest::service()?)?;
        Ok((Self::from_fields(fields)?, used))
    }

    /// Whether the seal allows the service to request `scope`.
    pub fn allows(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
}

#[cfg(test)]
#[path = "service_tests.rs"]
mod tests;
