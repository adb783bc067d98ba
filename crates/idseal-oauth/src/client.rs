//! OAuth clients: registration (RFC 7591), redirect URI rules and client authentication
//! (RFC 6749 §2.3).

use aws_lc_rs::constant_time::verify_slices_are_equal;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use idseal_keys::Algorithm;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::error::OAuthError;
use crate::scope::ScopeSet;
use crate::{subject, token};

/// Most redirect URIs (and post-logout redirect URIs) a client may register.
const MAX_REDIRECT_URIS: usize = 10;
/// Longest redirect URI accepted, in bytes.
const MAX_REDIRECT_URI_LEN: usize = 2000;
/// Longest `Authorization: Basic` header value accepted, in bytes.
const MAX_BASIC_LEN: usize = 1024;
/// Longest client name, in characters.
const MAX_NAME_CHARS: usize = 100;

/// How a client authenticates at the token endpoint (RFC 7591 §2 `token_endpoint_auth_method`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AuthMethod {
    /// HTTP Basic with the client id and secret (RFC 6749 §2.3.1).
    ClientSecretBasic,
    /// `client_id` and `client_secret` in the form body (RFC 6749 §2.3.1).
    ClientSecretPost,
    /// No authentication: a public client, whose proof is PKCE.
    None,
}

impl AuthMethod {
    /// The registered name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
            Self::None => "none",
        }
    }

    /// Parse a registered name.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::ClientSecretBasic, Self::ClientSecretPost, Self::None].into_iter().find(|m| m.as_str() == s)
    }
}

/// Which `sub` a client sees (OIDC Core §8).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SubjectType {
    /// A different `sub` per sector (the default).
    Pairwise,
    /// The account id.
    Public,
}

impl SubjectType {
    /// The registered name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pairwise => "pairwise",
            Self::Public => "public",
        }
    }

    /// Parse a registered name.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Pairwise, Self::Public].into_iter().find(|m| m.as_str() == s)
    }
}

/// A grant type a client may use at the token endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum GrantType {
    /// `authorization_code` (RFC 6749 §4.1, with PKCE).
    AuthorizationCode,
    /// `refresh_token` (RFC 6749 §6).
    RefreshToken,
    /// `client_credentials` (RFC 6749 §4.4), confidential clients only.
    ClientCredentials,
}

impl GrantType {
    /// The registered name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::AuthorizationCode => "authorization_code",
            Self::RefreshToken => "refresh_token",
            Self::ClientCredentials => "client_credentials",
        }
    }

    /// Parse a registered name.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::AuthorizationCode, Self::RefreshToken, Self::ClientCredentials].into_iter().find(|m| m.as_str() == s)
    }
}

/// A registered client, as the store keeps it.
#[derive(Clone, Debug)]
pub struct Client {
    /// `idc_` + 22 base64url characters.
    pub client_id: String,
    /// Display name for consent pages.
    pub name: String,
    /// SHA-256 (lower-case hex) of the secret; `None` for public clients.
    pub secret_hash: Option<String>,
    /// Registered redirect URIs, compared by exact string match.
    pub redirect_uris: Vec<String>,
    /// Registered post-logout redirect URIs (RP-initiated logout), exact match.
    pub post_logout_redirect_uris: Vec<String>,
    /// The scopes the client may request.
    pub scopes: ScopeSet,
    /// The one authentication method the client uses.
    pub auth_method: AuthMethod,
    /// The grant types the client may use.
    pub grant_types: Vec<GrantType>,
    /// The ID token signature algorithm.
    pub id_token_alg: Algorithm,
    /// Pairwise or public subjects.
    pub subject_type: SubjectType,
    /// The pairwise sector: host of the first redirect URI at registration, else the client id.
    pub sector: String,
}

