//! Push to the user's phone: Firebase Cloud Messaging (FCM) HTTP v1 data messages (docs/push.md).
//!
//! [`FcmSender`] signs an RFC 7523 JWT-bearer assertion with the service account's RSA key (RS256 through
//! `idseal_keys`), trades it for an OAuth access token at the account's `token_uri`, caches that token until 60 s
//! before it expires, and posts `messages:send`. Messages are data-only: the body never has a `notification`
//! field, so the one-time password is never shown by the operating system.
//!
//! Outcomes: an unregistered or invalid registration token is [`PushError::TokenDead`] (the caller forgets it);
//! 429, 500, 503 and transport failures are retried at most twice, honouring `Retry-After`, within a time budget
//! that never exceeds the message's TTL; a 401 drops the cached access token and is retried once. Error messages
//! never carry the access token, the assertion, the private key or any data value.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use idseal_keys::{Algorithm, SigningKey};
use idseal_types::{Clock, UnixTime};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use reqwest::{StatusCode, Url};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use zeroize::Zeroizing;

/// The public FCM endpoint, the default of `push.fcm_endpoint`.
pub const DEFAULT_FCM_ENDPOINT: &str = "https://fcm.googleapis.com";
/// The OAuth scope an FCM access token needs.
pub const FCM_SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";
/// The RFC 7523 grant type of the token request.
pub const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// FCM's limit on a message's data (keys and values, in bytes).
pub const MAX_DATA_BYTES: usize = 4096;
/// FCM's longest TTL: 28 days.
pub const MAX_TTL_SECS: u32 = 28 * 86400;

/// Seconds before its expiry that a cached access token is replaced.
const REFRESH_MARGIN: Duration = Duration::from_secs(60);
/// Lifetime of the signed assertion (Google accepts at most one hour).
const ASSERTION_SECS: u64 = 3600;

/// The `[push]` configuration section.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PushConfig {
    /// The Firebase service-account JSON file (mode 0600); unset = push is off and `/auth/initiate` relies on the
    /// device WebSocket alone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fcm_service_account_file: Option<PathBuf>,
    /// FCM's base URL: https, or http to a loopback address (tests).
    pub fcm_endpoint: String,
    /// Time limit of one HTTP request to FCM or to the token endpoint, seconds.
    pub timeout_secs: u64,
}

impl Default for PushConfig {
    fn default() -> Self {
        Self { fcm_service_account_file: None, fcm_endpoint: DEFAULT_FCM_ENDPOINT.into(), timeout_secs: 10 }
    }
}

impl PushConfig {
    /// Checks the values that need no file access; the error is the dotted key and the reason.
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        if !(1..=120).contains(&self.timeout_secs) {
            return Err(("push.timeout_secs", "must be between 1 and 120".into()));
        }
        base_url(&self.fcm_endpoint).map_err(|r| ("push.fcm_endpoint", r))?;
        if self.fcm_service_account_file.as_ref().is_some_and(|p| p.as_os_str().is_empty()) {
            return Err(("push.fcm_service_account_file", "must not be empty".into()));
        }
        Ok(())
    }
}

/// Why a push was not delivered to FCM, or a sender not built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PushError {
    /// Push is not configured (`push.fcm_service_account_file` is unset).
    #[error("push is not configured (push.fcm_service_account_file is unset)")]
    NotConfigured,
    /// FCM says the registration token is unregistered or invalid: forget it and ask the device to re-enroll.
    #[error("the registration token is unregistered or invalid")]
    TokenDead,
    /// FCM refused the message for another reason (not retried).
    #[error("FCM refused the message: HTTP {status} {reason}")]
    Rejected {
        /// The HTTP status.
        status: u16,
        /// FCM's status and error code, like `PERMISSION_DENIED/SENDER_ID_MISMATCH`.
        reason: String,
    },
    /// FCM or the token endpoint could not be reached or stayed overloaded after the retries.
    #[error("FCM is unavailable: {0}")]
    Unavailable(String),
    /// The service account is unusable, or the token endpoint or FCM refused its credentials.
    #[error("FCM credentials: {0}")]
    Credentials(String),
    /// The message was refused before sending: an empty registration token, a reserved data key, data over
    /// 4096 bytes, or a TTL over 28 days.
    #[error("invalid push message: {0}")]
    InvalidMessage(String),
}

