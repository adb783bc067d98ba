//! OAuth, account and session storage, on both backends.

use idseal_types::UnixTime;

use crate::tests::{Kind, TestDb, both_backends, join_all};
use crate::{
    AccessRow, AccountRow, ClientRow, CodeOutcome, CodeRow, GrantRow, RefreshRow, SessionRow, Store, StoreError,
    with_pool,
};

both_backends!(
    trust_sequence_ledger_refuses_rollback,
    oauth_clients_insert_list_delete,
    oauth_account_email_unique,
    oauth_email_tokens_single_use_and_expiry,
    oauth_reset_password_is_atomic,
    oauth_sessions_list_revoke_touch,
    oauth_consent_upsert_list_revoke,
    oauth_code_outcomes,
    oauth_code_concurrent_single_use,
    oauth_refresh_rotation_concurrent,
    oauth_rotate_after_revoke_grant_fails,
    oauth_access_status_after_revoke,
    oauth_purge_removes_only_expired,
);

const T0: i64 = 1_800_000_000;

fn t(offset: i64) -> UnixTime {
    UnixTime::from_secs(T0 + offset)
}

fn client(id: &str, created: i64) -> ClientRow {
    ClientRow {
        client_id: id.into(),
        name: format!("Client {id}"),
        secret_hash: Some("ab".repeat(32)),
        redirect_uris: vec!["https://rp.example/cb".into(), "http://127.0.0.1:8080/cb?x=1".into()],
        post_logout_redirect_uris: vec![],
        scopes: "openid profile email offline_access".into(),
        auth_method: "client_secret_basic".into(),
        grant_types: vec!["authorization_code".into(), "refresh_token".into()],
        id_token_alg: "RS256".into(),
        subject_type: "pairwise".into(),
        sector: "rp.example".into(),
        dynamic: created % 2 == 1,
        created_at: t(created),
    }
}

fn account(id: &str, email: &str) -> AccountRow {
    AccountRow {
        id: id.into(),
        email: email.into(),
        password_hash: Some(format!("$argon2id$v=19$m=19456,t=2,p=1$old-{id}")),
        email_verified: false,
        name: Some("Ada".into()),
        kind: "password".into(),
        created_at: t(0),
        updated_at: t(0),
    }
}

fn session(id: &str, account_id: &str, created: i64) -> SessionRow {
    SessionRow {
        id: id.into(),
        account_id: account_id.into(),
        ip: Some("192.0.2.7".into()),
        user_agent: Some("test/1".into()),
        created_at: t(created),
        last_seen: t(created),
        expires_at: t(created + 86_400),
        auth_time: t(created),
        revoked_at: None,
    }
}

fn code(hash: &str, client_id: &str, account_id: &str) -> CodeRow {
    CodeRow {
        code_hash: hash.into(),
        client_id: client_id.into(),
        account_id: account_id.into(),
        session_id: Some("s1".into()),
        redirect_uri: "https://rp.example/cb".into(),
        scope: "openid offline_access".into(),
        nonce: Some("n-1".into()),
        code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into(),
        auth_time: t(-5),
        acr: None,
        amr: Some("pwd".into()),
        identity_sealed: None,
        created_at: t(0),
        expires_at: t(60),
    }
}

fn grant(id: &str, client_id: &str, account_id: Option<&str>, code_hash: Option<&str>) -> GrantRow {
    GrantRow {
        id: id.into(),
        client_id: client_id.into(),
        account_id: account_id.map(Into::into),
        scope: "openid offline_access".into(),
        code_hash: code_hash.map(Into::into),
        session_id: None,
        auth_time: account_id.map(|_| t(-5)),
        acr: Some("urn:idseal:pwd".into()),
        amr: None,
        identity_sealed: None,
        created_at: t(0),
        revoked_at: None,
    }
}

fn access(jti: &str, grant_id: &str, client_id: &str, expires: i64) -> AccessRow {
    AccessRow { jti: jti.into(), grant_id: grant_id.into(), client_id: client_id.into(), expires_at: t(expires) }
}

fn refresh(hash: &str, grant_id: &str, client_id: &str, account_id: &str, expires: i64) -> RefreshRow {
    RefreshRow {
        token_hash: hash.into(),
        grant_id: grant_id.into(),
        client_id: client_id.into(),
        account_id: account_id.into(),
        scope: "openid offline_access".into(),
        created_at: t(0),
        expires_at: t(expires),
        rotated_at: None,
        revoked_at: None,
    }
}

