//! A local stand-in for Firebase Cloud Messaging: the OAuth token endpoint and the HTTP v1 `messages:send` API.
//!
//! Plain HTTP/1.1 on `127.0.0.1` (one request per connection, `Connection: close`). `POST /token` takes an
//! RFC 7523 JWT-bearer grant, verifies the assertion's RS256 signature with the service account's public key and
//! checks `iss`, `aud`, `scope`, `iat` and `exp` against the clock it was given; it answers with a random access
//! token valid for an hour. `POST /v1/projects/{project}/messages:send` checks the Bearer token, parses the
//! message, records it, and answers like FCM: google.rpc status JSON with an `FcmError` detail on failure, 400
//! `INVALID_ARGUMENT` for a message with a `notification` field, 404 `UNREGISTERED` for a token marked dead.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::fmt::Write as _;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::pin::pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use base64::Engine as _;
use idseal_keys::{Algorithm, SigningKey, VerifyingKey};
use idseal_types::Clock;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// The project id of every fake service account.
pub const PROJECT_ID: &str = "idseal-test";
/// The scope an access token must be asked for.
const SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";
/// Largest request head and body accepted.
const MAX_HEAD: usize = 16 * 1024;
const MAX_BODY: usize = 64 * 1024;
/// Lifetime of the access tokens handed out.
const TOKEN_SECS: i64 = 3600;

/// One message that reached the send endpoint with a valid access token and a well-formed body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceivedMessage {
    /// `message.token`, the registration token.
    pub token: String,
    /// `message.data`.
    pub data: BTreeMap<String, String>,
    /// `message.android.priority`.
    pub android_priority: Option<String>,
    /// `message.android.ttl`, like `"60s"`.
    pub android_ttl: Option<String>,
    /// `message.apns.headers`.
    pub apns_headers: BTreeMap<String, String>,
    /// `message.apns.payload.aps.content-available`.
    pub content_available: Option<i64>,
    /// Whether the message had a `notification` field (such messages are refused with 400).
    pub has_notification: bool,
    /// Whether the fake answered 200 (it refuses notifications, unregistered tokens and oversized data).
    pub delivered: bool,
}

/// The fake FCM server. Dropping it stops the listener and every open connection.
#[derive(Debug)]
pub struct FcmServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: JoinHandle<()>,
}

struct Shared {
    client_email: String,
    key_id: String,
    token_uri: String,
    public: VerifyingKey,
    clock: Arc<dyn Clock>,
    state: Mutex<State>,
    arrived: Notify,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared").field("token_uri", &self.token_uri).finish_non_exhaustive()
    }
}

#[derive(Default)]
struct State {
    /// Issued access tokens and their expiry (Unix seconds).
    tokens: HashMap<String, i64>,
    unregistered: HashSet<String>,
    /// Forced answers for the next sends: status and `Retry-After` seconds.
    failures: VecDeque<(u16, Option<u64>)>,
    received: Vec<ReceivedMessage>,
    token_requests: usize,
    send_requests: usize,
}

impl Shared {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl FcmServer {
    /// Binds `127.0.0.1:0`, generates a fresh RSA-2048 service account, and starts serving; returns the server
    /// and the service-account JSON (its `token_uri` points at this server). `clock` is the time the assertions
    /// and access tokens are checked against. Must be called inside a Tokio runtime.
    ///
    /// # Errors
    ///
    /// When there is no current Tokio runtime, the socket cannot be bound, or key generation fails.
    pub fn start(clock: Arc<dyn Clock>) -> io::Result<(Self, String)> {
        let runtime = tokio::runtime::Handle::try_current().map_err(io::Error::other)?;
        let std_listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        std_listener.set_nonblocking(true)?;
        let addr = std_listener.local_addr()?;
        let listener = {
            let _guard = runtime.enter();
            TcpListener::from_std(std_listener)?
        };
        let key_id = random_hex(20)?;
        let key = SigningKey::generate(Algorithm::Rs256, key_id.clone()).map_err(io::Error::other)?;
        let shared = Arc::new(Shared {
            client_email: format!("push@{PROJECT_ID}.iam.gserviceaccount.com"),
            key_id,
            token_uri: format!("http://{addr}/token"),
            public: key.verifying_key(),
            clock,
            state: Mutex::new(State::default()),
            arrived: Notify::new(),
        });
        let json = service_account(&shared, &key)?;
        let server = runtime.spawn(crate::accept::accept_loop(listener, Arc::clone(&shared), handle_connection));
        Ok((Self { addr, shared, server }, json))
    }