/// Client metadata as a registration request carries it (RFC 7591 §2). Unknown fields are
/// ignored, as RFC 7591 §2 requires.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct ClientMetadata {
    /// `client_name`.
    pub client_name: Option<String>,
    /// `redirect_uris`.
    pub redirect_uris: Vec<String>,
    /// `post_logout_redirect_uris` (OIDC RP-Initiated Logout §3.1).
    pub post_logout_redirect_uris: Vec<String>,
    /// `token_endpoint_auth_method`.
    pub token_endpoint_auth_method: Option<String>,
    /// `grant_types`.
    pub grant_types: Option<Vec<String>>,
    /// `response_types`.
    pub response_types: Option<Vec<String>>,
    /// `scope`, space-delimited.
    pub scope: Option<String>,
    /// `id_token_signed_response_alg` (OIDC Dynamic Client Registration §2).
    pub id_token_signed_response_alg: Option<String>,
    /// `subject_type` (OIDC Dynamic Client Registration §2).
    pub subject_type: Option<String>,
}

/// A freshly registered client and, for confidential clients, its secret (shown once).
#[derive(Debug)]
pub struct NewClient {
    /// The client to store.
    pub client: Client,
    /// The secret in clear, zeroized on drop; never stored.
    pub secret: Option<Zeroizing<String>>,
}

/// Validate registration metadata and create a client (RFC 7591 §3.1, §3.2.2).
///
/// `random` supplies the client id (first 16 bytes) and the secret (last 32 bytes).
///
/// # Errors
///
/// [`OAuthError::InvalidRedirectUri`] for a missing, malformed or disallowed redirect URI or
/// post-logout redirect URI; [`OAuthError::InvalidClientMetadata`] for any other field.
pub fn register(meta: &ClientMetadata, random: &[u8; 48]) -> Result<NewClient, OAuthError> {
    let bad = |m: &str| OAuthError::InvalidClientMetadata(m.to_owned());

    let name = meta.client_name.as_deref().unwrap_or("Unnamed client");
    let chars = name.chars().count();
    // Bidirectional and invisible format characters could make a consent page show a name
    // other than the one registered.
    let spoofing = |c: char| {
        c.is_control()
            || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{206f}' | '\u{feff}')
    };
    if chars == 0 || chars > MAX_NAME_CHARS || name.chars().any(spoofing) {
        return Err(bad("client_name must be 1 to 100 characters without control or format characters"));
    }

    let auth_method = match meta.token_endpoint_auth_method.as_deref() {
        None => AuthMethod::ClientSecretBasic,
        Some(m) => AuthMethod::parse(m).ok_or_else(|| bad("unsupported token_endpoint_auth_method"))?,
    };

    let grant_types = match &meta.grant_types {
        None => vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
        Some(list) => {
            let mut out = Vec::with_capacity(list.len());
            for g in list {
                let g = GrantType::parse(g).ok_or_else(|| bad("unsupported grant_type"))?;
                if !out.contains(&g) {
                    out.push(g);
                }
            }
            out
        }
    };
    if grant_types.is_empty() {
        return Err(bad("grant_types must not be empty"));
    }
    if auth_method == AuthMethod::None && grant_types.contains(&GrantType::ClientCredentials) {
        return Err(bad("public clients may not use client_credentials"));
    }
    let uses_code = grant_types.contains(&GrantType::AuthorizationCode);

    if let Some(rt) = &meta.response_types {
        let ok = matches!(rt.as_slice(), [only] if only == "code") || (rt.is_empty() && !uses_code);
        if !ok {
            return Err(bad("response_types must be [\"code\"]"));
        }
    }

    if uses_code && meta.redirect_uris.is_empty() {
        return Err(OAuthError::InvalidRedirectUri("at least one redirect_uri is required".into()));
    }
    if meta.redirect_uris.len() > MAX_REDIRECT_URIS || meta.post_logout_redirect_uris.len() > MAX_REDIRECT_URIS {
        return Err(OAuthError::InvalidRedirectUri("at most 10 redirect URIs are allowed".into()));
    }
    for uri in meta.redirect_uris.iter().chain(&meta.post_logout_redirect_uris) {
        validate_redirect_uri(uri)?;
    }

    let scope_text = meta.scope.as_deref().unwrap_or("openid profile email offline_access");
    let scopes = ScopeSet::parse(scope_text).map_err(|e| bad(e.description()))?;
    if !scopes.is_subset(&ScopeSet::from_static(&crate::scope::supported())) {
        return Err(bad("scope contains a value this server does not support"));
    }

    let id_token_alg = match meta.id_token_signed_response_alg.as_deref() {
        None => Algorithm::Rs256,
        Some(a) => a.parse().map_err(|_| bad("unsupported id_token_signed_response_alg"))?,
    };
    let subject_type = match meta.subject_type.as_deref() {
        None => SubjectType::Pairwise,
        Some(s) => SubjectType::parse(s).ok_or_else(|| bad("unsupported subject_type"))?,
    };

    let (id_random, rest) = random.split_first_chunk::<16>().ok_or_else(server_error)?;
    let secret_random: &[u8; 32] = rest.try_into().map_err(|_| server_error())?;
    let client_id = format!("idc_{}", token::new_id(id_random));
    let secret = (auth_method != AuthMethod::None).then(|| token::opaque("ids_", secret_random));
    let secret_hash = secret.as_ref().map(|s| token::sha256_hex(s));
    let sector = sector(&meta.redirect_uris, subject_type, &client_id)?;

    let client = Client {
        client_id,
        name: name.to_owned(),
        secret_hash,
        redirect_uris: meta.redirect_uris.clone(),
        post_logout_redirect_uris: meta.post_logout_redirect_uris.clone(),
        scopes,
        auth_method,
        grant_types,
        id_token_alg,
        subject_type,
        sector,
    };
    Ok(NewClient { client, secret })
}

