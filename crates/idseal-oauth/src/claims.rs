//! Claims of ID tokens (OIDC Core §2, §5.4) and JWT access tokens (RFC 9068 §2.2).

use idseal_types::UnixTime;
use serde_json::{Map, Value};

use crate::scope::ScopeSet;

/// What an account holds that scopes can release.
#[derive(Clone, Debug, Default)]
pub struct UserInfo {
    /// Display name (`profile`).
    pub name: Option<String>,
    /// Email address (`email`).
    pub email: Option<String>,
    /// Whether the email address was verified (`email`).
    pub email_verified: bool,
    /// Last profile change, Unix seconds (`profile`).
    pub updated_at: Option<i64>,
}

/// The claims `scope` releases about `user` (OIDC Core §5.4): `profile` gives `name` and
/// `updated_at`, `email` gives `email` and `email_verified`. Absent values are left out.
pub fn scope_claims(scope: &ScopeSet, user: &UserInfo) -> Map<String, Value> {
    let mut m = Map::new();
    if scope.contains("profile") {
        if let Some(name) = &user.name {
            m.insert("name".into(), name.clone().into());
        }
        if let Some(t) = user.updated_at {
            m.insert("updated_at".into(), t.into());
        }
    }
    if scope.contains("email") {
        if let Some(email) = &user.email {
            m.insert("email".into(), email.clone().into());
        }
        m.insert("email_verified".into(), user.email_verified.into());
    }
    m
}

/// Inputs of an ID token.
#[derive(Clone, Copy, Debug)]
pub struct IdTokenInput<'a> {
    /// `iss`.
    pub issuer: &'a str,
    /// `sub` (pairwise or public).
    pub sub: &'a str,
    /// `aud` and `azp`.
    pub client_id: &'a str,
    /// `iat`.
    pub now: UnixTime,
    /// Lifetime; `exp = now + ttl_secs`.
    pub ttl_secs: i64,
    /// `auth_time`.
    pub auth_time: UnixTime,
    /// `nonce`, from the authorization request.
    pub nonce: Option<&'a str>,
    /// `sid`, the session id.
    pub sid: Option<&'a str>,
    /// `acr`.
    pub acr: Option<&'a str>,
    /// `amr` (RFC 8176 values); left out when empty.
    pub amr: &'a [&'a str],
    /// Granted scopes, for the scope claims.
    pub scope: &'a ScopeSet,
    /// The account's claims.
    pub user: &'a UserInfo,
}

/// The claims of an ID token (OIDC Core §2): `iss sub aud exp iat auth_time nonce sid acr amr
/// azp` and the scope claims. `aud` is the client id as a single string.
pub fn id_token_claims(i: &IdTokenInput<'_>) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("iss".into(), i.issuer.into());
    m.insert("sub".into(), i.sub.into());
    m.insert("aud".into(), i.client_id.into());
    m.insert("azp".into(), i.client_id.into());
    m.insert("exp".into(), i.now.as_secs().saturating_add(i.ttl_secs).into());
    m.insert("iat".into(), i.now.as_secs().into());
    m.insert("auth_time".into(), i.auth_time.as_secs().into());
    if let Some(n) = i.nonce {
        m.insert("nonce".into(), n.into());
    }
    if let Some(s) = i.sid {
        m.insert("sid".into(), s.into());
    }
    if let Some(a) = i.acr {
        m.insert("acr".into(), a.into());
    }
    if !i.amr.is_empty() {
        m.insert("amr".into(), i.amr.iter().map(|&a| Value::from(a)).collect());
    }
    m.extend(scope_claims(i.scope, i.user));
    m
}

/// Inputs of a JWT access token.
#[derive(Clone, Copy, Debug)]
pub struct AccessTokenInput<'a> {
    /// `iss`.
    pub issuer: &'a str,
    /// `sub`: the user's subject, or the client id for `client_credentials`.
    pub sub: &'a str,
    /// `client_id` and `aud`.
    pub client_id: &'a str,
    /// `jti`, recorded with the grant.
    pub jti: &'a str,
    /// `scope`.
    pub scope: &'a ScopeSet,
    /// `iat`.
    pub now: UnixTime,
    /// Lifetime; `exp = now + ttl_secs`.
    pub ttl_secs: i64,
    /// `auth_time`, when a user signed in.
    pub auth_time: Option<UnixTime>,
    /// `acr`, when known.
    pub acr: Option<&'a str>,
}

