//! `idseal vds …` end to end: dev-ca → issue → render → decode-image → inspect → verify, the
//! independent Python verifier on a CLI-issued seal, refusals, and PKCS#11 issuance (SoftHSM2).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use crate::harness::{Idseal, Output};

/// The 32-byte 1×1 lossless WEBP of `crates/idseal-vds/src/payload_tests.rs` (`TINY_WEBP`).
const TINY_WEBP: [u8; 32] = [
    0x52, 0x49, 0x46, 0x46, 0x18, 0x00, 0x00, 0x00, 0x57, 0x45, 0x42, 0x50, 0x56, 0x50, 0x38, 0x4C, 0x0C, 0x00, 0x00,
    0x00, 0x2F, 0x00, 0x00, 0x00, 0x00, 0xA8, 0x59, 0x67, 0x9A, 0xD9, 0xFF, 0x00,
];
const TID: &str = "2b7e1516-28ae-4d2a-a6d2-abf7158809cf";
const SOFTHSM2_MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";

async fn vds(cwd: &Path, args: &[&str]) -> Output {
    Idseal::new(cwd, std::iter::once("vds").chain(args.iter().copied())).run().await
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn face() -> Vec<u8> {
    (0..140u32).map(|i| u8::try_from(i * 7 % 256).unwrap()).collect()
}

/// Writes the photo, the face template and an identity file; returns the identity path.
fn inputs(dir: &Path, identity: &Value) -> PathBuf {
    std::fs::write(dir.join("photo.webp"), TINY_WEBP).unwrap();
    std::fs::write(dir.join("face.bin"), face()).unwrap();
    let p = dir.join("identity.json");
    std::fs::write(&p, serde_json::to_vec_pretty(identity).unwrap()).unwrap();
    p
}

fn identity() -> Value {
    json!({"gn": "Maëlys-Gaëlle", "fn": "MARTIN", "dob": "1990-02-28", "nat": "FRA", "doc": "X4RTBPFW4", "tid": TID})
}

async fn dev_ca(cwd: &Path, out: &str, extra: &[&str]) {
    let mut args = vec!["dev-ca", "--out", out];
    args.extend_from_slice(extra);
    vds(cwd, &args).await.assert_code(0);
}

/// `issue` with the local key of `ca_dir`; returns the output.
async fn issue(cwd: &Path, ca_dir: &str, identity_file: &str, extra: &[&str]) -> Output {
    let cert = format!("{ca_dir}/signer.pem");
    let key = format!("{ca_dir}/signer.key");
    let mut args = vec![
        "issue",
        "--identity",
        identity_file,
        "--photo",
        "photo.webp",
        "--face",
        "face.bin",
        "--cert",
        &cert,
        "--key",
        &key,
        "--trust-level",
        "2",
    ];
    args.extend_from_slice(extra);
    vds(cwd, &args).await
}

fn json_of(out: &Output) -> Value {
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e})\n{out}"))
}

/// Runs `crates/idseal-vds/tests/interop/verify_vds.py` on one directory of cases.
fn independent_verifier(dir: &Path) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../idseal-vds/tests/interop/verify_vds.py");
    let python = std::env::var("IDSEAL_INTEROP_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let out = Command::new(&python).arg(&script).arg(dir).output().unwrap_or_else(|e| panic!("run {python}: {e}"));
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    match out.status.code() {
        Some(0) => {}
        Some(3) => panic!("pip install -r crates/idseal-vds/tests/interop/requirements.txt\n{stderr}"),
        _ => panic!("the independent verifier disagreed\n{stdout}{stderr}"),
    }
}