    /// The FCM endpoint to configure (`push.fcm_endpoint`): `http://127.0.0.1:PORT`.
    #[must_use]
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A service account with the same project, email and key id but a different private key: its assertions
    /// must be refused.
    ///
    /// # Errors
    ///
    /// When key generation fails.
    pub fn impostor_service_account(&self) -> io::Result<String> {
        let key = SigningKey::generate(Algorithm::Rs256, self.shared.key_id.clone()).map_err(io::Error::other)?;
        service_account(&self.shared, &key)
    }

    /// Every message received so far, in arrival order (refused ones included, with `delivered: false`).
    #[must_use]
    pub fn received(&self) -> Vec<ReceivedMessage> {
        self.shared.state().received.clone()
    }

    /// Waits until at least `count` messages have been received and returns them all, or returns what has
    /// arrived when `timeout` runs out.
    pub async fn wait_for(&self, count: usize, timeout: Duration) -> Vec<ReceivedMessage> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let mut notified = pin!(self.shared.arrived.notified());
            notified.as_mut().enable();
            let now = self.received();
            if now.len() >= count || tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.received();
            }
        }
    }

    /// From now on, sends to `token` get 404 `NOT_FOUND` with FCM error code `UNREGISTERED`.
    pub fn mark_unregistered(&self, token: &str) {
        self.shared.state().unregistered.insert(token.to_owned());
    }

    /// The next `n` send requests are answered with `status` (a google.rpc error body, with `Retry-After` when
    /// given) before anything else is checked.
    pub fn fail_next(&self, n: usize, status: u16, retry_after: Option<u64>) {
        self.shared.state().failures.extend(std::iter::repeat_n((status, retry_after), n));
    }

    /// How many requests reached `POST /token` (refused ones included).
    #[must_use]
    pub fn token_requests(&self) -> usize {
        self.shared.state().token_requests
    }

    /// How many requests reached the send endpoint (refused ones included).
    #[must_use]
    pub fn send_requests(&self) -> usize {
        self.shared.state().send_requests
    }

    /// Revokes every access token handed out so far: the next send with one gets 401.
    pub fn expire_access_tokens(&self) {
        self.shared.state().tokens.clear();
    }
}

impl Drop for FcmServer {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn random_hex(bytes: usize) -> io::Result<String> {
    let mut buf = vec![0u8; bytes];
    aws_lc_rs::rand::fill(&mut buf).map_err(|_| io::Error::other("no randomness"))?;
    Ok(buf.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    }))
}

/// The service-account JSON for `key`, shaped like the file Firebase's console downloads.
fn service_account(shared: &Shared, key: &SigningKey) -> io::Result<String> {
    let der = key.to_pkcs8().map_err(io::Error::other)?;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der.as_slice());
    let mut pem = String::from("-----BEGIN PRIVATE KEY-----\n");
    for line in b64.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).map_err(io::Error::other)?);
        pem.push('\n');
    }
    pem.push_str("-----END PRIVATE KEY-----\n");
    let doc = json!({
        "type": "service_account",
        "project_id": PROJECT_ID,
        "private_key_id": shared.key_id,
        "private_key": pem,
        "client_email": shared.client_email,
        "client_id": "100000000000000000001",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": shared.token_uri,
        "universe_domain": "googleapis.com",
    });
    serde_json::to_string_pretty(&doc).map_err(io::Error::other)
}

/// A parsed request.
struct Request {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// An answer: status, extra headers, JSON body.
struct Response {
    status: u16,
    retry_after: Option<u64>,
    body: Value,
}

async fn handle_connection(mut stream: TcpStream, shared: Arc<Shared>) {
    let response = match read_request(&mut stream).await {
        Ok(Some(req)) => route(&shared, &req),
        Ok(None) => return,
        Err(_) => Response { status: 400, retry_after: None, body: json!({"error": "malformed request"}) },
    };
    let body = serde_json::to_vec(&response.body).unwrap_or_default();
    let mut head = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: application/json; charset=UTF-8\r\nContent-Length: {}\r\nConnection: close\r\n",
        response.status,
        reason_phrase(response.status),
        body.len()
    );
    if let Some(s) = response.retry_after {
        let _ = write!(head, "Retry-After: {s}\r\n");
    }
    head.push_str("\r\n");
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(&body).await;
    let _ = stream.shutdown().await;
}

