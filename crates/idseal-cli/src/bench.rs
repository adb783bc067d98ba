//! `idseal bench`: each suite next to the raw limit measured in the same run, written as JSON
//! into `--out-dir` (default `bench-results/`): `foundation` (start-up time, idle memory and
//! /health throughput of a real `idseal serve` process) to `foundation.json`, `vds` (see
//! [`crate::bench_vds`]) to `vds.json`, `tlog` (see [`crate::bench_tlog`]) to `tlog.json`,
//! `oauth` (see [`crate::bench_oauth`]) to `oauth.json`, `trust` (see [`crate::bench_trust`]) to
//! `trust.json`, `passwordless` (see [`bench_passwordless`]) to `passwordless.json`, `scal3`
//! (with the `scal3` feature; see `crate::bench_scal3`) to `scal3.json`; `all` (the default)
//! runs them all.
//!
//! Raw limits: process start-up is compared with spawning `idseal --version` (exec and
//! dynamic loading, nothing of ours); /health throughput with in-process `SELECT 1` round
//! trips on the same database (what a health check must do at least once) and with the
//! throughput of a route that touches no database (the HTTP stack's own limit here).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use idseal_store::{ConnectOptions, Store};

// Declared here rather than in main.rs (owned by another change at the time); the file sits
// next to the other suites.
use crate::bench_passwordless;

/// Which benchmarks to run.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Suite {
    /// Start-up, memory and /health throughput (`foundation.json`).
    Foundation,
    /// VDS decode + verify and issuance against raw ECDSA P-256 (`vds.json`).
    Vds,
    /// The audit log: appends against raw SHA-256 and raw inserts, proofs (`tlog.json`).
    Tlog,
    /// OAuth grants and password logins through the HTTP server against raw signatures and
    /// argon2id (`oauth.json`).
    Oauth,
    /// Full VDS verification through the chain of trust (signed XML lists) against raw ECDSA
    /// P-256 verification (`trust.json`).
    Trust,
    /// X.1280 passwordless logins (initiate + device verify + result) through the HTTP server
    /// against the raw crypto one login needs (`passwordless.json`).
    Passwordless,
    /// SCAL3 authorisations (with an audit append) and record verifications against raw
    /// FROST(P-256) signing and raw ECDSA P-256 verification (`scal3.json`).
    #[cfg(feature = "scal3")]
    Scal3,
    /// All of the above.
    All,
    /// Internal: the SoftHSM2 issuance figures, run in a child process that has its own
    /// `SOFTHSM2_CONF` (the parent cannot change its own environment without `unsafe`).
    #[value(hide = true)]
    VdsHsm,
}

#[derive(Args)]
pub(crate) struct BenchArgs {
    /// The suite to run.
    #[arg(long, value_enum, default_value_t = Suite::All)]
    suite: Suite,
    /// Directory the results are written to, one JSON file per suite.
    #[arg(long, default_value = "bench-results")]
    out_dir: PathBuf,
    /// Seconds of load per throughput measurement (foundation suite).
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Seconds per single-thread measurement (vds suite).
    #[arg(long, default_value_t = 3.0)]
    vds_seconds: f64,
    /// Concurrent client connections.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Warm starts to take the median of.
    #[arg(long, default_value_t = 7)]
    starts: usize,
    /// Seconds per measurement (tlog suite).
    #[arg(long, default_value_t = 2.0)]
    tlog_seconds: f64,
    /// Authorization-code exchanges, and as many refresh grants (oauth suite).
    #[arg(long, default_value_t = 2000)]
    oauth_grants: usize,
    /// Password logins (oauth suite).
    #[arg(long, default_value_t = 200)]
    oauth_logins: usize,
    /// Seconds of the fixed-rate latency run (oauth suite).
    #[arg(long, default_value_t = 5.0)]
    oauth_latency_seconds: f64,
    /// Seconds per single-thread measurement (trust suite; the cost-split parts get half).
    #[arg(long, default_value_t = 2.0)]
    trust_seconds: f64,
    /// Phones enrolled before the logins (passwordless suite).
    #[arg(long, default_value_t = 256)]
    passwordless_phones: usize,
    /// Seconds of the closed-loop peak run (passwordless suite; the serviceId run gets half).
    #[arg(long, default_value_t = 6.0)]
    passwordless_seconds: f64,
    /// Seconds of the fixed-rate latency run at half the peak (passwordless suite).
    #[arg(long, default_value_t = 5.0)]
    passwordless_latency_seconds: f64,
    /// Seconds per measurement and thread count (scal3 suite).
    #[cfg(feature = "scal3")]
    #[arg(long, default_value_t = 2.0)]
    scal3_seconds: f64,
    /// PostgreSQL server for the tlog, oauth, passwordless and scal3 suites' PostgreSQL figures (a fresh database is created
    /// next to the one named and dropped after); default `IDSEAL_TEST_DATABASE_URL`.
    #[arg(long, env = "IDSEAL_TEST_DATABASE_URL")]
    database_url: Option<String>,
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn spawn_server(exe: &Path, data: &Path, port: u16) -> anyhow::Result<Child> {
    let mut cmd = Command::new(exe);
    cmd.arg("serve").arg("--data-dir").arg(data).arg("--bind").arg(format!("127.0.0.1:{port}"));
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("IDSEAL_") {
            cmd.env_remove(k);
        }
    }
    Ok(cmd.env("IDSEAL_LOG_LEVEL", "warn").stdout(Stdio::null()).stderr(Stdio::null()).spawn()?)
}