#[tokio::test]
async fn issue_render_decode_inspect_verify_round_trip() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    dev_ca(d, "ca", &[]).await;
    for (name, mode) in [("ca.key", 0o600), ("signer.key", 0o600), ("ca.pem", 0o644), ("signer.pem", 0o644)] {
        use std::os::unix::fs::PermissionsExt as _;
        let m = std::fs::metadata(d.join("ca").join(name)).unwrap().permissions().mode() & 0o777;
        assert_eq!(m, mode, "{name}");
    }
    // dev-ca never overwrites
    vds(d, &["dev-ca", "--out", "ca"]).await.assert_code(1).assert_stderr_has("exists");

    inputs(d, &identity());
    issue(d, "ca", "identity.json", &["--out", "seal.txt"]).await.assert_code(0);
    let file = std::fs::read_to_string(d.join("seal.txt")).unwrap();
    let text = file.strip_suffix('\n').expect("one trailing newline").to_owned();
    assert!(text.starts_with("VDSEUA03S") && !text.ends_with('\n'), "{text}");
    // without --out the text alone goes to stdout
    let stdout_seal = issue(d, "ca", "identity.json", &[]).await;
    stdout_seal.assert_code(0);
    assert!(stdout_seal.stdout.starts_with("VDSEUA03S"), "{stdout_seal}");

    vds(d, &["render", "seal.txt", "--out", "seal.png"]).await.assert_code(0);
    vds(d, &["render", "seal.txt", "--out", "seal.svg", "--aztec", "--preset", "screen"]).await.assert_code(0);
    assert!(std::fs::read_to_string(d.join("seal.svg")).unwrap().starts_with("<svg"));
    let read = vds(d, &["decode-image", "seal.png"]).await;
    read.assert_code(0);
    assert_eq!(read.stdout.strip_suffix('\n'), Some(text.as_str()), "PNG round trip");

    let inspected = vds(d, &["inspect", "seal.txt", "--json"]).await;
    inspected.assert_code(0);
    let v = json_of(&inspected);
    let decoded = idseal_vds::decode(&text).unwrap();
    assert_eq!(v["fingerprint"], hex(&decoded.fingerprint()), "{v}");
    assert_eq!(v["transport"], "base45");
    assert_eq!(v["header"]["marker"], "DE");
    assert_eq!(v["header"]["version"], 3);
    assert_eq!(v["header"]["iac"], "VDS");
    assert_eq!(v["header"]["certificate_reference"], "IDSL0001");
    assert_eq!(v["header"]["manifest_id"], "0A0001");
    assert_eq!(v["header"]["manifest"], "idseal identity");
    assert_eq!(v["payload"]["gn"], "Maëlys-Gaëlle");
    assert_eq!(v["payload"]["tid"], TID);
    assert_eq!(v["payload"]["tl"], 2);
    assert_eq!(v["payload"]["photo"]["len"], 32);
    assert_eq!(v["payload"]["face"], json!({"len": 140, "shown": false}));
    let human = vds(d, &["inspect", "seal.txt"]).await;
    human.assert_code(0);
    assert!(human.stdout.contains("face          <never shown: 140>"), "{human}");
    for out in [&inspected, &human] {
        assert!(!out.stdout.contains(&hex(&face())), "the face template is never shown\n{out}");
    }

    let ok = vds(d, &["verify", "seal.txt", "--cert", "ca/signer.pem"]).await;
    ok.assert_code(0);
    assert!(ok.stdout.starts_with("valid\n"), "{ok}");
    let ok = vds(d, &["verify", "seal.txt", "--cert", "ca/signer.pem", "--json"]).await;
    ok.assert_code(0);
    assert_eq!(json_of(&ok)["valid"], true);
    assert_eq!(json_of(&ok)["fingerprint"], v["fingerprint"]);

    // Other transports decode to the same seal and verify.
    for t in ["hex", "base64"] {
        let out = format!("seal-{t}.txt");
        issue(d, "ca", "identity.json", &["--transport", t, "--out", &out]).await.assert_code(0);
        let i = vds(d, &["inspect", &out, "--json"]).await;
        assert_eq!(json_of(&i)["transport"], t);
        vds(d, &["verify", &out, "--cert", "ca/signer.pem"]).await.assert_code(0);
    }

    // The independent verifier accepts the CLI-issued seal (and refuses a tampered copy).
    let interop = d.join("interop");
    std::fs::create_dir(&interop).unwrap();
    let cert = idseal_vds::SigningCertificate::parse(&std::fs::read(d.join("ca/signer.pem")).unwrap()).unwrap();
    std::fs::write(interop.join("public_key.hex"), hex(&cert.public_key)).unwrap();
    std::fs::write(interop.join("cli.txt"), &text).unwrap();
    std::fs::write(interop.join("tampered.txt"), tamper(&text)).unwrap();
    let fields = json!({
        "ca": "IDSL", "cert": "0001", "manifest": 0x0A0001, "issued_at": v["header"]["issued_at_unix"],
        "gn": "Maëlys-Gaëlle", "fn": "MARTIN", "dob": "1990-02-28", "nat": "FRA", "doc": "X4RTBPFW4",
        "tid": TID.replace('-', ""), "exp": v["payload"]["exp_unix"], "photo": hex(&TINY_WEBP), "face": hex(&face()),
        "tl": 2,
    });
    let cases = json!([
        {"file": "cli.txt", "expect": "valid", "fields": fields},
        {"file": "tampered.txt", "expect": "invalid"},
    ]);
    std::fs::write(interop.join("cases.json"), cases.to_string()).unwrap();
    independent_verifier(&interop);
}

