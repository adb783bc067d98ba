//! Request plumbing: security headers on every response, request ids, JSON 404 and 405,
//! metrics, health (and health when the database is gone), timeouts.

use std::time::Duration;

use axum::http::{Method, StatusCode};

use crate::support::{Req, Resp, Server, TestDb, get, post};

both_backends!(
    security_headers_on_every_response,
    request_ids,
    unknown_routes_and_methods_are_json,
    metrics_count_requests,
    health_reports_dependencies,
    database_down_fails_closed,
    timeout_is_a_json_503_with_headers,
);

async fn server(db: &TestDb) -> Server {
    db.server(crate::support::eddsa_only).await
}

/// Every kind of response the router makes without a working database or a timeout.
async fn sample_responses(s: &Server) -> Vec<(&'static str, Resp)> {
    let t = s.token().to_owned();
    vec![
        ("health", get("/health").send(&s.app).await),
        ("metrics", get("/metrics").send(&s.app).await),
        ("openapi", get("/openapi.json").send(&s.app).await),
        ("admin list", get("/admin/keys").bearer(&t).send(&s.app).await),
        ("401", get("/admin/keys").send(&s.app).await),
        ("404", get("/no/such/route").send(&s.app).await),
        ("405", Req::new(Method::DELETE, "/health").send(&s.app).await),
        ("415", post("/admin/keys/rotate").bearer(&t).body(b"{}").send(&s.app).await),
        ("400", post("/admin/keys/rotate").bearer(&t).json("{").send(&s.app).await),
        (
            "413",
            post("/admin/keys/rotate")
                .bearer(&t)
                .json(&format!(r#"{{"alg":"{}"}}"#, "E".repeat(s.state.settings.config.max_body_bytes)))
                .send(&s.app)
                .await,
        ),
    ]
}

async fn security_headers_on_every_response(db: &TestDb) {
    let s = server(db).await;
    for (what, r) in sample_responses(&s).await {
        assert!(r.headers.get("x-content-type-options").is_some(), "{what}: {:?}", r.headers);
        r.assert_security_headers();
        assert_eq!(r.header("cache-control"), "no-store", "{what}");
        assert!(r.headers.get("strict-transport-security").is_none(), "{what}: HSTS on an http:// issuer");
    }
    // 429 too.
    let limited = db
        .server(|c| {
            crate::support::eddsa_only(c);
            c.rate_limits.insert("admin".into(), crate::support::admin_policy("1/1m", &[]));
        })
        .await;
    // (A client of its own: the first server's requests counted against the same policy.)
    let ip = "198.51.100.99";
    assert_eq!(get("/admin/keys").from(ip).send(&limited.app).await.status, StatusCode::UNAUTHORIZED);
    let r = get("/admin/keys").from(ip).send(&limited.app).await;
    r.assert_error(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    drop(limited);

    // The JWKS is public and cacheable; the handler's Cache-Control wins.
    let r = get("/.well-known/jwks.json").send(&s.app).await;
    r.assert_security_headers();
    assert_eq!(r.header("cache-control"), "public, max-age=300");

    // HSTS is sent when the issuer is https://.
    let mut config = db.config();
    config.issuer = Some("https://id.example.com/".into());
    crate::support::eddsa_only(&mut config);
    let settings = config.validate().unwrap();
    assert_eq!(settings.issuer, "https://id.example.com");
    let state = idseal_server::state::AppState { settings: std::sync::Arc::new(settings), ..s.state.clone() };
    let app = idseal_server::router(state);
    for r in [get("/health").send(&app).await, get("/nope").send(&app).await] {
        r.assert_security_headers();
        assert_eq!(r.header("strict-transport-security"), "max-age=63072000; includeSubDomains");
    }
}

async fn request_ids(db: &TestDb) {
    let s = server(db).await;
    let mut seen = std::collections::HashSet::new();
    for (what, r) in sample_responses(&s).await {
        let id = r.header("x-request-id").to_owned();
        assert_eq!(id.len(), 32, "{what}: {id}");
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()), "{what}: {id}");
        assert!(seen.insert(id), "{what}: request ids repeat");
    }
    // An incoming id is kept, on success and on error.
    for req in [get("/health"), get("/missing"), get("/admin/keys")] {
        let r = req.header("x-request-id", "lb-7f3a-0001").send(&s.app).await;
        assert_eq!(r.header("x-request-id"), "lb-7f3a-0001");
        assert_eq!(r.headers.get_all("x-request-id").iter().count(), 1);
    }
    // An implausible incoming id (spaces, too long) is replaced by a fresh one.
    let long = "a".repeat(65);
    for bad in ["evil id\tinjected", long.as_str(), ""] {
        let r = get("/health").header("x-request-id", bad).send(&s.app).await;
        let id = r.header("x-request-id");
        assert!(id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()), "{bad:?} -> {id}");
    }
}