/// An account `acc` with a grant `g` from client `c`, its access token `at-g` and refresh token
/// `rt-g` (30 days).
async fn setup_grant(s: &Store, acc: &str, c: &str, g: &str) {
    if s.account(acc).await.unwrap().is_none() {
        s.insert_account(&account(acc, &format!("{acc}@example.org"))).await.unwrap();
    }
    s.issue_grant(
        &grant(g, c, Some(acc), None),
        &access(&format!("at-{g}"), g, c, 3600),
        Some(&refresh(&format!("rt-{g}"), g, c, acc, 30 * 86_400)),
    )
    .await
    .unwrap();
}

async fn count(s: &Store, table: &str) -> i64 {
    let sql = format!("SELECT COUNT(*) FROM {table}");
    let (n,): (i64,) = with_pool!(s, |pool| sqlx::query_as(&sql).fetch_one(pool).await.unwrap());
    n
}

async fn oauth_clients_insert_list_delete(db: &TestDb) {
    let s = db.store().await;
    let a = client("idc_a", 5);
    let mut b = client("idc_b", 2);
    b.secret_hash = None;
    b.auth_method = "none".into();
    b.post_logout_redirect_uris = vec!["https://rp.example/bye".into()];
    s.insert_client(&a).await.unwrap();
    s.insert_client(&b).await.unwrap();
    assert_eq!(s.client("idc_a").await.unwrap(), Some(a.clone()));
    assert_eq!(s.client("idc_b").await.unwrap(), Some(b.clone()));
    assert_eq!(s.client("idc_x").await.unwrap(), None);
    assert_eq!(s.list_clients().await.unwrap(), vec![b.clone(), a.clone()], "by created_at");
    let err = s.insert_client(&client("idc_a", 9)).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err}");
    assert_eq!(s.client("idc_a").await.unwrap(), Some(a.clone()), "unchanged");

    // Delete: grants revoked (kept), refresh tokens revoked, consents gone; other clients untouched.
    setup_grant(&s, "acc1", "idc_a", "g1").await;
    setup_grant(&s, "acc1", "idc_b", "g2").await;
    s.grant_consent("acc1", "idc_a", "openid", t(1)).await.unwrap();
    s.grant_consent("acc1", "idc_b", "openid", t(1)).await.unwrap();
    assert!(s.delete_client("idc_a", t(10)).await.unwrap());
    assert!(!s.delete_client("idc_a", t(11)).await.unwrap(), "already gone");
    assert_eq!(s.client("idc_a").await.unwrap(), None);
    assert_eq!(s.grant("g1").await.unwrap().unwrap().revoked_at, Some(t(10)));
    assert_eq!(s.grant("g2").await.unwrap().unwrap().revoked_at, None);
    let (rt, g) = s.refresh_token("rt-g1").await.unwrap().unwrap();
    assert_eq!((rt.revoked_at, g.id.as_str()), (Some(t(10)), "g1"));
    assert_eq!(s.refresh_token("rt-g2").await.unwrap().unwrap().0.revoked_at, None);
    assert_eq!(s.consent("acc1", "idc_a").await.unwrap(), None);
    assert_eq!(s.consent("acc1", "idc_b").await.unwrap().as_deref(), Some("openid"));
    assert_eq!(s.list_clients().await.unwrap(), vec![b]);
    // The client id can be registered again (a new client; the old grants stay revoked).
    s.insert_client(&a).await.unwrap();
    assert!(s.access_status("at-g1").await.unwrap().unwrap().grant.revoked_at.is_some());
}

