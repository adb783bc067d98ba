//! Configuration: every refusal names the key at fault. (No test sets environment variables:
//! tests run in parallel and the environment is process-wide.)

use std::path::Path;

use idseal_server::config::{Config, ConfigError, Overrides, PolicyConfig};

/// The key and message of a validation error.
fn invalid(c: Config) -> (String, String) {
    match c.validate() {
        Err(e @ ConfigError::Invalid { .. }) => {
            let msg = e.to_string();
            let ConfigError::Invalid { key, .. } = e else { unreachable!() };
            (key, msg)
        }
        Err(e) => panic!("expected an invalid-value error, got {e}"),
        Ok(_) => panic!("expected an invalid-value error, got a valid configuration"),
    }
}

fn assert_invalid(what: &str, c: Config, key: &str) -> String {
    let (k, msg) = invalid(c);
    assert_eq!(k, key, "{what}: {msg}");
    assert!(msg.contains(&format!("`{key}`")), "{what}: the message names the key: {msg}");
    msg
}

fn with(f: impl FnOnce(&mut Config)) -> Config {
    let mut c = Config::default();
    f(&mut c);
    c
}

fn load_toml(text: &str) -> Result<Config, ConfigError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("idseal.toml");
    std::fs::write(&path, text).unwrap();
    Config::load(Some(&path), &Overrides::default())
}

fn load_err(text: &str) -> String {
    match load_toml(text) {
        Err(e) => e.to_string(),
        Ok(c) => panic!("expected a load error for\n{text}\ngot {c:?}"),
    }
}

#[test]
fn defaults_are_valid() {
    let s = Config::default().validate().unwrap();
    assert_eq!(s.bind.to_string(), "127.0.0.1:8080");
    assert_eq!(s.issuer, "http://127.0.0.1:8080");
    assert_eq!(s.algorithms.len(), 4);
    let (_, kind, routes) = &s.policies["admin"];
    assert_eq!(*kind, idseal_ratelimit::KeyKind::Ip);
    assert_eq!(routes, &vec!["/admin/*".to_owned()]);
    assert!(s.database_url.starts_with("sqlite:"));
}

#[test]
fn bad_bind_names_bind() {
    for bind in ["nope", "127.0.0.1", "localhost:8080", "", "127.0.0.1:99999", "[::1]"] {
        assert_invalid(bind, with(|c| c.bind = bind.into()), "bind");
    }
    assert!(with(|c| c.bind = "[::1]:9000".into()).validate().is_ok());
}

#[test]
fn bad_issuer_names_issuer() {
    for issuer in [
        "ftp://id.example.com",
        "id.example.com",
        "https://",
        "https:///path",
        "https://id.example.com/?q=1",
        "https://id.example.com/#f",
        "https://id example.com",
        "",
    ] {
        assert_invalid(issuer, with(|c| c.issuer = Some(issuer.into())), "issuer");
    }
    let s = with(|c| c.issuer = Some("https://id.example.com/".into())).validate().unwrap();
    assert_eq!(s.issuer, "https://id.example.com", "trailing slash removed");
}

#[test]
fn bad_values_name_their_keys() {
    let msg = assert_invalid("HS256", with(|c| c.keys.algorithms = vec!["HS256".into()]), "keys.algorithms");
    assert!(msg.contains("HS256"), "{msg}");
    assert_invalid("none", with(|c| c.keys.algorithms = vec!["EdDSA".into(), "none".into()]), "keys.algorithms");
    assert_invalid("empty", with(|c| c.keys.algorithms = vec![]), "keys.algorithms");
    assert_invalid("grace 0", with(|c| c.keys.grace_hours = 0), "keys.grace_hours");
    assert_invalid("grace 2161", with(|c| c.keys.grace_hours = 2161), "keys.grace_hours");
    assert_invalid("refresh 0", with(|c| c.keys.refresh_secs = 0), "keys.refresh_secs");
    assert_invalid("checkpoint 0", with(|c| c.tlog.checkpoint_secs = 0), "tlog.checkpoint_secs");
    assert_invalid("checkpoint 1d+1", with(|c| c.tlog.checkpoint_secs = 86401), "tlog.checkpoint_secs");
    assert_invalid("mysql", with(|c| c.database_url = Some("mysql://x/y".into())), "database_url");
    assert_invalid("tiny body", with(|c| c.max_body_bytes = 10), "max_body_bytes");
    assert_invalid("timeout 0", with(|c| c.request_timeout_secs = 0), "request_timeout_secs");
    assert_invalid("pool 0", with(|c| c.database.max_connections = 0), "database.max_connections");
    assert_invalid("acquire 0", with(|c| c.database.acquire_timeout_secs = 0), "database.acquire_timeout_secs");
    assert_invalid("header", with(|c| c.client_ip_header = Some("x forwarded for".into())), "client_ip_header");
    assert_invalid("data dir", with(|c| c.data_dir = "".into()), "data_dir");
    // Duplicates are folded, not refused.
    let s = with(|c| {
        crate::support::eddsa_only(c);
        c.keys.algorithms = vec!["EdDSA".into(), "EdDSA".into()];
    })
    .validate()
    .unwrap();
    assert_eq!(s.algorithms.len(), 1);
}