fn server_error() -> OAuthError {
    OAuthError::ServerError("bad randomness length".into())
}

/// The sector of a client's pairwise subjects (OIDC Core §8.1): the one host of its redirect
/// URIs. A pairwise client whose redirect URIs span hosts is refused (a
/// `sector_identifier_uri` would be needed, and it is not supported): otherwise a client could
/// list another relying party's host first and receive that party's subjects. Clients whose
/// redirect URIs have no public host (loopback, native-app schemes) or none at all get their
/// own client id as the sector, so they never share subjects with one another.
fn sector(redirect_uris: &[String], subject_type: SubjectType, client_id: &str) -> Result<String, OAuthError> {
    let mut hosts: Vec<String> = redirect_uris.iter().filter_map(|u| subject::sector_of(u)).collect();
    hosts.sort();
    hosts.dedup();
    let loopback = |h: &str| matches!(h, "localhost" | "127.0.0.1" | "[::1]");
    match hosts.as_slice() {
        [one] if !loopback(one) && redirect_uris.iter().all(|u| subject::sector_of(u).is_some()) => Ok(one.clone()),
        [_, _, ..] if subject_type == SubjectType::Pairwise => Err(OAuthError::InvalidClientMetadata(
            "a pairwise client's redirect URIs must share one host (sector_identifier_uri is not supported)".into(),
        )),
        _ => Ok(client_id.to_owned()),
    }
}

