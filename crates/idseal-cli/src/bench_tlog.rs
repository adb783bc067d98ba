//! `idseal bench --suite tlog`: the audit log's sequencer and proofs next to the raw limits
//! measured in the same run (issue 8, "Benchmark").
//!
//! - raw hashing: aws-lc-rs SHA-256 of `0x00 ‖ entry` (an RFC 9162 leaf hash), single thread;
//! - raw inserts: rows per second of plain multi-row INSERTs of 100-byte blobs into a scratch
//!   table, one transaction per batch ([`idseal_store::testing::raw_insert_batch`]);
//! - appends: [`Store::tlog_append`] of ~200-byte entries in batches of 1, 16, 256 and 1024,
//!   one appender, each batch durable before the next (SQLite: a fresh temp file; PostgreSQL:
//!   a fresh database when a URL is given, dropped after);
//! - proofs: [`Store::tlog_inclusion_proof`] of random indices in a 100 000-entry log, one
//!   task and `concurrency` tasks; verification ([`idseal_tlog::proof::verify_inclusion`],
//!   pure) single thread; and single stored-hash reads, the unit a proof is made of.

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aws_lc_rs::digest;
use idseal_store::{ConnectOptions, Store};
use idseal_tlog::hash::leaf_hash;
use idseal_tlog::proof::verify_inclusion;

/// Batch sizes of the append figures.
const BATCHES: [usize; 4] = [1, 16, 256, 1024];
/// Entry size of the append figures (an encoded audit event is about this long).
const ENTRY_LEN: usize = 200;
/// Row size of the raw insert figures.
const RAW_LEN: usize = 100;
/// Log size of the proof figures.
const PROOF_LOG: u64 = 100_000;
/// Issue 8's goals.
const GOAL_APPENDS: f64 = 20_000.0;
const GOAL_PROOFS: f64 = 10_000.0;

/// A small deterministic generator (xorshift64*), for entry bytes and random indices.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next().to_le_bytes()[0]).collect()
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn per_s(n: u64, elapsed: Duration) -> f64 {
    n as f64 / elapsed.as_secs_f64().max(1e-9)
}

/// Raw leaf hashes per second: SHA-256(0x00 ‖ entry) with aws-lc-rs, single thread.
fn raw_hashes(seconds: f64) -> f64 {
    let entry = Rng(7).bytes(ENTRY_LEN);
    let budget = Duration::from_secs_f64(seconds);
    let start = Instant::now();
    let mut n = 0u64;
    loop {
        for _ in 0..1000 {
            let mut ctx = digest::Context::new(&digest::SHA256);
            ctx.update(&[0]);
            ctx.update(black_box(&entry));
            black_box(ctx.finish());
        }
        n += 1000;
        if start.elapsed() >= budget {
            return per_s(n, start.elapsed());
        }
    }
}

/// Rows per second of raw multi-row INSERTs in batches of `batch`; `next_id` carries on.
async fn raw_inserts(store: &Store, batch: usize, seconds: f64, next_id: &mut i64) -> anyhow::Result<f64> {
    let mut rng = Rng(11);
    let rows: Vec<Vec<u8>> = (0..batch).map(|_| rng.bytes(RAW_LEN)).collect();
    let step = i64::try_from(batch)?;
    idseal_store::testing::raw_insert_batch(store, *next_id, &rows).await?;
    *next_id += step;
    let budget = Duration::from_secs_f64(seconds);
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < budget {
        idseal_store::testing::raw_insert_batch(store, *next_id, &rows).await?;
        *next_id += step;
        n += batch as u64;
    }
    Ok(per_s(n, start.elapsed()))
}

/// Entries per second of [`Store::tlog_append`] in batches of `batch`.
async fn appends(store: &Store, batch: usize, seconds: f64) -> anyhow::Result<f64> {
    let mut rng = Rng(13);
    let entries: Vec<Vec<u8>> = (0..batch).map(|_| rng.bytes(ENTRY_LEN)).collect();
    store.tlog_append(&entries).await?;
    let budget = Duration::from_secs_f64(seconds);
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < budget {
        store.tlog_append(&entries).await?;
        n += batch as u64;
    }
    Ok(per_s(n, start.elapsed()))
}

