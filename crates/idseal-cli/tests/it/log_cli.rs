//! `idseal log verify` on the log of a real server: ok on the live log, and after tampering
//! with one entry in the database, exit 1 naming that entry.

use std::time::Duration;

use crate::harness::{Idseal, PgDb, client, free_addr, wait_healthy};

async fn verify_then_tamper(pg: Option<&PgDb>) {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let addr = free_addr();
    let with_db = |i: Idseal| match pg {
        Some(pg) => i.arg("--database-url").arg(&pg.url),
        None => i,
    };
    let s = with_db(Idseal::serve(tmp.path(), &data, addr)).env("IDSEAL_TLOG__CHECKPOINT_SECS", "1").start().await;
    assert!(s.stderr().contains("verifier_key") || s.stdout().contains("verifier_key"), "{}", s.stderr());
    let c = client();
    wait_healthy(&c, &s).await;
    let token = s.token();
    for alg in ["EdDSA", "ES256"] {
        let r = c
            .post(s.url("/admin/keys/rotate"))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(format!(r#"{{"alg":"{alg}"}}"#))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    // Let the background task sign a checkpoint of the grown log.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let verify = || {
        with_db(Idseal::new(tmp.path(), ["log", "verify", "--data-dir"]).arg(&data).arg("--bind").arg(addr.to_string()))
    };
    // A live log (the server still running) verifies too.
    verify().run().await.assert_code(0);
    s.stop().await;

    let out = verify().run().await;
    out.assert_code(0);
    assert!(out.stdout.starts_with("ok: "), "{out}");
    let n: u64 = out.stdout["ok: ".len()..].split(' ').next().unwrap().parse().unwrap();
    assert!(n >= 6, "bootstrap keys, token and two rotations: {out}");
    assert!(!out.stdout.contains(" 0 checkpoints") && !out.stdout.contains(" 1 checkpoints"), "{out}");

    // The verifier key of another master key: every checkpoint fails.
    let foreign = idseal_keys::MasterKey::parse(&"33".repeat(32)).unwrap();
    let foreign = idseal_server::tlog::checkpoint_verifier(&foreign, &format!("http://{addr}")).unwrap().vkey();
    let other = Idseal::new(tmp.path(), ["log", "verify", "--data-dir"])
        .arg(&data)
        .arg("--bind")
        .arg(addr.to_string())
        .arg("--verifier-key")
        .arg(foreign);
    let other = with_db(other).run().await;
    assert_eq!(other.status.code(), Some(1), "{other}");
    assert!(other.stdout.contains("FAILED at entry 0: checkpoint"), "{other}");

    let url = match pg {
        Some(pg) => pg.url.clone(),
        None => format!("sqlite:{}", data.join("idseal.db").display()),
    };
    idseal_store::testing::tamper_tlog_entry(&url, 3).await.unwrap();
    let out = verify().run().await;
    assert_eq!(out.status.code(), Some(1), "{out}");
    assert!(out.stdout.contains("FAILED at entry 3:"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_verify_finds_tampering_sqlite() {
    verify_then_tamper(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_verify_finds_tampering_postgres() {
    if let Some(pg) = PgDb::create("log_verify_finds_tampering_postgres").await {
        verify_then_tamper(Some(&pg)).await;
    }
}