/// Reads one request; `None` when the client closed the connection before sending anything.
async fn read_request(stream: &mut TcpStream) -> io::Result<Option<Request>> {
    let bad = |m: &str| io::Error::new(io::ErrorKind::InvalidData, m.to_owned());
    let mut buf = Vec::new();
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        if buf.len() > MAX_HEAD {
            return Err(bad("head too large"));
        }
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return if buf.is_empty() { Ok(None) } else { Err(bad("eof in head")) };
        }
        buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
    };
    let head = std::str::from_utf8(buf.get(..head_end).unwrap_or_default()).map_err(|_| bad("head not utf-8"))?;
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or_default().split(' ');
    let (Some(method), Some(path), Some(_version)) = (first.next(), first.next(), first.next()) else {
        return Err(bad("bad request line"));
    };
    let mut headers = Vec::new();
    for line in lines {
        let (k, v) = line.split_once(':').ok_or_else(|| bad("bad header"))?;
        headers.push((k.trim().to_owned(), v.trim().to_owned()));
    }
    let mut req = Request { method: method.to_owned(), path: path.to_owned(), headers, body: Vec::new() };
    let len: usize = req.header("content-length").unwrap_or("0").parse().map_err(|_| bad("bad content-length"))?;
    if len > MAX_BODY || req.header("transfer-encoding").is_some() {
        return Err(bad("body too large or chunked"));
    }
    let mut body = buf.get(head_end + 4..).unwrap_or_default().to_vec();
    while body.len() < len {
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(bad("eof in body"));
        }
        body.extend_from_slice(chunk.get(..n).unwrap_or_default());
    }
    body.truncate(len);
    req.body = body;
    Ok(Some(req))
}

fn route(shared: &Shared, req: &Request) -> Response {
    if req.method == "POST" && req.path == "/token" {
        shared.state().token_requests += 1;
        return token(shared, req);
    }
    let project = req.path.strip_prefix("/v1/projects/").and_then(|r| r.strip_suffix("/messages:send"));
    match (req.method.as_str(), project) {
        ("POST", Some(p)) => {
            shared.state().send_requests += 1;
            send(shared, req, p)
        }
        _ => rpc_error(404, None, "no such method"),
    }
}

fn oauth_error(error: &str, description: &str) -> Response {
    Response { status: 400, retry_after: None, body: json!({"error": error, "error_description": description}) }
}

/// `POST /token`: the JWT-bearer grant.
fn token(shared: &Shared, req: &Request) -> Response {
    if !req.header("content-type").is_some_and(|c| c.starts_with("application/x-www-form-urlencoded")) {
        return oauth_error("invalid_request", "expected a form body");
    }
    let form: HashMap<String, String> = form_urlencoded::parse(&req.body).into_owned().collect();
    if form.get("grant_type").map(String::as_str) != Some("urn:ietf:params:oauth:grant-type:jwt-bearer") {
        return oauth_error("unsupported_grant_type", "grant_type must be the JWT bearer grant");
    }
    let Some(assertion) = form.get("assertion") else {
        return oauth_error("invalid_request", "assertion is missing");
    };
    let Ok((header, payload)) = idseal_keys::verify_compact(assertion, [&shared.public]) else {
        return oauth_error("invalid_grant", "Invalid JWT Signature.");
    };
    if header.get("typ").is_some_and(|t| t != "JWT") {
        return oauth_error("invalid_grant", "typ must be JWT");
    }
    let Ok(claims) = serde_json::from_slice::<Value>(&payload) else {
        return oauth_error("invalid_grant", "claims are not JSON");
    };
    let now = shared.clock.now().as_secs();
    let (iat, exp) =
        (at(&claims, "/iat").as_i64().unwrap_or(i64::MAX), at(&claims, "/exp").as_i64().unwrap_or(i64::MIN));
    let scopes = at(&claims, "/scope").as_str().unwrap_or_default();
    let problem = if at(&claims, "/iss") != shared.client_email.as_str() {
        Some("iss is not the service account")
    } else if at(&claims, "/aud") != shared.token_uri.as_str() {
        Some("aud is not the token endpoint")
    } else if !scopes.split(' ').any(|s| s == SCOPE) {
        Some("the firebase.messaging scope is missing")
    } else if iat > now + 60 || exp <= now || exp - iat > TOKEN_SECS {
        Some("Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.")
    } else {
        None
    };
    if let Some(p) = problem {
        return oauth_error("invalid_grant", p);
    }
    let Ok(access) = random_hex(32) else {
        return Response { status: 500, retry_after: None, body: json!({"error": "internal"}) };
    };
    shared.state().tokens.insert(access.clone(), now + TOKEN_SECS);
    Response {
        status: 200,
        retry_after: None,
        body: json!({"access_token": access, "expires_in": TOKEN_SECS - 1, "token_type": "Bearer"}),
    }
}