/// The seal with one Base45 character in the payload changed (to another Base45 character).
fn tamper(text: &str) -> String {
    let mut b = text.as_bytes().to_vec();
    let i = b.len() / 2;
    b[i] = if b[i] == b'0' { b'1' } else { b'0' };
    String::from_utf8(b).unwrap()
}

#[tokio::test]
async fn tampered_seals_and_foreign_certificates_fail_verification() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    dev_ca(d, "ca", &[]).await;
    dev_ca(d, "other", &[]).await; // same CA id and certificate id, another key
    inputs(d, &identity());
    issue(d, "ca", "identity.json", &["--out", "seal.txt"]).await.assert_code(0);
    let text = std::fs::read_to_string(d.join("seal.txt")).unwrap();
    std::fs::write(d.join("tampered.txt"), tamper(text.trim_end_matches('\n'))).unwrap();

    let out = vds(d, &["verify", "tampered.txt", "--cert", "ca/signer.pem"]).await;
    out.assert_code(1).assert_stderr_has("error: ");
    assert!(!out.stdout.contains("valid"), "{out}");
    let out = vds(d, &["verify", "tampered.txt", "--cert", "ca/signer.pem", "--json"]).await;
    out.assert_code(1);
    assert_eq!(json_of(&out)["valid"], false, "{out}");

    vds(d, &["verify", "seal.txt", "--cert", "other/signer.pem"])
        .await
        .assert_code(1)
        .assert_stderr_has("InvalidSignature");
    // a CA certificate is not a signing certificate
    vds(d, &["verify", "seal.txt", "--cert", "ca/ca.pem"]).await.assert_code(1).assert_stderr_has("certificate");
    // verified as of a time after expiry, or before issuance
    vds(d, &["verify", "seal.txt", "--cert", "ca/signer.pem", "--at", "2200-01-01T00:00:00Z"])
        .await
        .assert_code(1)
        .assert_stderr_has("expired");
    vds(d, &["verify", "seal.txt", "--cert", "ca/signer.pem", "--at", "2001-01-01T00:00:00Z"])
        .await
        .assert_code(1)
        .assert_stderr_has("CertificateNotValid");
    // exactly one trailing newline is stripped: two are not a seal
    std::fs::write(d.join("two.txt"), format!("{text}\n")).unwrap();
    vds(d, &["inspect", "two.txt"]).await.assert_code(1).assert_stderr_has("error: ");
    std::fs::write(d.join("crlf.txt"), format!("{}\r\n", text.trim_end_matches('\n'))).unwrap();
    vds(d, &["verify", "crlf.txt", "--cert", "ca/signer.pem"]).await.assert_code(0);
    vds(d, &["inspect", "missing.txt"]).await.assert_code(1).assert_stderr_has("cannot read");
    std::fs::write(d.join("junk.png"), b"not a png").unwrap();
    vds(d, &["decode-image", "junk.png"]).await.assert_code(1).assert_stderr_has("error: ");
}

