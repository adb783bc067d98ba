//! X.1280 storage (enrollments, services, sessions), the code-to-grant hand-over of a
//! passwordless login, and the event bus, on both backends.

use std::time::Duration;

use idseal_types::UnixTime;

use crate::tests::{Kind, TestDb, both_backends};
use crate::{
    AccessRow, AccountRow, AttemptOutcome, AuthSessionRow, BackendKind, CodeRow, EnrollOutcome, EnrollmentFilter,
    EnrollmentRow, GrantRow, MAX_NOTIFICATION_BYTES, RefreshRow, ServiceRow, SessionFilter, SessionRow, Store,
    StoreError,
};

both_backends!(
    x1280_enroll_outcomes,
    x1280_enroll_refuses_password_account_id,
    x1280_revoke_cascades_once,
    x1280_list_enrollments_filters_and_escaping,
    x1280_services_crud,
    x1280_attempts_then_too_many,
    x1280_attempts_concurrent_two_pools,
    x1280_resolve_concurrent_single_use,
    x1280_browser_result_taken_once,
    x1280_expire_each_row_once,
    x1280_session_lists_and_purge,
    x1280_code_to_grant_copies_identity,
    x1280_bus_fan_out,
);

const T0: i64 = 1_800_000_000;

fn t(offset: i64) -> UnixTime {
    UnixTime::from_secs(T0 + offset)
}

fn enrollment(token: &str, key: &str, vds: &str) -> EnrollmentRow {
    EnrollmentRow {
        token_id: token.into(),
        device_id: format!("dev-{token}"),
        public_key_pem: "-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n".into(),
        key_thumbprint: key.into(),
        vds_fingerprint: vds.into(),
        trust_level: 2,
        vds_expires_at: t(365 * 86_400),
        push_kind: "fcm".into(),
        push_token: Some(format!("fcm-{token}")),
        is_revoked: false,
        revoked_at: None,
        revoked_reason: None,
        revoked_by: None,
        created_at: t(0),
        updated_at: t(0),
    }
}

fn auth_session(id: &str, token: &str, expires: i64) -> AuthSessionRow {
    AuthSessionRow {
        session_id: id.into(),
        token_id: token.into(),
        service_id: "svc1".into(),
        service_name: "Service One".into(),
        service_verified: true,
        requested_scopes: "openid name".into(),
        granted_scopes: None,
        random: "0123456789abcdef".into(),
        status: "pending".into(),
        reject_reason: None,
        attempts: 0,
        initiated_at: t(0),
        expires_at: t(expires),
        resolved_at: None,
        client_ip: Some("192.0.2.1".into()),
        browser_binding: Some("bind-1".into()),
        service_url: "https://svc1.example".into(),
    }
}

fn service(id: &str, vds: Option<&str>) -> ServiceRow {
    ServiceRow {
        service_id: id.into(),
        name: format!("Service {id}"),
        url: format!("https://{id}.example"),
        allowed_scopes: "openid name date_of_birth".into(),
        default_scopes: "openid name".into(),
        consent_required: true,
        vds_fingerprint: vds.map(Into::into),
        created_at: t(0),
        updated_at: t(0),
    }
}

async fn enroll(s: &Store, token: &str) {
    let e = enrollment(token, &format!("key-{token}"), &format!("vds-{token}"));
    assert_eq!(s.insert_enrollment(&e).await.unwrap(), EnrollOutcome::Inserted);
}

async fn count_rows(s: &Store, sql: &str) -> i64 {
    crate::with_pool!(s, |pool| sqlx::query_as::<_, (i64,)>(sql).fetch_one(pool).await.unwrap().0)
}

