//! The authorization endpoint: request validation (RFC 6749 §4.1.1, OAuth 2.1 §4.1.1,
//! OIDC Core §3.1.2.1) and redirect construction.

use serde::Deserialize;

use crate::client::{Client, GrantType};
use crate::error::OAuthError;
use crate::pkce;
use crate::scope::ScopeSet;

/// Longest `state`, `nonce`, `login_hint` and `acr_values` accepted, in bytes.
const MAX_PARAM_LEN: usize = 512;

/// The raw query of an authorization request. Every field is optional here; [`validate`]
/// decides what is required.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct AuthorizationRequest {
    /// `client_id`.
    pub client_id: Option<String>,
    /// `redirect_uri`.
    pub redirect_uri: Option<String>,
    /// `response_type`; only `code`.
    pub response_type: Option<String>,
    /// `scope`.
    pub scope: Option<String>,
    /// `state`, returned unchanged.
    pub state: Option<String>,
    /// `nonce` (OIDC), copied into the ID token.
    pub nonce: Option<String>,
    /// `code_challenge` (RFC 7636).
    pub code_challenge: Option<String>,
    /// `code_challenge_method`; only `S256`.
    pub code_challenge_method: Option<String>,
    /// `prompt` (OIDC Core §3.1.2.1).
    pub prompt: Option<String>,
    /// `max_age` in seconds (OIDC Core §3.1.2.1).
    pub max_age: Option<String>,
    /// `response_mode`; only `query`.
    pub response_mode: Option<String>,
    /// `acr_values`, space-delimited.
    pub acr_values: Option<String>,
    /// `login_hint`.
    pub login_hint: Option<String>,
    /// `request` (request objects are not supported).
    pub request: Option<String>,
    /// `request_uri` (not supported).
    pub request_uri: Option<String>,
}

/// The `prompt` values that change the flow (`select_account` is accepted and has no effect:
/// a browser has one session).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Prompt {
    /// `none`: no page may be shown; answer `login_required` / `consent_required` instead.
    pub none: bool,
    /// `login`: force a fresh login.
    pub login: bool,
    /// `consent`: show the consent page even if consent was given before.
    pub consent: bool,
}

/// A valid authorization request.
#[derive(Clone, Debug)]
pub struct ValidatedAuthorization {
    /// The client.
    pub client_id: String,
    /// The redirect URI (registered, exact match).
    pub redirect_uri: String,
    /// Requested scopes, within the client's.
    pub scope: ScopeSet,
    /// `state` to return.
    pub state: Option<String>,
    /// `nonce` for the ID token.
    pub nonce: Option<String>,
    /// The S256 code challenge.
    pub code_challenge: String,
    /// `prompt`.
    pub prompt: Prompt,
    /// `max_age` in seconds.
    pub max_age: Option<u64>,
    /// Requested ACR values, in order.
    pub acr_values: Vec<String>,
    /// `login_hint`.
    pub login_hint: Option<String>,
}

/// Why an authorization request failed, and where the answer goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthorizeFailure {
    /// Render an error page; never redirect. Used while the client or the redirect URI is not
    /// known to be valid (no open redirector: RFC 6749 §4.1.2.1, OAuth 2.1 §7.12).
    Show(OAuthError),
    /// Send the error to the client's redirect URI, with `state` (and `iss`, added by the server).
    Redirect {
        /// The validated redirect URI.
        redirect_uri: String,
        /// The request's `state`, if any.
        state: Option<String>,
        /// The error.
        error: OAuthError,
    },
}

impl AuthorizeFailure {
    /// The error, wherever it goes.
    pub fn error(&self) -> &OAuthError {
        match self {
            Self::Show(e) | Self::Redirect { error: e, .. } => e,
        }
    }
}

