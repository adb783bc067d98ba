//! SIGKILL while audited actions are in flight (issue 8, "crash during a batch"): after a
//! restart the audit log verifies, and every acknowledged action has its log entry and its
//! audit row.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::harness::{Idseal, client, free_addr, rotations_until_sigkill, wait_healthy};

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
    let c = client();
    wait_healthy(&c, &s).await;
    let url = format!("sqlite:{}", data.join("idseal.db").display());
    let store = idseal_store::Store::connect(&url, &Default::default()).await.unwrap();
    let before = store.tlog_size().await.unwrap();
    assert!(before > 0, "start-up events are logged");

    let acked = rotations_until_sigkill(&c, &mut s, &["EdDSA", "ES256"], WORKERS, KILL_AFTER).await;
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
