//! `idseal trust …` and `idseal vds verify --trust` end to end, with the CLI only: a dev CA and a
//! seal, four list signers, a description, publish, inspect, the chain walk, and its refusals
//! (revoked seal, tampered list, wrong anchor, stale lists).

use std::path::{Path, PathBuf};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use serde_json::Value;

use crate::harness::{Idseal, Output, mode};

/// The 32-byte 1×1 lossless WEBP of `crates/idseal-vds/src/payload_tests.rs` (`TINY_WEBP`).
const TINY_WEBP: [u8; 32] = [
    0x52, 0x49, 0x46, 0x46, 0x18, 0x00, 0x00, 0x00, 0x57, 0x45, 0x42, 0x50, 0x56, 0x50, 0x38, 0x4C, 0x0C, 0x00, 0x00,
    0x00, 0x2F, 0x00, 0x00, 0x00, 0x00, 0xA8, 0x59, 0x67, 0x9A, 0xD9, 0xFF, 0x00,
];

async fn idseal(cwd: &Path, args: &[&str]) -> Output {
    Idseal::new(cwd, args.iter().copied()).run().await
}

fn assert_stdout_has(out: &Output, needle: &str) {
    assert!(out.stdout.contains(needle), "stdout lacks {needle:?}\n{out}");
}

/// A description of one scheme (IAC VDS, manifest 0A0001) with the dev CA and its signing
/// certificate, list locations relative to the Governance List, and `revoked` VRL entries.
fn description(vrl_sequence: u64, revoked: &[&str]) -> String {
    let mut d = String::from(
        r#"governance_operator = "Demo Governance Board"

[certificates]
ca = "ca/ca.pem"
leaf = "ca/signer.pem"

[governance]
sequence_number = 1
location = "governance.xml"
signer = "governance"
validity_seconds = 86400

[[schemes]]
iac = "VDS"
operator_name = "Demo Scheme Operator"
manifests = ["0A0001"]
scheme = { sequence_number = 1, location = "scheme-VDS.xml", signer = "scheme", validity_seconds = 86400 }
tsl = { sequence_number = 1, location = "tsl-VDS.xml", signer = "tsl", validity_seconds = 86400 }
"#,
    );
    d.push_str(&format!(
        "vrl = {{ sequence_number = {vrl_sequence}, location = \"vrl-VDS.xml\", signer = \"vrl\", validity_seconds = 3600 }}\n"
    ));
    d.push_str(
        r#"
[[schemes.cas]]
name = "idseal dev CA"
certificate = "ca"
signing_certificates = ["leaf"]
status = { status = "granted", since = "2020-01-01T00:00:00Z" }
"#,
    );
    for fp in revoked {
        d.push_str(&format!(
            "\n[[schemes.revoked]]\nfingerprint = \"{fp}\"\nrevoked_at = \"2026-01-01T00:00:00Z\"\nreason = \"document reported stolen\"\n"
        ));
    }
    d
}

/// Serves the files of `dir` over HTTP/1.1 (GET only, 404 for anything else); returns the base URL.
async fn serve_dir(dir: PathBuf) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let dir = dir.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let n = conn.read(&mut buf).await.unwrap_or(0);
                let request = String::from_utf8_lossy(&buf[..n]).into_owned();
                let path = request.split_whitespace().nth(1).unwrap_or("/").trim_start_matches('/').to_owned();
                let body = (!path.contains("..")).then(|| std::fs::read(dir.join(&path)).ok()).flatten();
                let head = match &body {
                    Some(b) => format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", b.len()),
                    None => "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_owned(),
                };
                let _ = conn.write_all(head.as_bytes()).await;
                let _ = conn.write_all(&body.unwrap_or_default()).await;
                let _ = conn.shutdown().await;
            });
        }
    });
    format!("http://{addr}")
}