/// A google.rpc error body with an `FcmError` detail when `fcm_code` is given.
fn rpc_error(status: u16, fcm_code: Option<&str>, message: &str) -> Response {
    let rpc_status = match status {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        429 => "RESOURCE_EXHAUSTED",
        503 => "UNAVAILABLE",
        _ => "INTERNAL",
    };
    let details: Vec<Value> = fcm_code
        .map(|c| json!({"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": c}))
        .into_iter()
        .collect();
    Response {
        status,
        retry_after: None,
        body: json!({"error": {"code": status, "message": message, "status": rpc_status, "details": details}}),
    }
}

fn bad_field(field: &str, description: &str) -> Response {
    let mut r = rpc_error(400, None, description);
    if let Some(details) = r.body.pointer_mut("/error/details") {
        *details = json!([{
            "@type": "type.googleapis.com/google.rpc.BadRequest",
            "fieldViolations": [{"field": field, "description": description}],
        }]);
    }
    r
}

/// The value at a JSON pointer, `null` when absent.
fn at<'a>(v: &'a Value, pointer: &str) -> &'a Value {
    v.pointer(pointer).unwrap_or(&Value::Null)
}

/// `POST /v1/projects/{project}/messages:send`.
fn send(shared: &Shared, req: &Request, project: &str) -> Response {
    if let Some((status, retry_after)) = shared.state().failures.pop_front() {
        let code = match status {
            400 => Some("INVALID_ARGUMENT"),
            403 => Some("SENDER_ID_MISMATCH"),
            404 => Some("UNREGISTERED"),
            429 => Some("QUOTA_EXCEEDED"),
            500 => Some("INTERNAL"),
            503 => Some("UNAVAILABLE"),
            _ => None,
        };
        return Response { retry_after, ..rpc_error(status, code, "forced failure") };
    }
    let now = shared.clock.now().as_secs();
    let bearer = req.header("authorization").and_then(|a| a.strip_prefix("Bearer "));
    let authorized = bearer.is_some_and(|t| shared.state().tokens.get(t).is_some_and(|exp| *exp > now));
    if !authorized {
        return rpc_error(401, None, "Request had invalid authentication credentials.");
    }
    if project != PROJECT_ID {
        return rpc_error(403, Some("SENDER_ID_MISMATCH"), "Permission denied for this project.");
    }
    if !req.header("content-type").is_some_and(|c| c.starts_with("application/json")) {
        return bad_field("message", "expected a JSON body");
    }
    let Ok(body) = serde_json::from_slice::<Value>(&req.body) else {
        return bad_field("message", "body is not JSON");
    };
    let Some(message) = body.get("message").and_then(Value::as_object) else {
        return bad_field("message", "message is missing");
    };
    let Some(token) = message.get("token").and_then(Value::as_str).filter(|t| !t.is_empty()) else {
        return bad_field("message.token", "token is missing");
    };
    let mut data = BTreeMap::new();
    if let Some(d) = message.get("data") {
        let Some(d) = d.as_object() else { return bad_field("message.data", "data must be a map") };
        for (k, v) in d {
            let Some(v) = v.as_str() else { return bad_field("message.data", "data values must be strings") };
            data.insert(k.clone(), v.to_owned());
        }
    }
    let text = |v: &Value| v.as_str().map(str::to_owned);
    let android = message.get("android").cloned().unwrap_or(Value::Null);
    let apns = message.get("apns").cloned().unwrap_or(Value::Null);
    let apns_headers = at(&apns, "/headers")
        .as_object()
        .map(|h| h.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned()))).collect())
        .unwrap_or_default();
    let mut received = ReceivedMessage {
        token: token.to_owned(),
        data,
        android_priority: text(at(&android, "/priority")),
        android_ttl: text(at(&android, "/ttl")),
        apns_headers,
        content_available: at(&apns, "/payload/aps/content-available").as_i64(),
        has_notification: message.contains_key("notification"),
        delivered: false,
    };
    let size: usize = received.data.iter().map(|(k, v)| k.len() + v.len()).sum();
    let unregistered = shared.state().unregistered.contains(token);
    let response = if received.has_notification {
        bad_field("message.notification", "this project accepts data messages only")
    } else if size > 4096 {
        bad_field("message.data", "Message is too big")
    } else if unregistered {
        rpc_error(404, Some("UNREGISTERED"), "Requested entity was not found.")
    } else {
        received.delivered = true;
        let n = shared.state().received.len();
        Response { status: 200, retry_after: None, body: json!({"name": format!("projects/{project}/messages/{n}")}) }
    };
    shared.state().received.push(received);
    shared.arrived.notify_waiters();
    response
}

fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Error",
    }
}