/// Sends one data message to one device.
pub trait PushSender: Send + Sync {
    /// Sends `data` to the device with `registration_token`; the message is dropped by FCM after `ttl_secs`.
    fn send<'a>(
        &'a self,
        registration_token: &'a str,
        data: &'a BTreeMap<String, String>,
        ttl_secs: u32,
    ) -> Pin<Box<dyn Future<Output = Result<(), PushError>> + Send + 'a>>;
}

/// The sender used when push is not configured: every send is [`PushError::NotConfigured`].
#[derive(Clone, Copy, Debug, Default)]
pub struct DisabledSender;

impl PushSender for DisabledSender {
    fn send<'a>(
        &'a self,
        _registration_token: &'a str,
        _data: &'a BTreeMap<String, String>,
        _ttl_secs: u32,
    ) -> Pin<Box<dyn Future<Output = Result<(), PushError>> + Send + 'a>> {
        Box::pin(async { Err(PushError::NotConfigured) })
    }
}

/// How failed sends are retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// Wait before the first retry when the answer has no `Retry-After`; doubled for each further retry.
    pub base_delay: Duration,
    /// Longest time one send may take with its retries (never more than the message's TTL). A `Retry-After` that
    /// reaches past it ends the send at once with [`PushError::Unavailable`].
    pub budget: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { max_retries: 2, base_delay: Duration::from_millis(500), budget: Duration::from_secs(10) }
    }
}

impl RetryPolicy {
    /// The wait before retry number `retry` (0 for the first): `Retry-After` when FCM gave one, otherwise the
    /// base delay doubled `retry` times.
    pub fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        retry_after.unwrap_or_else(|| self.base_delay.saturating_mul(2u32.saturating_pow(retry)))
    }
}

/// An FCM HTTP v1 client for one service account. Its `Debug` shows only the project id and the client email.
pub struct FcmSender {
    project_id: String,
    client_email: String,
    key: SigningKey,
    /// `token_uri` exactly as the service account gives it: the assertion's `aud`.
    token_uri: String,
    token_url: Url,
    send_url: Url,
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
    retry: RetryPolicy,
    token: tokio::sync::Mutex<TokenCache>,
}

impl fmt::Debug for FcmSender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FcmSender")
            .field("project_id", &self.project_id)
            .field("client_email", &self.client_email)
            .finish_non_exhaustive()
    }
}

#[derive(Default)]
struct TokenCache {
    current: Option<AccessToken>,
    /// Bumped on every fetch, so that a 401 drops only the token it was answered with.
    generation: u64,
}

struct AccessToken {
    value: Zeroizing<String>,
    refresh_at: UnixTime,
}

/// One attempt's outcome.
enum Attempt {
    Sent,
    Unauthorized,
    Retry { reason: String, retry_after: Option<Duration> },
    Failed(PushError),
}