async fn x1280_enroll_outcomes(db: &TestDb) {
    let s = db.store().await;
    let e = enrollment("tok1", "key1", "vds1");
    assert_eq!(s.insert_enrollment(&e).await.unwrap(), EnrollOutcome::Inserted);
    assert_eq!(s.enrollment("tok1").await.unwrap(), Some(e.clone()));
    assert_eq!(s.enrollment_by_thumbprint("key1").await.unwrap(), Some(e.clone()));
    assert_eq!(s.enrollment("tok2").await.unwrap(), None);

    // The device account: no password, unroutable marker email.
    let acct = s.account("tok1").await.unwrap().unwrap();
    assert_eq!((acct.kind.as_str(), acct.email.as_str()), ("device", "device:tok1"));
    assert_eq!(acct.password_hash, None);
    assert!(!acct.email.contains('@'));

    // The same token again (active), whatever the key and VDS.
    let again = enrollment("tok1", "key9", "vds9");
    assert_eq!(s.insert_enrollment(&again).await.unwrap(), EnrollOutcome::TokenExists { revoked: false });
    // Another token with the same key, or the same VDS.
    assert_eq!(s.insert_enrollment(&enrollment("tok2", "key1", "vds2")).await.unwrap(), EnrollOutcome::KeyInUse);
    assert_eq!(s.insert_enrollment(&enrollment("tok2", "key2", "vds1")).await.unwrap(), EnrollOutcome::VdsInUse);
    // None of the refused ones left a row or an account behind.
    assert_eq!(s.enrollment("tok2").await.unwrap(), None);
    assert_eq!(s.account("tok2").await.unwrap(), None);
    assert_eq!(s.enrollment("tok1").await.unwrap(), Some(e));

    // Revoked: re-enrolling the token is still refused, and says so.
    assert!(s.revoke_enrollment("tok1", "lost_device", "user", t(10)).await.unwrap());
    assert_eq!(s.insert_enrollment(&again).await.unwrap(), EnrollOutcome::TokenExists { revoked: true });
    // A revoked enrollment's key and VDS stay bound to it.
    assert_eq!(s.insert_enrollment(&enrollment("tok3", "key1", "vds3")).await.unwrap(), EnrollOutcome::KeyInUse);

    // One device account per enrolled token, created once.
    enroll(&s, "tok2").await;
    assert_eq!(count_rows(&s, "SELECT COUNT(*) FROM accounts WHERE kind = 'device'").await, 2);
    assert_eq!(count_rows(&s, "SELECT COUNT(*) FROM accounts").await, 2);
}

async fn x1280_enroll_refuses_password_account_id(db: &TestDb) {
    let s = db.store().await;
    let pwd = AccountRow {
        id: "tok1".into(),
        email: "ada@example.org".into(),
        password_hash: Some("$argon2id$x".into()),
        email_verified: true,
        name: None,
        kind: "password".into(),
        created_at: t(0),
        updated_at: t(0),
    };
    s.insert_account(&pwd).await.unwrap();
    let err = s.insert_enrollment(&enrollment("tok1", "key1", "vds1")).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(s.enrollment("tok1").await.unwrap(), None);
    assert_eq!(s.account("tok1").await.unwrap(), Some(pwd));
    // An account kind outside the two is refused by the database.
    let bad = AccountRow { id: "x".into(), email: "x@example.org".into(), kind: "wallet".into(), ..s_account() };
    assert!(s.insert_account(&bad).await.is_err());
}

fn s_account() -> AccountRow {
    AccountRow {
        id: "a".into(),
        email: "a@example.org".into(),
        password_hash: None,
        email_verified: false,
        name: None,
        kind: "password".into(),
        created_at: t(0),
        updated_at: t(0),
    }
}

fn code(hash: &str, account: &str, amr: Option<&str>, sealed: Option<Vec<u8>>) -> CodeRow {
    CodeRow {
        code_hash: hash.into(),
        client_id: "idc_a".into(),
        account_id: account.into(),
        session_id: None,
        redirect_uri: "https://rp.example/cb".into(),
        scope: "openid".into(),
        nonce: None,
        code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into(),
        auth_time: t(0),
        acr: Some("http://eidas.europa.eu/LoA/substantial".into()),
        amr: amr.map(Into::into),
        identity_sealed: sealed,
        created_at: t(0),
        expires_at: t(60),
    }
}

fn grant(id: &str, account: &str, code_hash: &str) -> GrantRow {
    GrantRow {
        id: id.into(),
        client_id: "idc_a".into(),
        account_id: Some(account.into()),
        scope: "openid offline_access".into(),
        code_hash: Some(code_hash.into()),
        session_id: None,
        auth_time: Some(t(0)),
        acr: None,
        amr: None,
        identity_sealed: None,
        created_at: t(1),
        revoked_at: None,
    }
}

fn access(jti: &str, grant_id: &str) -> AccessRow {
    AccessRow { jti: jti.into(), grant_id: grant_id.into(), client_id: "idc_a".into(), expires_at: t(3600) }
}