/// Inclusion proofs per second from the database, `tasks` concurrent tasks, random indices
/// in a log of [`PROOF_LOG`] entries.
async fn proofs(store: &Store, log: u64, tasks: usize, seconds: f64) -> anyhow::Result<f64> {
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let start = Instant::now();
    let mut handles = Vec::new();
    for t in 0..tasks {
        let (s, d) = (store.clone(), done.clone());
        handles.push(tokio::spawn(async move {
            let mut rng = Rng(0x5EED + t as u64);
            while Instant::now() < deadline {
                let proof = s.tlog_inclusion_proof(rng.below(log), log).await?;
                black_box(proof);
                d.fetch_add(1, Ordering::Relaxed);
            }
            Ok::<(), idseal_store::StoreError>(())
        }));
    }
    for h in handles {
        h.await??;
    }
    Ok(per_s(done.load(Ordering::Relaxed), start.elapsed()))
}

/// Single stored-hash reads per second (one `tlog_level_hashes` row): a proof's unit of work.
async fn hash_reads(store: &Store, log: u64, seconds: f64) -> anyhow::Result<f64> {
    let mut rng = Rng(17);
    let budget = Duration::from_secs_f64(seconds);
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < budget {
        black_box(store.tlog_level_hashes(0, rng.below(log), 1).await?);
        n += 1;
    }
    Ok(per_s(n, start.elapsed()))
}

/// Proof verifications per second (pure), single thread, on proofs read from `store`.
async fn verifications(store: &Store, log: u64, seconds: f64) -> anyhow::Result<f64> {
    let root = store.tlog_root(log).await?;
    let mut rng = Rng(19);
    let mut cases = Vec::new();
    for _ in 0..256 {
        let i = rng.below(log);
        let leaf = store.tlog_entry(i).await?.ok_or_else(|| anyhow::anyhow!("entry {i} missing"))?;
        cases.push((leaf_hash(&leaf.data), i, store.tlog_inclusion_proof(i, log).await?));
    }
    let budget = Duration::from_secs_f64(seconds);
    let start = Instant::now();
    let mut n = 0u64;
    loop {
        for (leaf, i, proof) in &cases {
            verify_inclusion(black_box(leaf), *i, log, proof, &root)?;
        }
        n += cases.len() as u64;
        if start.elapsed() >= budget {
            return Ok(per_s(n, start.elapsed()));
        }
    }
}

/// Everything measured on one backend.
async fn backend(url: &str, seconds: f64, concurrency: usize, hashes: f64) -> anyhow::Result<serde_json::Value> {
    let opts = ConnectOptions { max_connections: u32::try_from(concurrency.max(2))?, ..ConnectOptions::default() };
    let store = Store::connect(url, &opts).await?;
    store.migrate().await?;
    let mut next_id = 0i64;
    let mut rows = Vec::new();
    for batch in BATCHES {
        let raw = raw_inserts(&store, batch, seconds, &mut next_id).await?;
        let app = appends(&store, batch, seconds).await?;
        rows.push(serde_json::json!({
            "batch": batch,
            "raw_inserts_per_s": raw,
            "appends_per_s": app,
            "appends_over_raw_inserts": app / raw.max(f64::MIN_POSITIVE),
            "appends_over_raw_hashes": app / hashes.max(f64::MIN_POSITIVE),
        }));
    }
    store.close().await;
    Ok(serde_json::json!({ "batches": rows }))
}

