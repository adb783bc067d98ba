//! `idseal bench --suite oauth`: the OAuth 2.1 / OIDC provider's grants and password logins
//! through the real HTTP server (in-process, on a TCP listener), next to the raw limits
//! measured in the same run.
//!
//! - raw limits: RS256, ML-DSA-65 and EdDSA signatures per second over a 600-byte message
//!   ([`idseal_keys::SigningKey::sign`]), one thread and two threads; argon2id hashes per second
//!   with the server's default parameters ([`idseal_oauth::password::hash`]), one and two threads;
//! - authorization-code exchanges: `POST /oauth/token` (`authorization_code`, HTTP Basic) of codes
//!   written beforehand with [`idseal_store::Store::insert_code`], `concurrency` connections; each
//!   exchange signs an RS256 access token, an RS256 ID token and its ML-DSA-65 `pq_sig`, so the
//!   signature limit of one grant is `1 / (2 / rs256 + 1 / mldsa65)` (two-thread rates);
//! - refresh grants: each refresh token from the exchanges presented once, same concurrency;
//! - latency: exchanges at half the measured peak rate, open loop (a tokio interval issues the
//!   requests whatever the answers do), latency from the scheduled send time;
//! - password logins: `POST /login` against one account after one `GET /login` per connection
//!   (the CSRF token is bound to the pre-session cookie, so one pair serves a connection).
//!
//! SQLite runs on a fresh temporary file; PostgreSQL on a fresh database created and dropped by
//! the bench when a URL is given. The rate limits that would stop a load test (`login_ip`,
//! `login_email`, `token`) keep being counted but get limits the bench cannot reach.

use crate::bench_common::{count, per_s, percentiles, raw_commits, threaded_rate};
use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use aws_lc_rs::digest;
use base64::Engine as _;
use idseal_keys::{Algorithm, SigningKey};
use idseal_oauth::password::Argon2Params;
use idseal_server::config::Config;
use idseal_server::state::{AppState, SystemClock};
use idseal_store::{AccountRow, CodeRow};
use idseal_types::Clock as _;

/// Message length of the raw signature figures (a signed JWT is about this long).
const MESSAGE_LEN: usize = 600;
/// The PKCE verifier of every code (43 to 128 unreserved characters, RFC 7636 §4.1).
const VERIFIER: &str = "bench-pkce-verifier-0123456789abcdefghijklmnopqrstuvwxyz";
const REDIRECT_URI: &str = "https://client.example/cb";
const SCOPE: &str = "openid email offline_access";
const EMAIL: &str = "bench@example.com";
const PASSWORD: &str = "correct horse battery staple";
/// Goals of the OAuth issue.
const GOAL_GRANT_RATIO: f64 = 0.70;
const GOAL_LOGIN_RATIO: f64 = 0.90;
const GOAL_P99_MS: f64 = 50.0;
/// Keycloak's published sizing, per vCPU, for scale.
const KEYCLOAK_REFRESH_PER_VCPU: f64 = 120.0;
const KEYCLOAK_LOGINS_PER_VCPU: f64 = 15.0;

/// How much work the suite does.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Sizes {
    /// Authorization-code exchanges (and as many refresh grants).
    pub(crate) grants: usize,
    /// Password logins.
    pub(crate) logins: usize,
    /// Seconds of the fixed-rate latency run.
    pub(crate) latency_seconds: f64,
    /// Seconds per raw measurement.
    pub(crate) raw_seconds: f64,
    /// Concurrent client connections.
    pub(crate) concurrency: usize,
}

fn sign_rate(key: &SigningKey, threads: usize, seconds: f64) -> anyhow::Result<f64> {
    let msg = vec![0x5a_u8; MESSAGE_LEN];
    threaded_rate(threads, seconds, |_| {
        black_box(key.sign(black_box(&msg))?);
        Ok(())
    })
}

fn argon2_rate(threads: usize, seconds: f64) -> anyhow::Result<f64> {
    let params = Argon2Params::default();
    threaded_rate(threads, seconds, |i| {
        let mut salt = [7u8; 16];
        for (s, b) in salt.iter_mut().zip(i.to_le_bytes()) {
            *s = b;
        }
        black_box(idseal_oauth::password::hash(black_box(PASSWORD), &salt, &params)?);
        Ok(())
    })
}