/// Validate an authorization request for `client` (the client named by `client_id`, or `None`
/// when no such client exists).
///
/// Errors about `client_id` and `redirect_uri` are [`AuthorizeFailure::Show`]; every later one
/// is [`AuthorizeFailure::Redirect`]. A missing `redirect_uri` is accepted only when the client
/// registered exactly one and the request is not OpenID Connect (`openid` scope: OIDC Core
/// §3.1.2.1 makes it required). A missing or empty `scope` is `invalid_scope`.
///
/// # Errors
///
/// See [`AuthorizeFailure`]; the error codes are those of RFC 6749 §4.1.2.1.
pub fn validate(
    req: &AuthorizationRequest,
    client: Option<&Client>,
) -> Result<ValidatedAuthorization, AuthorizeFailure> {
    let show = |m: &str| AuthorizeFailure::Show(OAuthError::InvalidRequest(m.to_owned()));
    let client_id = req.client_id.as_deref().ok_or_else(|| show("client_id is required"))?;
    let client = client.filter(|c| c.client_id == client_id).ok_or_else(|| show("unknown client_id"))?;

    let wants_openid = req.scope.as_deref().is_some_and(|s| s.split(' ').any(|t| t == "openid"));
    let redirect_uri = match (req.redirect_uri.as_deref(), client.redirect_uris.as_slice()) {
        (Some(uri), _) if client.redirect_uri_allowed(uri) => uri.to_owned(),
        (Some(_), _) => return Err(show("redirect_uri is not registered for this client")),
        (None, [only]) if !wants_openid => only.clone(),
        (None, _) => return Err(show("redirect_uri is required")),
    };

    // From here on the redirect URI is trusted: errors go back to the client.
    if req.state.as_ref().is_some_and(|s| s.len() > MAX_PARAM_LEN) {
        return Err(AuthorizeFailure::Redirect {
            redirect_uri,
            state: None,
            error: OAuthError::InvalidRequest("state is longer than 512 bytes".into()),
        });
    }
    let state = req.state.clone();
    let redirect = |error: OAuthError| AuthorizeFailure::Redirect {
        redirect_uri: redirect_uri.clone(),
        state: state.clone(),
        error,
    };
    let invalid = |m: &str| redirect(OAuthError::InvalidRequest(m.to_owned()));

    if req.request.is_some() || req.request_uri.is_some() {
        return Err(invalid("request objects (request, request_uri) are not supported"));
    }
    if req.response_type.as_deref() != Some("code") {
        return Err(redirect(OAuthError::UnsupportedResponseType("response_type must be code".into())));
    }
    if req.response_mode.as_deref().is_some_and(|m| m != "query") {
        return Err(invalid("response_mode must be query"));
    }
    if !client.allows_grant(GrantType::AuthorizationCode) {
        return Err(redirect(OAuthError::UnauthorizedClient(
            "this client may not use the authorization code flow".into(),
        )));
    }

    let scope = ScopeSet::parse(req.scope.as_deref().unwrap_or("")).map_err(&redirect)?;
    if scope.is_empty() {
        return Err(redirect(OAuthError::InvalidScope("scope is required".into())));
    }
    if !scope.is_subset(&client.scopes) {
        return Err(redirect(OAuthError::InvalidScope("scope exceeds what this client may request".into())));
    }

    let code_challenge = pkce::validate_challenge(req.code_challenge.as_deref(), req.code_challenge_method.as_deref())
        .map_err(&redirect)?;

    if req.nonce.as_ref().is_some_and(|n| n.len() > MAX_PARAM_LEN) {
        return Err(invalid("nonce is longer than 512 bytes"));
    }
    let prompt = parse_prompt(req.prompt.as_deref()).map_err(&invalid)?;
    let max_age = match req.max_age.as_deref() {
        None => None,
        Some(s) if !s.is_empty() && s.len() <= 19 && s.bytes().all(|b| b.is_ascii_digit()) => {
            Some(s.parse::<u64>().map_err(|_| invalid("max_age must be a non-negative integer"))?)
        }
        Some(_) => return Err(invalid("max_age must be a non-negative integer")),
    };
    if req.acr_values.as_ref().is_some_and(|a| a.len() > MAX_PARAM_LEN) {
        return Err(invalid("acr_values is longer than 512 bytes"));
    }
    let acr_values = req.acr_values.as_deref().unwrap_or("").split_ascii_whitespace().map(str::to_owned).collect();
    if req.login_hint.as_ref().is_some_and(|h| h.len() > MAX_PARAM_LEN) {
        return Err(invalid("login_hint is longer than 512 bytes"));
    }

    Ok(ValidatedAuthorization {
        client_id: client.client_id.clone(),
        redirect_uri: redirect_uri.clone(),
        scope,
        state: state.clone(),
        nonce: req.nonce.clone(),
        code_challenge,
        prompt,
        max_age,
        acr_values,
        login_hint: req.login_hint.clone(),
    })
}

/// Parse `prompt` (OIDC Core §3.1.2.1): space-delimited `none`, `login`, `consent`,
/// `select_account`; `none` may not be combined with another value.
fn parse_prompt(p: Option<&str>) -> Result<Prompt, &'static str> {
    let mut prompt = Prompt::default();
    let mut others = false;
    for v in p.unwrap_or("").split(' ').filter(|v| !v.is_empty()) {
        match v {
            "none" => prompt.none = true,
            "login" => {
                prompt.login = true;
                others = true;
            }
            "consent" => {
                prompt.consent = true;
                others = true;
            }
            "select_account" => others = true,
            _ => return Err("prompt must be none, login, consent or select_account"),
        }
    }
    if prompt.none && others {
        return Err("prompt=none cannot be combined with other values");
    }
    Ok(prompt)
}