async fn oauth_account_email_unique(db: &TestDb) {
    let s = db.store().await;
    let a = account("acc1", "ada@example.org");
    s.insert_account(&a).await.unwrap();
    let err = s.insert_account(&account("acc2", "ada@example.org")).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err}");
    assert_eq!(s.account("acc2").await.unwrap(), None);
    assert_eq!(s.account("acc1").await.unwrap(), Some(a.clone()));
    assert_eq!(s.account_by_email("ada@example.org").await.unwrap(), Some(a.clone()));
    assert_eq!(s.account_by_email("bob@example.org").await.unwrap(), None);
    assert!(s.set_password("acc1", "$argon2id$new", t(5)).await.unwrap());
    assert!(!s.set_password("nobody", "$argon2id$new", t(5)).await.unwrap());
    assert!(s.set_email_verified("acc1", t(6)).await.unwrap());
    let got = s.account("acc1").await.unwrap().unwrap();
    assert_eq!(got.password_hash.as_deref(), Some("$argon2id$new"));
    assert!(got.email_verified);
    assert_eq!(got.updated_at, t(6));
    // An account created verified reads back verified, one without a password without one.
    let mut b = account("acc3", "bob@example.org");
    b.email_verified = true;
    b.password_hash = None;
    b.name = None;
    s.insert_account(&b).await.unwrap();
    assert_eq!(s.account("acc3").await.unwrap(), Some(b));
}

async fn oauth_email_tokens_single_use_and_expiry(db: &TestDb) {
    let s = db.store().await;
    s.insert_account(&account("acc1", "ada@example.org")).await.unwrap();
    s.insert_email_token("v1", "acc1", "verify", t(0), t(100)).await.unwrap();
    s.insert_email_token("r1", "acc1", "reset", t(0), t(100)).await.unwrap();
    s.insert_email_token("r2", "acc1", "reset", t(0), t(100)).await.unwrap();
    assert!(s.insert_email_token("x", "acc1", "other", t(0), t(100)).await.is_err(), "purpose is checked");
    // Wrong purpose, expiry, unknown.
    assert_eq!(s.consume_email_token("v1", "reset", t(1)).await.unwrap(), None);
    assert_eq!(s.consume_email_token("r1", "reset", t(100)).await.unwrap(), None, "expired");
    assert_eq!(s.consume_email_token("nope", "reset", t(1)).await.unwrap(), None);
    // Single use, also under concurrency.
    let futs: Vec<_> = (0..10).map(|_| s.consume_email_token("r2", "reset", t(1))).collect();
    let won: Vec<_> = join_all(futs).await.into_iter().filter_map(Result::unwrap).collect();
    assert_eq!(won, vec!["acc1".to_owned()]);
    assert_eq!(s.consume_email_token("r1", "reset", t(99)).await.unwrap().as_deref(), Some("acc1"));
    assert_eq!(s.consume_email_token("r1", "reset", t(99)).await.unwrap(), None);
    // verify_email: consumes and marks verified, once.
    assert_eq!(s.verify_email("v1", t(200)).await.unwrap(), None, "expired");
    assert!(!s.account("acc1").await.unwrap().unwrap().email_verified);
    s.insert_email_token("v2", "acc1", "verify", t(0), t(300)).await.unwrap();
    assert_eq!(s.verify_email("v2", t(200)).await.unwrap().as_deref(), Some("acc1"));
    assert!(s.account("acc1").await.unwrap().unwrap().email_verified);
    assert_eq!(s.verify_email("v2", t(201)).await.unwrap(), None);
}