/// Check one redirect URI against the registration rules (OAuth 2.1 §2.3.1, RFC 8252 §7):
/// at most 2000 bytes, absolute, no fragment, no userinfo, and `https`, `http` on a loopback
/// host (`localhost`, `127.0.0.1`, `[::1]`), or a private-use scheme containing a `.`
/// (RFC 8252 §7.1, e.g. `com.example.app:/cb`).
///
/// # Errors
///
/// [`OAuthError::InvalidRedirectUri`] saying which rule failed.
pub fn validate_redirect_uri(uri: &str) -> Result<(), OAuthError> {
    let bad = |m: &str| OAuthError::InvalidRedirectUri(m.to_owned());
    if uri.len() > MAX_REDIRECT_URI_LEN {
        return Err(bad("redirect_uri is longer than 2000 bytes"));
    }
    // The URL parser trims and repairs some input; exact matching needs the URI as it is.
    if uri.bytes().any(|b| b.is_ascii_whitespace() || b.is_ascii_control() || b == b'#') {
        if uri.contains('#') {
            return Err(bad("redirect_uri must not contain a fragment"));
        }
        return Err(bad("redirect_uri must not contain whitespace or control characters"));
    }
    let url = url::Url::parse(uri).map_err(|_| bad("redirect_uri must be an absolute URI"))?;
    if url.fragment().is_some() {
        return Err(bad("redirect_uri must not contain a fragment"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("redirect_uri must not contain user information"));
    }
    match url.scheme() {
        "https" => Ok(()),
        "http" => match url.host_str() {
            Some("localhost" | "127.0.0.1" | "[::1]") => Ok(()),
            _ => Err(bad("http redirect URIs are allowed only for localhost, 127.0.0.1 and [::1]")),
        },
        s if s.contains('.') => Ok(()),
        _ => Err(bad("redirect_uri must use https (or a private-use scheme like com.example.app)")),
    }
}

impl Client {
    /// Whether `uri` is registered for this client, by exact string match (OAuth 2.1 §4.1.1).
    pub fn redirect_uri_allowed(&self, uri: &str) -> bool {
        self.redirect_uris.iter().any(|u| u == uri)
    }

    /// Whether the client authenticates with a secret.
    pub fn is_confidential(&self) -> bool {
        self.auth_method != AuthMethod::None
    }

    /// Whether the client may use grant `g`.
    pub fn allows_grant(&self, g: GrantType) -> bool {
        self.grant_types.contains(&g)
    }

    /// Authenticate the client: `method` is how the request authenticated, `secret` what it
    /// presented (RFC 6749 §2.3.1). The method must be the registered one.
    ///
    /// # Errors
    ///
    /// [`OAuthError::InvalidClient`] with the same text for every failure.
    pub fn authenticate(&self, method: AuthMethod, secret: Option<&str>) -> Result<(), OAuthError> {
        let fail = || OAuthError::InvalidClient("client authentication failed".into());
        if method != self.auth_method {
            return Err(fail());
        }
        if !self.is_confidential() {
            return if secret.is_none() { Ok(()) } else { Err(fail()) };
        }
        let (Some(secret), Some(stored)) = (secret, self.secret_hash.as_deref()) else {
            return Err(fail());
        };
        let presented = token::sha256_hex(secret);
        verify_slices_are_equal(presented.as_bytes(), stored.as_bytes()).map_err(|_| fail())
    }
}

/// Parse an `Authorization: Basic` header value into the client id and secret
/// (RFC 6749 §2.3.1: both form-urlencoded before base64).
///
/// # Errors
///
/// [`OAuthError::InvalidClient`] when the value is too long, not `Basic`, not base64, not
/// UTF-8, has no `:`, or has an empty client id.
pub fn parse_basic(header_value: &str) -> Result<(String, Zeroizing<String>), OAuthError> {
    let fail = || OAuthError::InvalidClient("malformed Basic authorization".into());
    if header_value.len() > MAX_BASIC_LEN {
        return Err(fail());
    }
    let (scheme, rest) = header_value.split_once(' ').ok_or_else(fail)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(fail());
    }
    let decoded = Zeroizing::new(STANDARD.decode(rest.trim()).map_err(|_| fail())?);
    let text = std::str::from_utf8(&decoded).map_err(|_| fail())?;
    let (id, secret) = text.split_once(':').ok_or_else(fail)?;
    let id = form_decode(id).ok_or_else(fail)?;
    let secret = form_decode(secret).ok_or_else(fail)?;
    if id.is_empty() {
        return Err(fail());
    }
    Ok((id.to_string(), secret))
}