/// The raw limits, one and two threads.
fn raw_limits(seconds: f64) -> anyhow::Result<serde_json::Value> {
    let mut v = serde_json::Map::new();
    for (alg, name) in [(Algorithm::Rs256, "rs256"), (Algorithm::MlDsa65, "mldsa65"), (Algorithm::EdDsa, "eddsa")] {
        let key = SigningKey::generate(alg, "bench")?;
        v.insert(format!("{name}_per_s_1_thread"), sign_rate(&key, 1, seconds)?.into());
        v.insert(format!("{name}_per_s_2_threads"), sign_rate(&key, 2, seconds)?.into());
    }
    let argon_seconds = seconds.max(0.01) * 2.0;
    v.insert("argon2id_per_s_1_thread".into(), argon2_rate(1, argon_seconds)?.into());
    v.insert("argon2id_per_s_2_threads".into(), argon2_rate(2, argon_seconds)?.into());
    v.insert("argon2_params".into(), serde_json::to_value(Argon2Params::default())?);
    v.insert("message_bytes".into(), MESSAGE_LEN.into());
    let f = |k: &str| v.get(k).and_then(serde_json::Value::as_f64).unwrap_or(0.0).max(f64::MIN_POSITIVE);
    let limit = 1.0 / (2.0 / f("rs256_per_s_2_threads") + 1.0 / f("mldsa65_per_s_2_threads"));
    v.insert("grant_signature_limit_per_s".into(), limit.into());
    Ok(v.into())
}

fn pkce_challenge() -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, VERIFIER.as_bytes()))
}