async fn oauth_reset_password_is_atomic(db: &TestDb) {
    let s = db.store().await;
    s.insert_client(&client("idc_a", 0)).await.unwrap();
    setup_grant(&s, "acc1", "idc_a", "g1").await;
    setup_grant(&s, "acc2", "idc_a", "g2").await;
    s.insert_session(&session("s1", "acc1", 0)).await.unwrap();
    s.insert_session(&session("s2", "acc1", 1)).await.unwrap();
    s.insert_session(&session("s3", "acc2", 1)).await.unwrap();
    s.insert_email_token("verify", "acc1", "verify", t(0), t(3600)).await.unwrap();
    s.insert_email_token("old", "acc1", "reset", t(0), t(10)).await.unwrap();
    s.insert_email_token("good", "acc1", "reset", t(0), t(3600)).await.unwrap();
    let before = s.account("acc1").await.unwrap().unwrap();

    // Invalid tokens change nothing.
    for tok in ["unknown", "verify", "old"] {
        assert_eq!(s.reset_password(tok, "$argon2id$new", t(20)).await.unwrap(), None, "{tok}");
    }
    assert_eq!(s.account("acc1").await.unwrap().unwrap(), before);
    assert_eq!(s.list_sessions("acc1", t(20)).await.unwrap().len(), 2);
    assert_eq!(s.grant("g1").await.unwrap().unwrap().revoked_at, None);
    assert_eq!(s.consume_email_token("verify", "verify", t(20)).await.unwrap().as_deref(), Some("acc1"));

    assert_eq!(s.reset_password("good", "$argon2id$new", t(30)).await.unwrap().as_deref(), Some("acc1"));
    let after = s.account("acc1").await.unwrap().unwrap();
    assert_eq!(after.password_hash.as_deref(), Some("$argon2id$new"));
    assert_eq!(after.updated_at, t(30));
    assert!(s.list_sessions("acc1", t(30)).await.unwrap().is_empty());
    assert_eq!(s.session("s1").await.unwrap().unwrap().revoked_at, Some(t(30)));
    assert_eq!(s.grant("g1").await.unwrap().unwrap().revoked_at, Some(t(30)));
    assert_eq!(s.refresh_token("rt-g1").await.unwrap().unwrap().0.revoked_at, Some(t(30)));
    // The other account is untouched; the token is spent.
    assert_eq!(s.list_sessions("acc2", t(30)).await.unwrap().len(), 1);
    assert_eq!(s.grant("g2").await.unwrap().unwrap().revoked_at, None);
    assert_eq!(s.reset_password("good", "$argon2id$newer", t(31)).await.unwrap(), None);
    assert_eq!(s.account("acc1").await.unwrap().unwrap().password_hash.as_deref(), Some("$argon2id$new"));
}

async fn oauth_sessions_list_revoke_touch(db: &TestDb) {
    let s = db.store().await;
    s.insert_account(&account("acc1", "ada@example.org")).await.unwrap();
    s.insert_account(&account("acc2", "bob@example.org")).await.unwrap();
    let s1 = session("s1", "acc1", 0);
    s.insert_session(&s1).await.unwrap();
    s.insert_session(&session("s2", "acc1", 10)).await.unwrap();
    s.insert_session(&session("s3", "acc1", 20)).await.unwrap();
    s.insert_session(&session("s4", "acc2", 20)).await.unwrap();
    let mut old = session("s0", "acc1", -100_000);
    old.expires_at = t(-1);
    s.insert_session(&old).await.unwrap();
    assert!(matches!(s.insert_session(&s1).await.unwrap_err(), StoreError::Conflict(_)));
    assert_eq!(s.session("s1").await.unwrap(), Some(s1.clone()));
    assert_eq!(s.session("nope").await.unwrap(), None);
    let ids = |v: Vec<SessionRow>| v.into_iter().map(|r| r.id).collect::<Vec<_>>();
    assert_eq!(ids(s.list_sessions("acc1", t(30)).await.unwrap()), ["s3", "s2", "s1"], "newest first, live only");

    // Another account cannot revoke it; the owner can, once.
    assert!(!s.revoke_session("acc2", "s2", t(40)).await.unwrap());
    assert!(s.revoke_session("acc1", "s2", t(40)).await.unwrap());
    assert!(!s.revoke_session("acc1", "s2", t(41)).await.unwrap());
    assert!(!s.revoke_session("acc1", "nope", t(41)).await.unwrap());
    assert_eq!(s.session("s2").await.unwrap().unwrap().revoked_at, Some(t(40)));
    assert_eq!(ids(s.list_sessions("acc1", t(41)).await.unwrap()), ["s3", "s1"]);

    // Touch writes last_seen only when it is at least a minute old.
    s.touch_session("s1", t(59)).await.unwrap();
    assert_eq!(s.session("s1").await.unwrap().unwrap().last_seen, t(0));
    s.touch_session("s1", t(60)).await.unwrap();
    assert_eq!(s.session("s1").await.unwrap().unwrap().last_seen, t(60));
    s.touch_session("s1", t(100)).await.unwrap();
    assert_eq!(s.session("s1").await.unwrap().unwrap().last_seen, t(60));

    assert_eq!(s.revoke_all_sessions("acc1", t(50)).await.unwrap(), 3, "s0 (expired), s1, s3");
    assert!(s.list_sessions("acc1", t(51)).await.unwrap().is_empty());
    assert_eq!(ids(s.list_sessions("acc2", t(51)).await.unwrap()), ["s4"]);
}