fn policy(f: impl FnOnce(&mut PolicyConfig)) -> Config {
    with(|c| {
        let p = c.rate_limits.get_mut("admin").unwrap();
        f(p);
    })
}

#[test]
fn bad_rate_limits_name_the_policy() {
    assert_invalid(
        "no window",
        policy(|p| {
            p.burst = None;
            p.sustained = None;
        }),
        "rate_limits.admin.burst",
    );
    assert_invalid("lockout 0m", policy(|p| p.lockout = vec!["0m".into()]), "rate_limits.admin.lockout");
    assert_invalid("lockout unit", policy(|p| p.lockout = vec!["5 minutes".into()]), "rate_limits.admin.lockout");
    assert_invalid("reset", policy(|p| p.lockout_reset = "forever".into()), "rate_limits.admin.lockout_reset");
    assert_invalid("route", policy(|p| p.routes = vec!["admin/*".into()]), "rate_limits.admin.routes");
    assert_invalid(
        "account policy on a route",
        with(|c| c.rate_limits.get_mut("login_email").unwrap().routes = vec!["/login".into()]),
        "rate_limits.login_email.routes",
    );
}

#[test]
fn toml_file_loads_and_overrides_win() {
    let c = load_toml(
        "bind = \"0.0.0.0:9000\"\nissuer = \"https://id.example.com\"\n\n[keys]\ngrace_hours = 48\nalgorithms = [\"EdDSA\"]\n\n\
         [oauth]\naccess_token_alg = \"EdDSA\"\npq_sig_alg = \"EdDSA\"\n\n[rate_limits.admin]\nkey = \"ip\"\nburst = \"7/1m\"\nlockout = [\"2m\"]\nroutes = [\"/admin/*\"]\n",
    )
    .unwrap();
    assert_eq!(c.bind, "0.0.0.0:9000");
    assert_eq!(c.keys.grace_hours, 48);
    assert_eq!(c.keys.refresh_secs, 60, "unset keys keep their defaults");
    let s = c.validate().unwrap();
    assert_eq!(s.policies["admin"].0.burst.unwrap().limit, 7);
    assert!(s.policies.contains_key("login_ip"), "other default policies stay");

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("idseal.toml");
    std::fs::write(&path, "bind = \"0.0.0.0:9000\"\n").unwrap();
    let over = Overrides { bind: Some("127.0.0.1:7000".into()), ..Overrides::default() };
    assert_eq!(Config::load(Some(&path), &over).unwrap().bind, "127.0.0.1:7000");
}

#[test]
fn toml_errors_name_the_key() {
    let e = load_err("bnd = \"127.0.0.1:1\"\n");
    assert!(e.contains("bnd"), "{e}");
    let e = load_err("[keys]\ngrace = 5\n");
    assert!(e.contains("grace"), "{e}");
    let e = load_err("bind = 8080\n");
    assert!(e.contains("bind"), "{e}");
    let e = load_err("[rate_limits.admin]\nkey = \"ip\"\nburst = \"0/1m\"\n");
    assert!(e.contains("rate_limits"), "{e}");
    assert!(e.contains("0/1m"), "{e}");
    let e = load_err("[rate_limits.admin]\nkey = \"ip\"\nburst = \"5/1 minute\"\n");
    assert!(e.contains("rate_limits"), "{e}");
    let e = load_err("[rate_limits.admin]\nkey = \"galaxy\"\nburst = \"5/1m\"\n");
    assert!(e.contains("rate_limits"), "{e}");
    let e = load_err("[rate_limits.admin]\nkey = \"ip\"\nburst = \"5/1m\"\nbrust = \"1/1s\"\n");
    assert!(e.contains("brust"), "{e}");
    let e = load_err("bind = \n");
    assert!(!e.is_empty());
    // Values that parse but are unacceptable fail validation, naming the key.
    let c = load_toml("[keys]\nalgorithms = [\"HS256\"]\n").unwrap();
    assert_eq!(invalid(c).0, "keys.algorithms");
}

#[test]
fn missing_file_is_named() {
    let path = Path::new("/nonexistent/idseal-it/idseal.toml");
    let e = Config::load(Some(path), &Overrides::default()).unwrap_err().to_string();
    assert!(e.contains("/nonexistent/idseal-it/idseal.toml"), "{e}");
}