fn refresh(hash: &str, grant_id: &str, account: &str) -> RefreshRow {
    RefreshRow {
        token_hash: hash.into(),
        grant_id: grant_id.into(),
        client_id: "idc_a".into(),
        account_id: account.into(),
        scope: "openid offline_access".into(),
        created_at: t(1),
        expires_at: t(86_400),
        rotated_at: None,
        revoked_at: None,
    }
}

fn browser_session(id: &str, account: &str) -> SessionRow {
    SessionRow {
        id: id.into(),
        account_id: account.into(),
        ip: None,
        user_agent: None,
        created_at: t(0),
        last_seen: t(0),
        expires_at: t(86_400),
        auth_time: t(0),
        revoked_at: None,
    }
}

async fn x1280_revoke_cascades_once(db: &TestDb) {
    let s = db.store().await;
    enroll(&s, "tok1").await;
    enroll(&s, "tok2").await;
    for (tok, n) in [("tok1", "1"), ("tok2", "2")] {
        s.insert_session(&browser_session(&format!("bs{n}"), tok)).await.unwrap();
        s.insert_code(&code(&format!("c{n}"), tok, Some("hwk"), None)).await.unwrap();
        let g = format!("g{n}");
        s.insert_code(&code(&format!("cg{n}"), tok, None, None)).await.unwrap();
        assert!(
            s.redeem_code(
                &format!("cg{n}"),
                t(1),
                &grant(&g, tok, &format!("cg{n}")),
                &access(&format!("at{n}"), &g),
                Some(&refresh(&format!("rt{n}"), &g, tok)),
            )
            .await
            .unwrap()
        );
        s.insert_auth_session(&auth_session(&format!("x{n}"), tok, 60)).await.unwrap();
    }
    let done = auth_session("x1-done", "tok1", 60);
    s.insert_auth_session(&done).await.unwrap();
    assert!(s.resolve_auth_session("x1-done", "approved", None, None, Some(b"sealed"), t(1)).await.unwrap());

    // An unknown reason is refused by the database and changes nothing.
    assert!(s.revoke_enrollment("tok1", "bored", "user", t(5)).await.is_err());
    assert!(!s.enrollment("tok1").await.unwrap().unwrap().is_revoked);

    assert!(s.revoke_enrollment("tok1", "compromised", "admin:root", t(5)).await.unwrap());
    let e = s.enrollment("tok1").await.unwrap().unwrap();
    assert!(e.is_revoked);
    assert_eq!(
        (e.revoked_at, e.revoked_reason.as_deref(), e.revoked_by.as_deref()),
        (Some(t(5)), Some("compromised"), Some("admin:root"))
    );
    assert_eq!(s.session("bs1").await.unwrap().unwrap().revoked_at, Some(t(5)));
    assert_eq!(s.grant("g1").await.unwrap().unwrap().revoked_at, Some(t(5)));
    assert_eq!(s.refresh_token("rt1").await.unwrap().unwrap().0.revoked_at, Some(t(5)));
    assert!(s.code("c1", "idc_a").await.unwrap().unwrap().1, "an unexchanged code dies too");
    let x1 = s.auth_session("x1").await.unwrap().unwrap();
    assert_eq!((x1.status.as_str(), x1.resolved_at), ("expired", Some(t(5))));
    assert_eq!(s.auth_session("x1-done").await.unwrap().unwrap().status, "approved");
    assert_eq!(
        s.take_browser_result("x1-done", "bind-1", t(6), 300).await.unwrap(),
        None,
        "an approved login no browser collected is not collectable after the revocation"
    );
    assert_eq!(s.take_verify_attempt("x1", t(6), 3).await.unwrap(), AttemptOutcome::Expired);

    // The other token is untouched.
    assert_eq!(s.session("bs2").await.unwrap().unwrap().revoked_at, None);
    assert_eq!(s.grant("g2").await.unwrap().unwrap().revoked_at, None);
    assert_eq!(s.refresh_token("rt2").await.unwrap().unwrap().0.revoked_at, None);
    assert!(!s.code("c2", "idc_a").await.unwrap().unwrap().1);
    assert_eq!(s.auth_session("x2").await.unwrap().unwrap().status, "pending");

    // Single use: a second revocation, or of an unknown token, does nothing.
    assert!(!s.revoke_enrollment("tok1", "admin", "admin:root", t(9)).await.unwrap());
    assert_eq!(s.enrollment("tok1").await.unwrap().unwrap().revoked_at, Some(t(5)));
    assert!(!s.revoke_enrollment("nope", "admin", "admin:root", t(9)).await.unwrap());

    // Push targets: only for live enrollments, only known kinds.
    assert!(!s.set_push_target("tok1", "channel", None, t(9)).await.unwrap());
    assert!(s.set_push_target("tok2", "channel", None, t(9)).await.unwrap());
    let e2 = s.enrollment("tok2").await.unwrap().unwrap();
    assert_eq!((e2.push_kind.as_str(), e2.push_token, e2.updated_at), ("channel", None, t(9)));
    assert!(s.set_push_target("tok2", "sms", Some("x"), t(9)).await.is_err());
    assert!(!s.set_push_target("nope", "fcm", Some("x"), t(9)).await.unwrap());
}