async fn oauth_consent_upsert_list_revoke(db: &TestDb) {
    let s = db.store().await;
    setup_grant(&s, "acc1", "idc_a", "g1").await;
    setup_grant(&s, "acc1", "idc_a", "g2").await;
    setup_grant(&s, "acc1", "idc_b", "g3").await;
    setup_grant(&s, "acc2", "idc_a", "g4").await;
    assert_eq!(s.consent("acc1", "idc_a").await.unwrap(), None);
    s.grant_consent("acc1", "idc_a", "openid", t(1)).await.unwrap();
    s.grant_consent("acc1", "idc_a", "email openid", t(2)).await.unwrap();
    s.grant_consent("acc1", "idc_b", "openid", t(3)).await.unwrap();
    s.grant_consent("acc2", "idc_a", "openid", t(3)).await.unwrap();
    assert_eq!(s.consent("acc1", "idc_a").await.unwrap().as_deref(), Some("email openid"));
    let list = s.list_consents("acc1").await.unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(
        (list[0].client_id.as_str(), list[0].scope.as_str(), list[0].granted_at),
        ("idc_a", "email openid", t(2))
    );
    assert_eq!(list[1].client_id, "idc_b");

    assert!(s.revoke_consent("acc1", "idc_a", t(10)).await.unwrap());
    assert!(!s.revoke_consent("acc1", "idc_a", t(11)).await.unwrap());
    assert_eq!(s.consent("acc1", "idc_a").await.unwrap(), None);
    for g in ["g1", "g2"] {
        assert_eq!(s.grant(g).await.unwrap().unwrap().revoked_at, Some(t(10)), "{g}");
        assert_eq!(s.refresh_token(&format!("rt-{g}")).await.unwrap().unwrap().0.revoked_at, Some(t(10)));
    }
    for g in ["g3", "g4"] {
        assert_eq!(s.grant(g).await.unwrap().unwrap().revoked_at, None, "{g}");
    }
    assert_eq!(s.list_consents("acc1").await.unwrap().len(), 1);
    assert_eq!(s.consent("acc2", "idc_a").await.unwrap().as_deref(), Some("openid"));
}

/// The client the test codes are issued to.
const CODE_CLIENT: &str = "idc_a";

async fn oauth_code_outcomes(db: &TestDb) {
    let s = db.store().await;
    s.insert_account(&account("acc1", "ada@example.org")).await.unwrap();
    let c = code("c1", "idc_a", "acc1");
    s.insert_code(&c).await.unwrap();
    s.insert_code(&code("c2", "idc_a", "acc1")).await.unwrap();
    s.insert_code(&code("c3", "idc_a", "acc1")).await.unwrap();
    assert_eq!(s.consume_code("unknown", CODE_CLIENT, t(1)).await.unwrap(), CodeOutcome::Invalid);
    // Another client can neither use nor burn the code.
    assert_eq!(s.consume_code("c1", "idc_other", t(1)).await.unwrap(), CodeOutcome::Invalid);
    assert_eq!(s.consume_code("c1", CODE_CLIENT, t(1)).await.unwrap(), CodeOutcome::Fresh(c));
    // Replayed before the grant was recorded, then after.
    let replay = s.consume_code("c1", CODE_CLIENT, t(2)).await.unwrap();
    assert_eq!(replay, CodeOutcome::Replayed { client_id: "idc_a".into(), account_id: "acc1".into(), grant_id: None });
    s.issue_grant(&grant("g1", "idc_a", Some("acc1"), Some("c1")), &access("at1", "g1", "idc_a", 3600), None)
        .await
        .unwrap();
    let replay = s.consume_code("c1", CODE_CLIENT, t(3)).await.unwrap();
    assert_eq!(
        replay,
        CodeOutcome::Replayed { client_id: "idc_a".into(), account_id: "acc1".into(), grant_id: Some("g1".into()) }
    );
    // A second grant from the same code is refused.
    let err = s
        .issue_grant(&grant("g2", "idc_a", Some("acc1"), Some("c1")), &access("at2", "g2", "idc_a", 3600), None)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err}");
    assert_eq!(s.grant("g2").await.unwrap(), None);
    assert_eq!(s.access_status("at2").await.unwrap(), None, "nothing of the failed grant stays");
    // Expired (at and after expires_at) and unused: invalid, and stays unused.
    assert_eq!(s.consume_code("c2", CODE_CLIENT, t(60)).await.unwrap(), CodeOutcome::Invalid);
    assert_eq!(s.consume_code("c2", CODE_CLIENT, t(61)).await.unwrap(), CodeOutcome::Invalid);
    assert!(matches!(s.consume_code("c3", CODE_CLIENT, t(59)).await.unwrap(), CodeOutcome::Fresh(_)));
}