/// Proof figures on a fresh log of [`PROOF_LOG`] entries at `url`.
async fn proof_figures(url: &str, log: u64, seconds: f64, concurrency: usize) -> anyhow::Result<serde_json::Value> {
    let opts = ConnectOptions { max_connections: u32::try_from(concurrency.max(2))?, ..ConnectOptions::default() };
    let store = Store::connect(url, &opts).await?;
    store.migrate().await?;
    let mut rng = Rng(23);
    let build = Instant::now();
    let mut size = store.tlog_size().await?;
    while size < log {
        let n = usize::try_from((log - size).min(1024))?;
        let entries: Vec<Vec<u8>> = (0..n).map(|_| rng.bytes(ENTRY_LEN)).collect();
        size = store.tlog_append(&entries).await?.1;
    }
    let build_s = build.elapsed().as_secs_f64();
    let one = proofs(&store, log, 1, seconds).await?;
    let many = proofs(&store, log, concurrency, seconds).await?;
    let reads = hash_reads(&store, log, seconds).await?;
    let verify = verifications(&store, log, seconds).await?;
    let proof_len = idseal_tlog::proof::inclusion_proof_len(log / 3, log)?;
    store.close().await;
    Ok(serde_json::json!({
        "log_size": log,
        "build_seconds": build_s,
        "proof_hashes": proof_len,
        "inclusion_proofs_per_s_1_task": one,
        "inclusion_proofs_per_s": many,
        "tasks": concurrency,
        "raw_hash_reads_per_s_1_task": reads,
        "verifications_per_s": verify,
        "goal_per_s": GOAL_PROOFS,
        "meets_goal": many >= GOAL_PROOFS,
    }))
}

/// A fresh PostgreSQL database next to `admin_url`, the figures on it, then drop it.
async fn postgres(
    admin_url: &str,
    log: u64,
    seconds: f64,
    concurrency: usize,
    hashes: f64,
) -> anyhow::Result<serde_json::Value> {
    let (url, name) = idseal_store::testing::create_postgres_database(admin_url).await?;
    let appends = backend(&url, seconds, concurrency, hashes).await;
    let dropped = idseal_store::testing::drop_postgres_database(admin_url, &name).await;
    let (url2, name2) = idseal_store::testing::create_postgres_database(admin_url).await?;
    let proofs = proof_figures(&url2, log, seconds, concurrency).await;
    let dropped2 = idseal_store::testing::drop_postgres_database(admin_url, &name2).await;
    let mut v = appends?;
    dropped?;
    dropped2?;
    set(&mut v, "proofs", proofs?);
    Ok(v)
}

/// Sets `key` of the JSON object `v` (nothing if `v` is not an object).
fn set(v: &mut serde_json::Value, key: &str, value: impl Into<serde_json::Value>) {
    if let Some(o) = v.as_object_mut() {
        o.insert(key.to_owned(), value.into());
    }
}

fn best_batched(v: &serde_json::Value) -> f64 {
    v["batches"]
        .as_array()
        .map(|rows| rows.iter().filter_map(|r| r["appends_per_s"].as_f64()).fold(0.0, f64::max))
        .unwrap_or(0.0)
}

/// Measures the tlog suite: `seconds` per figure, `concurrency` tasks for the concurrent
/// proof figure, PostgreSQL too when `database_url` names a server.
pub(crate) async fn measure(
    seconds: f64,
    concurrency: usize,
    database_url: Option<&str>,
) -> anyhow::Result<serde_json::Value> {
    measure_with(seconds, concurrency, database_url, PROOF_LOG).await
}

/// [`measure`] with a proof log of `log` entries.
async fn measure_with(
    seconds: f64,
    concurrency: usize,
    database_url: Option<&str>,
    log: u64,
) -> anyhow::Result<serde_json::Value> {
    let hashes = raw_hashes(seconds);
    let dir = tempfile::tempdir()?;
    let sqlite_url = format!("sqlite:{}", dir.path().join("bench.db").display());
    let mut sqlite = backend(&sqlite_url, seconds, concurrency, hashes).await?;
    let proofs_url = format!("sqlite:{}", dir.path().join("proofs.db").display());
    set(&mut sqlite, "proofs", proof_figures(&proofs_url, log, seconds, concurrency).await?);
    let best = best_batched(&sqlite);
    set(&mut sqlite, "best_batched_appends_per_s", best);
    set(&mut sqlite, "goal_appends_per_s", GOAL_APPENDS);
    set(&mut sqlite, "meets_goal", best >= GOAL_APPENDS);
    let postgres = match database_url {
        Some(url) => {
            let mut v = postgres(url, log, seconds, concurrency, hashes).await?;
            let best = best_batched(&v);
            set(&mut v, "best_batched_appends_per_s", best);
            v
        }
        None => serde_json::json!({"skipped": "no --database-url or IDSEAL_TEST_DATABASE_URL"}),
    };
    Ok(serde_json::json!({
        "benchmark": "tlog",
        "version": env!("CARGO_PKG_VERSION"),
        "machine": { "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0) },
        "seconds_per_measurement": seconds,
        "entry_bytes": ENTRY_LEN,
        "raw_insert_row_bytes": RAW_LEN,
        "raw_sha256_leaf_hashes_per_s": hashes,
        "sqlite": sqlite,
        "postgres": postgres,
    }))
}

fn met(b: bool) -> &'static str {
    if b { "met" } else { "NOT met" }
}