async fn x1280_list_enrollments_filters_and_escaping(db: &TestDb) {
    let s = db.store().await;
    let ids = ["ab%cd", "abXcd", "ab_cd", "ab\\cd", "abYYcd", "zz1", "zz2"];
    for (i, id) in ids.iter().enumerate() {
        let mut e = enrollment(id, &format!("key{i}"), &format!("vds{i}"));
        let i = i64::try_from(i).unwrap();
        e.created_at = t(i * 10);
        e.trust_level = 1 + i % 3;
        e.device_id = if i < 4 { "devA".into() } else { "devB".into() };
        assert_eq!(s.insert_enrollment(&e).await.unwrap(), EnrollOutcome::Inserted);
    }
    assert!(s.revoke_enrollment("zz1", "admin", "admin", t(100)).await.unwrap());
    let list = |f: EnrollmentFilter| {
        let s = s.clone();
        async move {
            let (rows, total) = s.list_enrollments(&f).await.unwrap();
            (rows.into_iter().map(|r| r.token_id).collect::<Vec<_>>(), total)
        }
    };
    let all = EnrollmentFilter { page: 1, limit: 100, ..Default::default() };
    let contains = |s: &str| EnrollmentFilter { token_id_contains: Some(s.into()), ..all.clone() };
    assert_eq!(list(all.clone()).await, (ids.iter().rev().map(|s| (*s).to_owned()).collect(), 7));
    // Wildcards match only themselves.
    assert_eq!(list(contains("%")).await, (vec!["ab%cd".to_owned()], 1));
    assert_eq!(list(contains("_")).await, (vec!["ab_cd".to_owned()], 1));
    assert_eq!(list(contains("\\")).await, (vec!["ab\\cd".to_owned()], 1));
    assert_eq!(list(contains("b_c")).await, (vec!["ab_cd".to_owned()], 1));
    assert_eq!(list(contains("%%")).await, (vec![], 0));
    // Case-insensitive substring.
    assert_eq!(list(contains("BY")).await, (vec!["abYYcd".to_owned()], 1));
    assert_eq!(list(contains("ZZ")).await.1, 2);
    // Exact filters, combined.
    assert_eq!(list(EnrollmentFilter { is_revoked: Some(true), ..all.clone() }).await, (vec!["zz1".to_owned()], 1));
    assert_eq!(list(EnrollmentFilter { is_revoked: Some(false), ..all.clone() }).await.1, 6);
    assert_eq!(
        list(EnrollmentFilter { device_id: Some("devB".into()), trust_level: Some(2), ..all.clone() }).await,
        (vec!["abYYcd".to_owned()], 1)
    );
    assert_eq!(
        list(EnrollmentFilter { created_from: Some(t(10)), created_to: Some(t(30)), ..all.clone() }).await,
        (vec!["ab\\cd".to_owned(), "ab_cd".to_owned(), "abXcd".to_owned()], 3)
    );
    // Pages: the total is of all matches; past the end is empty; limits are clamped.
    assert_eq!(
        list(EnrollmentFilter { page: 2, limit: 3, ..all.clone() }).await,
        (vec!["ab\\cd".to_owned(), "ab_cd".to_owned(), "abXcd".to_owned()], 7)
    );
    assert_eq!(list(EnrollmentFilter { page: 3, limit: 3, ..all.clone() }).await, (vec!["ab%cd".to_owned()], 7));
    assert_eq!(list(EnrollmentFilter { page: 4, limit: 3, ..all.clone() }).await, (vec![], 7));
    assert_eq!(list(EnrollmentFilter { page: 0, limit: 0, ..all.clone() }).await, (vec!["zz2".to_owned()], 7));
    assert_eq!(list(EnrollmentFilter { page: 1, limit: 5000, ..all.clone() }).await.0.len(), 7);
}