async fn oauth_code_concurrent_single_use(db: &TestDb) {
    let a = db.store().await;
    let b = db.store().await;
    a.insert_account(&account("acc1", "ada@example.org")).await.unwrap();
    a.insert_code(&code("c1", "idc_a", "acc1")).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..20 {
        let s = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move { s.consume_code("c1", CODE_CLIENT, t(1)).await }));
    }
    let (mut fresh, mut replayed) = (0, 0);
    for task in tasks {
        match task.await.unwrap().unwrap() {
            CodeOutcome::Fresh(_) => fresh += 1,
            CodeOutcome::Replayed { .. } => replayed += 1,
            CodeOutcome::Invalid => panic!("a used code is a replay, not invalid"),
        }
    }
    assert_eq!((fresh, replayed), (1, 19));
}

async fn oauth_refresh_rotation_concurrent(db: &TestDb) {
    let a = db.store().await;
    let b = db.store().await;
    setup_grant(&a, "acc1", "idc_a", "g1").await;
    let mut tasks = Vec::new();
    for i in 0..20 {
        let s = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            let new = refresh(&format!("rt-new-{i}"), "g1", "idc_a", "acc1", 60 * 86_400);
            s.rotate_refresh("rt-g1", t(100), &new, &access(&format!("at-new-{i}"), "g1", "idc_a", 3700)).await
        }));
    }
    let mut won = 0;
    for task in tasks {
        if task.await.unwrap().unwrap() {
            won += 1;
        }
    }
    assert_eq!(won, 1);
    assert_eq!(count(&a, "refresh_tokens").await, 2, "the old one and exactly one new one");
    assert_eq!(count(&a, "access_tokens").await, 2);
    let (old, _) = a.refresh_token("rt-g1").await.unwrap().unwrap();
    assert_eq!(old.rotated_at, Some(t(100)));
    // The old token cannot be rotated again; an expired one cannot be rotated at all.
    let new = refresh("rt-x", "g1", "idc_a", "acc1", 60 * 86_400);
    assert!(!a.rotate_refresh("rt-g1", t(101), &new, &access("at-x", "g1", "idc_a", 3700)).await.unwrap());
    setup_grant(&a, "acc1", "idc_a", "g2").await;
    let late = t(30 * 86_400);
    assert!(!a.rotate_refresh("rt-g2", late, &new, &access("at-x", "g2", "idc_a", 3700)).await.unwrap());
    assert_eq!(a.refresh_token("rt-x").await.unwrap(), None);
}

async fn oauth_rotate_after_revoke_grant_fails(db: &TestDb) {
    let s = db.store().await;
    setup_grant(&s, "acc1", "idc_a", "g1").await;
    setup_grant(&s, "acc1", "idc_a", "g2").await;
    assert!(s.revoke_grant("g1", t(5)).await.unwrap());
    assert!(!s.revoke_grant("g1", t(6)).await.unwrap(), "already revoked");
    assert!(!s.revoke_grant("nope", t(6)).await.unwrap());
    let (rt, g) = s.refresh_token("rt-g1").await.unwrap().unwrap();
    assert_eq!((rt.revoked_at, g.revoked_at), (Some(t(5)), Some(t(5))));
    let new = refresh("rt-new", "g1", "idc_a", "acc1", 60 * 86_400);
    assert!(!s.rotate_refresh("rt-g1", t(10), &new, &access("at-new", "g1", "idc_a", 3700)).await.unwrap());
    assert_eq!(s.refresh_token("rt-new").await.unwrap(), None);
    assert_eq!(s.access_status("at-new").await.unwrap(), None);
    // A revoked grant refuses rotation even if its refresh token row were not marked.
    with_pool!(s, |pool| sqlx::query("UPDATE refresh_tokens SET revoked_at = NULL WHERE token_hash = 'rt-g1'")
        .execute(pool)
        .await
        .map(|_| ())
        .unwrap());
    assert!(!s.rotate_refresh("rt-g1", t(10), &new, &access("at-new", "g1", "idc_a", 3700)).await.unwrap());
    // The other grant still rotates.
    let new2 = refresh("rt-new2", "g2", "idc_a", "acc1", 60 * 86_400);
    assert!(s.rotate_refresh("rt-g2", t(10), &new2, &access("at-new2", "g2", "idc_a", 3700)).await.unwrap());
    assert_eq!(s.refresh_token("rt-new2").await.unwrap().unwrap().0, new2);
}

