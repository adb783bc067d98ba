//! Admin authentication: the bootstrap token, refusals with `WWW-Authenticate: Bearer` and an
//! `ADMIN_AUTH_FAIL` audit row, and a bootstrap token issued once per database.

use std::os::unix::fs::PermissionsExt as _;
use std::sync::Arc;

use axum::http::StatusCode;
use idseal_types::{FixedClock, UnixTime};

use crate::support::{CLIENT, T0, TestDb, get, post};

both_backends!(admin_auth_is_required_and_audited, bootstrap_token_is_issued_once);

async fn admin_auth_is_required_and_audited(db: &TestDb) {
    let s = db.server(crate::support::eddsa_only).await;
    let token = s.token().to_owned();
    assert!(token.starts_with("idseal_admin_"), "token format");
    assert!(token.len() >= 13 + 43, "256-bit token");

    let refused: Vec<(&str, Option<String>)> = vec![
        ("no token", None),
        ("wrong token", Some(format!("Bearer {token}x"))),
        ("other token", Some("Bearer idseal_admin_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".into())),
        ("Basic scheme with the right token", Some(format!("Basic {token}"))),
        ("Basic credentials", Some("Basic YWRtaW46YWRtaW4=".into())),
        ("empty bearer", Some("Bearer ".into())),
        ("scheme only", Some("Bearer".into())),
        ("token without scheme", Some(token.clone())),
        ("oversized token", Some(format!("Bearer {}", "a".repeat(4096)))),
    ];
    let mut fails = 0;
    for (what, auth) in &refused {
        for req in [get("/admin/keys"), post("/admin/keys/rotate").json(r#"{"alg":"EdDSA"}"#)] {
            let req = match auth {
                Some(a) => req.header("authorization", a),
                None => req,
            };
            let r = req.header("user-agent", "it-test/1.0").send(&s.app).await;
            assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{what}: {}", r.text());
            r.assert_error(StatusCode::UNAUTHORIZED, "invalid_token");
            assert_eq!(r.header("www-authenticate"), "Bearer", "{what}");
            fails += 1;
            assert_eq!(s.audit_count("ADMIN_AUTH_FAIL").await, fails, "{what}: one ADMIN_AUTH_FAIL per refusal");
        }
    }
    let row = &s.audit("ADMIN_AUTH_FAIL").await[0];
    assert_eq!(row.actor, "anonymous");
    assert_eq!(row.ip.as_deref(), Some(CLIENT));
    assert_eq!(row.user_agent.as_deref(), Some("it-test/1.0"));
    assert_eq!(row.at.as_secs(), T0);
    // The presented credential is never logged.
    for row in s.audit("ADMIN_AUTH_FAIL").await {
        let all = format!("{row:?}");
        assert!(!all.contains(&token), "audit row holds the token: {all}");
    }
    // An unauthenticated rotation rotated nothing.
    assert_eq!(s.audit_count("KEY_ROTATE").await, 0);
    assert_eq!(s.key_list().await["keys"].as_array().unwrap().len(), 1);

    // The bootstrap token works, and success is not an auth failure.
    let r = get("/admin/keys").bearer(&token).send(&s.app).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    r.assert_security_headers();
    assert_eq!(r.header("cache-control"), "no-store");
    let keys = r.json();
    assert_eq!(keys["keys"][0]["alg"], "EdDSA");
    assert_eq!(keys["keys"][0]["state"], "active");
    assert_eq!(keys["keys"][0]["created_at"], T0);
    assert!(keys["keys"][0].get("grace_until").is_none());
    // No private material in the admin view.
    for k in ["d", "sealed", "sealed_private", "private", "pkcs8"] {
        assert!(keys["keys"][0].get(k).is_none(), "admin key list shows `{k}`");
    }
    // The authentication scheme is case-insensitive (RFC 9110 §11.1).
    let r = get("/admin/keys").header("authorization", &format!("bearer {token}")).send(&s.app).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(s.audit_count("ADMIN_AUTH_FAIL").await, fails);
}

async fn bootstrap_token_is_issued_once(db: &TestDb) {
    let config = || {
        let mut c = db.config();
        crate::support::eddsa_only(&mut c);
        c
    };
    let s = db.server(|c| *c = config()).await;
    let token = s.token().to_owned();
    assert_eq!(s.first.generated_kids.len(), 1);
    assert_eq!(s.audit_count("ADMIN_BOOTSTRAP_TOKEN").await, 1);
    // The master key was generated into the configured file, private to the owner.
    if std::env::var_os("IDSEAL_MASTER_KEY").is_none() {
        let meta = std::fs::metadata(db.master_key_file()).expect("master key file written");
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    }

    // A second start on the same database (a restart, or a second instance).
    let clock = Arc::new(FixedClock::new(UnixTime::from_secs(T0 + 60)));
    let (state2, first2) = db.open(config(), &clock).await;
    assert!(first2.bootstrap_token.is_none(), "a second start must not issue another bootstrap token");
    assert!(first2.generated_kids.is_empty(), "a second start must not generate keys");
    assert_eq!(s.audit_count("ADMIN_BOOTSTRAP_TOKEN").await, 1);
    assert_eq!(s.audit_count("KEY_GENERATE").await, 1);

    // The first token works on the second instance; the key is the same.
    let app2 = idseal_server::router(state2.clone());
    let r = get("/admin/keys").bearer(&token).send(&app2).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json(), s.key_list().await);
    state2.store.close().await;
}