async fn x1280_services_crud(db: &TestDb) {
    let s = db.store().await;
    assert_eq!(s.service("svc1").await.unwrap(), None);
    s.upsert_service(&service("svc1", Some("fp1"))).await.unwrap();
    s.upsert_service(&service("svc0", None)).await.unwrap();
    s.upsert_service(&service("svc2", None)).await.unwrap();
    assert_eq!(s.service("svc1").await.unwrap(), Some(service("svc1", Some("fp1"))));
    assert_eq!(s.service_by_fingerprint("fp1").await.unwrap().map(|r| r.service_id), Some("svc1".into()));
    assert_eq!(s.service_by_fingerprint("fp9").await.unwrap(), None);
    let ids: Vec<String> = s.list_services().await.unwrap().into_iter().map(|r| r.service_id).collect();
    assert_eq!(ids, ["svc0", "svc1", "svc2"]);

    // Update keeps created_at and replaces the rest.
    let mut changed = service("svc1", Some("fp1b"));
    changed.name = "Renamed".into();
    changed.consent_required = false;
    changed.created_at = t(500);
    changed.updated_at = t(50);
    s.upsert_service(&changed).await.unwrap();
    let got = s.service("svc1").await.unwrap().unwrap();
    assert_eq!(got, ServiceRow { created_at: t(0), ..changed });
    assert_eq!(s.service_by_fingerprint("fp1").await.unwrap(), None);

    // A Service VDS belongs to one service.
    let err = s.upsert_service(&service("svc2", Some("fp1b"))).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(s.service("svc2").await.unwrap().unwrap().vds_fingerprint, None);

    assert!(s.delete_service("svc1").await.unwrap());
    assert!(!s.delete_service("svc1").await.unwrap());
    assert_eq!(s.service("svc1").await.unwrap(), None);
    assert_eq!(s.list_services().await.unwrap().len(), 2);
}

async fn x1280_attempts_then_too_many(db: &TestDb) {
    let s = db.store().await;
    s.insert_auth_session(&auth_session("x1", "tok1", 60)).await.unwrap();
    assert!(matches!(
        s.insert_auth_session(&auth_session("x1", "tok1", 60)).await.unwrap_err(),
        StoreError::Conflict(_)
    ));
    for n in 1..=3 {
        match s.take_verify_attempt("x1", t(n), 3).await.unwrap() {
            AttemptOutcome::Allowed { attempt, session } => {
                assert_eq!((attempt, session.attempts, session.session_id.as_str()), (n, n, "x1"));
            }
            other => panic!("attempt {n}: {other:?}"),
        }
    }
    assert_eq!(s.take_verify_attempt("x1", t(4), 3).await.unwrap(), AttemptOutcome::TooMany);
    assert_eq!(s.auth_session("x1").await.unwrap().unwrap().attempts, 3);
    // The caller rejects it after the last failure; later attempts say so.
    assert!(s.resolve_auth_session("x1", "rejected", None, Some("invalid_otp"), None, t(5)).await.unwrap());
    assert_eq!(
        s.take_verify_attempt("x1", t(6), 3).await.unwrap(),
        AttemptOutcome::NotPending { status: "rejected".into() }
    );
    assert_eq!(s.take_verify_attempt("nope", t(6), 3).await.unwrap(), AttemptOutcome::NotFound);

    // Expired (at the boundary) and not counted, even before any sweep marks it.
    s.insert_auth_session(&auth_session("x2", "tok1", 60)).await.unwrap();
    assert_eq!(s.take_verify_attempt("x2", t(60), 3).await.unwrap(), AttemptOutcome::Expired);
    assert_eq!(s.take_verify_attempt("x2", t(61), 3).await.unwrap(), AttemptOutcome::Expired);
    assert_eq!(s.auth_session("x2").await.unwrap().unwrap().attempts, 0);
    assert!(matches!(s.take_verify_attempt("x2", t(59), 3).await.unwrap(), AttemptOutcome::Allowed { attempt: 1, .. }));
}