async fn oauth_access_status_after_revoke(db: &TestDb) {
    let s = db.store().await;
    setup_grant(&s, "acc1", "idc_a", "g1").await;
    setup_grant(&s, "acc1", "idc_a", "g2").await;
    setup_grant(&s, "acc1", "idc_b", "g3").await;
    // client_credentials: a grant without account and refresh token, then another access token.
    s.issue_grant(&grant("cc1", "idc_c", None, None), &access("at-cc1", "cc1", "idc_c", 3600), None).await.unwrap();
    s.insert_access(&access("at-cc2", "cc1", "idc_c", 7200)).await.unwrap();
    assert!(matches!(s.insert_access(&access("at-cc2", "cc1", "idc_c", 7200)).await, Err(StoreError::Conflict(_))));
    let st = s.access_status("at-cc2").await.unwrap().unwrap();
    assert_eq!((st.grant.id.as_str(), st.grant.account_id.clone(), st.access_revoked), ("cc1", None, false));
    assert_eq!(st.expires_at, t(7200));

    let st = s.access_status("at-g1").await.unwrap().unwrap();
    assert_eq!(st.grant, grant("g1", "idc_a", Some("acc1"), None));
    assert!(!st.access_revoked);
    assert_eq!(s.access_status("nope").await.unwrap(), None);

    assert_eq!(s.revoke_grants_for("idc_a", "acc1", t(20)).await.unwrap(), 2);
    assert_eq!(s.revoke_grants_for("idc_a", "acc1", t(21)).await.unwrap(), 0);
    for jti in ["at-g1", "at-g2"] {
        let st = s.access_status(jti).await.unwrap().unwrap();
        assert_eq!(st.grant.revoked_at, Some(t(20)), "{jti}");
        assert!(!st.access_revoked);
    }
    assert_eq!(s.refresh_token("rt-g2").await.unwrap().unwrap().0.revoked_at, Some(t(20)));
    assert_eq!(s.access_status("at-g3").await.unwrap().unwrap().grant.revoked_at, None);

    // revoke_access: only by the client it was issued to.
    assert!(!s.revoke_access("at-g3", "idc_a", t(30)).await.unwrap());
    assert!(s.revoke_access("at-g3", "idc_b", t(30)).await.unwrap());
    assert!(!s.revoke_access("at-g3", "idc_b", t(31)).await.unwrap());
    let st = s.access_status("at-g3").await.unwrap().unwrap();
    assert!(st.access_revoked);
    assert_eq!(st.grant.revoked_at, None, "the grant itself stays");
}