fn openssl(args: &[&str], dir: &Path) {
    let out = std::process::Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("openssl is required for the level-T test (apt-get install openssl): {e}"));
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// An RFC 3161 time-stamping authority over HTTP: `openssl ts -reply` with a fresh P-256 TSA
/// key and certificate in `dir`, answering POSTed TimeStampReqs; returns its URL.
async fn serve_tsa(dir: &Path) -> String {
    std::fs::create_dir_all(dir).unwrap();
    openssl(&["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "tsa.key"], dir);
    openssl(
        &[
            "req",
            "-x509",
            "-new",
            "-key",
            "tsa.key",
            "-subj",
            "/CN=idseal test TSA",
            "-days",
            "2",
            "-addext",
            "extendedKeyUsage=critical,timeStamping",
            "-out",
            "tsa.pem",
        ],
        dir,
    );
    std::fs::write(
        dir.join("tsa.cnf"),
        "[ tsa ]\ndefault_tsa = t\n[ t ]\nserial = ./serial\ncrypto_device = builtin\nsigner_digest = sha256\n\
         default_policy = 1.2.3.4.1\ndigests = sha256\ness_cert_id_alg = sha256\n",
    )
    .unwrap();
    std::fs::write(dir.join("serial"), "01\n").unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let dir = dir.to_path_buf();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let dir = dir.clone();
            tokio::spawn(async move {
                // Read the head, then Content-Length bytes of body.
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let (head_end, length) = loop {
                    let n = conn.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..i]).to_lowercase();
                        let len = head
                            .lines()
                            .find_map(|l| {
                                l.strip_prefix("content-length:").map(|v| v.trim().parse::<usize>().unwrap_or(0))
                            })
                            .unwrap_or(0);
                        break (i + 4, len);
                    }
                };
                while buf.len() < head_end + length {
                    let n = conn.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
                let req = dir.join(format!("req-{}.tsq", std::process::id()));
                std::fs::write(&req, &buf[head_end..head_end + length]).unwrap();
                let reply = dir.join("resp.tsr");
                let d = dir.clone();
                let (req_s, reply_s) = (req.display().to_string(), reply.display().to_string());
                tokio::task::spawn_blocking(move || {
                    openssl(
                        &[
                            "ts",
                            "-reply",
                            "-queryfile",
                            &req_s,
                            "-config",
                            "tsa.cnf",
                            "-inkey",
                            "tsa.key",
                            "-signer",
                            "tsa.pem",
                            "-out",
                            &reply_s,
                        ],
                        &d,
                    )
                })
                .await
                .unwrap();
                let body = std::fs::read(&reply).unwrap();
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/timestamp-reply\r\nContent-Length: {}\r\n\
                     Connection: close\r\n\r\n",
                    body.len()
                );
                let _ = conn.write_all(head.as_bytes()).await;
                let _ = conn.write_all(&body).await;
                let _ = conn.shutdown().await;
            });
        }
    });
    format!("http://{addr}/tsa")
}

async fn verify(d: &Path, lists: &str, anchor: &str, extra: &[&str]) -> Output {
    let governance = format!("{lists}/governance.xml");
    let mut args = vec!["vds", "verify", "--trust", &governance, "--anchor", anchor];
    args.extend_from_slice(extra);
    args.push("seal.txt");
    idseal(d, &args).await
}