impl FcmSender {
    /// A sender for the service account in `json` (the file Firebase's console downloads), posting to
    /// `endpoint` (normally [`DEFAULT_FCM_ENDPOINT`]) through `http`, which must come from
    /// [`crate::http::client_builder`]. Nothing is fetched yet.
    ///
    /// # Errors
    ///
    /// [`PushError::Credentials`] naming what is wrong with the JSON: not a `service_account`, a missing or empty
    /// field, a `token_uri` that is neither https nor loopback http, a key that is not a PKCS#8 RSA key of at
    /// least 2048 bits; [`PushError::Unavailable`] for an `endpoint` that is not a usable URL.
    pub fn from_service_account_json(
        json: &str,
        endpoint: &str,
        http: reqwest::Client,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, PushError> {
        let mut doc: Value = serde_json::from_str(json)
            .map_err(|e| cred(format!("service account is not JSON (line {}, column {})", e.line(), e.column())))?;
        let obj = doc.as_object_mut().ok_or_else(|| cred("service account JSON is not an object"))?;
        // Take the key out first, so that the only long-lived copy is zeroized whatever fails next.
        let pem = match obj.remove("private_key") {
            Some(Value::String(s)) => Zeroizing::new(s),
            _ => return Err(cred("service account field `private_key` is missing or not a string")),
        };
        let field = |name: &str| -> Result<String, PushError> {
            match obj.get(name) {
                Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.clone()),
                _ => Err(cred(format!("service account field `{name}` is missing, empty or not a string"))),
            }
        };
        if field("type")? != "service_account" {
            return Err(cred("service account field `type` must be \"service_account\""));
        }
        let project_id = field("project_id")?;
        if !project_id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-.:".contains(&b)) {
            return Err(cred("service account field `project_id` has characters a project id never has"));
        }
        let private_key_id = field("private_key_id")?;
        if !private_key_id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
            return Err(cred("service account field `private_key_id` has characters a key id never has"));
        }
        let client_email = field("client_email")?;
        if !client_email.contains('@') || client_email.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(cred("service account field `client_email` is not an email address"));
        }
        let token_uri = field("token_uri")?;
        let token_url = http_url(&token_uri).map_err(|r| cred(format!("service account field `token_uri` {r}")))?;
        let der = pem_pkcs8(&pem)?;
        let key = SigningKey::from_pkcs8(Algorithm::Rs256, private_key_id, &der)
            .map_err(|_| cred("service account `private_key` is not a PKCS#8 RSA key of at least 2048 bits"))?;
        let base = base_url(endpoint).map_err(|r| PushError::Unavailable(format!("push.fcm_endpoint {r}")))?;
        let send_url = base
            .join(&format!("v1/projects/{project_id}/messages:send"))
            .map_err(|_| PushError::Unavailable("push.fcm_endpoint cannot be joined with the send path".into()))?;
        Ok(Self {
            project_id,
            client_email,
            key,
            token_uri,
            token_url,
            send_url,
            http,
            clock,
            retry: RetryPolicy::default(),
            token: tokio::sync::Mutex::new(TokenCache::default()),
        })
    }

    /// The sender the configuration asks for; `None` when `push.fcm_service_account_file` is unset. Reads the
    /// file and builds an HTTP client with the configured timeout that follows no redirects.
    ///
    /// # Errors
    ///
    /// [`PushError::Credentials`] when the file cannot be read, is readable by group or others, or does not hold
    /// a usable service account; [`PushError::Unavailable`] for a bad endpoint or HTTP client.
    pub fn from_config(cfg: &PushConfig, clock: Arc<dyn Clock>) -> Result<Option<Self>, PushError> {
        let Some(path) = &cfg.fcm_service_account_file else { return Ok(None) };
        check_private_file(path)?;
        let json = Zeroizing::new(
            std::fs::read_to_string(path).map_err(|e| cred(format!("cannot read {}: {e}", path.display())))?,
        );
        let http = crate::http::client_builder()
            .timeout(Duration::from_secs(cfg.timeout_secs))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| PushError::Unavailable(format!("cannot build the HTTP client: {e}")))?;
        Self::from_service_account_json(&json, &cfg.fcm_endpoint, http, clock).map(Some)
    }

    /// Replaces the retry policy.
    #[must_use]
    pub fn with_retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The Firebase project id.
    pub fn project_id(&self) -> &str {
        &self.project_id
    }

    /// The service account's email address (the assertion's issuer).
    pub fn client_email(&self) -> &str {
        &self.client_email
    }

    async fn send_message(&self, token: &str, data: &BTreeMap<String, String>, ttl_secs: u32) -> Result<(), PushError> {
        check_message(token, data, ttl_secs)?;
        let body = Zeroizing::new(message_body(token, data, ttl_secs, self.clock.now()));
        let budget = self.retry.budget.min(Duration::from_secs(u64::from(ttl_secs)));
        let started = tokio::time::Instant::now();
        let mut retries = 0u32;
        let mut reauthorized = false;
        loop {
            let (access, generation) = self.access_token().await?;
            match self.attempt(&access, &body).await {
                Attempt::Sent => return Ok(()),
                Attempt::Failed(e) => return Err(e),
                Attempt::Unauthorized if reauthorized => {
                    return Err(cred("FCM refused a freshly fetched access token (HTTP 401)"));
                }
                Attempt::Unauthorized => {
                    reauthorized = true;
                    self.drop_token(generation).await;
                }
                Attempt::Retry { reason, retry_after } => {
                    if retries >= self.retry.max_retries {
                        let attempts = retries + 1;
                        return Err(PushError::Unavailable(format!("{reason}; gave up after {attempts} attempts")));
                    }
                    let delay = self.retry.delay(retries, retry_after);
                    if started.elapsed().saturating_add(delay) > budget {
                        let (wait, limit) = (delay.as_secs_f32(), budget.as_secs_f32());
                        return Err(PushError::Unavailable(format!(
                            "{reason}; a retry in {wait:.1} s would end past the {limit:.1} s budget"
                        )));
                    }
                    tokio::time::sleep(delay).await;
                    retries += 1;
                }
            }
        }
    }

    async fn attempt(&self, access: &str, body: &[u8]) -> Attempt {
        let bearer = Zeroizing::new(format!("Bearer {access}"));
        let sent = self
            .http
            .post(self.send_url.clone())
            .header(AUTHORIZATION, bearer.as_str())
            .header(CONTENT_TYPE, "application/json")
            .body(body.to_vec())
            .send()
            .await;
        let resp = match sent {
            Ok(r) => r,
            Err(e) => return Attempt::Retry { reason: transport(&e), retry_after: None },
        };
        let status = resp.status();
        if status.is_success() {
            return Attempt::Sent;
        }
        let retry_after = resp.headers().get(RETRY_AFTER).and_then(|v| v.to_str().ok()).and_then(parse_retry_after);
        let body = resp.bytes().await.unwrap_or_default();
        classify(status, &body, retry_after)
    }

    /// The cached access token, or a fresh one; the lock is held during a fetch, so concurrent sends share it.
    async fn access_token(&self) -> Result<(Zeroizing<String>, u64), PushError> {
        let mut cache = self.token.lock().await;
        let now = self.clock.now();
        if let Some(t) = &cache.current
            && now < t.refresh_at
        {
            return Ok((t.value.clone(), cache.generation));
        }
        cache.current = None;
        let fresh = self.fetch_token(now).await?;
        let value = fresh.value.clone();
        cache.generation = cache.generation.wrapping_add(1);
        cache.current = Some(fresh);
        Ok((value, cache.generation))
    }

    async fn drop_token(&self, generation: u64) {
        let mut cache = self.token.lock().await;
        if cache.generation == generation {
            cache.current = None;
        }
    }

    async fn fetch_token(&self, now: UnixTime) -> Result<AccessToken, PushError> {
        let claims = json!({
            "iss": self.client_email,
            "scope": FCM_SCOPE,
            "aud": self.token_uri,
            "iat": now.as_secs(),
            "exp": now.saturating_add(Duration::from_secs(ASSERTION_SECS)).as_secs(),
        });
        let mut header = Map::new();
        header.insert("typ".into(), Value::from("JWT"));
        let payload = serde_json::to_vec(&claims).map_err(|_| cred("cannot encode the assertion"))?;
        let assertion = Zeroizing::new(
            idseal_keys::sign_compact(&self.key, &header, &payload).map_err(|_| cred("cannot sign the assertion"))?,
        );
        let form = Zeroizing::new(
            form_urlencoded::Serializer::new(String::new())
                .append_pair("grant_type", JWT_BEARER_GRANT)
                .append_pair("assertion", &assertion)
                .finish(),
        );
        let resp = self
            .http
            .post(self.token_url.clone())
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(form.as_bytes().to_vec())
            .send()
            .await
            .map_err(|e| PushError::Unavailable(format!("token endpoint: {}", transport(&e))))?;
        let status = resp.status();
        let body = Zeroizing::new(resp.bytes().await.map(|b| b.to_vec()).unwrap_or_default());
        if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
            return Err(PushError::Unavailable(format!("token endpoint answered HTTP {}", status.as_u16())));
        }
        let mut doc: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        if !status.is_success() {
            let text = |k: &str| doc.get(k).and_then(Value::as_str).map(printable).unwrap_or_default();
            return Err(cred(format!(
                "token endpoint refused the assertion: HTTP {} {} {}",
                status.as_u16(),
                text("error"),
                text("error_description")
            )));
        }
        let expires_in = doc.get("expires_in").and_then(Value::as_u64);
        let bearer = doc.get("token_type").and_then(Value::as_str).is_some_and(|t| t.eq_ignore_ascii_case("bearer"));
        let value = match doc.get_mut("access_token").map(Value::take) {
            Some(Value::String(s)) if !s.is_empty() => Zeroizing::new(s),
            _ => return Err(cred("token endpoint answer has no access_token")),
        };
        let (Some(expires_in), true) = (expires_in, bearer) else {
            return Err(cred("token endpoint answer lacks expires_in or is not a Bearer token"));
        };
        let refresh_at = now.saturating_add(Duration::from_secs(expires_in).saturating_sub(REFRESH_MARGIN));
        Ok(AccessToken { value, refresh_at })
    }
}