async fn x1280_attempts_concurrent_two_pools(db: &TestDb) {
    let a = db.store().await;
    let b = db.store().await;
    a.insert_auth_session(&auth_session("x1", "tok1", 60)).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..10 {
        let s = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move { s.take_verify_attempt("x1", t(1), 3).await }));
    }
    let mut allowed = Vec::new();
    let mut too_many = 0;
    for task in tasks {
        match task.await.unwrap().unwrap() {
            AttemptOutcome::Allowed { attempt, .. } => allowed.push(attempt),
            AttemptOutcome::TooMany => too_many += 1,
            other => panic!("{other:?}"),
        }
    }
    allowed.sort_unstable();
    assert_eq!((allowed, too_many), (vec![1, 2, 3], 7));
    assert_eq!(b.auth_session("x1").await.unwrap().unwrap().attempts, 3);
}

async fn x1280_resolve_concurrent_single_use(db: &TestDb) {
    let a = db.store().await;
    let b = db.store().await;
    a.insert_auth_session(&auth_session("x1", "tok1", 60)).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..10 {
        let s = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            let granted = format!("openid g{i}");
            s.resolve_auth_session("x1", "approved", Some(&granted), None, None, t(2))
                .await
                .map(|won| won.then_some(granted))
        }));
    }
    let mut winners = Vec::new();
    for task in tasks {
        if let Some(g) = task.await.unwrap().unwrap() {
            winners.push(g);
        }
    }
    assert_eq!(winners.len(), 1);
    let row = a.auth_session("x1").await.unwrap().unwrap();
    assert_eq!(
        (row.status.as_str(), row.granted_scopes.as_ref(), row.resolved_at),
        ("approved", winners.first(), Some(t(2)))
    );
    assert!(!a.resolve_auth_session("x1", "rejected", None, Some("user"), None, t(3)).await.unwrap());

    // Expired sessions cannot be resolved; only approved/rejected are resolutions.
    a.insert_auth_session(&auth_session("x2", "tok1", 60)).await.unwrap();
    assert!(!a.resolve_auth_session("x2", "approved", Some("openid"), None, None, t(60)).await.unwrap());
    let err = a.resolve_auth_session("x2", "expired", None, None, None, t(1)).await.unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    assert!(!a.resolve_auth_session("nope", "approved", None, None, None, t(1)).await.unwrap());
    assert_eq!(a.auth_session("x2").await.unwrap().unwrap().status, "pending");
}

async fn x1280_browser_result_taken_once(db: &TestDb) {
    let a = db.store().await;
    let b = db.store().await;
    a.insert_auth_session(&auth_session("x1", "tok1", 60)).await.unwrap();
    // Nothing to take while pending.
    assert_eq!(a.take_browser_result("x1", "bind-1", t(1), 300).await.unwrap(), None);
    assert!(a.resolve_auth_session("x1", "approved", Some("openid"), None, Some(b"sealed"), t(2)).await.unwrap());
    // Another binding, or too late: nothing.
    assert_eq!(a.take_browser_result("x1", "bind-2", t(3), 300).await.unwrap(), None);
    assert_eq!(a.take_browser_result("x1", "bind-1", t(400), 300).await.unwrap(), None);
    // Concurrent takers: exactly one gets it.
    let mut tasks = Vec::new();
    for i in 0..8 {
        let s = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move { s.take_browser_result("x1", "bind-1", t(3), 300).await.unwrap() }));
    }
    let mut got = Vec::new();
    for task in tasks {
        got.extend(task.await.unwrap());
    }
    assert_eq!(got, vec![b"sealed".to_vec()]);
    assert_eq!(a.take_browser_result("x1", "bind-1", t(4), 300).await.unwrap(), None);
    // An uncollected result is cleared by the sweep.
    a.insert_auth_session(&auth_session("x2", "tok1", 60)).await.unwrap();
    assert!(a.resolve_auth_session("x2", "approved", None, None, Some(b"left"), t(5)).await.unwrap());
    assert_eq!(a.clear_stale_results(t(6)).await.unwrap(), 1);
    assert_eq!(a.take_browser_result("x2", "bind-1", t(7), 300).await.unwrap(), None);
}

