//! A login request as the phone receives it, from the device channel (`login_request` message)
//! or an FCM data message: the same string fields either way.

use std::collections::BTreeMap;
use std::fmt;

use idseal_types::UnixTime;
use idseal_x1280::{AutoPassword, ScopeSet};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::error::{DeviceError, Result};

/// The fields every login request carries.
const FIELDS: [&str; 9] = [
    "sessionId",
    "tokenId",
    "autoPassword",
    "serviceId",
    "serviceName",
    "serviceUrl",
    "serviceVerified",
    "scopes",
    "expiresAt",
];

/// The longest value accepted for any field.
const MAX_FIELD_LEN: usize = 2048;

/// One login waiting for the user's decision. `Debug` hides the code.
#[derive(Clone, PartialEq, Eq)]
pub struct LoginRequest {
    /// `sess_` + 32 hex.
    pub session_id: String,
    /// The enrollment's token id.
    pub token_id: String,
    /// The code the phone shows; the user compares it with the browser's.
    pub auto_password: AutoPassword,
    /// The service's id.
    pub service_id: String,
    /// The service's display name.
    pub service_name: String,
    /// The service's origin.
    pub service_url: String,
    /// True when the service proved itself with a Service VDS through the chain of trust.
    pub service_verified: bool,
    /// The requested identity scopes, in the order sent.
    pub scopes: Vec<String>,
    /// When the login expires.
    pub expires_at: UnixTime,
}

impl LoginRequest {
    /// Parses the data map of a push (or of a channel message). Every field of the list above is
    /// required and checked: `sessionId` shape, `tokenId` a UUID, `autoPassword` six digits,
    /// `serviceVerified` `true` or `false`, `scopes` known identity scopes separated by single
    /// spaces (no duplicates), `expiresAt` RFC 3339. A `type` key, when present, must be
    /// `login_request`; other keys (FCM adds its own) are ignored.
    pub fn from_data(data: &BTreeMap<String, String>) -> Result<Self> {
        if let Some(t) = data.get("type")
            && t != "login_request"
        {
            return Err(bad(format!("type is {t:?}, not login_request")));
        }
        for f in FIELDS {
            match data.get(f) {
                None => return Err(bad(format!("{f} is missing"))),
                Some(v) if v.len() > MAX_FIELD_LEN => return Err(bad(format!("{f} is too long"))),
                Some(v) if f != "scopes" && v.trim().is_empty() => return Err(bad(format!("{f} is empty"))),
                Some(v) if v.chars().any(char::is_control) => return Err(bad(format!("{f} has control characters"))),
                Some(_) => {}
            }
        }
        let get = |f: &str| data.get(f).cloned().unwrap_or_default();
        let session_id = get("sessionId");
        if !idseal_x1280::is_session_id(&session_id) {
            return Err(bad("sessionId is not sess_ + 32 hex".into()));
        }
        let token_id = get("tokenId");
        if !is_uuid(&token_id) {
            return Err(bad("tokenId is not a lowercase UUID".into()));
        }
        let auto_password =
            AutoPassword::parse(&get("autoPassword")).map_err(|_| bad("autoPassword is not 6 digits".into()))?;
        let service_verified = match get("serviceVerified").as_str() {
            "true" => true,
            "false" => false,
            _ => return Err(bad("serviceVerified is not true or false".into())),
        };
        let scopes = parse_scopes(&get("scopes"))?;
        let expires_at = OffsetDateTime::parse(&get("expiresAt"), &Rfc3339)
            .map_err(|_| bad("expiresAt is not RFC 3339".into()))?
            .unix_timestamp();
        Ok(Self {
            session_id,
            token_id,
            auto_password,
            service_id: get("serviceId"),
            service_name: get("serviceName"),
            service_url: get("serviceUrl"),
            service_verified,
            scopes,
            expires_at: UnixTime::from_secs(expires_at),
        })
    }

    /// Parses a device-channel message (a JSON object of strings with `type: login_request`).
    pub fn from_json(value: &serde_json::Value) -> Result<Self> {
        let Some(obj) = value.as_object() else { return Err(bad("not a JSON object".into())) };
        let mut data = BTreeMap::new();
        for (k, v) in obj {
            match v.as_str() {
                Some(s) => {
                    data.insert(k.clone(), s.to_owned());
                }
                None if FIELDS.contains(&k.as_str()) || k == "type" => {
                    return Err(bad(format!("{k} is not a string")));
                }
                None => {}
            }
        }
        if data.get("type").map(String::as_str) != Some("login_request") {
            return Err(bad("type is not login_request".into()));
        }
        Self::from_data(&data)
    }