impl PushSender for FcmSender {
    fn send<'a>(
        &'a self,
        registration_token: &'a str,
        data: &'a BTreeMap<String, String>,
        ttl_secs: u32,
    ) -> Pin<Box<dyn Future<Output = Result<(), PushError>> + Send + 'a>> {
        Box::pin(self.send_message(registration_token, data, ttl_secs))
    }
}

fn cred(reason: impl Into<String>) -> PushError {
    PushError::Credentials(reason.into())
}

/// The request body: data only, high priority on Android, a silent background push on Apple devices (APNs allows
/// only priority 5 for those), and an expiry on both.
fn message_body(token: &str, data: &BTreeMap<String, String>, ttl_secs: u32, now: UnixTime) -> Vec<u8> {
    let expires = now.saturating_add(Duration::from_secs(u64::from(ttl_secs)));
    let message = json!({
        "message": {
            "token": token,
            "data": data,
            "android": { "priority": "high", "ttl": format!("{ttl_secs}s") },
            "apns": {
                "headers": {
                    "apns-priority": "5",
                    "apns-push-type": "background",
                    "apns-expiration": expires.as_secs().to_string(),
                },
                "payload": { "aps": { "content-available": 1 } },
            },
        }
    });
    serde_json::to_vec(&message).unwrap_or_default()
}