/// The server under test and what the requests need.
struct Target {
    state: AppState,
    base: String,
    client_id: String,
    secret: String,
    account_id: String,
    http: reqwest::Client,
    shutdown: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// Open the state on `database_url` (SQLite in `dir` when `None`), register a confidential
/// client and one verified account, and serve on a fresh port.
async fn start(dir: &std::path::Path, database_url: Option<&str>, concurrency: usize) -> anyhow::Result<Target> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let mut config = Config { bind: addr.to_string(), data_dir: dir.join("data"), ..Config::default() };
    config.database_url = database_url.map(str::to_owned);
    config.log_level = "warn".into();
    for name in ["login_ip", "login_email", "token"] {
        if let Some(p) = config.rate_limits.get_mut(name) {
            p.burst = "1000000000/1m".parse().ok();
            p.sustained = None;
            p.lockout.clear();
        }
    }
    let settings = config.validate()?;
    let (state, _first) = AppState::open(settings, Arc::new(SystemClock)).await?;
    let meta = idseal_oauth::client::ClientMetadata {
        client_name: Some("bench".into()),
        redirect_uris: vec![REDIRECT_URI.into()],
        id_token_signed_response_alg: Some("RS256".into()),
        ..Default::default()
    };
    let client = idseal_server::routes::oauth::clients::register_client(&state, &meta, false)
        .await
        .map_err(|e| anyhow::anyhow!("register client: {e}"))?;
    let secret = client.secret.as_ref().map(|s| s.to_string()).ok_or_else(|| anyhow::anyhow!("no client secret"))?;
    let now = SystemClock.now();
    let account = AccountRow {
        id: idseal_oauth::token::uuid_v4(&[9u8; 16]),
        email: EMAIL.into(),
        password_hash: Some(idseal_oauth::password::hash(PASSWORD, &[3u8; 16], &state.settings.config.oauth.argon2)?),
        email_verified: true,
        name: Some("Bench User".into()),
        kind: "password".into(),
        created_at: now,
        updated_at: now,
    };
    state.store.insert_account(&account).await?;
    let (shutdown, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(idseal_server::serve(state.clone(), listener, async move {
        let _ = rx.await;
    }));
    let http = idseal_server::http::client_builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(concurrency)
        .build()?;
    Ok(Target {
        state,
        base: format!("http://{addr}"),
        client_id: client.client.client_id.clone(),
        secret,
        account_id: account.id,
        http,
        shutdown,
        server,
    })
}

async fn stop(t: Target) -> anyhow::Result<()> {
    let Target { state, http, shutdown, server, .. } = t;
    drop(http);
    let _ = shutdown.send(());
    match tokio::time::timeout(Duration::from_secs(40), server).await {
        Ok(r) => r??,
        Err(_) => state.store.close().await,
    }
    Ok(())
}

/// Write `n` fresh codes for the bench client and account; returns them in clear.
async fn insert_codes(t: &Target, n: usize, tag: &str) -> anyhow::Result<Vec<String>> {
    let now = SystemClock.now();
    let challenge = pkce_challenge();
    let codes: Vec<String> = (0..n).map(|i| format!("bench-{tag}-{i:08}")).collect();
    let chunks: Vec<Vec<String>> = codes.chunks(n.div_ceil(8).max(1)).map(<[String]>::to_vec).collect();
    let mut tasks = Vec::new();
    for chunk in chunks {
        let (store, client_id, account_id, challenge) =
            (t.state.store.clone(), t.client_id.clone(), t.account_id.clone(), challenge.clone());
        tasks.push(tokio::spawn(async move {
            for code in chunk {
                store
                    .insert_code(&CodeRow {
                        code_hash: idseal_oauth::token::sha256_hex(&code),
                        client_id: client_id.clone(),
                        account_id: account_id.clone(),
                        session_id: None,
                        redirect_uri: REDIRECT_URI.into(),
                        scope: SCOPE.into(),
                        nonce: Some("bench-nonce".into()),
                        code_challenge: challenge.clone(),
                        auth_time: now,
                        acr: None,
                        amr: None,
                        identity_sealed: None,
                        created_at: now,
                        expires_at: now.saturating_add(Duration::from_secs(3600)),
                    })
                    .await?;
            }
            Ok::<(), idseal_store::StoreError>(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    Ok(codes)
}

/// One grant request: `Ok(refresh token)` on 200, `Err(status and body)` otherwise.
async fn grant(t: &Target, form: &[(&str, &str)]) -> Result<Option<String>, String> {
    let r = t
        .http
        .post(format!("{}/oauth/token", t.base))
        .basic_auth(&t.client_id, Some(&t.secret))
        .form(form)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = r.status();
    if !status.is_success() {
        return Err(format!("{status}: {}", r.text().await.unwrap_or_default()));
    }
    let v: serde_json::Value = r.json().await.map_err(|e| e.to_string())?;
    if v.get("id_token").and_then(serde_json::Value::as_str).is_none() {
        return Err("no id_token in the answer".into());
    }
    Ok(v.get("refresh_token").and_then(serde_json::Value::as_str).map(str::to_owned))
}

fn exchange_form(code: &str) -> [(&'static str, &str); 4] {
    [("grant_type", "authorization_code"), ("code", code), ("redirect_uri", REDIRECT_URI), ("code_verifier", VERIFIER)]
}

/// A run of grants (its outputs: the refresh tokens issued); its figures against a limit.
type Run = crate::bench_common::Run<String>;

trait GrantFigures {
    fn json(&self, limit: f64, limit_name: &str, goal: f64) -> serde_json::Value;
}

impl GrantFigures for Run {
    fn json(&self, limit: f64, limit_name: &str, goal: f64) -> serde_json::Value {
        let rate = per_s(self.ok, self.elapsed);
        let ratio = rate / limit.max(f64::MIN_POSITIVE);
        let (p50, p99) = percentiles(&self.latencies_ms);
        serde_json::json!({
            "ok": self.ok,
            "failed": self.failed,
            "first_error": self.first_error,
            "seconds": self.elapsed.as_secs_f64(),
            "per_s": rate,
            "limit_name": limit_name,
            "limit_per_s": limit,
            "ratio": ratio,
            "goal_ratio": goal,
            "meets_goal": ratio >= goal && self.failed == 0,
            "p50_ms_closed_loop": p50,
            "p99_ms_closed_loop": p99,
        })
    }
}

/// Each of `items` through `grant` once, `concurrency` at a time.
async fn closed_loop(t: &Arc<Target>, items: Vec<String>, concurrency: usize, refresh: bool) -> anyhow::Result<Run> {
    let items = Arc::new(items);
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency.max(1) {
        let (t, items, next) = (t.clone(), items.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut run = Run::default();
            while let Some(item) = items.get(next.fetch_add(1, Ordering::Relaxed)) {
                let started = Instant::now();
                let r = if refresh {
                    grant(&t, &[("grant_type", "refresh_token"), ("refresh_token", item)]).await
                } else {
                    grant(&t, &exchange_form(item)).await
                };
                run.record(started, r);
            }
            run
        }));
    }
    let mut run = Run::default();
    for task in tasks {
        run.merge(task.await?);
    }
    run.elapsed = start.elapsed();
    Ok(run)
}

/// Exchanges at `rate` per second for `seconds`, open loop; latency from the scheduled time.
async fn fixed_rate(t: &Arc<Target>, rate: f64, seconds: f64) -> anyhow::Result<serde_json::Value> {
    let rate = rate.max(1.0);
    let n = count(rate * seconds).max(1);
    let codes = insert_codes(t, n, "paced").await?;
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for code in codes {
        let at = tick.tick().await;
        let t = t.clone();
        tasks.push(tokio::spawn(async move {
            let mut run = Run::default();
            let r = grant(&t, &exchange_form(&code)).await;
            run.record(at.into_std(), r);
            run
        }));
    }
    let mut run = Run::default();
    for task in tasks {
        run.merge(task.await?);
    }
    run.elapsed = start.elapsed();
    let (p50, p99) = percentiles(&run.latencies_ms);
    let max = run.latencies_ms.iter().copied().fold(0.0, f64::max);
    Ok(serde_json::json!({
        "target_per_s": rate,
        "sent": n,
        "ok": run.ok,
        "failed": run.failed,
        "first_error": run.first_error,
        "seconds": run.elapsed.as_secs_f64(),
        "achieved_per_s": per_s(run.ok, run.elapsed),
        "p50_ms": p50,
        "p99_ms": p99,
        "max_ms": max,
        "goal_p99_ms": GOAL_P99_MS,
        "meets_goal": p99 < GOAL_P99_MS && run.failed == 0,
    }))
}

/// The CSRF binding cookie ([`idseal_server::web::CSRF_COOKIE`]) and the form's CSRF token,
/// from one `GET /login`.
async fn login_form(t: &Target) -> Result<(String, String), String> {
    let r = t.http.get(format!("{}/login", t.base)).send().await.map_err(|e| e.to_string())?;
    let cookie = r
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.strip_prefix(idseal_server::web::CSRF_COOKIE).is_some_and(|rest| rest.starts_with('=')))
        .and_then(|v| v.split(';').next())
        .map(str::to_owned)
        .ok_or("no CSRF cookie")?;
    let html = r.text().await.map_err(|e| e.to_string())?;
    let marker = "name=\"csrf\" value=\"";
    let csrf = html
        .split_once(marker)
        .and_then(|(_, rest)| rest.split_once('"'))
        .map(|(v, _)| v.to_owned())
        .ok_or("no csrf field")?;
    Ok((cookie, csrf))
}

/// `n` password logins, `concurrency` connections each with its own CSRF pair.
async fn logins(t: &Arc<Target>, n: usize, concurrency: usize) -> anyhow::Result<Run> {
    let mut pairs = Vec::new();
    for _ in 0..concurrency.max(1) {
        pairs.push(login_form(t).await.map_err(|e| anyhow::anyhow!("GET /login: {e}"))?);
    }
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for (cookie, csrf) in pairs {
        let (t, next) = (t.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut run = Run::default();
            while next.fetch_add(1, Ordering::Relaxed) < n {
                let started = Instant::now();
                let form =
                    [("csrf", csrf.as_str()), ("email", EMAIL), ("password", PASSWORD), ("return_to", "/account")];
                let r = match t
                    .http
                    .post(format!("{}/login", t.base))
                    .header(reqwest::header::COOKIE, &cookie)
                    .form(&form)
                    .send()
                    .await
                {
                    Ok(r) if r.status() == reqwest::StatusCode::SEE_OTHER => Ok(None),
                    Ok(r) => Err(format!("{}", r.status())),
                    Err(e) => Err(e.to_string()),
                };
                run.record(started, r);
            }
            run
        }));
    }
    let mut run = Run::default();
    for task in tasks {
        run.merge(task.await?);
    }
    run.elapsed = start.elapsed();
    Ok(run)
}

/// Everything measured through one server.
async fn backend(
    database_url: Option<&str>,
    sizes: Sizes,
    raw: &serde_json::Value,
) -> anyhow::Result<serde_json::Value> {
    let dir = tempfile::tempdir()?;
    let c = sizes.concurrency.max(1);
    let t = Arc::new(start(dir.path(), database_url, c).await?);
    let limit = raw["grant_signature_limit_per_s"].as_f64().unwrap_or(0.0);
    let argon = raw["argon2id_per_s_2_threads"].as_f64().unwrap_or(0.0);
    let result = async {
        // Warm-up: connections, statement caches, the pool.
        let warm = insert_codes(&t, c.min(sizes.grants.max(1)), "warm").await?;
        closed_loop(&t, warm, c, false).await?;
        let commits = raw_commits(&t.state.store, c, 2.0).await?;
        let codes = insert_codes(&t, sizes.grants, "run").await?;
        let exchanges = closed_loop(&t, codes, c, false).await?;
        let peak = per_s(exchanges.ok, exchanges.elapsed);
        let tokens = exchanges.outputs.clone();
        let refreshes = closed_loop(&t, tokens, c, true).await?;
        let latency = fixed_rate(&t, peak / 2.0, sizes.latency_seconds).await?;
        let login = logins(&t, sizes.logins, c).await?;
        Ok::<serde_json::Value, anyhow::Error>(serde_json::json!({
            "concurrency": c,
            "raw_commits_per_s": commits,
            "exchanges": exchanges.json(limit, "grant_signature_limit_per_s", GOAL_GRANT_RATIO),
            "refreshes": refreshes.json(limit, "grant_signature_limit_per_s", GOAL_GRANT_RATIO),
            "latency_at_half_peak": latency,
            "logins": login.json(argon, "argon2id_per_s_2_threads", GOAL_LOGIN_RATIO),
        }))
    }
    .await;
    let t = Arc::into_inner(t).ok_or_else(|| anyhow::anyhow!("target still shared"))?;
    let stopped = stop(t).await;
    let v = result?;
    stopped?;
    Ok(v)
}

/// Measures the oauth suite; PostgreSQL too when `database_url` names a server.
pub(crate) async fn measure(sizes: Sizes, database_url: Option<&str>) -> anyhow::Result<serde_json::Value> {
    let raw = raw_limits(sizes.raw_seconds)?;
    let sqlite = backend(None, sizes, &raw).await?;
    let postgres = match database_url {
        Some(admin) => {
            let (url, name) = idseal_store::testing::create_postgres_database(admin).await?;
            let v = backend(Some(&url), sizes, &raw).await;
            let dropped = idseal_store::testing::drop_postgres_database(admin, &name).await;
            let v = v?;
            dropped?;
            v
        }
        None => serde_json::json!({"skipped": "no --database-url or IDSEAL_TEST_DATABASE_URL"}),
    };
    let vcpus = 2.0;
    Ok(serde_json::json!({
        "benchmark": "oauth",
        "version": env!("CARGO_PKG_VERSION"),
        "machine": { "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0) },
        "sizes": {
            "grants": sizes.grants,
            "logins": sizes.logins,
            "latency_seconds": sizes.latency_seconds,
            "raw_seconds": sizes.raw_seconds,
            "concurrency": sizes.concurrency,
            "scope": SCOPE,
        },
        "raw": raw,
        "keycloak_sizing": {
            "refresh_grants_per_s_per_vcpu": KEYCLOAK_REFRESH_PER_VCPU,
            "password_logins_per_s_per_vcpu": KEYCLOAK_LOGINS_PER_VCPU,
            "vcpus": vcpus,
            "refresh_grants_per_s": KEYCLOAK_REFRESH_PER_VCPU * vcpus,
            "password_logins_per_s": KEYCLOAK_LOGINS_PER_VCPU * vcpus,
        },
        "sqlite": sqlite,
        "postgres": postgres,
    }))
}

fn met(v: &serde_json::Value) -> &'static str {
    if v["meets_goal"].as_bool().unwrap_or(false) { "met" } else { "NOT met" }
}

fn backend_summary(name: &str, v: &serde_json::Value, k: &serde_json::Value, out: &mut String) {
    use std::fmt::Write as _;
    if let Some(skip) = v["skipped"].as_str() {
        let _ = writeln!(out, "{name:<10} skipped: {skip}");
        return;
    }
    let f = |r: &serde_json::Value, key: &str| r[key].as_f64().unwrap_or(0.0);
    for (label, key, goal, keycloak) in [
        ("code exchanges", "exchanges", ">= 0.70", None),
        ("refresh grants", "refreshes", ">= 0.70", Some(f(k, "refresh_grants_per_s"))),
        ("password logins", "logins", ">= 0.90", Some(f(k, "password_logins_per_s"))),
    ] {
        let r = &v[key];
        let scale = keycloak.map(|x| format!("; Keycloak sizing {x:.0}/s")).unwrap_or_default();
        let _ = writeln!(
            out,
            "{name:<10} {label:<16} {:>7.1}/s ({} ok, {} failed); limit {:.1}/s, ratio {:.3} (goal {goal}: {}); \
             p50 {:.1} ms, p99 {:.1} ms{scale}",
            f(r, "per_s"),
            r["ok"].as_u64().unwrap_or(0),
            r["failed"].as_u64().unwrap_or(0),
            f(r, "limit_per_s"),
            f(r, "ratio"),
            met(r),
            f(r, "p50_ms_closed_loop"),
            f(r, "p99_ms_closed_loop"),
        );
        if let Some(e) = r["first_error"].as_str() {
            let _ = writeln!(out, "{name:<10}   first error: {e}");
        }
    }
    let _ = writeln!(
        out,
        "{name:<10} raw one-row write transactions {:.0}/s ({} writers, the server's pool)",
        f(v, "raw_commits_per_s"),
        v["concurrency"].as_u64().unwrap_or(0),
    );
    let l = &v["latency_at_half_peak"];
    let _ = writeln!(
        out,
        "{name:<10} exchanges at {:.1}/s (half peak, open loop): p50 {:.1} ms, p99 {:.1} ms (goal < 50: {}), max {:.1} ms, \
         {} failed",
        f(l, "target_per_s"),
        f(l, "p50_ms"),
        f(l, "p99_ms"),
        met(l),
        f(l, "max_ms"),
        l["failed"].as_u64().unwrap_or(0),
    );
}

/// The human summary of [`measure`]'s result.
pub(crate) fn summary(v: &serde_json::Value) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let r = &v["raw"];
    let f = |key: &str| r[key].as_f64().unwrap_or(0.0);
    let _ = writeln!(
        out,
        "oauth      raw signatures/s ({MESSAGE_LEN}-byte message), 1 / 2 threads: RS256 {:.0} / {:.0}, \
         ML-DSA-65 {:.0} / {:.0}, EdDSA {:.0} / {:.0}",
        f("rs256_per_s_1_thread"),
        f("rs256_per_s_2_threads"),
        f("mldsa65_per_s_1_thread"),
        f("mldsa65_per_s_2_threads"),
        f("eddsa_per_s_1_thread"),
        f("eddsa_per_s_2_threads"),
    );
    let _ = writeln!(
        out,
        "oauth      raw argon2id hashes/s (default parameters), 1 / 2 threads: {:.1} / {:.1}; \
         grant signature limit (2 RS256 + 1 ML-DSA-65) {:.1}/s",
        f("argon2id_per_s_1_thread"),
        f("argon2id_per_s_2_threads"),
        f("grant_signature_limit_per_s"),
    );
    let k = &v["keycloak_sizing"];
    backend_summary("sqlite", &v["sqlite"], k, &mut out);
    backend_summary("postgres", &v["postgres"], k, &mut out);
    out.trim_end().to_owned()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_suite_runs_and_reports_every_figure() {
        let sizes = Sizes { grants: 4, logins: 2, latency_seconds: 0.2, raw_seconds: 0.01, concurrency: 2 };
        let v = measure(sizes, None).await.unwrap();
        assert!(v["raw"]["grant_signature_limit_per_s"].as_f64().unwrap() > 0.0);
        let s = &v["sqlite"];
        assert_eq!(s["exchanges"]["ok"].as_u64(), Some(4), "{s}");
        assert_eq!(s["refreshes"]["ok"].as_u64(), Some(4), "{s}");
        assert_eq!(s["logins"]["ok"].as_u64(), Some(2), "{s}");
        assert_eq!(s["latency_at_half_peak"]["failed"].as_u64(), Some(0), "{s}");
        assert!(v["postgres"]["skipped"].is_string());
        assert!(summary(&v).contains("refresh grants"));
    }
}