#[tokio::test]
async fn bad_identity_files_and_usage_errors_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    dev_ca(d, "ca", &[]).await;
    inputs(d, &identity());

    let mut unknown = identity();
    unknown["email"] = json!("a@b.c");
    std::fs::write(d.join("unknown.json"), unknown.to_string()).unwrap();
    issue(d, "ca", "unknown.json", &[]).await.assert_code(1).assert_stderr_has("unknown field `email`");

    let mut long = identity();
    long["gn"] = json!("A".repeat(40));
    std::fs::write(d.join("long.json"), long.to_string()).unwrap();
    let out = issue(d, "ca", "long.json", &[]).await;
    out.assert_code(1).assert_stderr_has("\"gn\" is 40 long, at most 39");
    assert!(out.stdout.is_empty(), "{out}");

    let mut missing = identity();
    missing.as_object_mut().unwrap().remove("fn");
    std::fs::write(d.join("missing.json"), missing.to_string()).unwrap();
    issue(d, "ca", "missing.json", &[]).await.assert_code(1).assert_stderr_has("missing field `fn`");

    let mut bad_tid = identity();
    bad_tid["tid"] = json!("not-a-uuid");
    std::fs::write(d.join("tid.json"), bad_tid.to_string()).unwrap();
    issue(d, "ca", "tid.json", &[]).await.assert_code(1).assert_stderr_has("\"tid\"");

    // without tid a random one is made
    let mut no_tid = identity();
    no_tid.as_object_mut().unwrap().remove("tid");
    std::fs::write(d.join("notid.json"), no_tid.to_string()).unwrap();
    issue(d, "ca", "notid.json", &["--out", "notid.txt"]).await.assert_code(0);
    let tid = json_of(&vds(d, &["inspect", "notid.txt", "--json"]).await)["payload"]["tid"].clone();
    assert!(tid.as_str().is_some_and(|t| t.len() == 36 && t != TID), "{tid}");

    std::fs::write(d.join("face.bin"), [0u8; 139]).unwrap();
    issue(d, "ca", "identity.json", &[]).await.assert_code(1).assert_stderr_has("exactly 140");
    std::fs::write(d.join("face.bin"), face()).unwrap();
    std::fs::write(d.join("photo.webp"), b"GIF89a not a webp at all").unwrap();
    issue(d, "ca", "identity.json", &[]).await.assert_code(1).assert_stderr_has("photo");
    std::fs::write(d.join("photo.webp"), TINY_WEBP).unwrap();

    // usage errors: exit 2
    issue(d, "ca", "identity.json", &["--expires", "soon"]).await.assert_code(2).assert_stderr_has("--expires");
    issue(d, "ca", "identity.json", &["--trust-level", "4"]).await.assert_code(2);
    vds(d, &["render", "x.txt", "--out", "x.gif"]).await.assert_code(2).assert_stderr_has(".svg or .png");
    vds(d, &["verify", "x.txt", "--cert", "ca/signer.pem", "--at", "yesterday"]).await.assert_code(2);
    vds(d, &["dev-ca", "--out", "bad", "--ca-id", "idsl"]).await.assert_code(2).assert_stderr_has("--ca-id");
    vds(d, &["dev-ca", "--out", "bad", "--manifest", "XYZ"]).await.assert_code(2);
}