/// Refuses what FCM would refuse for reasons that are not the token's fault, so that its `INVALID_ARGUMENT`
/// can be read as "this token is invalid".
fn check_message(token: &str, data: &BTreeMap<String, String>, ttl_secs: u32) -> Result<(), PushError> {
    let bad = |r: String| Err(PushError::InvalidMessage(r));
    if token.is_empty() || token.len() > 4096 || !token.bytes().all(|b| b.is_ascii_graphic()) {
        return bad("the registration token is empty, too long or not printable ASCII".into());
    }
    if ttl_secs > MAX_TTL_SECS {
        return bad(format!("ttl_secs {ttl_secs} exceeds FCM's 28 days"));
    }
    let mut size = 0usize;
    for (k, v) in data {
        let reserved = ["from", "notification", "message_type", "collapse_key"].contains(&k.as_str())
            || k.starts_with("google")
            || k.starts_with("gcm");
        if k.is_empty() || reserved {
            return bad(format!("data key `{}` is empty or reserved by FCM", printable(k)));
        }
        size = size.saturating_add(k.len()).saturating_add(v.len());
    }
    if size > MAX_DATA_BYTES {
        return bad(format!("data is {size} bytes, FCM allows {MAX_DATA_BYTES}"));
    }
    Ok(())
}

