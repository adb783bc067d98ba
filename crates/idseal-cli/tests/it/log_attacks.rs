//! `idseal log verify` over HTTP (`--url`: checkpoint, entry bundles and hash tiles), and the
//! database verifier against more attacks (docs/audit-log.md, "Verification"; issue 8,
//! "Attacks to test"): a deleted row, two rows swapped, a row inserted past the end, and the
//! log truncated and regrown after a signed checkpoint.

use std::path::Path;

use crate::harness::{Idseal, PgDb, Server, client, free_addr, wait_healthy};

/// Rotate `n` keys through the admin API (each rotation appends log entries).
async fn rotate(c: &reqwest::Client, s: &Server, n: usize) {
    for i in 0..n {
        crate::harness::rotate(c, s, if i % 2 == 0 { "EdDSA" } else { "ES256" }).await;
    }
}

/// Sign a checkpoint now (POST /admin/log/checkpoint) and return its size.
async fn sign(c: &reqwest::Client, s: &Server) -> u64 {
    let r = c.post(s.url("/admin/log/checkpoint")).bearer_auth(s.token()).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let note = r.text().await.unwrap();
    note.lines().nth(1).unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_verify_over_http() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let addr = free_addr();
    let s = Idseal::serve(tmp.path(), &data, addr).env("IDSEAL_TLOG__CHECKPOINT_SECS", "86400").start().await;
    let c = client();
    wait_healthy(&c, &s).await;
    rotate(&c, &s, 3).await;
    let size = sign(&c, &s).await;
    assert!(size >= 6, "{size}");
    let base = format!("http://{addr}");
    let verify = |key: Option<&str>| {
        let i = Idseal::new(tmp.path(), ["log", "verify", "--url", base.as_str()]);
        match key {
            Some(k) => i.arg("--verifier-key").arg(k),
            None => i,
        }
    };

    // The server's own key: ok, with a TOFU warning.
    let out = verify(None).run().await;
    out.assert_code(0);
    assert_eq!(out.stdout.trim(), format!("ok: {size} entries"), "{out}");
    out.assert_stderr_has("trust on first use");

    // The key given: ok, no warning.
    let vkey = c.get(s.url("/log/verifier-key")).send().await.unwrap().text().await.unwrap();
    let out = verify(Some(vkey.trim())).run().await;
    out.assert_code(0);
    assert_eq!(out.stdout.trim(), format!("ok: {size} entries"), "{out}");
    assert!(!out.stderr.contains("warning"), "{out}");

    // Another master key's verifier key: the checkpoint does not open.
    let foreign = idseal_keys::MasterKey::parse(&"33".repeat(32)).unwrap();
    let foreign = idseal_server::tlog::checkpoint_verifier(&foreign, &base).unwrap().vkey();
    let out = verify(Some(&foreign)).run().await;
    assert_eq!(out.status.code(), Some(1), "{out}");
    assert!(out.stdout.contains("FAILED at entry 0: checkpoint"), "{out}");

    // A malformed key or an unreachable server: exit 2.
    verify(Some("nonsense")).run().await.assert_code(2);
    let dead = format!("http://{}", free_addr());
    Idseal::new(tmp.path(), ["log", "verify", "--url", dead.as_str()]).run().await.assert_code(2);

    // A changed entry: its bundle no longer matches the served leaf hashes.
    let url = format!("sqlite:{}", data.join("idseal.db").display());
    idseal_store::testing::tamper_tlog_entry(&url, 3).await.unwrap();
    let out = verify(Some(vkey.trim())).run().await;
    assert_eq!(out.status.code(), Some(1), "{out}");
    assert!(out.stdout.contains("FAILED at entry 3:"), "{out}");
    s.stop().await;
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

/// A stopped server's data directory with a log of at least `second` entries and two signed
/// checkpoints; returns their sizes.
struct Fixture {
    tmp: tempfile::TempDir,
    addr: std::net::SocketAddr,
    /// The PostgreSQL database, if not SQLite in the data directory.
    db: Option<String>,
    first: u64,
    second: u64,
}

impl Fixture {
    async fn new(db: Option<&str>) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("data");
        let addr = free_addr();
        let mut serve = Idseal::serve(tmp.path(), &data, addr).env("IDSEAL_TLOG__CHECKPOINT_SECS", "86400");
        if let Some(db) = db {
            serve = serve.arg("--database-url").arg(db);
        }
        let s = serve.start().await;
        let c = client();
        wait_healthy(&c, &s).await;
        rotate(&c, &s, 2).await;
        let first = sign(&c, &s).await;
        rotate(&c, &s, 3).await;
        let second = sign(&c, &s).await;
        assert!(first >= 6 && second > first, "{first} {second}");
        s.stop().await;
        Self { tmp, addr, db: db.map(str::to_owned), first, second }
    }

    /// A copy of the data directory, for one attack; returns its path and database URL.
    fn copy(&self, name: &str) -> (std::path::PathBuf, String) {
        let dir = self.tmp.path().join(name);
        copy_dir(&self.tmp.path().join("data"), &dir);
        let url = format!("sqlite:{}", dir.join("idseal.db").display());
        (dir, url)
    }

    async fn verify(&self, dir: &Path) -> crate::harness::Output {
        let mut i = Idseal::new(self.tmp.path(), ["log", "verify", "--data-dir"])
            .arg(dir)
            .arg("--bind")
            .arg(self.addr.to_string());
        if let Some(db) = &self.db {
            i = i.arg("--database-url").arg(db);
        }
        i.run().await
    }
}

