//! First start on an empty data directory, then a second start on the same one.

use crate::harness::{Idseal, client, free_addr, jwks, mode, one_key_per_alg, wait_healthy};

/// The first start creates the master key (0600), the four keys and a bootstrap token; the
/// second start reuses every key and prints no token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_start_generates_once_and_second_start_reuses() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let c = client();

    let addr = free_addr();
    let s = Idseal::serve(tmp.path(), &data, addr).start().await;
    let ready = s.ready().clone();
    assert_eq!(ready.addr, addr, "listens where told");
    assert_eq!(ready.issuer, format!("http://{addr}"), "default issuer is http://<bind>");
    let token = s.token();
    assert!(token.starts_with("idseal_admin_") && token.len() > 40, "token looks like one: {token}");
    assert!(
        s.stdout().contains("admin bootstrap token (shown once"),
        "the operator is told the token is shown once:\n{}",
        s.stdout()
    );

    let key_file = data.join("master.key");
    assert!(key_file.is_file(), "master.key was created");
    assert_eq!(mode(&key_file), 0o600, "master.key is private");
    assert_eq!(mode(&data), 0o700, "the data directory is private");
    let hex = std::fs::read_to_string(&key_file).unwrap();
    assert!(hex.trim().len() == 64 && hex.trim().bytes().all(|b| b.is_ascii_hexdigit()), "64 hex digits: {hex:?}");

    let health = wait_healthy(&c, &s).await;
    assert_eq!(health["status"], "ok", "{health}");
    let first = one_key_per_alg(&jwks(&c, &s).await);

    // The token printed is a working admin credential.
    let (status, list) = crate::harness::get_json(&c, &s.url("/admin/keys"), Some(&token)).await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["keys"].as_array().unwrap().len(), 4, "{list}");
    let (status, _) = crate::harness::get_json(&c, &s.url("/admin/keys"), Some("idseal_admin_wrong")).await;
    assert_eq!(status, 401);
    s.stop().await;

    // Second start, same data directory, another port.
    let s = Idseal::serve(tmp.path(), &data, free_addr()).start().await;
    assert_eq!(s.ready().token, None, "no bootstrap token on a second start\nstdout:\n{}", s.stdout());
    assert!(!s.stdout().contains("bootstrap token"), "{}", s.stdout());
    wait_healthy(&c, &s).await;
    let second = one_key_per_alg(&jwks(&c, &s).await);
    assert_eq!(first, second, "the second start must reuse the keys, not regenerate them");
    assert_eq!(std::fs::read_to_string(&key_file).unwrap(), hex, "master.key untouched");
    // The token from the first start still works.
    let (status, _) = crate::harness::get_json(&c, &s.url("/admin/keys"), Some(&token)).await;
    assert_eq!(status, 200);
    s.stop().await;
}

/// A first start that cannot listen (the port is taken) fails before it issues the one-time
/// bootstrap token: the next start still shows one, and it works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_start_that_cannot_listen_does_not_consume_the_bootstrap_token() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let out = Idseal::serve(tmp.path(), &data, taken.local_addr().unwrap()).start_must_fail().await;
    out.assert_failed().assert_stderr_has("cannot listen");
    assert!(!out.stdout.contains("bootstrap token"), "{out}");
    drop(taken);

    let s = Idseal::serve(tmp.path(), &data, free_addr()).start().await;
    let token = s.ready().token.clone().unwrap_or_else(|| {
        panic!("the bootstrap token was never shown: the failed start consumed it\nstdout:\n{}", s.stdout())
    });
    let c = client();
    wait_healthy(&c, &s).await;
    let (status, list) = crate::harness::get_json(&c, &s.url("/admin/keys"), Some(&token)).await;
    assert_eq!(status, 200, "{list}");
    s.stop().await;
}

/// A first start whose stdout is gone (closed pipe) cannot show the one-time token: it exits 1
/// and withdraws the token, so the next start issues a new one instead of none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_that_cannot_be_shown_is_withdrawn() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let addr = free_addr();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_idseal"))
        .args(["serve", "--bind", &addr.to_string(), "--data-dir"])
        .arg(&data)
        .current_dir(tmp.path())
        .env_remove("IDSEAL_MASTER_KEY")
        .env_remove("IDSEAL_DATABASE_URL")
        .env_remove("IDSEAL_CONFIG")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // the reader goes away before anything is written
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("withdrawn"), "{}", String::from_utf8_lossy(&out.stderr));

    // The next start shows a fresh token, and it works.
    let s = Idseal::serve(tmp.path(), &data, free_addr()).start().await;
    let token = s.token();
    let c = client();
    wait_healthy(&c, &s).await;
    let (status, _) = crate::harness::get_json(&c, &s.url("/admin/keys"), Some(&token)).await;
    assert_eq!(status, 200);
}
