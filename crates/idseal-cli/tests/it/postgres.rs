//! Several instances on one PostgreSQL database.

use crate::harness::{
    Idseal, PgDb, client, free_addr, get_json, jwks, kids_by_alg, one_key_per_alg, random_master_key, wait_healthy,
};

/// Two instances started at the same moment on a fresh database agree on one key per
/// algorithm, and exactly one of them issues the bootstrap token; a third joins cleanly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_racing_on_a_fresh_database_agree() {
    let Some(db) = PgDb::create("two_instances_racing_on_a_fresh_database_agree").await else { return };
    let tmp = tempfile::tempdir().unwrap();
    let master = random_master_key();
    let c = client();
    let cmd = |n: &str| {
        Idseal::serve(tmp.path(), &tmp.path().join(n), free_addr())
            .arg("--database-url")
            .arg(&db.url)
            .env("IDSEAL_MASTER_KEY", &master)
    };

    // Spawn both before waiting for either: they migrate and bootstrap concurrently.
    let (a, b) = (cmd("a"), cmd("b"));
    let (mut a, mut b) = (a.spawn(), b.spawn());
    let (ra, rb) = tokio::join!(a.wait_start(), b.wait_start());
    for (s, r) in [(&a, ra), (&b, rb)] {
        assert!(
            matches!(r, crate::harness::Start::Ready),
            "an instance failed to start: {r:?}\nstdout:\n{}\nstderr:\n{}",
            s.stdout(),
            s.stderr()
        );
    }
    wait_healthy(&c, &a).await;
    wait_healthy(&c, &b).await;

    let (ka, kb) = (jwks(&c, &a).await, jwks(&c, &b).await);
    let kids = one_key_per_alg(&ka);
    one_key_per_alg(&kb);
    assert_eq!(kids_by_alg(&ka), kids_by_alg(&kb), "both instances publish the same keys");
    assert_eq!(sorted(ka), sorted(kb.clone()), "identical JWKS documents");

    let tokens: Vec<String> = [&a, &b].iter().filter_map(|s| s.ready().token.clone()).collect();
    assert_eq!(
        tokens.len(),
        1,
        "exactly one instance prints the bootstrap token:\nA:\n{}\nB:\n{}",
        a.stdout(),
        b.stdout()
    );
    // The token is shared through the database: it works on both instances.
    for s in [&a, &b] {
        let (status, list) = get_json(&c, &s.url("/admin/keys"), Some(&tokens[0])).await;
        assert_eq!(status, 200, "{list}");
        assert_eq!(list["keys"].as_array().unwrap().len(), 4, "no duplicate keys were stored: {list}");
    }

    // A third instance while both run.
    let third = cmd("c").start().await;
    assert_eq!(third.ready().token, None, "a third start prints no token\n{}", third.stdout());
    wait_healthy(&c, &third).await;
    let kc = jwks(&c, &third).await;
    assert_eq!(one_key_per_alg(&kc), kids, "the third instance publishes the same keys");
    assert_eq!(sorted(kc), sorted(kb), "identical JWKS documents");

    // An instance with another master key is refused; it generates nothing.
    let out = Idseal::serve(tmp.path(), &tmp.path().join("d"), free_addr())
        .arg("--database-url")
        .arg(&db.url)
        .env("IDSEAL_MASTER_KEY", &random_master_key())
        .start_must_fail()
        .await;
    out.assert_failed().assert_stderr_has("different master key");
    let (status, list) = get_json(&c, &third.url("/admin/keys"), Some(&tokens[0])).await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["keys"].as_array().unwrap().len(), 4, "the refused instance stored nothing: {list}");

    third.stop().await;
    a.stop().await;
    b.stop().await;
    drop(db);
}

fn sorted(mut keys: Vec<serde_json::Value>) -> Vec<serde_json::Value> {
    keys.sort_by(|x, y| x["kid"].as_str().cmp(&y["kid"].as_str()));
    keys
}