async fn unknown_routes_and_methods_are_json(db: &TestDb) {
    let s = server(db).await;
    for path in ["/nope", "/admin", "/admin/keys/", "/admin/keys/rotate/x", "/.well-known/openid-config", "/"] {
        let r = get(path).send(&s.app).await;
        r.assert_error(StatusCode::NOT_FOUND, "not_found");
        assert_eq!(r.json(), serde_json::json!({"error": "not_found"}), "{path}");
    }
    for (method, path) in [
        (Method::DELETE, "/health"),
        (Method::POST, "/health"),
        (Method::GET, "/admin/keys/rotate"),
        (Method::PUT, "/admin/keys/rotate"),
        (Method::POST, "/.well-known/jwks.json"),
        (Method::DELETE, "/admin/keys"),
    ] {
        let r = Req::new(method.clone(), path).bearer(s.token()).send(&s.app).await;
        r.assert_error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
        assert_eq!(r.json(), serde_json::json!({"error": "method_not_allowed"}), "{method} {path}");
    }
    // Nothing was rotated by the wrong methods.
    assert_eq!(s.audit_count("KEY_ROTATE").await, 0);
}

async fn metrics_count_requests(db: &TestDb) {
    let s = server(db).await;
    for _ in 0..3 {
        assert_eq!(get("/health").send(&s.app).await.status, StatusCode::OK);
    }
    get("/admin/keys").send(&s.app).await;
    get("/no/such/thing").send(&s.app).await;
    Req::new(Method::DELETE, "/health").send(&s.app).await;
    let r = get("/metrics").send(&s.app).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.header("content-type").starts_with("application/openmetrics-text"));
    let m = r.text();
    assert!(m.contains("idseal_http_requests_total"), "{m}");
    // Exactly once each: a request is counted by one layer only.
    let has = |labels: &str| {
        let found = m.lines().any(|l| l.starts_with("idseal_http_requests_total{") && l.contains(labels));
        assert!(found, "no request counter `{labels}` in\n{m}");
    };
    assert!(m.contains(r#"idseal_http_requests_total{method="GET",route="/health",status="200"} 3"#), "{m}");
    has(r#"{method="GET",route="/admin/keys",status="401"} 1"#);
    // Requests that match no route, or no method of a route, are counted too.
    has(r#"{method="GET",route="unmatched",status="404"} 1"#);
    has(r#"{method="DELETE",route="/health",status="405"} 1"#);
    assert!(m.contains("idseal_http_request_duration_seconds_bucket"), "{m}");
    assert!(m.contains("idseal_published_keys 1"), "{m}");
    assert!(m.trim_end().ends_with("# EOF"), "OpenMetrics ends with # EOF");
    // Raw paths never become labels (bounded cardinality).
    assert!(!m.contains("/no/such/thing"), "{m}");
}

async fn health_reports_dependencies(db: &TestDb) {
    let s = server(db).await;
    let r = get("/health").send(&s.app).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.header("content-type").starts_with("application/json"));
    let h = r.json();
    assert_eq!(h["status"], "ok");
    assert_eq!(h["checks"]["database"]["status"], "ok");
    assert_eq!(h["checks"]["keys"]["status"], "ok");
    assert!(h["checks"]["database"].get("detail").is_none());

    // The served OpenAPI document is the generated one.
    let r = get("/openapi.json").send(&s.app).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json(), serde_json::to_value(idseal_server::openapi::document()).unwrap());
}

async fn database_down_fails_closed(db: &TestDb) {
    let s = server(db).await;
    let token = s.token().to_owned();
    s.state.store.close().await;
    let r = get("/health").send(&s.app).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.text());
    r.assert_security_headers();
    let h = r.json();
    assert_eq!(h["status"], "down");
    assert_eq!(h["checks"]["database"]["status"], "down");
    assert_eq!(h["checks"]["keys"]["status"], "ok", "keys are in memory");
    crate::support::assert_no_internal_detail(&r.text());
    // Rate-limited routes fail closed when counters cannot be read: 503, not a free pass.
    let r = get("/admin/keys").bearer(&token).send(&s.app).await;
    r.assert_error(StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable");
    // Routes without a database dependency keep working.
    assert_eq!(get("/.well-known/jwks.json").send(&s.app).await.status, StatusCode::OK);
}

/// A request that outlives `request_timeout_secs` is answered 503 with a JSON body and the same
/// headers as any other response. The database is write-locked from outside so that the
/// rate-limit counter update (the first write of an admin request) waits.
async fn timeout_is_a_json_503_with_headers(db: &TestDb) {
    let s = db
        .server(|c| {
            crate::support::eddsa_only(c);
            c.request_timeout_secs = 1;
            c.database.acquire_timeout_secs = 30;
        })
        .await;
    let token = s.token().to_owned();
    let lock = idseal_store::testing::WriteLock::take(&db.url).await.unwrap();
    let started = std::time::Instant::now();
    let r = get("/admin/keys").bearer(&token).send(&s.app).await;
    let took = started.elapsed();
    lock.release().await.unwrap();
    r.assert_error(StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable");
    assert!(took >= Duration::from_millis(900) && took < Duration::from_secs(10), "{took:?}");
    // Once the lock is gone the server answers again.
    let r = get("/admin/keys").bearer(&token).send(&s.app).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
}