    /// The user's comparison: `Ok` when the code typed (read from the browser) is this request's
    /// code, compared in constant time; [`DeviceError::CodeMismatch`] otherwise.
    pub fn check_code(&self, typed: &str) -> Result<()> {
        if self.auto_password.ct_eq(typed.trim()) { Ok(()) } else { Err(DeviceError::CodeMismatch) }
    }

    /// `Ok` when every granted scope is covered by the requested ones (a grant may narrow a
    /// request, e.g. `identity:given_name` under `identity:name`, never widen it).
    pub fn check_grant(&self, granted: &[String]) -> Result<()> {
        let granted = ScopeSet::parse(granted).map_err(|e| DeviceError::ScopesNotRequested(e.to_string()))?;
        let requested = ScopeSet::parse(&self.scopes).map_err(|e| DeviceError::BadLoginRequest(e.to_string()))?;
        let beyond = granted.not_within(&requested);
        if beyond.is_empty() { Ok(()) } else { Err(DeviceError::ScopesNotRequested(beyond.join(" "))) }
    }

    /// True when the login has expired at `now`.
    pub fn is_expired(&self, now: UnixTime) -> bool {
        self.expires_at <= now
    }

    /// The expiry as RFC 3339.
    pub fn expires_at_rfc3339(&self) -> String {
        OffsetDateTime::from_unix_timestamp(self.expires_at.as_secs())
            .ok()
            .and_then(|t| t.format(&Rfc3339).ok())
            .unwrap_or_else(|| self.expires_at.to_string())
    }
}

impl fmt::Debug for LoginRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginRequest")
            .field("session_id", &self.session_id)
            .field("token_id", &self.token_id)
            .field("auto_password", &"<redacted>")
            .field("service_id", &self.service_id)
            .field("service_name", &self.service_name)
            .field("service_url", &self.service_url)
            .field("service_verified", &self.service_verified)
            .field("scopes", &self.scopes)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

fn bad(why: String) -> DeviceError {
    DeviceError::BadLoginRequest(why)
}

/// A lowercase hyphenated UUID.
pub(crate) fn is_uuid(v: &str) -> bool {
    v.len() == 36
        && v.char_indices().all(|(i, c)| {
            if matches!(i, 8 | 13 | 18 | 23) { c == '-' } else { c.is_ascii_digit() || ('a'..='f').contains(&c) }
        })
}