async fn x1280_expire_each_row_once(db: &TestDb) {
    let a = db.store().await;
    let b = db.store().await;
    for i in 0..12 {
        a.insert_auth_session(&auth_session(&format!("old{i:02}"), "tok1", 10 + i)).await.unwrap();
    }
    a.insert_auth_session(&auth_session("live", "tok1", 1000)).await.unwrap();
    let mut done = auth_session("done", "tok1", 5);
    done.status = "approved".into();
    a.insert_auth_session(&done).await.unwrap();

    // The limit is honoured, oldest expiry first.
    let first = a.expire_auth_sessions(t(100), 2).await.unwrap();
    let ids: Vec<&str> = first.iter().map(|r| r.session_id.as_str()).collect();
    assert_eq!(ids, ["old00", "old01"]);
    assert!(first.iter().all(|r| r.status == "expired" && r.resolved_at == Some(t(100))));

    // Concurrent sweeps through two pools: every remaining row exactly once.
    let mut tasks = Vec::new();
    for i in 0..6 {
        let s = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move { s.expire_auth_sessions(t(100), 3).await }));
    }
    let mut seen: Vec<String> = Vec::new();
    for task in tasks {
        seen.extend(task.await.unwrap().unwrap().into_iter().map(|r| r.session_id));
    }
    // Concurrent sweeps may leave rows to a later one; none returns a row twice.
    seen.extend(a.expire_auth_sessions(t(100), 100).await.unwrap().into_iter().map(|r| r.session_id));
    seen.sort();
    let want: Vec<String> = (2..12).map(|i| format!("old{i:02}")).collect();
    assert_eq!(seen, want);
    assert!(a.expire_auth_sessions(t(100), 100).await.unwrap().is_empty());
    assert_eq!(a.auth_session("live").await.unwrap().unwrap().status, "pending");
    assert_eq!(a.auth_session("done").await.unwrap().unwrap().status, "approved");
    assert_eq!(
        a.take_verify_attempt("old05", t(1), 3).await.unwrap(),
        AttemptOutcome::Expired,
        "an expired-marked session is expired whatever the clock says"
    );
}

async fn x1280_session_lists_and_purge(db: &TestDb) {
    let s = db.store().await;
    for (i, (tok, status)) in
        [("tok1", "pending"), ("tok1", "approved"), ("tok2", "pending"), ("tok1", "rejected"), ("tok1", "pending")]
            .into_iter()
            .enumerate()
    {
        let i = i64::try_from(i).unwrap();
        let mut r = auth_session(&format!("x{i}"), tok, 100 + i);
        r.initiated_at = t(i);
        r.status = status.into();
        if status != "pending" {
            r.resolved_at = Some(t(i));
        }
        s.insert_auth_session(&r).await.unwrap();
    }
    let ids = |rows: Vec<AuthSessionRow>| rows.into_iter().map(|r| r.session_id).collect::<Vec<_>>();
    assert_eq!(ids(s.pending_sessions_for_token("tok1", t(50)).await.unwrap()), ["x4", "x0"]);
    assert_eq!(ids(s.pending_sessions_for_token("tok1", t(100)).await.unwrap()), ["x4"]);
    assert_eq!(ids(s.live_auth_sessions(t(50), 10).await.unwrap()), ["x4", "x2", "x0"]);
    assert_eq!(ids(s.live_auth_sessions(t(50), 1).await.unwrap()), ["x4"]);
    assert_eq!(ids(s.recent_sessions("tok1", 3).await.unwrap()), ["x4", "x3", "x1"]);

    let f = SessionFilter { token_id: Some("tok1".into()), status: None, page: 1, limit: 2 };
    let (rows, total) = s.list_auth_sessions(&f).await.unwrap();
    assert_eq!((ids(rows), total), (vec!["x4".to_owned(), "x3".to_owned()], 4));
    let (rows, total) = s.list_auth_sessions(&SessionFilter { page: 2, ..f.clone() }).await.unwrap();
    assert_eq!((ids(rows), total), (vec!["x1".to_owned(), "x0".to_owned()], 4));
    let pending = SessionFilter { status: Some("pending".into()), token_id: None, page: 1, limit: 100 };
    let (rows, total) = s.list_auth_sessions(&pending).await.unwrap();
    assert_eq!((ids(rows), total), (vec!["x4".to_owned(), "x2".to_owned(), "x0".to_owned()], 3));

    // Purge: resolved before the cut, and pending ones whose expiry is before it.
    assert_eq!(s.purge_auth_sessions(t(2)).await.unwrap(), 1); // x1 (resolved at 1)
    assert_eq!(s.auth_session("x1").await.unwrap(), None);
    assert_eq!(s.purge_auth_sessions(t(101)).await.unwrap(), 2); // x3 (resolved at 3), x0 (expired at 100)
    assert_eq!(ids(s.recent_sessions("tok1", 10).await.unwrap()), ["x4"]);
    assert!(s.auth_session("x2").await.unwrap().is_some());
}

