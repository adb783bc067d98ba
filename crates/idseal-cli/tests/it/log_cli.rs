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
    for alg in ["EdDSA", "ES256"] {
        crate::harness::rotate(&c, &s, alg).await;
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

/// `idseal log proof`: both proofs print, verify and agree with idseal-tlog; bad arguments
/// exit 2; a proof over a tampered entry exits 1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_proof_prints_checked_proofs() {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let addr = free_addr();
    let s = Idseal::serve(tmp.path(), &data, addr).start().await;
    let c = client();
    wait_healthy(&c, &s).await;
    for _ in 0..3 {
        crate::harness::rotate(&c, &s, "EdDSA").await;
    }
    s.stop().await;
    let proof = |args: &[&str]| {
        let mut i = Idseal::new(tmp.path(), ["log", "proof"]);
        for a in args {
            i = i.arg(*a);
        }
        i.arg("--data-dir").arg(&data)
    };
    let url = format!("sqlite:{}", data.join("idseal.db").display());
    let store = idseal_store::Store::connect(&url, &Default::default()).await.unwrap();
    let size = store.tlog_size().await.unwrap();
    assert!(size >= 7, "start-up events and three rotations: {size}");

    // Inclusion, JSON: checked here again with idseal-tlog against the entry's bytes.
    let dec = |v: &serde_json::Value| -> [u8; 32] { b64.decode(v.as_str().unwrap()).unwrap().try_into().unwrap() };
    for (index, tree) in [(0, size), (3, size), (size - 1, size), (2, 5)] {
        let out =
            proof(&["inclusion", "--index", &index.to_string(), "--size", &tree.to_string(), "--json"]).run().await;
        out.assert_code(0);
        let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        assert_eq!(
            (v["index"].as_u64(), v["tree_size"].as_u64(), v["verified"].as_bool()),
            (Some(index), Some(tree), Some(true))
        );
        let entry = store.tlog_entry(index).await.unwrap().unwrap();
        let leaf = idseal_tlog::hash::leaf_hash(&entry.data);
        assert_eq!(dec(&v["leaf_hash"]), leaf);
        let hashes: Vec<[u8; 32]> = v["proof"].as_array().unwrap().iter().map(dec).collect();
        assert_eq!(dec(&v["root_hash"]), store.tlog_root(tree).await.unwrap());
        idseal_tlog::proof::verify_inclusion(&leaf, index, tree, &hashes, &dec(&v["root_hash"])).unwrap();
    }
    // Inclusion, text, default size: the whole log.
    let out = proof(&["inclusion", "--index", "1"]).run().await;
    out.assert_code(0);
    assert!(out.stdout.contains(&format!("entry 1 in the tree of {size} entries (verified)")), "{out}");
    assert!(out.stdout.contains("root hash  "), "{out}");

    // Consistency, JSON and text.
    for (from, to) in [(1, size), (3, size), (4, 6), (size, size)] {
        let out = proof(&["consistency", "--from", &from.to_string(), "--to", &to.to_string(), "--json"]).run().await;
        out.assert_code(0);
        let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        let hashes: Vec<[u8; 32]> = v["proof"].as_array().unwrap().iter().map(dec).collect();
        assert_eq!(dec(&v["from_root_hash"]), store.tlog_root(from).await.unwrap());
        assert_eq!(dec(&v["to_root_hash"]), store.tlog_root(to).await.unwrap());
        idseal_tlog::proof::verify_consistency(from, to, &hashes, &dec(&v["from_root_hash"]), &dec(&v["to_root_hash"]))
            .unwrap();
    }
    let out = proof(&["consistency", "--from", "2", "--to", "5"]).run().await;
    out.assert_code(0);
    assert!(out.stdout.contains("the tree of 5 entries extends the tree of 2 (verified)"), "{out}");
    store.close().await;

    // Bad arguments: exit 2 with a message.
    let beyond = (size + 1).to_string();
    let last = size.to_string();
    for (args, msg) in [
        (vec!["inclusion", "--index", last.as_str()], "is not below the tree size"),
        (vec!["inclusion", "--index", "0", "--size", beyond.as_str()], "is beyond the log"),
        (vec!["inclusion", "--index", "0", "--size", "0"], "is not below the tree size"),
        (vec!["inclusion", "--index", "-1"], "-1"),
        (vec!["inclusion"], "--index"),
        (vec!["consistency", "--from", "0", "--to", "3"], "--from must be at least 1"),
        (vec!["consistency", "--from", "4", "--to", "3"], "is larger than --to"),
        (vec!["consistency", "--from", "1", "--to", beyond.as_str()], "is beyond the log"),
        (vec!["consistency", "--from", "x", "--to", "3"], "invalid value"),
    ] {
        let out = proof(&args).run().await;
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out}");
        assert!(out.stderr.contains(msg), "{args:?}: {out}");
    }

    // A tampered entry: its inclusion proof no longer leads to the root (exit 1).
    idseal_store::testing::tamper_tlog_entry(&url, 3).await.unwrap();
    let out = proof(&["inclusion", "--index", "3"]).run().await;
    assert_eq!(out.status.code(), Some(1), "{out}");
    assert!(out.stderr.contains("does not verify"), "{out}");
    assert!(out.stdout.is_empty(), "nothing printed for a bad proof: {out}");
    proof(&["inclusion", "--index", "4"]).run().await.assert_code(0);
}