fn backend_summary(name: &str, v: &serde_json::Value, out: &mut String) {
    use std::fmt::Write as _;
    if let Some(skip) = v["skipped"].as_str() {
        let _ = writeln!(out, "{name:<10} skipped: {skip}");
        return;
    }
    let f = |r: &serde_json::Value, k: &str| r[k].as_f64().unwrap_or(0.0);
    for r in v["batches"].as_array().map(Vec::as_slice).unwrap_or_default() {
        let _ = writeln!(
            out,
            "{name:<10} batch {:>4}: appends {:>9.0}/s; raw inserts {:>9.0} rows/s (ratio {:.3}); over raw hashes {:.4}",
            r["batch"].as_u64().unwrap_or(0),
            f(r, "appends_per_s"),
            f(r, "raw_inserts_per_s"),
            f(r, "appends_over_raw_inserts"),
            f(r, "appends_over_raw_hashes"),
        );
    }
    let p = &v["proofs"];
    let _ = writeln!(
        out,
        "{name:<10} proofs ({} entries, {} hashes each): {:.0}/s with 1 task, {:.0}/s with {} tasks (goal >= 10000: {}); \
         single hash reads {:.0}/s; verification {:.0}/s",
        p["log_size"].as_u64().unwrap_or(0),
        p["proof_hashes"].as_u64().unwrap_or(0),
        f(p, "inclusion_proofs_per_s_1_task"),
        f(p, "inclusion_proofs_per_s"),
        p["tasks"].as_u64().unwrap_or(0),
        met(p["meets_goal"].as_bool().unwrap_or(false)),
        f(p, "raw_hash_reads_per_s_1_task"),
        f(p, "verifications_per_s"),
    );
}

/// The human summary of [`measure`]'s result.
pub(crate) fn summary(v: &serde_json::Value) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "tlog       raw SHA-256 leaf hashes {:.0}/s (single thread, {}-byte entries)",
        v["raw_sha256_leaf_hashes_per_s"].as_f64().unwrap_or(0.0),
        ENTRY_LEN
    );
    backend_summary("sqlite", &v["sqlite"], &mut out);
    let s = &v["sqlite"];
    let _ = writeln!(
        out,
        "sqlite     best batched appends {:.0}/s (goal >= 20000: {})",
        s["best_batched_appends_per_s"].as_f64().unwrap_or(0.0),
        met(s["meets_goal"].as_bool().unwrap_or(false))
    );
    backend_summary("postgres", &v["postgres"], &mut out);
    out.trim_end().to_owned()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;

    #[tokio::test]
    async fn the_suite_runs_and_reports_every_figure() {
        let v = measure_with(0.01, 2, None, 1000).await.unwrap();
        assert!(v["raw_sha256_leaf_hashes_per_s"].as_f64().unwrap() > 0.0);
        let rows = v["sqlite"]["batches"].as_array().unwrap();
        assert_eq!(rows.len(), BATCHES.len());
        for r in rows {
            assert!(r["appends_per_s"].as_f64().unwrap() > 0.0, "{r}");
            assert!(r["raw_inserts_per_s"].as_f64().unwrap() > 0.0, "{r}");
        }
        assert!(v["sqlite"]["proofs"]["verifications_per_s"].as_f64().unwrap() > 0.0);
        assert!(v["postgres"]["skipped"].is_string());
        assert!(summary(&v).contains("batch 1024"));
    }
}