/// The claims of a JWT access token (RFC 9068 §2.2): `iss exp aud sub client_id iat jti
/// scope`, and `auth_time` / `acr` when known.
pub fn access_token_claims(i: &AccessTokenInput<'_>) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("iss".into(), i.issuer.into());
    m.insert("exp".into(), i.now.as_secs().saturating_add(i.ttl_secs).into());
    m.insert("aud".into(), i.client_id.into());
    m.insert("sub".into(), i.sub.into());
    m.insert("client_id".into(), i.client_id.into());
    m.insert("iat".into(), i.now.as_secs().into());
    m.insert("jti".into(), i.jti.into());
    m.insert("scope".into(), i.scope.to_string().into());
    if let Some(t) = i.auth_time {
        m.insert("auth_time".into(), t.as_secs().into());
    }
    if let Some(a) = i.acr {
        m.insert("acr".into(), a.into());
    }
    m
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn user() -> UserInfo {
        UserInfo {
            name: Some("Ada".into()),
            email: Some("ada@example.org".into()),
            email_verified: true,
            updated_at: Some(1_700_000_000),
        }
    }

    #[test]
    fn scope_claims_follow_scopes() {
        let u = user();
        assert!(scope_claims(&ScopeSet::from_static(&["openid"]), &u).is_empty());
        let p = scope_claims(&ScopeSet::from_static(&["profile"]), &u);
        assert_eq!(Value::Object(p), json!({"name": "Ada", "updated_at": 1_700_000_000}));
        let e = scope_claims(&ScopeSet::from_static(&["email"]), &UserInfo::default());
        assert_eq!(Value::Object(e), json!({"email_verified": false}));
        let none = scope_claims(&ScopeSet::from_static(&["profile"]), &UserInfo::default());
        assert!(none.is_empty());
    }

    #[test]
    fn id_token() {
        let u = user();
        let scope = ScopeSet::from_static(&["openid", "email"]);
        let i = IdTokenInput {
            issuer: "https://id.example",
            sub: "s",
            client_id: "idc_x",
            now: UnixTime::from_secs(1000),
            ttl_secs: 3600,
            auth_time: UnixTime::from_secs(900),
            nonce: Some("n"),
            sid: Some("sid1"),
            acr: Some("http://eidas.europa.eu/LoA/low"),
            amr: &["pwd"],
            scope: &scope,
            user: &u,
        };
        let c = id_token_claims(&i);
        assert_eq!(
            Value::Object(c),
            json!({"iss": "https://id.example", "sub": "s", "aud": "idc_x", "azp": "idc_x", "exp": 4600,
                   "iat": 1000, "auth_time": 900, "nonce": "n", "sid": "sid1",
                   "acr": "http://eidas.europa.eu/LoA/low", "amr": ["pwd"],
                   "email": "ada@example.org", "email_verified": true})
        );
        let bare = id_token_claims(&IdTokenInput { nonce: None, sid: None, acr: None, amr: &[], ..i });
        for k in ["nonce", "sid", "acr", "amr"] {
            assert!(!bare.contains_key(k), "{k}");
        }
    }

    #[test]
    fn access_token() {
        let scope = ScopeSet::from_static(&["openid", "profile"]);
        let i = AccessTokenInput {
            issuer: "https://id.example",
            sub: "s",
            client_id: "idc_x",
            jti: "j",
            scope: &scope,
            now: UnixTime::from_secs(10),
            ttl_secs: 3600,
            auth_time: Some(UnixTime::from_secs(5)),
            acr: None,
        };
        assert_eq!(
            Value::Object(access_token_claims(&i)),
            json!({"iss": "https://id.example", "exp": 3610, "aud": "idc_x", "sub": "s", "client_id": "idc_x",
                   "iat": 10, "jti": "j", "scope": "openid profile", "auth_time": 5})
        );
        let c = access_token_claims(&AccessTokenInput { auth_time: None, acr: Some("a"), ..i });
        assert!(!c.contains_key("auth_time"));
        assert_eq!(c["acr"], "a");
    }
}
