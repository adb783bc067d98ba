//! SIGKILL while rotations are in flight: no acknowledged write is lost.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::{Idseal, client, free_addr, get_json, wait_healthy};

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

    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let others: Arc<Mutex<Vec<String>>> = Arc::default();
    let in_flight = Arc::new(AtomicUsize::new(0));
    let url = s.url("/admin/keys/rotate");
    let workers: Vec<_> = (0..WORKERS)
        .map(|_| {
            let (c, url, token) = (c.clone(), url.clone(), token.clone());
            let (acked, others, in_flight) = (acked.clone(), others.clone(), in_flight.clone());
            tokio::spawn(async move {
                loop {
                    in_flight.fetch_add(1, Ordering::SeqCst);
                    let res = c
                        .post(&url)
                        .bearer_auth(&token)
                        .header("content-type", "application/json")
                        .body(r#"{"alg":"EdDSA"}"#)
                        .send()
                        .await;
                    let res = match res {
                        Ok(r) => r,
                        Err(_) => return, // The server is gone.
                    };
                    let status = res.status().as_u16();
                    match res.json::<Value>().await {
                        Ok(v) if status == 200 => {
                            let kid = v["kid"].as_str().expect("rotation answer has a kid").to_owned();
                            acked.lock().unwrap().push(kid);
                        }
                        Ok(v) => others.lock().unwrap().push(format!("{status} {v}")),
                        Err(_) => return, // Cut off mid-response: not acknowledged.
                    }
                    in_flight.fetch_sub(1, Ordering::SeqCst);
                }
            })
        })
        .collect();

    let deadline = Instant::now() + Duration::from_secs(60);
    while acked.lock().unwrap().len() < KILL_AFTER {
        assert!(Instant::now() < deadline, "rotations too slow; other answers: {:?}", others.lock().unwrap());
        assert!(others.lock().unwrap().is_empty(), "rotations refused: {:?}", others.lock().unwrap());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let in_flight_at_kill = in_flight.load(Ordering::SeqCst);
    s.sigkill().await;
    for w in workers {
        tokio::time::timeout(Duration::from_secs(30), w).await.expect("workers stop").expect("worker panicked");
    }
    let acked: BTreeSet<String> = acked.lock().unwrap().iter().cloned().collect();
    assert!(others.lock().unwrap().is_empty(), "non-200 answers: {:?}", others.lock().unwrap());
    assert!(acked.len() >= KILL_AFTER, "{} acknowledged", acked.len());
    assert!(in_flight_at_kill > 0, "the kill must land while requests are in flight");
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