/// Reads FCM's google.rpc error answer.
fn classify(status: StatusCode, body: &[u8], retry_after: Option<Duration>) -> Attempt {
    let doc: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let err = doc.get("error");
    let rpc_status = err.and_then(|e| e.get("status")).and_then(Value::as_str).map(printable);
    let details = err.and_then(|e| e.get("details")).and_then(Value::as_array).cloned().unwrap_or_default();
    let fcm_code = of_type(&details, "google.firebase.fcm.v1.FcmError")
        .find_map(|d| d.get("errorCode").and_then(Value::as_str))
        .map(printable);
    // Field violations that name something other than the token mean the message, not the token, was bad.
    let other_field_bad = of_type(&details, "google.rpc.BadRequest")
        .filter_map(|d| d.get("fieldViolations").and_then(Value::as_array))
        .flatten()
        .filter_map(|v| v.get("field").and_then(Value::as_str))
        .any(|f| f != "message.token");
    let reason = match (&rpc_status, &fcm_code) {
        (Some(s), Some(c)) => format!("{s}/{c}"),
        (Some(s), None) => s.clone(),
        (None, Some(c)) => c.clone(),
        (None, None) => status.canonical_reason().unwrap_or("error").to_owned(),
    };
    let code = fcm_code.as_deref();
    // Only FCM's own error code kills a token: a plain 404 may be a wrong project id or endpoint, and reading it
    // as "unregistered" would make every device re-enroll.
    if code == Some("UNREGISTERED") {
        return Attempt::Failed(PushError::TokenDead);
    }
    if status == StatusCode::BAD_REQUEST && code == Some("INVALID_ARGUMENT") && !other_field_bad {
        return Attempt::Failed(PushError::TokenDead);
    }
    match status {
        StatusCode::UNAUTHORIZED => Attempt::Unauthorized,
        StatusCode::TOO_MANY_REQUESTS
        | StatusCode::INTERNAL_SERVER_ERROR
        | StatusCode::BAD_GATEWAY
        | StatusCode::SERVICE_UNAVAILABLE
        | StatusCode::GATEWAY_TIMEOUT => {
            Attempt::Retry { reason: format!("HTTP {} {reason}", status.as_u16()), retry_after }
        }
        _ => Attempt::Failed(PushError::Rejected { status: status.as_u16(), reason }),
    }
}

/// The entries of a google.rpc `details` array whose `@type` ends with `suffix`.
fn of_type<'a>(details: &'a [Value], suffix: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
    details.iter().filter(move |d| d.get("@type").and_then(Value::as_str).is_some_and(|t| t.ends_with(suffix)))
}

/// `Retry-After` as delay-seconds (RFC 9110 §10.2.3); an HTTP date is ignored (the default backoff applies).
fn parse_retry_after(v: &str) -> Option<Duration> {
    let v = v.trim();
    if v.is_empty() || v.len() > 10 || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    v.parse().ok().map(Duration::from_secs)
}

fn transport(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "request timed out".into()
    } else if e.is_connect() {
        "connection failed".into()
    } else {
        "request failed".into()
    }
}

/// A remote string made safe for a log line: printable ASCII, at most 120 characters.
fn printable(s: &str) -> String {
    s.chars().filter(|c| c.is_ascii_graphic() || *c == ' ').take(120).collect()
}

/// An https URL, or an http URL whose host is loopback; no credentials, query or fragment.
fn http_url(s: &str) -> Result<Url, String> {
    let url = Url::parse(s).map_err(|_| "is not a URL".to_owned())?;
    if !url.username().is_empty() || url.password().is_some() || url.query().is_some() || url.fragment().is_some() {
        return Err("must not carry credentials, a query or a fragment".into());
    }
    let host = url.host_str().filter(|h| !h.is_empty()).ok_or_else(|| "has no host".to_owned())?;
    let ip = host.trim_start_matches('[').trim_end_matches(']').parse::<std::net::IpAddr>();
    let loopback = host.eq_ignore_ascii_case("localhost") || ip.is_ok_and(|ip| ip.is_loopback());
    match url.scheme() {
        "https" => Ok(url),
        "http" if loopback => Ok(url),
        _ => Err("must be https (http only to a loopback address)".into()),
    }
}