#[tokio::test]
async fn publish_inspect_and_verify_through_the_chain_of_trust() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();

    // A dev CA, its signing certificate and a seal, with the existing vds commands.
    idseal(d, &["vds", "dev-ca", "--out", "ca"]).await.assert_code(0);
    std::fs::write(d.join("photo.webp"), TINY_WEBP).unwrap();
    std::fs::write(
        d.join("identity.json"),
        r#"{"gn": "Ada", "fn": "LOVELACE", "dob": "1990-02-28", "nat": "GBR", "doc": "X4RTBPFW4"}"#,
    )
    .unwrap();
    let issue = ["--identity", "identity.json", "--photo", "photo.webp", "--cert", "ca/signer.pem"];
    let mut args = vec!["vds", "issue"];
    args.extend_from_slice(&issue);
    args.extend_from_slice(&["--key", "ca/signer.key", "--out", "seal.txt"]);
    idseal(d, &args).await.assert_code(0);
    let inspected = idseal(d, &["vds", "inspect", "seal.txt", "--json"]).await;
    inspected.assert_code(0);
    let fingerprint =
        serde_json::from_str::<Value>(&inspected.stdout).unwrap()["fingerprint"].as_str().unwrap().to_owned();

    // List signers: key 0600, certificate, never overwritten.
    for name in ["governance", "scheme", "tsl", "vrl", "other"] {
        idseal(d, &["trust", "keygen", "--name", name, "--out-dir", "keys"]).await.assert_code(0);
        assert_eq!(mode(&d.join(format!("keys/{name}.key.pem"))), 0o600, "{name}");
        assert!(std::fs::read_to_string(d.join(format!("keys/{name}.cert.pem"))).unwrap().contains("CERTIFICATE"));
    }
    idseal(d, &["trust", "keygen", "--name", "vrl", "--out-dir", "keys"])
        .await
        .assert_code(1)
        .assert_stderr_has("exists");
    idseal(d, &["trust", "keygen", "--name", "../x", "--out-dir", "keys"]).await.assert_code(2);

    // Publish and inspect every list.
    std::fs::write(d.join("trust.toml"), description(1, &[])).unwrap();
    let publish = ["trust", "publish", "--description", "trust.toml", "--keys-dir", "keys", "--out-dir"];
    let mut args = publish.to_vec();
    args.push("lists");
    idseal(d, &args).await.assert_code(0);
    for (file, kind) in [
        ("governance.xml", "Governance List"),
        ("scheme-VDS.xml", "Scheme List"),
        ("tsl-VDS.xml", "TSL"),
        ("vrl-VDS.xml", "VRL"),
    ] {
        let path = format!("lists/{file}");
        let out = idseal(d, &["trust", "inspect", &path]).await;
        out.assert_code(0);
        assert_stdout_has(&out, "signature     valid");
        assert_stdout_has(&out, &format!("kind          {kind}"));
        let json = idseal(d, &["trust", "inspect", &path, "--json"]).await;
        json.assert_code(0);
        let v: Value = serde_json::from_str(&json.stdout).unwrap();
        assert_eq!(v["kind"], kind, "{json}");
        assert_eq!(v["signature_valid"], true);
        assert_eq!(v["sequence_number"], 1);
    }
    let tsl = idseal(d, &["trust", "inspect", "lists/tsl-VDS.xml"]).await;
    assert_stdout_has(&tsl, "serialNumber=IDSL");
    assert_stdout_has(&tsl, "CN=IDSL0001");
    assert_stdout_has(&tsl, "granted since 2020-01-01T00:00:00Z");
    let scheme = idseal(d, &["trust", "inspect", "lists/scheme-VDS.xml"]).await;
    assert_stdout_has(&scheme, "manifests     0A0001");

    // The whole chain verifies, each step printed.
    let ok = verify(d, "lists", "keys/governance.cert.pem", &[]).await;
    ok.assert_code(0);
    for step in [
        "1-2 VDS header",
        "3   Governance List: sequence 1",
        "signed by CN=governance",
        "4   Scheme List",
        "5   TSL",
        "6   CA: idseal dev CA",
        "7   Signing certificate",
        "7b  VRL: sequence 1, seal not revoked",
        "8   Seal signature",
    ] {
        assert_stdout_has(&ok, step);
    }
    assert_stdout_has(&ok, &fingerprint);
    let json = verify(d, "lists", "keys/governance.cert.pem", &["--json"]).await;
    json.assert_code(0);
    let v: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(v["valid"], true);
    assert_eq!(v["steps"].as_array().unwrap().len(), 8, "{json}");
    // `file:` works for the Governance List too; --cert and --trust are exclusive.
    let file_url = format!("file:{}", d.join("lists/governance.xml").display());
    idseal(d, &["vds", "verify", "--trust", &file_url, "--anchor", "keys/governance.cert.pem", "seal.txt"])
        .await
        .assert_code(0);
    idseal(d, &["vds", "verify", "--trust", "lists/governance.xml", "seal.txt"]).await.assert_code(2);
    idseal(
        d,
        &[
            "vds",
            "verify",
            "--trust",
            "lists/governance.xml",
            "--anchor",
            "keys/governance.cert.pem",
            "--cert",
            "ca/signer.pem",
            "seal.txt",
        ],
    )
    .await
    .assert_code(2);

    // Over HTTP: the pointers are resolved against the Governance List's URL.
    let base = serve_dir(d.to_path_buf()).await;
    let governance_url = format!("{base}/lists/governance.xml");
    let out =
        idseal(d, &["vds", "verify", "--trust", &governance_url, "--anchor", "keys/governance.cert.pem", "seal.txt"])
            .await;
    out.assert_code(0);
    assert_stdout_has(&out, "7b  VRL: sequence 1, seal not revoked");
    idseal(d, &["trust", "inspect", &format!("{base}/lists/tsl-VDS.xml")]).await.assert_code(0);
    idseal(d, &["trust", "inspect", &format!("{base}/lists/missing.xml")])
        .await
        .assert_code(1)
        .assert_stderr_has("status 404");

    // Revoked: the VRL (higher sequence number) lists the seal's fingerprint.
    std::fs::write(d.join("trust.toml"), description(2, &[&fingerprint])).unwrap();
    let mut args = publish.to_vec();
    args.push("revoked");
    idseal(d, &args).await.assert_code(0);
    let vrl = idseal(d, &["trust", "inspect", "revoked/vrl-VDS.xml"]).await;
    vrl.assert_code(0);
    assert_stdout_has(&vrl, "sequence      2");
    assert_stdout_has(&vrl, &fingerprint);
    let out = verify(d, "revoked", "keys/governance.cert.pem", &[]).await;
    out.assert_code(1).assert_stderr_has("revoked").assert_stderr_has("step 7b VRL");
    assert_stdout_has(&out, "document reported stolen");

    // A tampered TSL: inspect and verify both refuse, naming the list.
    std::fs::create_dir(d.join("tampered")).unwrap();
    for f in ["governance.xml", "scheme-VDS.xml", "tsl-VDS.xml", "vrl-VDS.xml"] {
        std::fs::copy(d.join("lists").join(f), d.join("tampered").join(f)).unwrap();
    }
    let tsl_path = d.join("tampered/tsl-VDS.xml");
    let xml = std::fs::read_to_string(&tsl_path).unwrap();
    assert!(xml.contains("idseal dev CA"));
    std::fs::write(&tsl_path, xml.replace("idseal dev CA<", "idseal evil CA<")).unwrap();
    let out = idseal(d, &["trust", "inspect", "tampered/tsl-VDS.xml"]).await;
    out.assert_code(1).assert_stderr_has("signature does not verify");
    assert_stdout_has(&out, "INVALID");
    verify(d, "tampered", "keys/governance.cert.pem", &[]).await.assert_code(1).assert_stderr_has("step 5 TSL: TSL:");

    // A wrong anchor: refused at the Governance List, naming its signer.
    verify(d, "lists", "keys/other.cert.pem", &[])
        .await
        .assert_code(1)
        .assert_stderr_has("not signed by a trust anchor")
        .assert_stderr_has("signed by CN=governance")
        .assert_stderr_has("anchors are CN=other");

    // Past NextUpdate (the VRL holds an hour, the others a day): fail closed.
    verify(d, "lists", "keys/governance.cert.pem", &["--now", "2099-01-01T00:00:00Z"])
        .await
        .assert_code(1)
        .assert_stderr_has("past its NextUpdate");

    // Level T: publish through an RFC 3161 authority (openssl ts behind a local HTTP endpoint);
    // every list carries a verified signature timestamp, and the chain still reads them.
    let tsa_url = serve_tsa(&d.join("tsa")).await;
    let mut args = publish.to_vec();
    args.extend(["stamped", "--tsa-url", &tsa_url]);
    idseal(d, &args).await.assert_code(0);
    for file in ["governance.xml", "scheme-VDS.xml", "tsl-VDS.xml", "vrl-VDS.xml"] {
        let out = idseal(d, &["trust", "inspect", &format!("stamped/{file}")]).await;
        out.assert_code(0);
        assert_stdout_has(&out, "time-stamped");
        assert_stdout_has(&out, "CN=idseal test TSA");
    }
    // (The description revokes the seal by now: the walk gets through every time-stamped list to
    // the VRL, which refuses it.)
    verify(d, "stamped", "keys/governance.cert.pem", &[]).await.assert_code(1).assert_stderr_has("step 7b VRL");
    let mut args = publish.to_vec();
    args.extend(["x", "--tsa-url", "http://127.0.0.1:9/tsa"]);
    idseal(d, &args).await.assert_code(1).assert_stderr_has("time-stamp");

    // Usage errors and missing files.
    idseal(d, &["trust", "inspect", "lists/nope.xml"]).await.assert_code(1);
    verify(d, "lists", "keys/governance.cert.pem", &["--now", "tomorrow"]).await.assert_code(2);
    idseal(d, &["trust", "publish", "--description", "trust.toml", "--keys-dir", "nokeys", "--out-dir", "x"])
        .await
        .assert_code(1)
        .assert_stderr_has("governance.key.pem");
}
