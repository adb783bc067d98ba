//! SIGTERM shuts down gracefully; `--log-format json` logs JSON lines.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::{Idseal, client, free_addr, wait_healthy};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_exits_zero_and_json_logs_are_json() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s =
        Idseal::serve(tmp.path(), &tmp.path().join("data"), free_addr()).arg("--log-format").arg("json").start().await;
    let c = client();
    wait_healthy(&c, &s).await;
    // Leave a keep-alive connection open in the client's pool: shutdown must not wait for it.
    let res = c.get(s.url("/.well-known/jwks.json")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    res.bytes().await.unwrap();

    let t0 = Instant::now();
    s.signal("TERM").await;
    let status = s.wait_exit(Duration::from_secs(5)).await;
    assert_eq!(status.code(), Some(0), "SIGTERM is a clean exit\nstderr:\n{}", s.stderr());
    let took = t0.elapsed();
    assert!(took < Duration::from_secs(5), "shutdown took {took:?}");
    // It no longer listens.
    assert!(c.get(s.url("/health")).send().await.is_err(), "still answering after exit");

    let lines = s.stderr_lines();
    assert!(lines.len() >= 2, "expected start-up and shutdown log lines, got {lines:?}");
    let mut messages = Vec::new();
    for l in &lines {
        let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("stderr line is not JSON ({e}): {l}"));
        assert!(v.is_object(), "a JSON object per line: {l}");
        assert!(v.get("level").is_some() && v.get("timestamp").is_some(), "level and timestamp: {l}");
        messages.push(v["message"].as_str().unwrap_or_default().to_owned());
    }
    assert!(messages.iter().any(|m| m == "ready"), "a `ready` event: {messages:?}");
    assert!(messages.iter().any(|m| m == "shutting down"), "a `shutting down` event: {messages:?}");
}

/// A client that never finishes its request head cannot hold shutdown hostage: connections
/// still open `request_timeout_secs` after SIGTERM are dropped and the process exits 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_with_a_stalled_client_still_exits() {
    use tokio::io::AsyncWriteExt as _;

    let tmp = tempfile::tempdir().unwrap();
    let mut s = Idseal::serve(tmp.path(), &tmp.path().join("data"), free_addr())
        .env("IDSEAL_REQUEST_TIMEOUT_SECS", "2")
        .start()
        .await;
    let c = client();
    wait_healthy(&c, &s).await;
    let mut stalled = tokio::net::TcpStream::connect(s.ready().addr).await.unwrap();
    stalled.write_all(b"GET /health HTTP/1.1\r\nHost: idseal\r\n").await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;

    let t0 = Instant::now();
    s.signal("TERM").await;
    let status = s.wait_exit(Duration::from_secs(15)).await;
    assert_eq!(status.code(), Some(0), "stderr:\n{}", s.stderr());
    let took = t0.elapsed();
    assert!(took >= Duration::from_millis(1500), "in-flight connections get their grace period ({took:?})");
    assert!(took < Duration::from_secs(6), "shutdown took {took:?}");
    drop(stalled);
}