#[tokio::test]
async fn a_certificate_without_the_identity_manifest_cannot_issue() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    dev_ca(d, "ca", &["--manifest", "0A0002"]).await;
    inputs(d, &identity());
    let out = issue(d, "ca", "identity.json", &[]).await;
    out.assert_code(1).assert_stderr_has("ManifestNotAllowed");
    assert!(out.stdout.is_empty(), "{out}");
    // a key that is not the certificate's
    dev_ca(d, "other", &[]).await;
    let out = vds(
        d,
        &[
            "issue",
            "--identity",
            "identity.json",
            "--photo",
            "photo.webp",
            "--cert",
            "ca/signer.pem",
            "--key",
            "other/signer.key",
        ],
    )
    .await;
    out.assert_code(1).assert_stderr_has("ManifestNotAllowed");
    // with the identity manifest in the UsageList, a foreign key is caught by the fresh seal's check
    dev_ca(d, "third", &[]).await;
    let out = vds(
        d,
        &[
            "issue",
            "--identity",
            "identity.json",
            "--photo",
            "photo.webp",
            "--cert",
            "third/signer.pem",
            "--key",
            "other/signer.key",
        ],
    )
    .await;
    out.assert_code(1).assert_stderr_has("SignerKeyMismatch");
}

/// Issues with a key generated on a SoftHSM2 token that this test initialises in its own
/// directory; `SOFTHSM2_CONF` is given to the child processes only.
#[tokio::test]
async fn issue_with_a_pkcs11_key() {
    if !Path::new(SOFTHSM2_MODULE).exists() {
        eprintln!("skipped: {SOFTHSM2_MODULE} is not installed (apt-get install softhsm2)");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let tokens = d.join("tokens");
    std::fs::create_dir(&tokens).unwrap();
    let conf = d.join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!("directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n", tokens.display()),
    )
    .unwrap();
    let out = Command::new("softhsm2-util")
        .env("SOFTHSM2_CONF", &conf)
        .args(["--init-token", "--free", "--label", "cli-seal", "--so-pin", "5678", "--pin", "1234"])
        .output()
        .expect("softhsm2-util");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let conf = conf.to_str().unwrap();
    let uri = format!("pkcs11:token=cli-seal;object=seal?module-path={SOFTHSM2_MODULE}");
    let run = |args: Vec<&str>| {
        let cmd = Idseal::new(d, std::iter::once("vds").chain(args))
            .env("SOFTHSM2_CONF", conf)
            .env("IDSEAL_PKCS11_PIN", "1234");
        async move { cmd.run().await }
    };
    let out = run(vec!["dev-ca", "--out", "ca", "--cert-id", "0002", "--pkcs11", &uri]).await;
    out.assert_code(0);
    assert!(!d.join("ca/signer.key").exists(), "the key stays on the token\n{out}");
    inputs(d, &identity());
    let issue_args = vec![
        "issue",
        "--identity",
        "identity.json",
        "--photo",
        "photo.webp",
        "--cert",
        "ca/signer.pem",
        "--pkcs11",
        &uri,
        "--out",
        "seal.txt",
    ];
    run(issue_args).await.assert_code(0);
    let out = run(vec!["verify", "seal.txt", "--cert", "ca/signer.pem", "--json"]).await;
    out.assert_code(0);
    let v = json_of(&out);
    assert_eq!(v["valid"], true, "{v}");
    assert_eq!(v["header"]["certificate_reference"], "IDSL0002", "{v}");
    // a wrong PIN is an error, not a panic, and the PIN is not echoed
    let out = Idseal::new(
        d,
        [
            "vds",
            "issue",
            "--identity",
            "identity.json",
            "--photo",
            "photo.webp",
            "--cert",
            "ca/signer.pem",
            "--pkcs11",
            &format!("{uri}&pin-value=9999"),
        ],
    )
    .env("SOFTHSM2_CONF", conf)
    .run()
    .await;
    out.assert_code(1).assert_stderr_has("PKCS#11");
    assert!(!out.stderr.contains("9999"), "{out}");
    // and the operator is warned that a PIN in argv is visible to others
    assert!(out.stderr.contains("IDSEAL_PKCS11_PIN"), "{out}");
}

