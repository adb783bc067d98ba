//! One suite, run against SQLite and PostgreSQL.
//!
//! PostgreSQL tests use `IDSEAL_TEST_DATABASE_URL`; each test makes its own database. When the
//! variable is set and the server is unreachable, the tests fail. When it is unset, the
//! PostgreSQL half reports itself skipped (CI always sets it).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use idseal_keys::{Algorithm, KeyRing, KeyState, KeyStore, MasterKey, RotationPolicy};
use idseal_ratelimit::{Decision, KeyKind, Policy, RateLimitStore};
use idseal_types::{AuditEvent, AuditEventKind, AuditSink, UnixTime};

use crate::testing::{create_postgres_database, drop_postgres_database};
use crate::{ConnectOptions, Store, with_pool};

#[derive(Clone, Copy)]
pub(crate) enum Kind {
    Sqlite,
    Postgres,
}

pub(crate) struct TestDb {
    pub(crate) url: String,
    _dir: Option<tempfile::TempDir>,
    pg: Option<(String, String)>,
}

impl TestDb {
    pub(crate) async fn new(kind: Kind) -> Option<Self> {
        match kind {
            Kind::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let url = format!("sqlite:{}", dir.path().join("idseal.db").display());
                Some(Self { url, _dir: Some(dir), pg: None })
            }
            Kind::Postgres => {
                let Ok(admin) = std::env::var("IDSEAL_TEST_DATABASE_URL") else {
                    eprintln!("skipped: IDSEAL_TEST_DATABASE_URL is not set");
                    return None;
                };
                let (url, name) =
                    create_postgres_database(&admin).await.expect("PostgreSQL from IDSEAL_TEST_DATABASE_URL");
                Some(Self { url, _dir: None, pg: Some((admin, name)) })
            }
        }
    }

    pub(crate) async fn store(&self) -> Store {
        let s = Store::connect(&self.url, &ConnectOptions::default())
            .await
            .unwrap()
            .with_audit_pseudonym_key(&[7; 32])
            .unwrap();
        s.migrate().await.unwrap();
        s
    }

    pub(crate) async fn done(self) {
        if let Some((admin, name)) = &self.pg {
            drop_postgres_database(admin, name).await.unwrap();
        }
    }
}

macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                if let Some(db) = super::TestDb::new(super::Kind::Sqlite).await {
                    super::$name(&db).await;
                    db.done().await;
                }
            })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                if let Some(db) = super::TestDb::new(super::Kind::Postgres).await {
                    super::$name(&db).await;
                    db.done().await;
                }
            })*
        }
    };
}
pub(crate) use both_backends;

both_backends!(
    migrations_are_idempotent_and_concurrent,
    keys_bootstrap_once_across_instances,
    keys_rotate_grace_and_deactivate,
    wrong_master_key_refuses_to_start,
    rate_limit_exact_under_concurrency,
    lockout_survives_restart_and_escalates,
    audit_is_append_only,
    meta_claim_is_first_writer_wins,
);

async fn migrations_are_idempotent_and_concurrent(db: &TestDb) {
    // Several "instances" migrate the same empty database at once.
    let stores: Vec<Store> =
        futures_join(4, || async { Store::connect(&db.url, &ConnectOptions::default()).await.unwrap() }).await;
    let results = futures_join_each(&stores, |s| async move { s.migrate().await }).await;
    for r in results {
        r.unwrap();
    }
    // And again: nothing to do.
    stores[0].migrate().await.unwrap();
    stores[0].ping().await.unwrap();
}

async fn keys_bootstrap_once_across_instances(db: &TestDb) {
    let master = Arc::new(MasterKey::generate().unwrap());
    let algs = Algorithm::ALL;
    let t0 = UnixTime::from_secs(1_800_000_000);
    let a = db.store().await;
    let b = db.store().await;
    let (ra, rb) = tokio::join!(KeyRing::bootstrap(&a, &master, &algs, t0), KeyRing::bootstrap(&b, &master, &algs, t0));
    let (ring_a, gen_a) = ra.unwrap();
    let (ring_b, gen_b) = rb.unwrap();
    assert_eq!(gen_a.len() + gen_b.len(), 4, "each algorithm generated exactly once");
    for alg in algs {
        assert_eq!(ring_a.signer(alg).unwrap().kid(), ring_b.signer(alg).unwrap().kid());
    }
    let recs = a.load_keys().await.unwrap();
    assert_eq!(recs.iter().filter(|r| r.state == KeyState::Active).count(), 4);
    // Private keys are never stored in clear: the sealed blob does not contain the PKCS#8.
    for r in &recs {
        let der = ring_a.signer(r.alg).unwrap().to_pkcs8().unwrap();
        assert!(!r.sealed.0.windows(32).any(|w| der.windows(32).any(|d| d == w)));
    }
}

