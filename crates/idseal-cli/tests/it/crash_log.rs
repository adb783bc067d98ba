//! SIGKILL while audited actions are in flight (issue 8, "crash during a batch"): after a
//! restart the audit log verifies, and every acknowledged action has its log entry and its
//! audit row.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::{Idseal, client, free_addr, wait_healthy};

/// Concurrent clients.
const WORKERS: usize = 32;
/// Kill once this many rotations have been acknowledged (workers keep firing meanwhile).
const KILL_AFTER: usize = 60;
/// Fixed, so that checkpoints signed before and after the restart name the same log.
const ISSUER: &str = "http://idseal.crash.test";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_audited_actions_keeps_the_log_whole() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let serve = |addr| {
        Idseal::serve(tmp.path(), &data, addr)
            .arg("--issuer")
            .arg(ISSUER)
            .env("IDSEAL_RATE_LIMITS__ADMIN__BURST", "1000000/1m")
            .env("IDSEAL_TLOG__CHECKPOINT_SECS", "1")
    };
    let mut s = serve(free_addr()).start().await;
    let token = s.token();
    let c = client();
    wait_healthy(&c, &s).await;
    let url = format!("sqlite:{}", data.join("idseal.db").display());
    let store = idseal_store::Store::connect(&url, &Default::default()).await.unwrap();
    let before = store.tlog_size().await.unwrap();
    assert!(before > 0, "start-up events are logged");

    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let others: Arc<Mutex<Vec<String>>> = Arc::default();
    let in_flight = Arc::new(AtomicUsize::new(0));
    let rotate = s.url("/admin/keys/rotate");
    let workers: Vec<_> = (0..WORKERS)
        .map(|w| {
            let (c, rotate, token) = (c.clone(), rotate.clone(), token.clone());
            let (acked, others, in_flight) = (acked.clone(), others.clone(), in_flight.clone());
            let alg = if w % 2 == 0 { "EdDSA" } else { "ES256" };
            tokio::spawn(async move {
                loop {
                    in_flight.fetch_add(1, Ordering::SeqCst);
                    let res = c
                        .post(&rotate)
                        .bearer_auth(&token)
                        .header("content-type", "application/json")
                        .body(format!(r#"{{"alg":"{alg}"}}"#))
                        .send()
                        .await;
                    let Ok(res) = res else { return };
                    let status = res.status().as_u16();
                    match res.json::<Value>().await {
                        Ok(v) if status == 200 => {
                            acked.lock().unwrap().push(v["kid"].as_str().expect("a kid").to_owned());
                        }
                        Ok(v) => others.lock().unwrap().push(format!("{status} {v}")),
                        Err(_) => return,
                    }
                    in_flight.fetch_sub(1, Ordering::SeqCst);
                }
            })
        })
        .collect();

    let deadline = Instant::now() + Duration::from_secs(60);
    while acked.lock().unwrap().len() < KILL_AFTER {
        assert!(Instant::now() < deadline, "rotations too slow: {:?}", others.lock().unwrap());
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
    assert!(in_flight_at_kill > 0, "the kill must land while requests are in flight");
    drop(s);

    // Restart on the same data directory; the log verifies with the server running and after.
    let s = serve(free_addr()).start().await;
    wait_healthy(&c, &s).await;
    let verify = || Idseal::new(tmp.path(), ["log", "verify", "--data-dir"]).arg(&data).arg("--issuer").arg(ISSUER);
    verify().run().await.assert_code(0);
    tokio::time::sleep(Duration::from_millis(1500)).await; // a checkpoint after the restart
    s.stop().await;
    let out = verify().run().await;
    out.assert_code(0);
    assert!(out.stdout.starts_with("ok: "), "{out}");

    // Every acknowledged rotation is in the log and has its audit row.
    let size = store.tlog_size().await.unwrap();
    assert!(size >= before + acked.len() as u64, "log of {size}: {before} before + {} acknowledged", acked.len());
    let rows = store.audit_events(Some("KEY_ROTATE"), 1_000_000).await.unwrap();
    let audited: BTreeSet<String> = rows.iter().filter_map(|r| r.subject.clone()).collect();
    let missing: Vec<&String> = acked.difference(&audited).collect();
    assert!(missing.is_empty(), "acknowledged rotations without an audit row: {missing:?}");
    let mut logged = 0usize;
    let mut next = 0;
    loop {
        let page = store.tlog_entries(next, 1000).await.unwrap();
        let Some(last) = page.last() else { break };
        next = last.index + 1;
        logged += page.iter().filter(|e| e.kind.as_deref() == Some("KEY_ROTATE")).count();
    }
    assert_eq!(logged, rows.len(), "one log entry per KEY_ROTATE audit row");
    assert!(logged >= acked.len(), "{logged} KEY_ROTATE entries, {} acknowledged", acked.len());
    store.close().await;
}