/// Space-separated scopes: single spaces, known names, no duplicates; empty means none.
fn parse_scopes(s: &str) -> Result<Vec<String>> {
    if s.is_empty() {
        return Ok(Vec::new());
    }
    let list: Vec<String> = s.split(' ').map(str::to_owned).collect();
    if list.iter().any(String::is_empty) {
        return Err(bad("scopes must be separated by single spaces".into()));
    }
    ScopeSet::parse(&list).map_err(|e| bad(format!("scopes: {e}")))?;
    Ok(list)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    const SID: &str = "sess_0123456789abcdef0123456789abcdef";
    const TID: &str = "0b9f7c2e-1111-4222-8333-444455556666";

    fn data() -> BTreeMap<String, String> {
        [
            ("type", "login_request"),
            ("sessionId", SID),
            ("tokenId", TID),
            ("autoPassword", "048291"),
            ("serviceId", "shop"),
            ("serviceName", "The Shop"),
            ("serviceUrl", "https://shop.example"),
            ("serviceVerified", "true"),
            ("scopes", "identity:name identity:age_over_18"),
            ("expiresAt", "2027-01-15T08:00:00Z"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    #[test]
    fn parses_a_complete_request() {
        let r = LoginRequest::from_data(&data()).unwrap();
        assert_eq!(r.session_id, SID);
        assert_eq!(r.token_id, TID);
        assert_eq!(r.auto_password.as_str(), "048291");
        assert!(r.service_verified);
        assert_eq!(r.scopes, vec!["identity:name", "identity:age_over_18"]);
        assert_eq!(r.expires_at, UnixTime::from_secs(1_800_000_000));
        assert_eq!(r.expires_at_rfc3339(), "2027-01-15T08:00:00Z");
        assert!(r.is_expired(r.expires_at));
        assert!(!r.is_expired(UnixTime::from_secs(r.expires_at.as_secs() - 1)));
        // Without `type` (a bare data map) and with extra FCM keys, still fine.
        let mut d = data();
        d.remove("type");
        d.insert("google.sent_time".into(), "1".into());
        assert_eq!(LoginRequest::from_data(&d).unwrap(), r);
        // No scopes at all.
        d.insert("scopes".into(), String::new());
        assert!(LoginRequest::from_data(&d).unwrap().scopes.is_empty());
        // serviceVerified false.
        d.insert("serviceVerified".into(), "false".into());
        assert!(!LoginRequest::from_data(&d).unwrap().service_verified);
    }

    #[test]
    fn every_missing_field_is_refused() {
        for f in FIELDS {
            let mut d = data();
            d.remove(f);
            let err = LoginRequest::from_data(&d).unwrap_err();
            assert!(matches!(&err, DeviceError::BadLoginRequest(m) if m.contains(f)), "{f}: {err:?}");
        }
    }

    #[test]
    fn garbage_fields_are_refused() {
        let cases = [
            ("type", "approved"),
            ("sessionId", "sess_0123"),
            ("sessionId", "0123456789abcdef0123456789abcdef0123"),
            ("tokenId", "not-a-uuid"),
            ("tokenId", "0B9F7C2E-1111-4222-8333-444455556666"),
            ("autoPassword", "04829"),
            ("autoPassword", "0482911"),
            ("autoPassword", "04829a"),
            ("serviceId", ""),
            ("serviceName", "  "),
            ("serviceName", "a\u{0}b"),
            ("serviceVerified", "yes"),
            ("serviceVerified", "TRUE"),
            ("scopes", "openid"),
            ("scopes", "identity:name  identity:age_over_18"),
            ("scopes", "identity:name identity:name"),
            ("scopes", " identity:name"),
            ("expiresAt", "tomorrow"),
            ("expiresAt", "1800000000"),
        ];
        for (k, v) in cases {
            let mut d = data();
            d.insert(k.to_owned(), v.to_owned());
            assert!(
                matches!(LoginRequest::from_data(&d), Err(DeviceError::BadLoginRequest(_))),
                "{k}={v:?} was accepted"
            );
        }
        let mut d = data();
        d.insert("serviceName".into(), "x".repeat(MAX_FIELD_LEN + 1));
        assert!(LoginRequest::from_data(&d).is_err());
    }

    #[test]
    fn channel_json_is_parsed_strictly() {
        let v = serde_json::to_value(data()).unwrap();
        assert_eq!(LoginRequest::from_json(&v).unwrap(), LoginRequest::from_data(&data()).unwrap());
        let mut no_type = v.clone();
        no_type.as_object_mut().unwrap().remove("type");
        assert!(LoginRequest::from_json(&no_type).is_err());
        let mut number = v.clone();
        number["serviceVerified"] = serde_json::Value::Bool(true);
        assert!(LoginRequest::from_json(&number).is_err());
        assert!(LoginRequest::from_json(&serde_json::json!([1])).is_err());
    }

    #[test]
    fn code_check_is_exact() {
        let r = LoginRequest::from_data(&data()).unwrap();
        r.check_code("048291").unwrap();
        r.check_code(" 048291\n").unwrap();
        for wrong in ["048292", "48291", "0482910", "", "04829a", "148291"] {
            assert!(matches!(r.check_code(wrong), Err(DeviceError::CodeMismatch)), "{wrong:?}");
        }
    }

    #[test]
    fn grants_may_narrow_but_not_widen() {
        let r = LoginRequest::from_data(&data()).unwrap();
        let s = |v: &[&str]| v.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
        r.check_grant(&s(&["identity:name", "identity:age_over_18"])).unwrap();
        r.check_grant(&s(&["identity:age_over_18"])).unwrap();
        r.check_grant(&s(&["identity:given_name"])).unwrap();
        r.check_grant(&[]).unwrap();
        let err = r.check_grant(&s(&["identity:name", "identity:photo"])).unwrap_err();
        assert!(matches!(&err, DeviceError::ScopesNotRequested(m) if m == "identity:photo"), "{err:?}");
        assert!(matches!(r.check_grant(&s(&["identity:full"])), Err(DeviceError::ScopesNotRequested(_))));
        assert!(matches!(r.check_grant(&s(&["openid"])), Err(DeviceError::ScopesNotRequested(_))));
    }

    #[test]
    fn debug_hides_the_code() {
        let r = LoginRequest::from_data(&data()).unwrap();
        let dbg = format!("{r:?}");
        assert!(!dbg.contains("048291"), "{dbg}");
        assert!(dbg.contains(SID));
    }
}