/// Decode one `application/x-www-form-urlencoded` component: `+` is a space, `%XX` a byte.
/// `None` on a bad escape or when the result is not UTF-8.
fn form_decode(s: &str) -> Option<Zeroizing<String>> {
    let mut out = Zeroizing::new(Vec::with_capacity(s.len()));
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hi = hex_val(bytes.next()?)?;
                let lo = hex_val(bytes.next()?)?;
                out.push(hi << 4 | lo);
            }
            _ => out.push(b),
        }
    }
    let text = std::str::from_utf8(&out).ok()?;
    Some(Zeroizing::new(text.to_owned()))
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(uris: &[&str]) -> ClientMetadata {
        ClientMetadata { redirect_uris: uris.iter().map(|&u| u.to_owned()).collect(), ..Default::default() }
    }

    const RANDOM: [u8; 48] = [9; 48];

    #[test]
    fn register_defaults() {
        let n = register(&meta(&["https://RP.example.com/cb"]), &RANDOM).unwrap();
        let c = &n.client;
        assert!(c.client_id.starts_with("idc_") && c.client_id.len() == 26);
        let secret = n.secret.unwrap();
        assert!(secret.starts_with("ids_") && secret.len() == 47);
        assert_eq!(c.secret_hash.as_deref(), Some(token::sha256_hex(&secret).as_str()));
        assert_eq!(c.auth_method, AuthMethod::ClientSecretBasic);
        assert_eq!(c.grant_types, [GrantType::AuthorizationCode, GrantType::RefreshToken]);
        assert_eq!(c.scopes, ScopeSet::from_static(crate::scope::KNOWN));
        assert_eq!(c.id_token_alg, Algorithm::Rs256);
        assert_eq!(c.subject_type, SubjectType::Pairwise);
        assert_eq!(c.name, "Unnamed client");
        assert_eq!(c.sector, "rp.example.com");
        assert!(c.is_confidential());
        assert!(c.redirect_uri_allowed("https://RP.example.com/cb"));
        assert!(!c.redirect_uri_allowed("https://rp.example.com/cb"));
        assert!(!c.redirect_uri_allowed("https://RP.example.com/cb/"));
    }

    #[test]
    fn pairwise_sectors_cannot_be_borrowed_or_shared() {
        // Two hosts: refused for pairwise (a client could claim another party's host first).
        let two = meta(&["https://victim.example/cb", "https://evil.example/cb"]);
        assert!(matches!(register(&two, &RANDOM), Err(OAuthError::InvalidClientMetadata(_))));
        let same = meta(&["https://rp.example/a", "https://RP.example/b"]);
        assert_eq!(register(&same, &RANDOM).unwrap().client.sector, "rp.example");
        // Loopback and native-app redirect URIs: the client's own sector.
        for uris in [&["http://127.0.0.1:9/cb"][..], &["http://localhost/cb"], &["com.example.app:/cb"]] {
            let n = register(&meta(uris), &RANDOM).unwrap();
            assert_eq!(n.client.sector, n.client.client_id, "{uris:?}");
        }
    }

    #[test]
    fn register_public_and_m2m() {
        let mut m = meta(&["com.example.app:/cb", "http://127.0.0.1:8080/cb"]);
        m.token_endpoint_auth_method = Some("none".into());
        m.subject_type = Some("public".into());
        m.id_token_signed_response_alg = Some("ML-DSA-65".into());
        let n = register(&m, &RANDOM).unwrap();
        assert!(n.secret.is_none() && n.client.secret_hash.is_none() && !n.client.is_confidential());
        assert_eq!(n.client.sector, n.client.client_id);
        assert_eq!(n.client.id_token_alg, Algorithm::MlDsa65);
        assert_eq!(n.client.subject_type, SubjectType::Public);
        n.client.authenticate(AuthMethod::None, None).unwrap();
        assert!(n.client.authenticate(AuthMethod::None, Some("x")).is_err());
        assert!(n.client.authenticate(AuthMethod::ClientSecretPost, Some("x")).is_err());

        let mut m = meta(&[]);
        m.grant_types = Some(vec!["client_credentials".into()]);
        m.response_types = Some(vec![]);
        let n = register(&m, &RANDOM).unwrap();
        assert!(n.client.allows_grant(GrantType::ClientCredentials));
        assert!(!n.client.allows_grant(GrantType::AuthorizationCode));
    }

    #[test]
    fn register_validation_matrix() {
        let redirect = |m: ClientMetadata| matches!(register(&m, &RANDOM), Err(OAuthError::InvalidRedirectUri(_)));
        let metadata = |m: ClientMetadata| matches!(register(&m, &RANDOM), Err(OAuthError::InvalidClientMetadata(_)));
        assert!(redirect(meta(&[])));
        assert!(redirect(meta(&["https://rp.example/cb#frag"])));
        assert!(redirect(meta(&["https://rp.example/cb#"])));
        assert!(redirect(meta(&["http://rp.example/cb"])));
        assert!(redirect(meta(&["http://localhost.evil.example/cb"])));
        assert!(redirect(meta(&["https://user:pw@rp.example/cb"])));
        assert!(redirect(meta(&["https://user@rp.example/cb"])));
        assert!(redirect(meta(&["hello world"])));
        assert!(redirect(meta(&["hello"])));
        assert!(redirect(meta(&["/relative/cb"])));
        assert!(redirect(meta(&["javascript:alert(1)"])));
        assert!(redirect(meta(&[" https://rp.example/cb"])));
        let long = format!("https://rp.example/{}", "a".repeat(2000));
        assert!(redirect(meta(&[long.as_str()])));
        let many: Vec<String> = (0..11).map(|i| format!("https://rp.example/{i}")).collect();
        assert!(redirect(meta(&many.iter().map(String::as_str).collect::<Vec<_>>())));
        let mut m = meta(&["https://rp.example/cb"]);
        m.post_logout_redirect_uris = vec!["http://rp.example/bye".into()];
        assert!(redirect(m));

        let with = |f: &dyn Fn(&mut ClientMetadata)| {
            let mut m = meta(&["https://rp.example/cb"]);
            f(&mut m);
            m
        };
        assert!(metadata(with(&|m| m.id_token_signed_response_alg = Some("HS256".into()))));
        assert!(metadata(with(&|m| m.id_token_signed_response_alg = Some("none".into()))));
        assert!(metadata(with(&|m| {
            m.token_endpoint_auth_method = Some("none".into());
            m.grant_types = Some(vec!["authorization_code".into(), "client_credentials".into()]);
        })));
        assert!(metadata(with(&|m| m.token_endpoint_auth_method = Some("private_key_jwt".into()))));
        assert!(metadata(with(&|m| m.grant_types = Some(vec!["password".into()]))));
        assert!(metadata(with(&|m| m.grant_types = Some(vec![]))));
        assert!(metadata(with(&|m| m.response_types = Some(vec!["token".into()]))));
        assert!(metadata(with(&|m| m.response_types = Some(vec!["code".into(), "id_token".into()]))));
        assert!(metadata(with(&|m| m.scope = Some("openid admin".into()))));
        assert!(metadata(with(&|m| m.scope = Some("bad\"scope".into()))));
        assert!(metadata(with(&|m| m.subject_type = Some("secret".into()))));
        assert!(metadata(with(&|m| m.client_name = Some(String::new()))));
        assert!(metadata(with(&|m| m.client_name = Some("a".repeat(101)))));
        assert!(metadata(with(&|m| m.client_name = Some("evil\u{7}name".into()))));
        assert!(metadata(with(&|m| m.client_name = Some("Bank\u{202e}lanigiro".into()))), "bidi override");
        assert!(metadata(with(&|m| m.client_name = Some("Pay\u{200b}Pal".into()))), "zero-width space");
        assert!(register(&with(&|m| m.client_name = Some("é".repeat(100))), &RANDOM).is_ok());
        assert!(register(&with(&|m| m.response_types = Some(vec!["code".into()])), &RANDOM).is_ok());
    }

    #[test]
    fn redirect_uri_rules() {
        for ok in ["https://rp.example/cb?x=1", "http://localhost:3000/cb", "http://[::1]:8/cb", "com.example.app:/cb"]
        {
            validate_redirect_uri(ok).unwrap();
        }
        for bad in ["http://127.0.0.2/cb", "ftp://rp.example/cb", "myapp:/cb", "https://rp.example/\tcb", ""] {
            assert!(validate_redirect_uri(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn metadata_ignores_unknown_fields() {
        let m: ClientMetadata =
            serde_json::from_str(r#"{"redirect_uris":["https://a.example/cb"],"logo_uri":"x","jwks":{}}"#).unwrap();
        assert_eq!(m.redirect_uris.len(), 1);
    }

    #[test]
    fn authenticate_confidential() {
        let n = register(&meta(&["https://rp.example/cb"]), &RANDOM).unwrap();
        let secret = n.secret.unwrap();
        let c = n.client;
        c.authenticate(AuthMethod::ClientSecretBasic, Some(&secret)).unwrap();
        let failures = [
            c.authenticate(AuthMethod::ClientSecretPost, Some(&secret)),
            c.authenticate(AuthMethod::ClientSecretBasic, Some("ids_wrong")),
            c.authenticate(AuthMethod::ClientSecretBasic, None),
            c.authenticate(AuthMethod::None, None),
        ];
        for f in failures {
            assert_eq!(f, Err(OAuthError::InvalidClient("client authentication failed".into())));
        }
    }

    #[test]
    fn basic_header() {
        let v = format!("Basic {}", STANDARD.encode("idc_abc:s3cr%3At+x"));
        let (id, secret) = parse_basic(&v).unwrap();
        assert_eq!(id, "idc_abc");
        assert_eq!(secret.as_str(), "s3cr:t x");
        let v = format!("bAsIc {}", STANDARD.encode("a:"));
        assert_eq!(parse_basic(&v).unwrap().1.as_str(), "");
        let long = format!("Basic {}", "A".repeat(1100));
        let bad = [
            "Bearer abc".to_owned(),
            "Basic".to_owned(),
            "Basic !!!".to_owned(),
            format!("Basic {}", STANDARD.encode("nocolon")),
            format!("Basic {}", STANDARD.encode(":secret")),
            format!("Basic {}", STANDARD.encode("a:%zz")),
            format!("Basic {}", STANDARD.encode("a:%c3")),
            format!("Basic {}", STANDARD.encode([0xff, b':', b'a'])),
            long,
        ];
        for b in bad {
            assert!(matches!(parse_basic(&b), Err(OAuthError::InvalidClient(_))), "{b}");
        }
    }

    #[test]
    fn enum_names_round_trip() {
        for m in [AuthMethod::ClientSecretBasic, AuthMethod::ClientSecretPost, AuthMethod::None] {
            assert_eq!(AuthMethod::parse(m.as_str()), Some(m));
        }
        for s in [SubjectType::Pairwise, SubjectType::Public] {
            assert_eq!(SubjectType::parse(s.as_str()), Some(s));
        }
        for g in [GrantType::AuthorizationCode, GrantType::RefreshToken, GrantType::ClientCredentials] {
            assert_eq!(GrantType::parse(g.as_str()), Some(g));
        }
        assert_eq!(AuthMethod::parse("NONE"), None);
        assert_eq!(GrantType::parse("password"), None);
        assert_eq!(SubjectType::parse(""), None);
    }
}
