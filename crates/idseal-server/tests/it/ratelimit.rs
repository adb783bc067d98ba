//! IP rate limits on routes: exact counts, 429 with `Retry-After`, lockouts that end with the
//! clock, per-IP buckets, audit once per lockout, and exactness under concurrency.

use axum::http::StatusCode;

use crate::support::{CLIENT, Server, TestDb, admin_policy, get};

both_backends!(
    admin_burst_lockout_and_recovery,
    failed_logins_count_too,
    exact_under_concurrency,
    proxy_header_trusts_only_the_right_most_address
);

async fn server(db: &TestDb, burst: &str, lockout: &[&str]) -> Server {
    db.server(|c| {
        crate::support::eddsa_only(c);
        c.rate_limits.insert("admin".into(), admin_policy(burst, lockout));
    })
    .await
}

async fn admin_burst_lockout_and_recovery(db: &TestDb) {
    let s = server(db, "3/1m", &["1m"]).await;
    let token = s.token().to_owned();
    let keys = || get("/admin/keys").bearer(&token);

    for i in 0..3 {
        let r = keys().send(&s.app).await;
        assert_eq!(r.status, StatusCode::OK, "request {i}: {}", r.text());
    }
    let r = keys().send(&s.app).await;
    r.assert_error(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    assert_eq!(r.header("retry-after"), "60");
    assert_eq!(s.audit_count("RATE_LIMIT_LOCKOUT").await, 1);
    let row = &s.audit("RATE_LIMIT_LOCKOUT").await[0];
    assert_eq!(row.subject.as_deref(), Some("admin"));
    assert_eq!(row.ip.as_deref(), Some(CLIENT));

    // Still locked: refused, Retry-After counts down, no second audit row.
    s.advance(20);
    let r = keys().send(&s.app).await;
    r.assert_error(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    assert_eq!(r.header("retry-after"), "40");
    assert_eq!(s.audit_count("RATE_LIMIT_LOCKOUT").await, 1, "a lockout is audited once");

    // Another client is not affected, and routes the policy does not guard are not limited.
    for _ in 0..3 {
        let r = keys().from("198.51.100.7").send(&s.app).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    }
    assert_eq!(get("/health").send(&s.app).await.status, StatusCode::OK);
    assert_eq!(get("/.well-known/jwks.json").send(&s.app).await.status, StatusCode::OK);

    // The rate-limit metric counted the refusals.
    let metrics = get("/metrics").send(&s.app).await.text();
    assert!(metrics.contains(r#"idseal_rate_limited_total{policy="admin"} 2"#), "{metrics}");

    // After the lockout (and in a new window) requests pass again, exactly 3 of them.
    s.advance(41);
    for i in 0..3 {
        let r = keys().send(&s.app).await;
        assert_eq!(r.status, StatusCode::OK, "after lockout, request {i}: {}", r.text());
    }
    let r = keys().send(&s.app).await;
    r.assert_error(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    assert_eq!(s.audit_count("RATE_LIMIT_LOCKOUT").await, 2);
}

async fn failed_logins_count_too(db: &TestDb) {
    // Guessing admin tokens is rate limited like any other request: the limit runs before
    // authentication, and a locked-out client cannot even try the right token.
    let s = server(db, "3/1m", &["5m"]).await;
    for _ in 0..3 {
        let r = get("/admin/keys").bearer("idseal_admin_guess").send(&s.app).await;
        r.assert_error(StatusCode::UNAUTHORIZED, "invalid_token");
    }
    let r = get("/admin/keys").bearer(s.token()).send(&s.app).await;
    r.assert_error(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    assert_eq!(r.header("retry-after"), "300");
    assert_eq!(s.audit_count("ADMIN_AUTH_FAIL").await, 3, "refused requests do not reach authentication");
    s.advance(300);
    assert_eq!(get("/admin/keys").bearer(s.token()).send(&s.app).await.status, StatusCode::OK);
}

async fn exact_under_concurrency(db: &TestDb) {
    let s = server(db, "10/1h", &["1m"]).await;
    let token = s.token().to_owned();
    let mut tasks = Vec::new();
    for _ in 0..40 {
        let app = s.app.clone();
        let token = token.clone();
        tasks.push(tokio::spawn(async move { get("/admin/keys").bearer(&token).send(&app).await.status }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    let passed = statuses.iter().filter(|s| **s != StatusCode::TOO_MANY_REQUESTS).count();
    assert_eq!(passed, 10, "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == StatusCode::OK || *s == StatusCode::TOO_MANY_REQUESTS), "{statuses:?}");
    assert_eq!(s.audit_count("RATE_LIMIT_LOCKOUT").await, 1, "one lockout, audited once");
    // Another IP still has its full budget.
    let r = get("/admin/keys").bearer(&token).from("2001:db8::1").send(&s.app).await;
    assert_eq!(r.status, StatusCode::OK);
}

/// Behind a proxy the client's address is the right-most one of the header (appended by the
/// proxy); addresses the client put to its left cannot buy fresh buckets.
async fn proxy_header_trusts_only_the_right_most_address(db: &TestDb) {
    let s = db
        .server(|c| {
            crate::support::eddsa_only(c);
            c.client_ip_header = Some("x-forwarded-for".into());
            c.rate_limits.insert("admin".into(), admin_policy("3/1m", &[]));
        })
        .await;
    let token = s.token().to_owned();
    for i in 0..3 {
        let spoof = format!("10.0.0.{i}, 203.0.113.7");
        let r = get("/admin/keys").bearer(&token).header("x-forwarded-for", &spoof).send(&s.app).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    }
    let r = get("/admin/keys").bearer(&token).header("x-forwarded-for", "10.9.9.9, 203.0.113.7").send(&s.app).await;
    r.assert_error(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    // Another real client (another right-most address) has its own bucket.
    let r = get("/admin/keys").bearer(&token).header("x-forwarded-for", "203.0.113.7, 198.51.100.9").send(&s.app).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
}