async fn wait_ready(client: &reqwest::Client, port: u16, child: &mut Child) -> anyhow::Result<Duration> {
    let start = Instant::now();
    let url = format!("http://127.0.0.1:{port}/health");
    loop {
        if let Ok(r) = client.get(&url).send().await
            && r.status().is_success()
        {
            return Ok(start.elapsed());
        }
        if let Some(status) = child.try_wait()? {
            anyhow::bail!("server exited during start-up: {status}");
        }
        if start.elapsed() > Duration::from_secs(30) {
            anyhow::bail!("server not ready after 30 s");
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

fn stop(child: &mut Child) -> anyhow::Result<()> {
    Command::new("kill").arg("-TERM").arg(child.id().to_string()).status()?;
    child.wait()?;
    Ok(())
}

fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no VmRSS in /proc/{pid}/status"))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

async fn http_rps(client: &reqwest::Client, url: &str, concurrency: usize, secs: u64) -> f64 {
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (c, u, d) = (client.clone(), url.to_owned(), done.clone());
        tasks.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                if let Ok(r) = c.get(&u).send().await
                    && r.status().is_success()
                    && r.bytes().await.is_ok()
                {
                    d.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    done.load(Ordering::Relaxed) as f64 / secs as f64
}

async fn ping_rps(store: &Store, concurrency: usize, secs: u64) -> f64 {
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (s, d) = (store.clone(), done.clone());
        tasks.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                if s.ping().await.is_ok() {
                    d.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    done.load(Ordering::Relaxed) as f64 / secs as f64
}

async fn measure(args: &BenchArgs) -> anyhow::Result<serde_json::Value> {
    let exe = std::env::current_exe()?;
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let client = idseal_server::http::client_builder().pool_max_idle_per_host(args.concurrency).build()?;
    let n = args.starts.max(1);

    let mut spawn_ms = Vec::new();
    for _ in 0..n {
        let t = Instant::now();
        Command::new(&exe).arg("--version").stdout(Stdio::null()).status()?;
        spawn_ms.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let spawn_ms = median(spawn_ms);

    let port = free_port()?;
    let mut child = spawn_server(&exe, &data, port)?;
    let first_ms = wait_ready(&client, port, &mut child).await?.as_secs_f64() * 1e3;
    stop(&mut child)?;

    let mut warm = Vec::new();
    for _ in 0..n {
        let port = free_port()?;
        let mut child = spawn_server(&exe, &data, port)?;
        warm.push(wait_ready(&client, port, &mut child).await?.as_secs_f64() * 1e3);
        stop(&mut child)?;
    }
    let warm_ms = median(warm);

    let port = free_port()?;
    let mut child = spawn_server(&exe, &data, port)?;
    wait_ready(&client, port, &mut child).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle_rss = rss_kib(child.id())?;
    let health = http_rps(&client, &format!("http://127.0.0.1:{port}/health"), args.concurrency, args.seconds).await;
    let jwks =
        http_rps(&client, &format!("http://127.0.0.1:{port}/.well-known/jwks.json"), args.concurrency, args.seconds)
            .await;
    let loaded_rss = rss_kib(child.id())?;
    stop(&mut child)?;

    let url = format!("sqlite:{}", data.join("idseal.db").display());
    let store = Store::connect(&url, &ConnectOptions::default()).await?;
    let ping = ping_rps(&store, args.concurrency, args.seconds).await;
    store.close().await;

    Ok(serde_json::json!({
        "benchmark": "foundation",
        "version": env!("CARGO_PKG_VERSION"),
        "machine": { "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0) },
        "backend": "sqlite",
        "startup": {
            "first_start_ms": first_ms,
            "warm_start_median_ms": warm_ms,
            "raw_process_spawn_ms": spawn_ms,
            "warm_over_spawn": warm_ms / spawn_ms.max(0.001),
            "goal_ms": 300.0,
            "meets_goal": warm_ms < 300.0,
        },
        "memory": {
            "idle_rss_mib": idle_rss as f64 / 1024.0,
            "after_load_rss_mib": loaded_rss as f64 / 1024.0,
            "goal_idle_mib": 30.0,
            "meets_goal": (idle_rss as f64 / 1024.0) < 30.0,
        },
        "health": {
            "concurrency": args.concurrency,
            "seconds": args.seconds,
            "health_rps": health,
            "raw_db_ping_per_s": ping,
            "health_over_raw_ping": health / ping.max(0.001),
            "no_db_route_rps": jwks,
            "health_over_no_db_route": health / jwks.max(0.001),
        },
    }))
}

/// Writes `v` as pretty JSON to `out_dir/name`.
fn write_result(out_dir: &Path, name: &str, v: &serde_json::Value) -> anyhow::Result<PathBuf> {
    let path = out_dir.join(name);
    if !out_dir.as_os_str().is_empty() {
        std::fs::create_dir_all(out_dir).map_err(|e| anyhow::anyhow!("{}: {e}", out_dir.display()))?;
    }
    let mut text = serde_json::to_string_pretty(v)?;
    text.push('\n');
    std::fs::write(&path, text.as_bytes()).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    Ok(path)
}

fn print_foundation(v: &serde_json::Value) {
    let mut o = std::io::stdout();
    let null = serde_json::Value::Null;
    let s = v.get("startup").unwrap_or(&null);
    let m = v.get("memory").unwrap_or(&null);
    let h = v.get("health").unwrap_or(&null);
    let _ = writeln!(
        o,
        "start-up   first {:.0} ms, warm median {:.0} ms (goal < 300), raw spawn {:.1} ms, ratio {:.1}x",
        s["first_start_ms"].as_f64().unwrap_or(0.0),
        s["warm_start_median_ms"].as_f64().unwrap_or(0.0),
        s["raw_process_spawn_ms"].as_f64().unwrap_or(0.0),
        s["warm_over_spawn"].as_f64().unwrap_or(0.0)
    );
    let _ = writeln!(
        o,
        "memory     idle {:.1} MiB (goal < 30), after load {:.1} MiB",
        m["idle_rss_mib"].as_f64().unwrap_or(0.0),
        m["after_load_rss_mib"].as_f64().unwrap_or(0.0)
    );
    let _ = writeln!(
        o,
        "/health    {:.0} req/s; raw DB ping {:.0}/s (ratio {:.2}); no-DB route {:.0} req/s (ratio {:.2})",
        h["health_rps"].as_f64().unwrap_or(0.0),
        h["raw_db_ping_per_s"].as_f64().unwrap_or(0.0),
        h["health_over_raw_ping"].as_f64().unwrap_or(0.0),
        h["no_db_route_rps"].as_f64().unwrap_or(0.0),
        h["health_over_no_db_route"].as_f64().unwrap_or(0.0)
    );
}

async fn run_suites(args: &BenchArgs) -> anyhow::Result<()> {
    if matches!(args.suite, Suite::Foundation | Suite::All) {
        let v = measure(args).await?;
        let path = write_result(&args.out_dir, "foundation.json", &v)?;
        print_foundation(&v);
        let _ = writeln!(std::io::stdout(), "results written to {}", path.display());
    }
    if !(args.vds_seconds.is_finite() && args.vds_seconds > 0.0) {
        anyhow::bail!("--vds-seconds must be a positive number");
    }
    if args.suite == Suite::VdsHsm {
        let v = crate::bench_vds::measure_hsm_child(args.vds_seconds)?;
        write_result(&args.out_dir, "vds-hsm.json", &v)?;
        return Ok(());
    }
    if matches!(args.suite, Suite::Vds | Suite::All) {
        let v = crate::bench_vds::measure(args.vds_seconds)?;
        let path = write_result(&args.out_dir, "vds.json", &v)?;
        let _ = writeln!(std::io::stdout(), "{}", crate::bench_vds::summary(&v));
        let _ = writeln!(std::io::stdout(), "results written to {}", path.display());
    }
    if matches!(args.suite, Suite::Tlog | Suite::All) {
        if !(args.tlog_seconds.is_finite() && args.tlog_seconds > 0.0) {
            anyhow::bail!("--tlog-seconds must be a positive number");
        }
        let v = crate::bench_tlog::measure(args.tlog_seconds, args.concurrency, args.database_url.as_deref()).await?;
        let path = write_result(&args.out_dir, "tlog.json", &v)?;
        let _ = writeln!(std::io::stdout(), "{}", crate::bench_tlog::summary(&v));
        let _ = writeln!(std::io::stdout(), "results written to {}", path.display());
    }
    if matches!(args.suite, Suite::Oauth | Suite::All) {
        if !(args.oauth_latency_seconds.is_finite() && args.oauth_latency_seconds > 0.0) {
            anyhow::bail!("--oauth-latency-seconds must be a positive number");
        }
        let sizes = crate::bench_oauth::Sizes {
            grants: args.oauth_grants,
            logins: args.oauth_logins,
            latency_seconds: args.oauth_latency_seconds,
            raw_seconds: 1.0,
            concurrency: args.concurrency,
        };
        let v = crate::bench_oauth::measure(sizes, args.database_url.as_deref()).await?;
        let path = write_result(&args.out_dir, "oauth.json", &v)?;
        let _ = writeln!(std::io::stdout(), "{}", crate::bench_oauth::summary(&v));
        let _ = writeln!(std::io::stdout(), "results written to {}", path.display());
    }
    if matches!(args.suite, Suite::Trust | Suite::All) {
        if !(args.trust_seconds.is_finite() && args.trust_seconds > 0.0) {
            anyhow::bail!("--trust-seconds must be a positive number");
        }
        let v = crate::bench_trust::measure(args.trust_seconds)?;
        let path = write_result(&args.out_dir, "trust.json", &v)?;
        let _ = writeln!(std::io::stdout(), "{}", crate::bench_trust::summary(&v));
        let _ = writeln!(std::io::stdout(), "results written to {}", path.display());
    }
    if matches!(args.suite, Suite::Passwordless | Suite::All) {
        let positive = |x: f64| x.is_finite() && x > 0.0;
        if !(positive(args.passwordless_seconds) && positive(args.passwordless_latency_seconds)) {
            anyhow::bail!("--passwordless-seconds and --passwordless-latency-seconds must be positive numbers");
        }
        if args.passwordless_phones == 0 {
            anyhow::bail!("--passwordless-phones must be at least 1");
        }
        let sizes = bench_passwordless::Sizes {
            phones: args.passwordless_phones,
            seconds: args.passwordless_seconds,
            latency_seconds: args.passwordless_latency_seconds,
            raw_seconds: 0.5,
            concurrency: args.concurrency,
        };
        let v = bench_passwordless::measure(sizes, args.database_url.as_deref()).await?;
        let path = write_result(&args.out_dir, "passwordless.json", &v)?;
        let _ = writeln!(std::io::stdout(), "{}", bench_passwordless::summary(&v));
        let _ = writeln!(std::io::stdout(), "results written to {}", path.display());
    }
    #[cfg(feature = "scal3")]
    if matches!(args.suite, Suite::Scal3 | Suite::All) {
        if !(args.scal3_seconds.is_finite() && args.scal3_seconds > 0.0) {
            anyhow::bail!("--scal3-seconds must be a positive number");
        }
        let v = crate::bench_scal3::measure(args.scal3_seconds, args.database_url.as_deref()).await?;
        let path = write_result(&args.out_dir, "scal3.json", &v)?;
        let _ = writeln!(std::io::stdout(), "{}", crate::bench_scal3::summary(&v));
        let _ = writeln!(std::io::stdout(), "results written to {}", path.display());
    }
    Ok(())
}

pub(crate) async fn run(args: BenchArgs) -> ExitCode {
    match run_suites(&args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: bench: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use clap::Parser;

    use super::{BenchArgs, Suite};

    #[derive(Parser)]
    struct Wrap {
        #[command(flatten)]
        args: BenchArgs,
    }

    #[test]
    fn suite_defaults_to_all_and_results_go_to_bench_results() {
        let w = Wrap::try_parse_from(["bench"]).unwrap();
        assert!(w.args.suite == Suite::All);
        assert_eq!(w.args.out_dir, std::path::Path::new("bench-results"));
        let w = Wrap::try_parse_from(["bench", "--suite", "vds", "--out-dir", "/tmp/x"]).unwrap();
        assert!(w.args.suite == Suite::Vds);
        let w = Wrap::try_parse_from(["bench", "--suite", "tlog"]).unwrap();
        assert!(w.args.suite == Suite::Tlog);
        let w = Wrap::try_parse_from(["bench", "--suite", "oauth"]).unwrap();
        assert!(w.args.suite == Suite::Oauth);
        let w = Wrap::try_parse_from(["bench", "--suite", "trust"]).unwrap();
        assert!(w.args.suite == Suite::Trust);
        let w = Wrap::try_parse_from(["bench", "--suite", "passwordless", "--passwordless-phones", "8"]).unwrap();
        assert!(w.args.suite == Suite::Passwordless);
        assert_eq!(w.args.passwordless_phones, 8);
        #[cfg(feature = "scal3")]
        {
            let w = Wrap::try_parse_from(["bench", "--suite", "scal3", "--scal3-seconds", "0.5"]).unwrap();
            assert!(w.args.suite == Suite::Scal3);
            assert!((w.args.scal3_seconds - 0.5).abs() < f64::EPSILON);
        }
        assert!(Wrap::try_parse_from(["bench", "--suite", "nope"]).is_err());
    }
}