/// Append `params`, form-urlencoded, to the query of `redirect_uri` (RFC 6749 §4.1.2: the
/// registered URI's own query is kept as it is). A fragment, which registered URIs never have,
/// would stay last.
pub fn redirect_with(redirect_uri: &str, params: &[(&str, &str)]) -> String {
    if params.is_empty() {
        return redirect_uri.to_owned();
    }
    let (base, fragment) = match redirect_uri.split_once('#') {
        Some((b, f)) => (b, Some(f)),
        None => (redirect_uri, None),
    };
    let mut ser = form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        ser.append_pair(k, v);
    }
    let query = ser.finish();
    let sep = match base.find('?') {
        None => "?",
        Some(_) if base.ends_with('?') || base.ends_with('&') => "",
        Some(_) => "&",
    };
    let mut out = format!("{base}{sep}{query}");
    if let Some(f) = fragment {
        out.push('#');
        out.push_str(f);
    }
    out
}

#[cfg(test)]
mod tests {
    use idseal_keys::Algorithm;

    use super::*;
    use crate::client::{AuthMethod, SubjectType};

    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    const CB: &str = "https://rp.example/cb?tenant=a";

    fn client(uris: &[&str]) -> Client {
        Client {
            client_id: "idc_x".into(),
            name: "RP".into(),
            secret_hash: None,
            redirect_uris: uris.iter().map(|&u| u.to_owned()).collect(),
            post_logout_redirect_uris: vec![],
            scopes: ScopeSet::from_static(&["openid", "email", "profile"]),
            auth_method: AuthMethod::None,
            grant_types: vec![GrantType::AuthorizationCode],
            id_token_alg: Algorithm::Rs256,
            subject_type: SubjectType::Pairwise,
            sector: "rp.example".into(),
        }
    }

    fn good() -> AuthorizationRequest {
        AuthorizationRequest {
            client_id: Some("idc_x".into()),
            redirect_uri: Some(CB.into()),
            response_type: Some("code".into()),
            scope: Some("openid email".into()),
            state: Some("st".into()),
            nonce: Some("n".into()),
            code_challenge: Some(CHALLENGE.into()),
            code_challenge_method: Some("S256".into()),
            ..Default::default()
        }
    }

    fn err_of(req: &AuthorizationRequest, c: Option<&Client>) -> AuthorizeFailure {
        validate(req, c).unwrap_err()
    }

    #[test]
    fn accepts_a_good_request() {
        let c = client(&[CB]);
        let mut r = good();
        r.prompt = Some("login consent".into());
        r.max_age = Some("0".into());
        r.acr_values = Some("http://eidas.europa.eu/LoA/high  http://eidas.europa.eu/LoA/substantial".into());
        r.login_hint = Some("a@b.example".into());
        let v = validate(&r, Some(&c)).unwrap();
        assert_eq!(v.redirect_uri, CB);
        assert_eq!(v.scope.to_string(), "email openid");
        assert_eq!(v.code_challenge, CHALLENGE);
        assert_eq!(v.prompt, Prompt { none: false, login: true, consent: true });
        assert_eq!(v.max_age, Some(0));
        assert_eq!(v.acr_values.len(), 2);
        assert_eq!(v.state.as_deref(), Some("st"));
        assert_eq!(v.nonce.as_deref(), Some("n"));
        let mut r = good();
        r.nonce = None;
        r.response_mode = Some("query".into());
        r.prompt = Some("select_account".into());
        assert!(validate(&r, Some(&c)).is_ok(), "nonce is optional in the code flow");
    }

    #[test]
    fn client_and_redirect_errors_are_never_redirected() {
        let c = client(&[CB]);
        let mut r = good();
        r.client_id = None;
        assert!(matches!(err_of(&r, Some(&c)), AuthorizeFailure::Show(OAuthError::InvalidRequest(_))));
        // Unknown client, even with every other parameter broken.
        let mut r = good();
        r.response_type = Some("token".into());
        assert!(matches!(err_of(&r, None), AuthorizeFailure::Show(_)));
        let mut r = good();
        r.client_id = Some("idc_other".into());
        assert!(matches!(err_of(&r, Some(&c)), AuthorizeFailure::Show(_)));
        for uri in ["https://evil.example/cb", "https://rp.example/cb", "https://rp.example/cb?tenant=a&x=1"] {
            let mut r = good();
            r.redirect_uri = Some(uri.into());
            r.scope = Some("admin".into());
            assert!(matches!(err_of(&r, Some(&c)), AuthorizeFailure::Show(_)), "{uri}");
        }
        // Missing redirect_uri: OIDC requires it; plain OAuth with one registered URI may omit it.
        let mut r = good();
        r.redirect_uri = None;
        assert!(matches!(err_of(&r, Some(&c)), AuthorizeFailure::Show(_)));
        r.scope = Some("email".into());
        assert_eq!(validate(&r, Some(&c)).unwrap().redirect_uri, CB);
        let two = client(&[CB, "https://rp.example/2"]);
        assert!(matches!(err_of(&r, Some(&two)), AuthorizeFailure::Show(_)));
    }