async fn x1280_code_to_grant_copies_identity(db: &TestDb) {
    let s = db.store().await;
    enroll(&s, "tok1").await;
    let sealed: Vec<u8> = (0..=255u8).chain([0, 0, 255]).collect();
    s.insert_code(&code("c1", "tok1", Some("hwk otp mca"), Some(sealed.clone()))).await.unwrap();
    let (row, used) = s.code("c1", "idc_a").await.unwrap().unwrap();
    assert!(!used);
    assert_eq!((row.amr.as_deref(), row.identity_sealed.as_ref()), (Some("hwk otp mca"), Some(&sealed)));

    // The grant takes the code's values, whatever the caller put in.
    let mut g = grant("g1", "tok1", "c1");
    g.amr = Some("pwd".into());
    g.identity_sealed = Some(b"forged".to_vec());
    assert!(s.redeem_code("c1", t(2), &g, &access("at1", "g1"), None).await.unwrap());
    let stored = s.grant("g1").await.unwrap().unwrap();
    assert_eq!((stored.amr.as_deref(), stored.identity_sealed.as_ref()), (Some("hwk otp mca"), Some(&sealed)));
    assert_eq!(s.access_status("at1").await.unwrap().unwrap().grant.identity_sealed, Some(sealed));
    // Used once.
    assert!(!s.redeem_code("c1", t(3), &grant("g2", "tok1", "c1"), &access("at2", "g2"), None).await.unwrap());
    assert_eq!(s.grant("g2").await.unwrap(), None);

    // A password login's code carries none, and neither does its grant.
    s.insert_code(&code("c2", "tok1", None, None)).await.unwrap();
    let mut g3 = grant("g3", "tok1", "c2");
    g3.identity_sealed = Some(b"forged".to_vec());
    assert!(s.redeem_code("c2", t(2), &g3, &access("at3", "g3"), None).await.unwrap());
    let stored = s.grant("g3").await.unwrap().unwrap();
    assert_eq!((stored.amr, stored.identity_sealed), (None, None));
}

async fn recv(rx: &mut tokio::sync::broadcast::Receiver<crate::BusMessage>) -> crate::BusMessage {
    tokio::time::timeout(Duration::from_secs(20), rx.recv()).await.expect("a message within 20 s").unwrap()
}

async fn x1280_bus_fan_out(db: &TestDb) {
    let a = db.store().await;
    // On SQLite the bus is the store's (shared by its clones); on PostgreSQL it spans stores.
    let b = if a.kind() == BackendKind::Sqlite { a.clone() } else { db.store().await };
    let mut on_a = a.bus().subscribe().await.unwrap();
    let mut on_b = b.bus().subscribe().await.unwrap();
    let mut on_b2 = b.bus().subscribe().await.unwrap();

    a.bus().publish("session:1", r#"{"status":"approved","q":"\"x\""}"#).await.unwrap();
    a.bus().publish("session:2", "second").await.unwrap();
    for rx in [&mut on_a, &mut on_b, &mut on_b2] {
        let m = recv(rx).await;
        assert_eq!((m.topic.as_str(), m.payload.as_str()), ("session:1", r#"{"status":"approved","q":"\"x\""}"#));
        // Exactly once: the next message is the second one, not a copy of the first.
        assert_eq!(recv(rx).await.topic, "session:2");
    }

    // The largest message passes; one byte more is refused, on both backends.
    let overhead = r#"{"t":"s","p":""}"#.len();
    let max = "a".repeat(MAX_NOTIFICATION_BYTES - overhead);
    b.bus().publish("s", &max).await.unwrap();
    assert_eq!(recv(&mut on_a).await.payload, max);
    let err = b.bus().publish("s", &format!("{max}a")).await.unwrap_err();
    assert!(
        matches!(err, StoreError::TooLarge { size, max: m } if size == MAX_NOTIFICATION_BYTES + 1 && m == MAX_NOTIFICATION_BYTES)
    );
    // Escaping counts: a payload that grows when encoded is measured encoded.
    let quotes = "\"".repeat(MAX_NOTIFICATION_BYTES / 2);
    assert!(matches!(b.bus().publish("s", &quotes).await.unwrap_err(), StoreError::TooLarge { .. }));
    b.bus().publish("s", "after").await.unwrap();
    assert_eq!(recv(&mut on_a).await.payload, "after", "nothing of the refused messages was sent");
}