async fn keys_rotate_grace_and_deactivate(db: &TestDb) {
    let s = db.store().await;
    let master = MasterKey::generate().unwrap();
    let t0 = UnixTime::from_secs(1_800_000_000);
    let (ring, _) = KeyRing::bootstrap(&s, &master, &[Algorithm::Rs256, Algorithm::EdDsa], t0).await.unwrap();
    let old = ring.signer(Algorithm::EdDsa).unwrap().kid().to_owned();
    let (new, went) = idseal_keys::rotate(&s, &master, Algorithm::EdDsa, RotationPolicy::default(), t0).await.unwrap();
    assert_eq!(went.as_deref(), Some(old.as_str()));
    let in_grace =
        KeyRing::load(s.load_keys().await.unwrap(), &master, t0.saturating_add(Duration::from_secs(3600))).unwrap();
    assert_eq!(in_grace.signer(Algorithm::EdDsa).unwrap().kid(), new.kid);
    assert_eq!(in_grace.jwks().keys.len(), 3);
    assert!(s.deactivate_expired(t0.saturating_add(Duration::from_secs(3600))).await.unwrap().is_empty());
    let end = t0.saturating_add(Duration::from_secs(24 * 3600));
    assert_eq!(s.deactivate_expired(end).await.unwrap(), vec![old.clone()]);
    let recs = s.load_keys().await.unwrap();
    let dead = recs.iter().find(|r| r.kid == old).unwrap();
    assert_eq!(dead.state, KeyState::Deactivated);
    assert!(dead.sealed.0.is_empty(), "private half erased");
    assert_eq!(KeyRing::load(recs, &master, end).unwrap().jwks().keys.len(), 2);
}

async fn wrong_master_key_refuses_to_start(db: &TestDb) {
    let s = db.store().await;
    let t0 = UnixTime::from_secs(1);
    KeyRing::bootstrap(&s, &MasterKey::generate().unwrap(), &[Algorithm::EdDsa], t0).await.unwrap();
    let err = KeyRing::bootstrap(&s, &MasterKey::generate().unwrap(), &[Algorithm::EdDsa], t0).await.unwrap_err();
    assert!(matches!(err, idseal_keys::KeyError::MasterKeyMismatch { .. }), "{err}");
    assert_eq!(s.load_keys().await.unwrap().len(), 1, "nothing regenerated");
}

async fn rate_limit_exact_under_concurrency(db: &TestDb) {
    // Two instances, 60 concurrent attempts, limit 10: exactly 10 pass.
    let a = db.store().await;
    let b = db.store().await;
    let policy = Arc::new(Policy::new("concurrency", Some("10/1h".parse().unwrap()), None));
    let now = UnixTime::from_secs(1_800_000_100);
    let mut tasks = Vec::new();
    for i in 0..60 {
        let s = if i % 2 == 0 { a.clone() } else { b.clone() };
        let p = policy.clone();
        tasks.push(tokio::spawn(async move {
            idseal_ratelimit::check(&s, &bucket_key(), &p, KeyKind::Ip, "10.0.0.1", now).await
        }));
    }
    let mut allowed = 0;
    for t in tasks {
        if matches!(t.await.unwrap().unwrap(), Decision::Allowed { .. }) {
            allowed += 1;
        }
    }
    assert_eq!(allowed, 10);
}

async fn lockout_survives_restart_and_escalates(db: &TestDb) {
    let policy = Policy::new("login_ip", Some("2/1m".parse().unwrap()), None)
        .with_lockout(vec![Duration::from_secs(60), Duration::from_secs(900)]);
    let t = UnixTime::from_secs(1_800_000_000);
    {
        let s = db.store().await;
        for _ in 0..2 {
            assert!(matches!(
                idseal_ratelimit::check(&s, &bucket_key(), &policy, KeyKind::Ip, "ip", t).await.unwrap(),
                Decision::Allowed { .. }
            ));
        }
        let d = idseal_ratelimit::check(&s, &bucket_key(), &policy, KeyKind::Ip, "ip", t).await.unwrap();
        assert_eq!(d, Decision::Limited { retry_after: Duration::from_secs(60), locked: true, new_lockout: true });
        s.close().await;
    }
    // A restarted instance still sees the lockout, then escalates.
    let s = db.store().await;
    let d = idseal_ratelimit::check(
        &s,
        &bucket_key(),
        &policy,
        KeyKind::Ip,
        "ip",
        t.saturating_add(Duration::from_secs(10)),
    )
    .await
    .unwrap();
    assert_eq!(d, Decision::Limited { retry_after: Duration::from_secs(50), locked: true, new_lockout: false });
    let t2 = t.saturating_add(Duration::from_secs(120));
    for _ in 0..2 {
        idseal_ratelimit::check(&s, &bucket_key(), &policy, KeyKind::Ip, "ip", t2).await.unwrap();
    }
    let d = idseal_ratelimit::check(&s, &bucket_key(), &policy, KeyKind::Ip, "ip", t2).await.unwrap();
    assert_eq!(d, Decision::Limited { retry_after: Duration::from_secs(900), locked: true, new_lockout: true });
    // Purge removes expired counters but keeps the live lockout.
    assert!(s.purge(t2.saturating_add(Duration::from_secs(61)), t).await.unwrap() >= 2);
    assert!(s.lockout(&idseal_ratelimit::bucket(&bucket_key(), &policy, KeyKind::Ip, "ip")).await.unwrap().is_some());
}