    #[test]
    fn later_errors_redirect_with_state() {
        let c = client(&[CB]);
        type Change = Box<dyn Fn(&mut AuthorizationRequest)>;
        let cases: Vec<(Change, &str)> = vec![
            (Box::new(|r| r.request = Some("eyJ".into())), "invalid_request"),
            (Box::new(|r| r.request_uri = Some("urn:x".into())), "invalid_request"),
            (Box::new(|r| r.response_type = None), "unsupported_response_type"),
            (Box::new(|r| r.response_type = Some("code id_token".into())), "unsupported_response_type"),
            (Box::new(|r| r.response_mode = Some("fragment".into())), "invalid_request"),
            (Box::new(|r| r.scope = Some("openid offline_access".into())), "invalid_scope"),
            (Box::new(|r| r.scope = Some("a\\b".into())), "invalid_scope"),
            (Box::new(|r| r.scope = None), "invalid_scope"),
            (Box::new(|r| r.code_challenge = None), "invalid_request"),
            (Box::new(|r| r.code_challenge_method = Some("plain".into())), "invalid_request"),
            (Box::new(|r| r.nonce = Some("n".repeat(513))), "invalid_request"),
            (Box::new(|r| r.prompt = Some("none login".into())), "invalid_request"),
            (Box::new(|r| r.prompt = Some("sometimes".into())), "invalid_request"),
            (Box::new(|r| r.max_age = Some("-1".into())), "invalid_request"),
            (Box::new(|r| r.max_age = Some("1.5".into())), "invalid_request"),
            (Box::new(|r| r.max_age = Some(String::new())), "invalid_request"),
            (Box::new(|r| r.login_hint = Some("h".repeat(513))), "invalid_request"),
        ];
        for (change, code) in cases {
            let mut r = good();
            change(&mut r);
            match err_of(&r, Some(&c)) {
                AuthorizeFailure::Redirect { redirect_uri, state, error } => {
                    assert_eq!(redirect_uri, CB);
                    assert_eq!(state.as_deref(), Some("st"));
                    assert_eq!(error.code(), code, "{r:?}");
                }
                other => panic!("expected a redirect, got {other:?}"),
            }
        }
        let mut r = good();
        r.state = Some("s".repeat(513));
        let e = err_of(&r, Some(&c));
        assert!(matches!(e, AuthorizeFailure::Redirect { state: None, .. }));
        assert_eq!(e.error().code(), "invalid_request");

        let mut m2m = client(&[CB]);
        m2m.grant_types = vec![GrantType::ClientCredentials];
        assert_eq!(err_of(&good(), Some(&m2m)).error().code(), "unauthorized_client");
    }

    #[test]
    fn prompt_none() {
        let c = client(&[CB]);
        let mut r = good();
        r.prompt = Some("none".into());
        assert_eq!(validate(&r, Some(&c)).unwrap().prompt, Prompt { none: true, login: false, consent: false });
    }

    #[test]
    fn redirect_with_keeps_the_registered_query() {
        let p = [("code", "a b&c"), ("state", "x=y"), ("iss", "https://id.example")];
        assert_eq!(
            redirect_with("https://rp.example/cb", &p),
            "https://rp.example/cb?code=a+b%26c&state=x%3Dy&iss=https%3A%2F%2Fid.example"
        );
        assert_eq!(redirect_with(CB, &[("code", "1")]), "https://rp.example/cb?tenant=a&code=1");
        assert_eq!(redirect_with("https://rp.example/cb?", &[("code", "1")]), "https://rp.example/cb?code=1");
        assert_eq!(
            redirect_with("com.example.app:/cb", &[("error", "access_denied")]),
            "com.example.app:/cb?error=access_denied"
        );
        assert_eq!(redirect_with(CB, &[]), CB);
        assert_eq!(redirect_with("https://a.example/cb#f", &[("c", "1")]), "https://a.example/cb?c=1#f");
    }
}