/// `issue-service` with the local key of `ca_dir`; returns the output.
async fn issue_service(cwd: &Path, ca_dir: &str, url: &str, scopes: &str, extra: &[&str]) -> Output {
    let cert = format!("{ca_dir}/signer.pem");
    let key = format!("{ca_dir}/signer.key");
    let mut args = vec![
        "issue-service",
        "--sid",
        "bar-le-central",
        "--name",
        "Bar Le Central",
        "--url",
        url,
        "--scopes",
        scopes,
        "--days",
        "30",
        "--cert",
        &cert,
        "--key",
        &key,
    ];
    args.extend_from_slice(extra);
    vds(cwd, &args).await
}

#[tokio::test]
async fn a_service_seal_is_issued_inspected_and_verified() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    dev_ca(d, "ca", &["--manifest", "0A0001", "0A0002"]).await;
    let scopes = "identity:name identity:age_over_18";
    issue_service(d, "ca", "https://bar.example", scopes, &["--out", "service.txt"]).await.assert_code(0);
    let text = std::fs::read_to_string(d.join("service.txt")).unwrap();
    let decoded = idseal_vds::decode(text.trim_end_matches('\n')).unwrap();
    let service = decoded.service().unwrap();
    assert_eq!(service.scopes, ["identity:name", "identity:age_over_18"]);
    assert!(decoded.identity().is_err());

    let inspected = vds(d, &["inspect", "service.txt", "--json"]).await;
    inspected.assert_code(0);
    let v = json_of(&inspected);
    assert_eq!(v["header"]["manifest_id"], "0A0002", "{v}");
    assert_eq!(v["header"]["manifest"], "idseal service");
    assert_eq!(v["payload"]["sid"], "bar-le-central");
    assert_eq!(v["payload"]["name"], "Bar Le Central");
    assert_eq!(v["payload"]["url"], "https://bar.example");
    assert_eq!(v["payload"]["scp"], json!(["identity:name", "identity:age_over_18"]));
    let days = (v["payload"]["exp_unix"].as_i64().unwrap() - v["header"]["issued_at_unix"].as_i64().unwrap()) / 86_400;
    assert_eq!(days, 30);
    assert!(v["payload"].get("gn").is_none(), "{v}");
    let human = vds(d, &["inspect", "service.txt"]).await;
    human.assert_code(0);
    for line in
        ["sid           bar-le-central", "url           https://bar.example", &format!("scp           {scopes}")]
    {
        assert!(human.stdout.contains(line), "{line}\n{human}");
    }

    let ok = vds(d, &["verify", "service.txt", "--cert", "ca/signer.pem", "--json"]).await;
    ok.assert_code(0);
    let ok = json_of(&ok);
    assert_eq!((ok["valid"].clone(), ok["sid"].clone()), (json!(true), json!("bar-le-central")), "{ok}");
    let human = vds(d, &["verify", "service.txt", "--cert", "ca/signer.pem"]).await;
    human.assert_code(0);
    assert!(human.stdout.contains("name          Bar Le Central"), "{human}");
    vds(d, &["verify", "service.txt", "--cert", "ca/signer.pem", "--at", "2200-01-01T00:00:00Z"])
        .await
        .assert_code(1)
        .assert_stderr_has("expired");

    // bad fields are refused with the codec's typed error, before anything is signed
    for (url, scopes, needle) in [
        ("https://bar.example/login", scopes, "\"url\""),
        ("http://bar.example", scopes, "\"url\""),
        ("https://bar.example", "identity:name identity:name", "duplicate scope"),
        ("https://bar.example", "openid", "\"scp\""),
    ] {
        let out = issue_service(d, "ca", url, scopes, &[]).await;
        out.assert_code(1).assert_stderr_has(needle).assert_stderr_has("BadFieldValue");
        assert!(out.stdout.is_empty(), "{out}");
    }
    issue_service(d, "ca", "https://bar.example", "  ", &[]).await.assert_code(2).assert_stderr_has("--scopes");

    // a certificate for identity seals only cannot issue a service seal
    dev_ca(d, "identity-only", &[]).await;
    issue_service(d, "identity-only", "https://bar.example", scopes, &[])
        .await
        .assert_code(1)
        .assert_stderr_has("ManifestNotAllowed");
}
