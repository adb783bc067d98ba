//! `idseal keys rotate` against the database of a running server.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::{Idseal, client, free_addr, jwks, kids_by_alg, one_key_per_alg, wait_healthy};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_rotation_reaches_a_running_server() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let s = Idseal::serve(tmp.path(), &data, free_addr()).env("IDSEAL_KEYS__REFRESH_SECS", "1").start().await;
    let c = client();
    wait_healthy(&c, &s).await;
    let before = one_key_per_alg(&jwks(&c, &s).await);
    let old = before["ES256"].clone();

    // Refused before anything is opened.
    let out = Idseal::new(tmp.path(), ["keys", "rotate", "--alg", "HS256", "--data-dir"]).arg(&data).run().await;
    out.assert_code(2).assert_stderr_has("--alg");
    assert_eq!(one_key_per_alg(&jwks(&c, &s).await), before, "a refused rotation changes nothing");

    let out =
        Idseal::new(tmp.path(), ["keys", "rotate", "--alg", "ES256", "--json", "--data-dir"]).arg(&data).run().await;
    out.assert_code(0);
    let v: Value = serde_json::from_str(out.stdout.trim()).unwrap_or_else(|e| panic!("not JSON ({e})\n{out}"));
    let new = v["kid"].as_str().unwrap_or_else(|| panic!("no kid: {v}")).to_owned();
    assert_ne!(new, old);
    assert_eq!(v["alg"], "ES256", "{v}");
    assert_eq!(v["previous_kid"], old.as_str(), "{v}");

    // The server reloads its keys every second: the new key appears, the old stays (grace).
    let deadline = Instant::now() + Duration::from_secs(10);
    let es256 = loop {
        let by = kids_by_alg(&jwks(&c, &s).await);
        let es = by.get("ES256").cloned().unwrap_or_default();
        if es.contains(&new) {
            break es;
        }
        assert!(Instant::now() < deadline, "the server never published {new}; ES256 keys: {es:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let mut want = vec![old.clone(), new.clone()];
    want.sort();
    assert_eq!(es256, want, "new key published and old key kept for its grace period");
    let all = kids_by_alg(&jwks(&c, &s).await);
    for alg in ["RS256", "EdDSA", "ML-DSA-65"] {
        assert_eq!(all[alg], vec![before[alg].clone()], "{alg} untouched");
    }
    let health = wait_healthy(&c, &s).await;
    assert_eq!(health["status"], "ok", "{health}");
    s.stop().await;
}

/// `keys list --json` on a fresh data directory initialises it; its stdout stays one JSON
/// document, and the bootstrap token it issues is shown on stderr (and works).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_list_json_on_a_fresh_directory_stays_json() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let out = Idseal::new(tmp.path(), ["keys", "list", "--json", "--data-dir"]).arg(&data).run().await;
    out.assert_code(0);
    let keys: Vec<Value> =
        serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("stdout is not one JSON document ({e})\n{out}"));
    assert_eq!(keys.len(), 4, "{keys:?}");
    assert!(keys.iter().all(|k| k["state"] == "active"), "{keys:?}");
    let token = out
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("admin bootstrap token (shown once, store it now): "))
        .unwrap_or_else(|| panic!("the bootstrap token must still be shown\n{out}"))
        .trim()
        .to_owned();

    let s = Idseal::serve(tmp.path(), &data, free_addr()).start().await;
    assert_eq!(s.ready().token, None, "the token was already issued");
    let c = client();
    let (status, list) = crate::harness::get_json(&c, &s.url("/admin/keys"), Some(&token)).await;
    assert_eq!(status, 200, "{list}");
    let served: Vec<&str> = list["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap()).collect();
    let listed: Vec<&str> = keys.iter().map(|k| k["kid"].as_str().unwrap()).collect();
    assert_eq!(served, listed, "the server uses the keys the CLI created");
    s.stop().await;
}