async fn oauth_purge_removes_only_expired(db: &TestDb) {
    let s = db.store().await;
    let now = t(100_000);
    s.insert_account(&account("acc1", "ada@example.org")).await.unwrap();
    // Codes: expired over a day ago (goes), expired recently (kept for replay detection).
    let mut c_old = code("c-old", "idc_a", "acc1");
    c_old.expires_at = t(100_000 - 86_401);
    let mut c_recent = code("c-recent", "idc_a", "acc1");
    c_recent.expires_at = t(100_000 - 10);
    s.insert_code(&c_old).await.unwrap();
    s.insert_code(&c_recent).await.unwrap();
    // Grants: g-dead (no tokens left after purge, old), g-live (live refresh token), g-code
    // (its code is still kept).
    s.issue_grant(&grant("g-dead", "idc_a", Some("acc1"), None), &access("at-dead", "g-dead", "idc_a", 50_000), None)
        .await
        .unwrap();
    s.issue_grant(
        &grant("g-live", "idc_a", Some("acc1"), None),
        &access("at-live-old", "g-live", "idc_a", 50_000),
        Some(&refresh("rt-live", "g-live", "idc_a", "acc1", 200_000)),
    )
    .await
    .unwrap();
    s.insert_access(&access("at-live", "g-live", "idc_a", 100_001)).await.unwrap();
    s.issue_grant(
        &grant("g-code", "idc_a", Some("acc1"), Some("c-recent")),
        &access("at-code", "g-code", "idc_a", 50_000),
        Some(&refresh("rt-code-old", "g-code", "idc_a", "acc1", 99_999)),
    )
    .await
    .unwrap();
    // Sessions: expired (revoked or not) go, live (even revoked) stay.
    let mut s_exp = session("s-exp", "acc1", 0);
    s_exp.expires_at = now;
    let mut s_rev = session("s-rev", "acc1", 90_000);
    s_rev.revoked_at = Some(t(90_001));
    s.insert_session(&s_exp).await.unwrap();
    s.insert_session(&s_rev).await.unwrap();
    s.insert_session(&session("s-live", "acc1", 90_000)).await.unwrap();
    // Email tokens: used, expired go; live stays.
    s.insert_email_token("e-used", "acc1", "verify", t(0), t(200_000)).await.unwrap();
    s.consume_email_token("e-used", "verify", t(1)).await.unwrap().unwrap();
    s.insert_email_token("e-exp", "acc1", "reset", t(0), now).await.unwrap();
    s.insert_email_token("e-live", "acc1", "reset", t(0), t(100_001)).await.unwrap();

    let n = s.purge_oauth(now).await.unwrap();
    // c-old; at-dead, at-live-old, at-code; rt-code-old; s-exp; e-used, e-exp; g-dead.
    assert_eq!(n, 9);
    assert_eq!(s.consume_code("c-old", CODE_CLIENT, now).await.unwrap(), CodeOutcome::Invalid);
    assert!(
        matches!(s.consume_code("c-recent", CODE_CLIENT, now).await.unwrap(), CodeOutcome::Invalid),
        "kept, never used"
    );
    assert_eq!(count(&s, "auth_codes").await, 1);
    assert_eq!(s.grant("g-dead").await.unwrap(), None);
    assert!(s.grant("g-live").await.unwrap().is_some());
    assert!(s.grant("g-code").await.unwrap().is_some());
    assert!(s.access_status("at-live").await.unwrap().is_some());
    assert_eq!(s.access_status("at-live-old").await.unwrap(), None);
    assert!(s.refresh_token("rt-live").await.unwrap().is_some());
    assert_eq!(s.refresh_token("rt-code-old").await.unwrap(), None);
    assert_eq!(s.session("s-exp").await.unwrap(), None);
    assert!(s.session("s-rev").await.unwrap().is_some());
    assert!(s.session("s-live").await.unwrap().is_some());
    assert_eq!(count(&s, "email_tokens").await, 1);
    assert_eq!(s.consume_email_token("e-live", "reset", now).await.unwrap().as_deref(), Some("acc1"));
    assert_eq!(s.purge_oauth(now).await.unwrap(), 1, "the token just used");
}

async fn trust_sequence_ledger_refuses_rollback(db: &TestDb) {
    let a = db.store().await;
    let b = db.store().await;
    let loc = "http://trust.example/vrl.xml";
    assert_eq!(a.trust_sequence(loc).await.unwrap(), None);
    assert!(a.accept_trust_sequence(loc, 5, UnixTime::from_secs(1)).await.unwrap());
    assert!(b.accept_trust_sequence(loc, 5, UnixTime::from_secs(2)).await.unwrap(), "the same list again");
    assert!(
        !b.accept_trust_sequence(loc, 4, UnixTime::from_secs(3)).await.unwrap(),
        "a rollback, seen by another instance"
    );
    assert_eq!(a.trust_sequence(loc).await.unwrap(), Some(5));
    assert!(a.accept_trust_sequence(loc, 6, UnixTime::from_secs(4)).await.unwrap());
    assert!(a.accept_trust_sequence("http://trust.example/other.xml", 1, UnixTime::from_secs(5)).await.unwrap());
    assert_eq!(b.trust_sequence(loc).await.unwrap(), Some(6));
}