/// [`http_url`] with a trailing slash, so that relative paths join below it.
fn base_url(s: &str) -> Result<Url, String> {
    let mut url = http_url(s)?;
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

/// The DER bytes of a `-----BEGIN PRIVATE KEY-----` PEM block, zeroized on drop.
fn pem_pkcs8(pem: &str) -> Result<Zeroizing<Vec<u8>>, PushError> {
    const BEGIN: &str = "-----BEGIN PRIVATE KEY-----";
    const END: &str = "-----END PRIVATE KEY-----";
    let not_pkcs8 = || cred("service account `private_key` is not a PEM `PRIVATE KEY` (PKCS#8) block");
    let start = pem.find(BEGIN).ok_or_else(not_pkcs8)?.saturating_add(BEGIN.len());
    let inner = pem.get(start..).ok_or_else(not_pkcs8)?;
    let end = inner.find(END).ok_or_else(not_pkcs8)?;
    let b64: Zeroizing<String> =
        Zeroizing::new(inner.get(..end).unwrap_or_default().chars().filter(|c| !c.is_ascii_whitespace()).collect());
    let mut der = Zeroizing::new(Vec::new());
    base64::engine::general_purpose::STANDARD
        .decode_vec(b64.as_bytes(), &mut der)
        .map_err(|_| cred("service account `private_key` PEM is not valid base64"))?;
    Ok(der)
}

#[cfg(unix)]
fn check_private_file(path: &std::path::Path) -> Result<(), PushError> {
    use std::os::unix::fs::PermissionsExt as _;
    let meta = std::fs::metadata(path).map_err(|e| cred(format!("cannot read {}: {e}", path.display())))?;
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(cred(format!("{} is readable by group or others; chmod 600 it", path.display())));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private_file(_path: &std::path::Path) -> Result<(), PushError> {
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;

    fn rpc(code: u16, status: &str, details: Value) -> Vec<u8> {
        serde_json::to_vec(&json!({"error": {"code": code, "status": status, "message": "m", "details": details}}))
            .unwrap()
    }

    fn fcm(code: &str) -> Value {
        json!([{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": code}])
    }

    #[test]
    fn fcm_errors_are_classified() {
        let dead = |s: u16, body: Vec<u8>| {
            matches!(classify(StatusCode::from_u16(s).unwrap(), &body, None), Attempt::Failed(PushError::TokenDead))
        };
        assert!(dead(404, rpc(404, "NOT_FOUND", fcm("UNREGISTERED"))));
        assert!(dead(400, rpc(400, "INVALID_ARGUMENT", fcm("INVALID_ARGUMENT"))));
        // A bad field other than the token is the message's fault: the token stays.
        let other = json!([
            {"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": "INVALID_ARGUMENT"},
            {"@type": "type.googleapis.com/google.rpc.BadRequest",
             "fieldViolations": [{"field": "message.data[0].value", "description": "x"}]},
        ]);
        assert!(!dead(400, rpc(400, "INVALID_ARGUMENT", other.clone())));
        match classify(StatusCode::BAD_REQUEST, &rpc(400, "INVALID_ARGUMENT", other), None) {
            Attempt::Failed(PushError::Rejected { status: 400, reason }) => {
                assert_eq!(reason, "INVALID_ARGUMENT/INVALID_ARGUMENT");
            }
            _ => panic!("expected Rejected"),
        }
        // A 404 that is not FCM's UNREGISTERED (a wrong endpoint or project) must not kill tokens.
        assert!(!dead(404, b"<html>not found</html>".to_vec()));
        assert!(!dead(404, rpc(404, "NOT_FOUND", json!([]))));
        // A project or sender mismatch is a configuration error, not a dead token.
        assert!(!dead(403, rpc(403, "PERMISSION_DENIED", fcm("SENDER_ID_MISMATCH"))));
        let r = classify(StatusCode::TOO_MANY_REQUESTS, &rpc(429, "RESOURCE_EXHAUSTED", fcm("QUOTA_EXCEEDED")), None);
        assert!(matches!(r, Attempt::Retry { .. }));
        let r = classify(StatusCode::SERVICE_UNAVAILABLE, b"", Some(Duration::from_secs(3)));
        assert!(matches!(r, Attempt::Retry { retry_after: Some(d), .. } if d == Duration::from_secs(3)));
        assert!(matches!(classify(StatusCode::UNAUTHORIZED, b"{}", None), Attempt::Unauthorized));
    }

    #[test]
    fn retry_after_and_backoff() {
        assert_eq!(parse_retry_after("7"), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after(" 0 "), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        assert_eq!(parse_retry_after("-1"), None);
        assert_eq!(parse_retry_after("99999999999999"), None);
        let p = RetryPolicy::default();
        assert_eq!(p.delay(0, None), Duration::from_millis(500));
        assert_eq!(p.delay(1, None), Duration::from_secs(1));
        assert_eq!(p.delay(1, Some(Duration::from_secs(4))), Duration::from_secs(4));
    }

    #[test]
    fn urls_must_be_https_or_loopback() {
        assert!(http_url("https://oauth2.googleapis.com/token").is_ok());
        assert!(http_url("http://127.0.0.1:9/token").is_ok());
        assert!(http_url("http://[::1]:9/token").is_ok());
        assert!(http_url("http://localhost/token").is_ok());
        for bad in ["http://example.org/token", "ftp://127.0.0.1/", "https://u:p@example.org/", "https://a/?q", "x"] {
            assert!(http_url(bad).is_err(), "{bad}");
        }
        assert_eq!(base_url("https://fcm.googleapis.com").unwrap().as_str(), "https://fcm.googleapis.com/");
        assert_eq!(base_url("http://127.0.0.1:1/fcm").unwrap().as_str(), "http://127.0.0.1:1/fcm/");
    }

    #[test]
    fn messages_are_data_only_and_checked() {
        let data: BTreeMap<String, String> = [("autoPassword".to_owned(), "123456".to_owned())].into();
        let body: Value = serde_json::from_slice(&message_body("tok", &data, 60, UnixTime::from_secs(1000))).unwrap();
        let m = &body["message"];
        assert!(m.get("notification").is_none());
        assert_eq!(m["data"]["autoPassword"], "123456");
        assert_eq!(m["android"], json!({"priority": "high", "ttl": "60s"}));
        assert_eq!(m["apns"]["headers"]["apns-expiration"], "1060");
        assert_eq!(m["apns"]["headers"]["apns-push-type"], "background");
        assert_eq!(m["apns"]["payload"]["aps"]["content-available"], 1);
        assert!(check_message("tok", &data, 60).is_ok());
        for key in ["from", "google.x", "gcm.n", "collapse_key", ""] {
            let d: BTreeMap<String, String> = [(key.to_owned(), "v".to_owned())].into();
            assert!(matches!(check_message("tok", &d, 60), Err(PushError::InvalidMessage(_))), "{key}");
        }
        let big: BTreeMap<String, String> = [("k".to_owned(), "v".repeat(MAX_DATA_BYTES))].into();
        let err = check_message("tok", &big, 60).unwrap_err().to_string();
        assert!(err.contains("4097 bytes") && !err.contains("vvv"), "{err}");
        assert!(check_message("", &data, 60).is_err());
        assert!(check_message("a b", &data, 60).is_err());
        assert!(check_message("tok", &data, MAX_TTL_SECS + 1).is_err());
    }

    #[test]
    fn config_check_names_the_key() {
        assert!(PushConfig::default().check().is_ok());
        let c = PushConfig { timeout_secs: 0, ..PushConfig::default() };
        assert_eq!(c.check().unwrap_err().0, "push.timeout_secs");
        let c = PushConfig { fcm_endpoint: "http://fcm.example.org".into(), ..PushConfig::default() };
        assert_eq!(c.check().unwrap_err().0, "push.fcm_endpoint");
    }
}