async fn audit_is_append_only(db: &TestDb) {
    let s = db.store().await;
    let ev = AuditEvent::new(AuditEventKind::KeyRotate, UnixTime::from_secs(5), "operator:1")
        .subject("kid-1")
        .request(Some("192.0.2.1".parse().unwrap()), Some("curl/8".into()))
        .details(serde_json::json!({"alg": "EdDSA"}));
    s.record(&ev).await.unwrap();
    let rows = s.audit_events(Some("KEY_ROTATE"), 10).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].ip.as_deref(), Some("192.0.2.1"));
    assert_eq!(rows[0].details["alg"], "EdDSA");
    assert!(s.audit_events(Some("SERVER_START"), 10).await.unwrap().is_empty());
    let upd = with_pool!(s, |pool| sqlx::query("UPDATE audit_events SET actor = 'x'").execute(pool).await.map(|_| ()));
    assert!(upd.is_err(), "UPDATE must be refused");
    let del = with_pool!(s, |pool| sqlx::query("DELETE FROM audit_events").execute(pool).await.map(|_| ()));
    assert!(del.is_err(), "DELETE must be refused");
    assert_eq!(s.audit_events(None, 10).await.unwrap().len(), 1);
}

async fn meta_claim_is_first_writer_wins(db: &TestDb) {
    let s = db.store().await;
    assert_eq!(s.claim_meta("k", "first").await.unwrap(), ("first".to_owned(), true));
    assert_eq!(s.claim_meta("k", "second").await.unwrap(), ("first".to_owned(), false));
    s.insert_admin_token("abc", "bootstrap", UnixTime::from_secs(1)).await.unwrap();
    assert_eq!(s.admin_token("abc").await.unwrap().as_deref(), Some("bootstrap"));
    assert_eq!(s.admin_token("abd").await.unwrap(), None);
    // The bootstrap token is issued once, claim and token together, across instances.
    let other = db.store().await;
    let (a, b) = tokio::join!(
        s.issue_bootstrap_token("h1", UnixTime::from_secs(2)),
        other.issue_bootstrap_token("h2", UnixTime::from_secs(2))
    );
    assert!(a.unwrap() ^ b.unwrap(), "exactly one instance issues it");
    let issued = [s.admin_token("h1").await.unwrap(), s.admin_token("h2").await.unwrap()];
    assert_eq!(issued.iter().flatten().collect::<Vec<_>>(), vec!["bootstrap"]);
    assert!(!s.issue_bootstrap_token("h3", UnixTime::from_secs(3)).await.unwrap());
    assert_eq!(s.admin_token("h3").await.unwrap(), None);
    // A token that could not be shown is withdrawn, and the next start issues a fresh one.
    let issued_hash = if s.admin_token("h1").await.unwrap().is_some() { "h1" } else { "h2" };
    s.withdraw_bootstrap_token(issued_hash).await.unwrap();
    assert_eq!(s.admin_token(issued_hash).await.unwrap(), None);
    assert!(s.issue_bootstrap_token("h4", UnixTime::from_secs(4)).await.unwrap());
    assert_eq!(s.admin_token("h4").await.unwrap().as_deref(), Some("bootstrap"));
}

async fn futures_join<F, Fut, T>(n: usize, f: F) -> Vec<T>
where
    F: Fn() -> Fut,
    Fut: Future<Output = T>,
{
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(f().await);
    }
    out
}

async fn futures_join_each<'a, F, Fut, T>(stores: &'a [Store], f: F) -> Vec<T>
where
    F: Fn(&'a Store) -> Fut,
    Fut: Future<Output = T> + Send + 'a,
    T: Send + 'static,
{
    // Start them all before awaiting any.
    let futs: Vec<_> = stores.iter().map(f).collect();
    let mut out = Vec::new();
    let joined = join_all(futs).await;
    out.extend(joined);
    out
}

pub(crate) async fn join_all<Fut: Future>(futs: Vec<Fut>) -> Vec<Fut::Output> {
    let mut set = Vec::new();
    for f in futs {
        set.push(Box::pin(f));
    }
    let mut out: Vec<Option<Fut::Output>> = (0..set.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in set.iter_mut().enumerate() {
            if out[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => out[i] = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending { std::task::Poll::Pending } else { std::task::Poll::Ready(()) }
    })
    .await;
    out.into_iter().map(|o| o.unwrap()).collect()
}

fn bucket_key() -> idseal_ratelimit::BucketKey {
    idseal_ratelimit::BucketKey::new(&[3; 32])
}
