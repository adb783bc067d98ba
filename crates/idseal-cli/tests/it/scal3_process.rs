//! SCAL3 end to end on the real binary (docs/scal3.md, "Integration"): a server with a
//! development chain of trust, a phone enrolled with `idseal device enroll`, a SCAL3 credential
//! (`idseal device scal3-enrol --pin-file`), a high-risk instruction authorised with device +
//! PIN (`idseal device authorize --instruction '{"op":"revoke_enrollment"}' --out`), which
//! revokes the enrollment; then `idseal device fetch-proof` downloads the record's audit-log
//! entry, inclusion proof, checkpoint and verifier key, and `idseal scal3 verify` accepts them
//! all and rejects a bundle whose record has one flipped byte and an altered checkpoint.

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

use crate::harness::{Idseal, Output, client, free_addr, random_master_key, wait_healthy};

/// `idseal scal3 verify` with the bundle and the fetched log files of `dir`.
async fn verify(cwd: &Path, bundle: &Path, dir: &Path, checkpoint: &Path) -> Output {
    Idseal::new(cwd, ["scal3", "verify", "--bundle"])
        .arg(bundle)
        .arg("--entry")
        .arg(dir.join("entry.bin"))
        .arg("--proof")
        .arg(dir.join("proof.json"))
        .arg("--checkpoint")
        .arg(checkpoint)
        .arg("--verifier-key")
        .arg(dir.join("verifier-key.txt"))
        .run()
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorize_fetch_proof_and_verify_offline() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    let data = cwd.join("data");
    let bind = free_addr();
    let issuer = format!("http://{bind}");

    let (_, config) = crate::harness::passwordless_chain(cwd, &issuer, "[tlog]\ncheckpoint_secs = 1\n\n").await;
    let cwd_chain = cwd.join("chain");
    let server = Idseal::serve(cwd, &data, bind)
        .env("IDSEAL_CONFIG", &config.display().to_string())
        .env("IDSEAL_MASTER_KEY", &random_master_key())
        .env("IDSEAL_ISSUER", &issuer)
        .start()
        .await;
    wait_healthy(&client(), &server).await;

    let state = cwd.join("phone.json");
    let enroll = Idseal::new(
        cwd,
        [
            "device".as_ref(),
            "enroll".as_ref(),
            "--server".as_ref(),
            issuer.as_ref(),
            "--vds".as_ref(),
            cwd_chain.join("identity.vds").as_os_str(),
            "--state".as_ref(),
            state.as_os_str(),
        ],
    )
    .run()
    .await;
    enroll.assert_code(0);

    let pin = cwd.join("pin.txt");
    std::fs::write(&pin, "482913\n").unwrap();
    Idseal::new(cwd, ["device", "scal3-enrol", "--state"])
        .arg(&state)
        .arg("--pin-file")
        .arg(&pin)
        .run()
        .await
        .assert_code(0);

    // Device + PIN authorise the revocation of this very enrollment.
    let bundle = cwd.join("bundle.json");
    let authorize = |out: &Path| {
        Idseal::new(cwd, ["device", "authorize", "--state"])
            .arg(&state)
            .arg("--pin-file")
            .arg(&pin)
            .arg("--instruction")
            .arg(r#"{"op":"revoke_enrollment"}"#)
            .arg("--out")
            .arg(out)
    };
    let auth = authorize(&bundle).run().await;
    auth.assert_code(0);
    let b: Value = serde_json::from_slice(&std::fs::read(&bundle).unwrap()).unwrap();
    assert_eq!(b["instruction"], r#"{"op":"revoke_enrollment"}"#, "{auth}");
    let index = b["logIndex"].as_u64().unwrap_or_else(|| panic!("no logIndex: {b}"));
    assert!(auth.stdout.contains(&format!("log index {index}")), "{auth}");

    // The enrollment is revoked: the phone can no longer authorise anything.
    let again = authorize(&cwd.join("again.json")).run().await;
    again.assert_code(1).assert_stderr_has("enrollment_revoked");
    assert!(!cwd.join("again.json").exists());

    // The user downloads the record's entry with its proof.
    let dir = cwd.join("proof");
    let fetch = Idseal::new(cwd, ["device", "fetch-proof", "--state"])
        .arg(&state)
        .arg("--index")
        .arg(index.to_string())
        .arg("--out-dir")
        .arg(&dir)
        .run()
        .await;
    fetch.assert_code(0);
    assert!(fetch.stdout.starts_with(&format!("fetched entry {index} ")), "{fetch}");
    let proof: Value = serde_json::from_slice(&std::fs::read(dir.join("proof.json")).unwrap()).unwrap();
    assert_eq!(proof["index"], index, "{fetch}");
    assert!(proof["size"].as_u64().unwrap() > index, "{proof}");
    let checkpoint = dir.join("checkpoint.txt");

    let ok = verify(cwd, &bundle, &dir, &checkpoint).await;
    ok.assert_code(0);
    assert!(ok.stdout.contains(&format!("ok: entry {index} is the record's SCAL3_AUTHORIZE entry")), "{ok}");

    // One flipped byte of the record: the record no longer verifies.
    let record = URL_SAFE_NO_PAD.decode(b["record"].as_str().unwrap()).unwrap();
    for i in [0, record.len() / 2, record.len() - 1] {
        let mut r = record.clone();
        r[i] ^= 0x01;
        let mut bad = b.clone();
        bad["record"] = Value::String(URL_SAFE_NO_PAD.encode(&r));
        let path = cwd.join("bad-bundle.json");
        std::fs::write(&path, bad.to_string()).unwrap();
        let out = verify(cwd, &path, &dir, &checkpoint).await;
        out.assert_code(1);
        assert!(out.stdout.starts_with("FAILED: the record does not verify"), "record byte {i}: {out}");
    }

    // An altered checkpoint: its size line, its root line, its signature.
    let note = std::fs::read(&checkpoint).unwrap();
    let text = String::from_utf8(note.clone()).unwrap();
    let root_at = text.find('\n').unwrap() + 1;
    let root_at = root_at + text[root_at..].find('\n').unwrap() + 1;
    assert!(text[..root_at].ends_with(&format!("\n{}\n", proof["size"])), "{text}");
    for i in [root_at - 2, root_at + 3, note.len() - 20] {
        let mut n = note.clone();
        n[i] = match n[i] {
            d @ b'0'..=b'8' => d + 1,
            b'9' => b'0',
            b'A' => b'B',
            _ => b'A',
        };
        let path = cwd.join("bad-checkpoint.txt");
        std::fs::write(&path, &n).unwrap();
        let out = verify(cwd, &bundle, &dir, &path).await;
        out.assert_code(1);
        assert!(out.stdout.starts_with("FAILED: checkpoint:"), "checkpoint byte {i}: {out}");
    }

    // An index past the end of the log: no checkpoint ever covers it.
    Idseal::new(cwd, ["device", "fetch-proof", "--state"])
        .arg(&state)
        .arg("--index")
        .arg("1000000")
        .arg("--timeout")
        .arg("1")
        .arg("--out-dir")
        .arg(cwd.join("none"))
        .run()
        .await
        .assert_code(1);
    server.stop().await;
}
