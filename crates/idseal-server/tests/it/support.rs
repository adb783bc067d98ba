//! The test harness: a database per test (SQLite or PostgreSQL), a server state on a fixed
//! clock, and a small request builder that drives the router in-process.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode, header};
use http_body_util::BodyExt as _;
use idseal_server::config::{Config, PolicyConfig};
use idseal_server::state::{AppState, FirstStart};
use idseal_store::testing::{create_postgres_database, drop_postgres_database};
use idseal_types::{Clock, FixedClock, UnixTime};
use serde_json::Value;
use tower::ServiceExt as _;

/// The fixed start time of every test: a whole minute, so rate-limit windows start at `T0`.
pub const T0: i64 = 1_800_000_000;

/// Which database a test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// One test's database and data directory.
pub struct TestDb {
    /// The database URL the server is configured with.
    pub url: String,
    /// Data directory, master key file and (for SQLite) the database file.
    pub dir: tempfile::TempDir,
    /// `(admin URL, database name)` of a PostgreSQL database to drop at the end.
    pg: Option<(String, String)>,
}

/// Run one suite function on `backend`: make the database, run the test in its own task (so
/// that a failing test still drops its PostgreSQL database), drop the database, and report the
/// test's panic, if any.
pub async fn run<F, Fut>(backend: Backend, test: F)
where
    F: FnOnce(Arc<TestDb>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(db) = TestDb::new(backend).await else { return };
    let db = Arc::new(db);
    let outcome = tokio::spawn(test(db.clone())).await;
    if let Some((admin, name)) = &db.pg {
        drop_postgres_database(admin, name).await.expect("drop the test database");
    }
    if let Err(e) = outcome {
        match e.try_into_panic() {
            Ok(p) => std::panic::resume_unwind(p),
            Err(e) => panic!("test task failed: {e}"),
        }
    }
}

impl TestDb {
    async fn new(backend: Backend) -> Option<Self> {
        let dir = tempfile::tempdir().expect("temporary directory");
        match backend {
            Backend::Sqlite => {
                let url = format!("sqlite:{}", dir.path().join("data").join("idseal.db").display());
                Some(Self { url, dir, pg: None })
            }
            Backend::Postgres => {
                let Some(admin) = std::env::var("IDSEAL_TEST_DATABASE_URL").ok().filter(|v| !v.is_empty()) else {
                    println!("skipped: IDSEAL_TEST_DATABASE_URL is not set");
                    return None;
                };
                // Set and unreachable is a failure, never a skip.
                let (url, name) = create_postgres_database(&admin)
                    .await
                    .unwrap_or_else(|e| panic!("PostgreSQL from IDSEAL_TEST_DATABASE_URL is unusable: {e}"));
                Some(Self { url, dir, pg: Some((admin, name)) })
            }
        }
    }

    /// The master key file the server generates (the tests never use `IDSEAL_MASTER_KEY`).
    pub fn master_key_file(&self) -> std::path::PathBuf {
        self.dir.path().join("master.key")
    }

    /// The base configuration of a test server on this database.
    pub fn config(&self) -> Config {
        let mut c = Config {
            data_dir: self.dir.path().join("data"),
            database_url: Some(self.url.clone()),
            master_key_file: Some(self.master_key_file()),
            ..Config::default()
        };
        c.database.max_connections = 5;
        c
    }

    /// Open a state on this database with `config` and `clock`.
    pub async fn open(&self, config: Config, clock: &Arc<FixedClock>) -> (AppState, FirstStart) {
        let settings = config.validate().expect("valid test configuration");
        let clock: Arc<dyn Clock> = clock.clone();
        AppState::open(settings, clock).await.expect("the server state opens")
    }

    /// A server on the base configuration changed by `tweak`, on a fresh clock at [`T0`].
    pub async fn server(&self, tweak: impl FnOnce(&mut Config)) -> Server {
        let mut config = self.config();
        tweak(&mut config);
        let clock = Arc::new(FixedClock::new(UnixTime::from_secs(T0)));
        let (state, first) = self.open(config, &clock).await;
        let token = first.bootstrap_token.as_ref().map(|t| t.as_str().to_owned());
        Server { app: idseal_server::router(state.clone()), state, clock, token, first }
    }
}

/// A running (in-process) server.
pub struct Server {
    pub state: AppState,
    pub app: Router,
    pub clock: Arc<FixedClock>,
    /// The bootstrap admin token, when this start issued it.
    pub token: Option<String>,
    pub first: FirstStart,
}

impl Server {
    /// The bootstrap admin token (this server made the database).
    pub fn token(&self) -> &str {
        self.token.as_deref().expect("a first start issues a bootstrap token")
    }

    /// Number of audit rows of `kind`.
    pub async fn audit_count(&self, kind: &str) -> usize {
        self.state.store.audit_events(Some(kind), 10_000).await.expect("audit rows").len()
    }

    /// The newest audit rows of `kind`.
    pub async fn audit(&self, kind: &str) -> Vec<idseal_store::AuditRow> {
        self.state.store.audit_events(Some(kind), 100).await.expect("audit rows")
    }

    /// Move the clock forward.
    pub fn advance(&self, secs: u64) {
        self.clock.advance(std::time::Duration::from_secs(secs));
    }

    /// The current test time in Unix seconds.
    pub fn now(&self) -> i64 {
        self.clock.now().as_secs()
    }

    /// The admin key list (`GET /admin/keys`).
    pub async fn key_list(&self) -> Value {
        let r = get("/admin/keys").bearer(self.token()).send(&self.app).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        r.json()
    }

    /// The published JWK Set.
    pub async fn jwks(&self) -> Value {
        let r = get("/.well-known/jwks.json").send(&self.app).await;
        assert_eq!(r.status, StatusCode::OK);
        r.json()
    }
}