fn assert_fails_at(out: &crate::harness::Output, index: u64) {
    assert_eq!(out.status.code(), Some(1), "{out}");
    assert!(out.stdout.contains(&format!("FAILED at entry {index}:")), "expected entry {index}: {out}");
}

#[derive(Clone, Copy, Debug)]
enum Attack {
    Delete,
    Swap,
    Insert,
    Regrow,
    RegrowInside,
}

const ATTACKS: [Attack; 5] = [Attack::Delete, Attack::Swap, Attack::Insert, Attack::Regrow, Attack::RegrowInside];

/// Apply `attack` to the log at `url` (data directory `dir`) and check what `log verify` says.
async fn attack(f: &Fixture, a: Attack, dir: &Path, url: &str) {
    use idseal_store::testing as t;
    match a {
        // A deleted row: named.
        Attack::Delete => {
            t::tamper_delete_tlog_entry(url, 3).await.unwrap();
            let out = f.verify(dir).await;
            assert_fails_at(&out, 3);
            assert!(out.stdout.contains("missing"), "{out}");
        }
        // Two rows swapped (each self-consistent): the first is named.
        Attack::Swap => {
            t::tamper_swap_tlog_entries(url, 2, 5).await.unwrap();
            assert_fails_at(&f.verify(dir).await, 2);
        }
        // A row inserted past the end (with its leaf hash): named.
        Attack::Insert => {
            let at = t::tamper_insert_tlog_entry(url, b"inserted").await.unwrap();
            assert!(at >= f.second, "{at}");
            assert_fails_at(&f.verify(dir).await, at);
        }
        // Truncated back to the first checkpoint and regrown past the second with other
        // entries, every hash recomputed: the second checkpoint no longer matches, from the
        // first changed entry on.
        Attack::Regrow => {
            let new: Vec<Vec<u8>> = (0..f.second - f.first + 3).map(|i| format!("regrown {i}").into_bytes()).collect();
            t::tamper_truncate_regrow_tlog(url, f.first, &new).await.unwrap();
            let out = f.verify(dir).await;
            assert_fails_at(&out, f.first);
            assert!(out.stdout.contains(&format!("checkpoint {}", f.second)), "{out}");
            assert!(out.stdout.contains("not consistent"), "{out}");
        }
        // Truncated inside the signed range and regrown short of it: the second checkpoint
        // is past the log now.
        Attack::RegrowInside => {
            let keep = f.first + 1;
            let new: Vec<Vec<u8>> = (0..f.second - keep - 1).map(|i| format!("other {i}").into_bytes()).collect();
            t::tamper_truncate_regrow_tlog(url, keep, &new).await.unwrap();
            assert_eq!(f.verify(dir).await.status.code(), Some(1));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_verify_finds_row_attacks_sqlite() {
    let f = Fixture::new(None).await;
    let (clean, _) = f.copy("clean");
    f.verify(&clean).await.assert_code(0);
    for a in ATTACKS {
        let (dir, url) = f.copy(&format!("{a:?}"));
        attack(&f, a, &dir, &url).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_verify_finds_row_attacks_postgres() {
    for a in ATTACKS {
        let Some(pg) = PgDb::create("log_verify_finds_row_attacks_postgres").await else { return };
        let f = Fixture::new(Some(&pg.url)).await;
        let dir = f.tmp.path().join("data");
        f.verify(&dir).await.assert_code(0);
        attack(&f, a, &dir, &pg.url).await;
        drop(f);
    }
}
