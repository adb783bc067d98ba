//! `idseal config check`: exit 0 on a good configuration, exit 2 naming the key at fault.

use serde_json::Value;

use crate::harness::Idseal;

const GOOD: &str = r#"
bind = "127.0.0.1:18443"
issuer = "https://id.example.test/"
data_dir = "/var/lib/idseal-test"
log_format = "json"

[keys]
algorithms = ["EdDSA", "ES256"]
grace_hours = 48
refresh_secs = 30

[oauth]
access_token_alg = "ES256"
pq_sig_alg = "EdDSA"

[rate_limits.admin]
key = "ip"
burst = "30/1m"
routes = ["/admin/*"]
"#;

fn check(dir: &std::path::Path, file: Option<&str>) -> Idseal {
    let mut cmd = Idseal::new(dir, ["config", "check"]);
    if let Some(body) = file {
        let p = dir.join("idseal.toml");
        std::fs::write(&p, body).unwrap();
        cmd = cmd.arg("--config").arg(p);
    }
    cmd
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn good_file_passes() {
    let tmp = tempfile::tempdir().unwrap();
    let out = check(tmp.path(), Some(GOOD)).run().await;
    out.assert_code(0);
    assert!(out.stdout.contains("configuration OK"), "{out}");
    assert!(out.stdout.contains("127.0.0.1:18443") && out.stdout.contains("https://id.example.test"), "{out}");
    assert!(!tmp.path().join("idseal-data").exists(), "config check creates nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_prints_the_effective_configuration() {
    let tmp = tempfile::tempdir().unwrap();
    // File, then environment, then flags.
    let out = check(tmp.path(), Some(GOOD))
        .env("IDSEAL_KEYS__GRACE_HOURS", "72")
        .arg("--bind")
        .arg("127.0.0.1:19000")
        .arg("--json")
        .run()
        .await;
    out.assert_code(0);
    let v: Value = serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e})\n{out}"));
    assert_eq!(v["bind"], "127.0.0.1:19000", "the flag wins over the file: {v}");
    assert_eq!(v["issuer"], "https://id.example.test/", "{v}");
    assert_eq!(v["data_dir"], "/var/lib/idseal-test", "{v}");
    assert_eq!(v["log_format"], "json", "{v}");
    assert_eq!(v["keys"]["grace_hours"], 72, "the environment wins over the file: {v}");
    assert_eq!(v["keys"]["refresh_secs"], 30, "{v}");
    assert_eq!(v["keys"]["algorithms"], serde_json::json!(["EdDSA", "ES256"]), "{v}");
    assert_eq!(v["rate_limits"]["admin"]["burst"], "30/1m", "{v}");
    assert!(v["rate_limits"]["login_ip"].is_object(), "defaults are kept beside the file's: {v}");
    assert_eq!(v["request_timeout_secs"], 30, "defaults fill the rest: {v}");

    // Defaults alone are a valid configuration too.
    let out = check(tmp.path(), None).arg("--json").run().await;
    out.assert_code(0);
    let v: Value = serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e})\n{out}"));
    assert_eq!(v["bind"], "127.0.0.1:8080", "{v}");
    assert_eq!(v["keys"]["grace_hours"], 24, "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_keys_are_named() {
    let tmp = tempfile::tempdir().unwrap();
    let out = check(tmp.path(), Some("bind = \"127.0.0.1:1\"\nlisten_backlog = 5\n")).run().await;
    out.assert_code(2).assert_stderr_has("listen_backlog");
    let out = check(tmp.path(), Some("[keys]\ngrace_hour = 5\n")).run().await;
    out.assert_code(2).assert_stderr_has("keys.grace_hour");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_environment_values_are_named() {
    let tmp = tempfile::tempdir().unwrap();
    let out = check(tmp.path(), None).env("IDSEAL_BIND", "nonsense").run().await;
    out.assert_code(2).assert_stderr_has("`bind`");
    let out = check(tmp.path(), None).env("IDSEAL_KEYS__GRACE_HOURS", "abc").run().await;
    out.assert_code(2).assert_stderr_has("keys.grace_hours");
    // Parses, but out of range.
    let out = check(tmp.path(), None).env("IDSEAL_KEYS__GRACE_HOURS", "0").run().await;
    out.assert_code(2).assert_stderr_has("keys.grace_hours");
    // A missing file is a configuration error too, not a silent fallback to defaults.
    let out = Idseal::new(tmp.path(), ["config", "check", "--config", "nope.toml"]).run().await;
    out.assert_code(2).assert_stderr_has("nope.toml");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_never_printed_and_pin_variable_is_not_a_config_key() {
    let tmp = tempfile::tempdir().unwrap();
    let out = check(tmp.path(), None)
        .env("IDSEAL_DATABASE_URL", "postgres://u:s3cret-pw@db.example/idseal?sslmode=require&password=s3cret-q")
        .env("IDSEAL_PKCS11_PIN", "123456")
        .arg("--json")
        .run()
        .await;
    out.assert_code(0);
    assert!(!out.stdout.contains("s3cret") && !out.stderr.contains("s3cret"), "{out}");
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["database_url"], "postgres://u:<redacted>@db.example/idseal?sslmode=require&password=<redacted>");
    assert!(!out.stdout.contains("123456"), "{out}");
}
