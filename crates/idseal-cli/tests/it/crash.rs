//! SIGKILL while rotations are in flight: no acknowledged write is lost.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::harness::{Idseal, client, free_addr, get_json, rotations_until_sigkill, wait_healthy};

/// Concurrent clients.
const WORKERS: usize = 24;
/// Kill once this many rotations have been acknowledged (workers keep firing meanwhile).
const KILL_AFTER: usize = 40;

/// The admin API allows 60 requests a minute per IP by default; this test is about
/// durability, so the limit is raised out of the way (for the restart as well, since the
/// counters live in the database).
const RAISED_ADMIN_LIMIT: (&str, &str) = ("IDSEAL_RATE_LIMITS__ADMIN__BURST", "1000000/1m");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_rotations_loses_no_acknowledged_write() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let serve = |addr| Idseal::serve(tmp.path(), &data, addr).env(RAISED_ADMIN_LIMIT.0, RAISED_ADMIN_LIMIT.1);
    let mut s = serve(free_addr()).start().await;
    let token = s.token();
    let c = client();
    wait_healthy(&c, &s).await;

    let acked = rotations_until_sigkill(&c, &mut s, &["EdDSA"], WORKERS, KILL_AFTER).await;
    drop(s);

    // Restart on the same data directory.
    let s = serve(free_addr()).start().await;
    assert_eq!(s.ready().token, None, "a restart prints no token");
    let health = wait_healthy(&c, &s).await;
    assert_eq!(health["status"], "ok", "{health}");
    let (status, list) = get_json(&c, &s.url("/admin/keys"), Some(&token)).await;
    assert_eq!(status, 200, "{list}");
    let keys = list["keys"].as_array().unwrap();
    let eddsa: Vec<&Value> = keys.iter().filter(|k| k["alg"] == "EdDSA").collect();
    let stored: BTreeSet<String> = eddsa.iter().map(|k| k["kid"].as_str().unwrap().to_owned()).collect();
    assert!(
        eddsa.len() > acked.len(),
        "{} EdDSA keys stored, but 1 + {} rotations were acknowledged",
        eddsa.len(),
        acked.len()
    );
    let lost: Vec<&String> = acked.difference(&stored).collect();
    assert!(lost.is_empty(), "acknowledged rotations lost in the crash: {lost:?}");
    let active: Vec<&&Value> = eddsa.iter().filter(|k| k["state"] == "active").collect();
    assert_eq!(active.len(), 1, "exactly one active EdDSA key: {active:?}");
    for alg in ["RS256", "ES256", "ML-DSA-65"] {
        let n = keys.iter().filter(|k| k["alg"] == alg && k["state"] == "active").count();
        assert_eq!(n, 1, "{alg}: one active key");
    }
    // The server signs with the active key: it is in the JWKS.
    let published = crate::harness::jwks(&c, &s).await;
    let active_kid = active[0]["kid"].as_str().unwrap();
    assert!(published.iter().any(|k| k["kid"] == active_kid), "active EdDSA key published");

    // The CLI reads the same database and agrees.
    let out = Idseal::new(tmp.path(), ["keys", "list", "--json", "--data-dir"]).arg(&data).run().await;
    out.assert_code(0);
    let cli: Vec<Value> =
        serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("keys list --json is not JSON ({e}):\n{out}"));
    let view = |ks: &[Value]| -> BTreeSet<(String, String, String)> {
        ks.iter()
            .map(|k| {
                let f = |n: &str| k[n].as_str().unwrap_or_else(|| panic!("{n} in {k}")).to_owned();
                (f("kid"), f("alg"), f("state"))
            })
            .collect()
    };
    assert_eq!(view(&cli), view(keys), "`idseal keys list --json` and GET /admin/keys agree");
    s.stop().await;
}