/// The kids in a JWK Set or key list.
/// Only Ed25519 keys (fast to generate), with the OAuth token algorithms pointed at them.
pub fn eddsa_only(c: &mut Config) {
    c.keys.algorithms = vec!["EdDSA".into()];
    c.oauth.access_token_alg = "EdDSA".into();
    c.oauth.pq_sig_alg = "EdDSA".into();
}

pub fn kids(v: &Value) -> Vec<String> {
    v["keys"].as_array().expect("keys").iter().map(|k| k["kid"].as_str().expect("kid").to_owned()).collect()
}

/// An IP policy guarding `/admin/*` with the given burst window and lockout ladder.
pub fn admin_policy(burst: &str, lockout: &[&str]) -> PolicyConfig {
    PolicyConfig {
        key: idseal_ratelimit::KeyKind::Ip,
        burst: Some(burst.parse().expect("burst window")),
        sustained: None,
        lockout: lockout.iter().map(|s| (*s).to_owned()).collect(),
        lockout_reset: "1d".into(),
        routes: vec!["/admin/*".into()],
    }
}

/// The default client address of test requests.
pub const CLIENT: &str = "192.0.2.10";

/// A request under construction.
pub struct Req {
    method: Method,
    uri: String,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: Vec<u8>,
    peer: Option<SocketAddr>,
}

pub fn get(uri: &str) -> Req {
    Req::new(Method::GET, uri)
}

pub fn post(uri: &str) -> Req {
    Req::new(Method::POST, uri)
}

impl Req {
    pub fn new(method: Method, uri: &str) -> Self {
        Self {
            method,
            uri: uri.to_owned(),
            headers: Vec::new(),
            body: Vec::new(),
            peer: Some(SocketAddr::new(CLIENT.parse().expect("ip"), 40_000)),
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((
            HeaderName::from_bytes(name.as_bytes()).expect("header name"),
            HeaderValue::from_str(value).expect("header value"),
        ));
        self
    }

    pub fn bearer(self, token: &str) -> Self {
        self.header("authorization", &format!("Bearer {token}"))
    }

    /// A JSON body with `Content-Type: application/json`.
    pub fn json(self, body: &str) -> Self {
        self.header("content-type", "application/json").body(body.as_bytes())
    }

    pub fn body(mut self, body: &[u8]) -> Self {
        self.body = body.to_vec();
        self
    }

    /// The TCP peer address the request comes from.
    pub fn from(mut self, ip: &str) -> Self {
        self.peer = Some(SocketAddr::new(ip.parse().expect("ip"), 40_001));
        self
    }

    pub async fn send(self, app: &Router) -> Resp {
        let mut b = Request::builder().method(self.method).uri(self.uri);
        for (k, v) in self.headers {
            b = b.header(k, v);
        }
        let mut req = b.body(Body::from(self.body)).expect("request");
        if let Some(peer) = self.peer {
            req.extensions_mut().insert(ConnectInfo(peer));
        }
        let res = app.clone().oneshot(req).await.expect("the router is infallible");
        let status = res.status();
        let headers = res.headers().clone();
        let body = res.into_body().collect().await.expect("response body").to_bytes();
        Resp { status, headers, body }
    }
}

/// A collected response.
#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Resp {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("JSON body ({e}): {}", self.text()))
    }

    /// A header's value; panics when it is missing.
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .unwrap_or_else(|| panic!("missing header {name} on {} response; headers: {:?}", self.status, self.headers))
            .to_str()
            .expect("ASCII header")
    }

    /// Assert the security headers every response must carry (`Cache-Control: no-store` for
    /// all but the public documents).
    pub fn assert_security_headers(&self) {
        assert_eq!(self.header("x-content-type-options"), "nosniff");
        assert_eq!(self.header("x-frame-options"), "DENY");
        assert_eq!(self.header("referrer-policy"), "no-referrer");
        assert!(self.header("content-security-policy").contains("default-src 'none'"));
        assert!(self.header("content-security-policy").contains("frame-ancestors 'none'"));
        assert_eq!(self.header("cross-origin-opener-policy"), "same-origin");
        assert!(!self.header("x-request-id").is_empty());
    }

    /// Assert an error response: `status`, a JSON `{error, error_description?}` body with the
    /// code `code`, no internal detail, and the security headers.
    pub fn assert_error(&self, status: StatusCode, code: &str) {
        assert_eq!(self.status, status, "body: {}", self.text());
        assert!(
            self.header(header::CONTENT_TYPE.as_str()).starts_with("application/json"),
            "content type {:?}",
            self.headers.get(header::CONTENT_TYPE)
        );
        let v = self.json();
        let obj = v.as_object().unwrap_or_else(|| panic!("error body is an object: {v}"));
        assert_eq!(obj.get("error").and_then(Value::as_str), Some(code), "body: {v}");
        assert!(obj.keys().all(|k| k == "error" || k == "error_description"), "only error fields: {v}");
        if let Some(d) = obj.get("error_description") {
            assert!(d.is_string(), "error_description is a string: {v}");
        }
        assert_no_internal_detail(&self.text());
        self.assert_security_headers();
        assert_eq!(self.header("cache-control"), "no-store");
    }
}

/// Fail when `text` shows anything of the server's internals.
pub fn assert_no_internal_detail(text: &str) {
    let lower = text.to_lowercase();
    for needle in [
        "sqlx",
        "panicked",
        "src/",
        ".rs:",
        "backtrace",
        "stack backtrace",
        "database error",
        "sqlite",
        "postgres",
        "/home/",
        "/tmp/",
        "idseal_store",
        "idseal_server",
        "axum",
        "serde",
    ] {
        assert!(!lower.contains(needle), "response leaks `{needle}`: {text}");
    }
}
