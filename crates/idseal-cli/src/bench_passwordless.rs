//! `idseal bench --suite passwordless`: X.1280 passwordless logins (docs/passwordless.md)
//! through the real HTTP server (in-process, on a TCP listener), next to the raw crypto one
//! login needs, measured in the same run.
//!
//! - raw limits, one and two threads: ECDSA P-256 verification of a DER signature by a parsed
//!   device key (the device signature check) and the PEM parse of that key; warm seal
//!   verification (`idseal_trust::verify_vds_with` on a loaded `VerifiedChain`: decode, the
//!   list look-ups and one ECDSA verification) of an identity seal and of a service seal; the
//!   code derivation (`idseal_x1280::auto_password`: HKDF-SHA256 then HMAC-SHA256); the
//!   per-service key (`service_hash_key`, HKDF-SHA256); HMAC-SHA256 (`response_hash` over a
//!   600-byte JWT); an ES256 JWT signature over 600 bytes ([`idseal_keys::SigningKey::sign`]);
//!   AES-256-GCM over 700 bytes (the sealed bus event). The crypto limit of one login is
//!   `1 / sum(count_i / rate_i)` over [`PER_LOGIN`], two-thread rates.
//! - the phone's ECDSA signature ([`idseal_x1280::DeviceKey::sign`]) is measured too but is not
//!   part of the limit: it is the client's work, done here by the bench on the same 2 cores.
//! - logins: `N` phones enrolled beforehand (`POST /enroll`, each its own seal and key), one
//!   service registered with its Service VDS (`POST /admin/services`), then `concurrency`
//!   workers each loop `POST /auth/initiate` (with `serviceVds`) → sign → `POST /auth/verify`
//!   (approve, with `vdsData`) and check the JWT; phones are taken round robin. Closed loop for
//!   `seconds`; then the same with `serviceId` instead of `serviceVds`; then open loop at half
//!   the measured peak (a tokio interval starts logins whatever the answers do), latency from
//!   the scheduled start to the JWT.
//!
//! SQLite runs on a fresh temporary file; PostgreSQL on a fresh database created and dropped by
//! the bench when a URL is given. The `enroll`, `auth_initiate` and `login_token` rate limits keep being
//! counted but get limits the bench cannot reach.

use crate::bench_common::{Run, count, per_s, percentiles, raw_commits, threaded_rate};
use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::demo_chain::DemoChain;
use aws_lc_rs::aead::{AES_256_GCM, Aad, RandomizedNonceKey};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use idseal_keys::{Algorithm, SigningKey};
use idseal_server::config::Config;
use idseal_server::state::{AppState, SystemClock};
use idseal_trust::{VerifiedChain, verify_vds_with};
use idseal_types::{Clock as _, UnixTime};
use idseal_x1280::{DeviceKey, MacKey, OtpSecret};
use serde_json::{Value, json};

const DAY: Duration = Duration::from_secs(86_400);
/// The bench's service.
const SERVICE_ID: &str = "bench-shop";
const SERVICE_URL: &str = "https://shop.example";
/// What the service asks for, and what the user grants.
const REQUESTED: [&str; 3] = ["identity:name", "identity:age_over_18", "identity:trust_level"];
const GRANTED: [&str; 2] = ["identity:name", "identity:age_over_18"];
/// The issue's goals.
const GOAL_PER_S: f64 = 1000.0;
const GOAL_P99_MS: f64 = 50.0;
/// JWT-sized message of the signature and HMAC figures.
const JWT_LEN: usize = 600;

/// The crypto operations one login performs (key of the two-thread rate, count, where).
pub(crate) const PER_LOGIN: [(&str, u32, &str); 8] = [
    ("warm_service_seal_verify", 1, "initiate: the Service VDS through the warm chain"),
    ("warm_identity_seal_verify", 1, "verify: the enrolled seal (vdsData) through the warm chain"),
    ("auto_password", 2, "initiate derives the code, verify derives it again (HKDF-SHA256 + HMAC-SHA256)"),
    ("hmac_sha256", 3, "wsToken, the pairwise subject, the response hash"),
    ("service_key_hkdf", 1, "verify: the service's hash key (HKDF-SHA256)"),
    ("ecdsa_p256_verify", 1, "verify: the device signature (DER) by the enrolled key"),
    ("device_key_pem_parse", 1, "verify: the enrolled key parsed from its stored PEM"),
    ("es256_sign", 1, "verify: the result JWT"),
];

/// Write transactions one login commits: initiate inserts the session row and its
/// `AUTH_INITIATE` audit entry; verify takes an attempt (conditional UPDATE), resolves the
/// session (conditional UPDATE) and appends `AUTH_APPROVE`. The two audit appends are group
/// committed with concurrent events, so the real count lies between 3 and 5. Reads (service, enrollment twice
/// in verify, the warm chain's VRL look-up) and bus messages (PostgreSQL `NOTIFY`) come on top.
pub(crate) const COMMITS_PER_LOGIN: u32 = 5;

/// How much work the suite does.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Sizes {
    /// Phones enrolled before the runs.
    pub(crate) phones: usize,
    /// Seconds of the closed-loop peak run (the `serviceId` run gets half).
    pub(crate) seconds: f64,
    /// Seconds of the fixed-rate latency run.
    pub(crate) latency_seconds: f64,
    /// Seconds per raw measurement.
    pub(crate) raw_seconds: f64,
    /// Concurrent workers (and connections).
    pub(crate) concurrency: usize,
}

fn crypto<E>(what: &'static str) -> impl FnOnce(E) -> anyhow::Error {
    move |_| anyhow::anyhow!("aws-lc-rs: {what} failed")
}

/// A fresh identity seal (random token id) of `demo`, issued a minute before `now`.
fn identity_seal(demo: &DemoChain, now: UnixTime) -> anyhow::Result<(String, String)> {
    let mut id = crate::bench_vds::sample_identity(now.saturating_add(DAY * 365));
    aws_lc_rs::rand::fill(&mut id.token_id).map_err(crypto("random"))?;
    let text = demo.issue_identity(&id, now.saturating_sub(Duration::from_secs(60)))?;
    Ok((text, id.token_id_string()))
}

fn service_seal(demo: &DemoChain, now: UnixTime) -> anyhow::Result<String> {
    demo.issue_service(SERVICE_ID, "Bench Shop", SERVICE_URL, &REQUESTED, now.saturating_sub(Duration::from_secs(60)))
}

/// Every raw figure, one and two threads, and the crypto limit of one login.
fn raw_limits(seconds: f64) -> anyhow::Result<Value> {
    let now = SystemClock.now();
    let demo = DemoChain::new("https://trust.example", now, DAY * 30)?;
    let chain = VerifiedChain::load(&demo.anchors, &demo.lists);
    let (identity, _) = identity_seal(&demo, now)?;
    let service = service_seal(&demo, now)?;
    verify_vds_with(&chain, &identity, now)?;
    verify_vds_with(&chain, &service, now)?;

    let device = DeviceKey::generate()?;
    let pem = device.public_key().to_pem();
    let session = idseal_x1280::session_id([5; 16]);
    let granted: Vec<String> = GRANTED.iter().map(|s| (*s).to_owned()).collect();
    let message = idseal_x1280::approve_message(&session, "123456", now.as_secs(), &granted);
    let signature = device.sign(message.as_bytes())?;
    let otp = OtpSecret::from_bytes([7; 32]);
    let mac = MacKey::from_bytes([9; 32]);
    let jwt = "j".repeat(JWT_LEN);
    let es256 = SigningKey::generate(Algorithm::Es256, "bench")?;
    let body = vec![0x5a_u8; JWT_LEN];
    let aead = RandomizedNonceKey::new(&AES_256_GCM, &[3; 32]).map_err(crypto("AES key"))?;
    let token_id = "07070707-0707-4707-8707-070707070707";

    type Op<'a> = Box<dyn Fn() -> anyhow::Result<()> + Sync + 'a>;
    let ops: Vec<(&str, Op<'_>)> = vec![
        (
            "warm_service_seal_verify",
            Box::new(|| {
                black_box(verify_vds_with(&chain, black_box(&service), now)?);
                Ok(())
            }),
        ),
        (
            "warm_identity_seal_verify",
            Box::new(|| {
                black_box(verify_vds_with(&chain, black_box(&identity), now)?);
                Ok(())
            }),
        ),
        (
            "auto_password",
            Box::new(|| {
                black_box(idseal_x1280::auto_password(&otp, black_box(token_id), black_box(&session))?);
                Ok(())
            }),
        ),
        (
            "hmac_sha256",
            Box::new(|| {
                black_box(idseal_x1280::response_hash(&mac, black_box(&session), "a1b2c3d4e5f67890", &jwt));
                Ok(())
            }),
        ),
        (
            "service_key_hkdf",
            Box::new(|| {
                black_box(idseal_x1280::service_hash_key(&mac, black_box(SERVICE_ID)));
                Ok(())
            }),
        ),
        (
            "ecdsa_p256_verify",
            Box::new(|| {
                device.public_key().verify(black_box(message.as_bytes()), black_box(&signature))?;
                Ok(())
            }),
        ),
        (
            "device_key_pem_parse",
            Box::new(|| {
                black_box(idseal_x1280::DevicePublicKey::from_pem(black_box(&pem))?);
                Ok(())
            }),
        ),
        (
            "es256_sign",
            Box::new(|| {
                black_box(es256.sign(black_box(&body))?);
                Ok(())
            }),
        ),
        (
            "aes_256_gcm_seal",
            Box::new(|| {
                let mut buf = body.clone();
                buf.extend_from_slice(&[0; 100]);
                black_box(
                    aead.seal_in_place_append_tag(Aad::from(&b"bus|sess"[..]), &mut buf).map_err(crypto("seal"))?,
                );
                Ok(())
            }),
        ),
        (
            "device_ecdsa_sign_client",
            Box::new(|| {
                black_box(device.sign(black_box(message.as_bytes()))?);
                Ok(())
            }),
        ),
    ];
    let mut v = serde_json::Map::new();
    for (name, op) in &ops {
        v.insert(format!("{name}_per_s_1_thread"), threaded_rate(1, seconds, |_| op())?.into());
        v.insert(format!("{name}_per_s_2_threads"), threaded_rate(2, seconds, |_| op())?.into());
    }
    let rate =
        |k: &str| v.get(&format!("{k}_per_s_2_threads")).and_then(Value::as_f64).unwrap_or(0.0).max(f64::MIN_POSITIVE);
    // The bus event is sealed once per login (the approved event); counted in the limit too.
    let mut seconds_per_login: f64 = PER_LOGIN.iter().map(|(k, n, _)| f64::from(*n) / rate(k)).sum();
    seconds_per_login += 1.0 / rate("aes_256_gcm_seal");
    let per_login: Vec<Value> = PER_LOGIN
        .iter()
        .map(|(k, n, why)| json!({"op": k, "count": n, "where": why}))
        .chain([
            json!({"op": "aes_256_gcm_seal", "count": 1, "where": "verify: the approved event sealed for the bus"}),
        ])
        .collect();
    v.insert("crypto_per_login".into(), per_login.into());
    v.insert("crypto_us_per_login_2_threads".into(), (seconds_per_login * 1e6).into());
    v.insert("login_crypto_limit_per_s".into(), (1.0 / seconds_per_login).into());
    v.insert("message_bytes".into(), JWT_LEN.into());
    v.insert(
        "note".into(),
        "device_ecdsa_sign_client is the phone's work (done by the bench client on the same cores), not in the limit"
            .into(),
    );
    Ok(v.into())
}

/// An enrolled phone.
struct Phone {
    key: DeviceKey,
    vds: String,
    token_id: String,
}

/// The server under test and what the requests need.
struct Target {
    state: AppState,
    base: String,
    http: reqwest::Client,
    service_vds: String,
    phones: Vec<Phone>,
    shutdown: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

async fn post(http: &reqwest::Client, url: String, body: &Value, bearer: Option<&str>) -> Result<Value, String> {
    let mut req = http.post(url).header(reqwest::header::CONTENT_TYPE, "application/json").body(body.to_string());
    if let Some(b) = bearer {
        req = req.bearer_auth(b);
    }
    let r = req.send().await.map_err(|e| e.to_string())?;
    let status = r.status();
    let bytes = r.bytes().await.map_err(|e| e.to_string())?;
    if !status.is_success() {
        return Err(format!("{status}: {}", String::from_utf8_lossy(&bytes)));
    }
    serde_json::from_slice(&bytes).map_err(|e| e.to_string())
}

/// Publishes a demo chain under the listener's `/trust/`, opens the state on `database_url`
/// (SQLite in `dir` when `None`), serves, registers the service and enrolls `phones` phones.
async fn start(dir: &Path, database_url: Option<&str>, sizes: Sizes) -> anyhow::Result<Target> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let base = format!("http://{addr}");
    let now = SystemClock.now();
    let demo = DemoChain::new(&format!("{base}/trust"), now, DAY * 30)?;
    let lists = dir.join("trust");
    std::fs::create_dir_all(&lists)?;
    demo.write_lists(&lists)?;
    let signer = lists.join("governance-signer.der");
    std::fs::write(&signer, demo.governance_signer())?;

    let mut config = Config { bind: addr.to_string(), data_dir: dir.join("data"), ..Config::default() };
    config.database_url = database_url.map(str::to_owned);
    config.log_level = "warn".into();
    config.trust.publish_dir = Some(lists.clone());
    config.trust.governance_location = Some(format!("{base}/trust/governance.xml"));
    config.trust.governance_signers = vec![signer];
    for name in ["enroll", "auth_initiate", "login_token"] {
        if let Some(p) = config.rate_limits.get_mut(name) {
            p.burst = "1000000000/1m".parse().ok();
            p.sustained = None;
            p.lockout.clear();
        }
    }
    let settings = config.validate()?;
    let (state, first) = AppState::open(settings, Arc::new(SystemClock)).await?;
    let token = first.bootstrap_token.ok_or_else(|| anyhow::anyhow!("no bootstrap token on a fresh database"))?;
    let (shutdown, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(idseal_server::serve(state.clone(), listener, async move {
        let _ = rx.await;
    }));
    let http = idseal_server::http::client_builder().pool_max_idle_per_host(sizes.concurrency.max(8)).build()?;

    let service_vds = service_seal(&demo, now)?;
    let body = json!({"serviceId": SERVICE_ID, "name": "Bench Shop", "url": SERVICE_URL,
                      "allowedScopes": REQUESTED, "defaultScopes": [REQUESTED[0]], "serviceVds": service_vds});
    post(&http, format!("{base}/admin/services"), &body, Some(token.as_str()))
        .await
        .map_err(|e| anyhow::anyhow!("POST /admin/services: {e}"))?;

    let demo = Arc::new(demo);
    let workers = 8usize;
    let mut tasks = Vec::new();
    for w in 0..workers {
        let (demo, http, base) = (demo.clone(), http.clone(), base.clone());
        let n = sizes.phones / workers + usize::from(w < sizes.phones % workers);
        tasks.push(tokio::spawn(async move {
            let mut phones = Vec::new();
            for i in 0..n {
                let (vds, token_id) = identity_seal(&demo, now)?;
                let key = DeviceKey::generate()?;
                let body =
                    json!({"vdsData": vds, "publicKeyPem": key.public_key().to_pem(), "deviceId": format!("bench-{w}-{i}")});
                let r = post(&http, format!("{base}/enroll"), &body, None)
                    .await
                    .map_err(|e| anyhow::anyhow!("POST /enroll: {e}"))?;
                if r.get("tokenId").and_then(Value::as_str) != Some(token_id.as_str()) {
                    anyhow::bail!("POST /enroll answered another token id: {r}");
                }
                phones.push(Phone { key, vds, token_id });
            }
            Ok::<Vec<Phone>, anyhow::Error>(phones)
        }));
    }
    let mut phones = Vec::new();
    for t in tasks {
        phones.extend(t.await??);
    }
    Ok(Target { state, base, http, service_vds, phones, shutdown, server })
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

/// One full login of `phone`: initiate (by Service VDS, or by service id), the phone's signed
/// approval, the JWT in the answer.
async fn login(t: &Target, phone: &Phone, by_vds: bool) -> Result<(), String> {
    let body = if by_vds {
        json!({"tokenId": phone.token_id, "scopes": REQUESTED, "serviceVds": t.service_vds})
    } else {
        json!({"tokenId": phone.token_id, "scopes": REQUESTED, "serviceId": SERVICE_ID})
    };
    let started = post(&t.http, format!("{}/auth/initiate", t.base), &body, None).await?;
    let (Some(session), Some(otp)) =
        (started.get("sessionId").and_then(Value::as_str), started.get("autoPassword").and_then(Value::as_str))
    else {
        return Err(format!("initiate answered {started}"));
    };
    let timestamp = SystemClock.now().as_secs();
    let granted: Vec<String> = GRANTED.iter().map(|s| (*s).to_owned()).collect();
    let message = idseal_x1280::approve_message(session, otp, timestamp, &granted);
    let signature = phone.key.sign(message.as_bytes()).map_err(|e| e.to_string())?;
    let answer = json!({"sessionId": session, "tokenId": phone.token_id, "otp": otp, "timestamp": timestamp,
                        "grantedScopes": granted, "decision": "approve",
                        "signatureBase64": STANDARD.encode(signature), "vdsData": phone.vds});
    let result = post(&t.http, format!("{}/auth/verify", t.base), &answer, None).await?;
    let jwt_ok = result.get("jwt").and_then(Value::as_str).is_some_and(|j| j.split('.').count() == 3);
    if result.get("status").and_then(Value::as_str) != Some("approved")
        || !jwt_ok
        || result.get("hash").and_then(Value::as_str).is_none()
    {
        return Err(format!("verify answered {result}"));
    }
    Ok(())
}

/// A run's figures against the crypto limit of one login.
trait LoginFigures {
    fn json(&self, limit: f64) -> Value;
}

impl LoginFigures for Run {
    fn json(&self, limit: f64) -> Value {
        let rate = per_s(self.ok, self.elapsed);
        let (p50, p99) = percentiles(&self.latencies_ms);
        json!({
            "ok": self.ok,
            "failed": self.failed,
            "first_error": self.first_error,
            "seconds": self.elapsed.as_secs_f64(),
            "logins_per_s": rate,
            "limit_name": "login_crypto_limit_per_s",
            "limit_per_s": limit,
            "ratio": rate / limit.max(f64::MIN_POSITIVE),
            "goal_per_s": GOAL_PER_S,
            "meets_goal": rate >= GOAL_PER_S && self.failed == 0,
            "p50_ms_closed_loop": p50,
            "p99_ms_closed_loop": p99,
        })
    }
}

/// `concurrency` workers logging in for `seconds`, phones round robin.
async fn closed_loop(t: &Arc<Target>, concurrency: usize, seconds: f64, by_vds: bool) -> anyhow::Result<Run> {
    let next = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency.max(1) {
        let (t, next) = (t.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut run: Run = Run::default();
            while Instant::now() < deadline {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(phone) = t.phones.get(i % t.phones.len().max(1)) else { break };
                let started = Instant::now();
                let r = login(&t, phone, by_vds).await;
                run.record(started, r.map(|()| None));
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

/// Logins started at `rate` per second for `seconds`, open loop; latency from the scheduled time.
async fn fixed_rate(t: &Arc<Target>, rate: f64, seconds: f64) -> anyhow::Result<Value> {
    let rate = rate.max(1.0);
    let n = count(rate * seconds).max(1);
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..n {
        let at = tick.tick().await;
        let t = t.clone();
        tasks.push(tokio::spawn(async move {
            let mut run: Run = Run::default();
            let r = match t.phones.get(i % t.phones.len().max(1)) {
                Some(phone) => login(&t, phone, true).await,
                None => Err("no phone".into()),
            };
            run.record(at.into_std(), r.map(|()| None));
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
    Ok(json!({
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

/// Everything measured through one server.
async fn backend(database_url: Option<&str>, sizes: Sizes, raw: &Value) -> anyhow::Result<Value> {
    let dir = tempfile::tempdir()?;
    let c = sizes.concurrency.max(1);
    let enroll_start = Instant::now();
    let t = Arc::new(start(dir.path(), database_url, sizes).await?);
    let enroll_s = enroll_start.elapsed().as_secs_f64();
    let limit = raw["login_crypto_limit_per_s"].as_f64().unwrap_or(0.0);
    let result = async {
        // Warm-up: connections, statement caches, the warm chain.
        closed_loop(&t, c, (sizes.seconds / 10.0).min(1.0), true).await?;
        let peak = closed_loop(&t, c, sizes.seconds, true).await?;
        let by_id = closed_loop(&t, c, sizes.seconds / 2.0, false).await?;
        let rate = per_s(peak.ok, peak.elapsed);
        let latency = fixed_rate(&t, rate / 2.0, sizes.latency_seconds).await?;
        let commits = raw_commits(&t.state.store, c, 2.0).await?;
        let goal = rate >= GOAL_PER_S
            && latency.get("meets_goal").and_then(Value::as_bool).unwrap_or(false)
            && peak.failed == 0;
        Ok::<Value, anyhow::Error>(json!({
            "concurrency": c,
            "phones": t.phones.len(),
            "setup_seconds": enroll_s,
            "raw_commits_per_s": commits,
            "commits_per_login": COMMITS_PER_LOGIN,
            "commit_limit_logins_per_s": commits / f64::from(COMMITS_PER_LOGIN),
            "logins_service_vds": peak.json(limit),
            "logins_service_id": by_id.json(limit),
            "latency_at_half_peak": latency,
            "meets_goal": goal,
        }))
    }
    .await;
    let t = Arc::into_inner(t).ok_or_else(|| anyhow::anyhow!("target still shared"))?;
    let stopped = stop(t).await;
    let v = result?;
    stopped?;
    Ok(v)
}

/// Measures the passwordless suite; PostgreSQL too when `database_url` names a server.
pub(crate) async fn measure(sizes: Sizes, database_url: Option<&str>) -> anyhow::Result<Value> {
    let raw = tokio::task::block_in_place(|| raw_limits(sizes.raw_seconds))?;
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
        None => json!({"skipped": "no --database-url or IDSEAL_TEST_DATABASE_URL"}),
    };
    Ok(json!({
        "benchmark": "passwordless",
        "version": env!("CARGO_PKG_VERSION"),
        "machine": { "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0) },
        "sizes": {
            "phones": sizes.phones,
            "seconds": sizes.seconds,
            "latency_seconds": sizes.latency_seconds,
            "raw_seconds": sizes.raw_seconds,
            "concurrency": sizes.concurrency,
            "requested_scopes": REQUESTED,
            "granted_scopes": GRANTED,
        },
        "goal": { "logins_per_s": GOAL_PER_S, "p99_ms_at_half_peak": GOAL_P99_MS },
        "raw": raw,
        "sqlite": sqlite,
        "postgres": postgres,
    }))
}

fn met(ok: bool) -> &'static str {
    if ok { "met" } else { "NOT met" }
}

fn backend_summary(name: &str, v: &Value, out: &mut String) {
    use std::fmt::Write as _;
    if let Some(skip) = v["skipped"].as_str() {
        let _ = writeln!(out, "{name:<10} skipped: {skip}");
        return;
    }
    let f = |r: &Value, key: &str| r[key].as_f64().unwrap_or(0.0);
    for (label, key) in [("serviceVds", "logins_service_vds"), ("serviceId", "logins_service_id")] {
        let r = &v[key];
        let _ = writeln!(
            out,
            "{name:<10} logins ({label:<10}) {:>7.1}/s ({} ok, {} failed); crypto limit {:.0}/s, ratio {:.3}; \
             p50 {:.1} ms, p99 {:.1} ms (closed loop, {} workers)",
            f(r, "logins_per_s"),
            r["ok"].as_u64().unwrap_or(0),
            r["failed"].as_u64().unwrap_or(0),
            f(r, "limit_per_s"),
            f(r, "ratio"),
            f(r, "p50_ms_closed_loop"),
            f(r, "p99_ms_closed_loop"),
            v["concurrency"].as_u64().unwrap_or(0),
        );
        if let Some(e) = r["first_error"].as_str() {
            let _ = writeln!(out, "{name:<10}   first error: {e}");
        }
    }
    let _ = writeln!(
        out,
        "{name:<10} raw one-row write transactions {:.0}/s ({} writers) / {COMMITS_PER_LOGIN} per login = {:.0} logins/s",
        f(v, "raw_commits_per_s"),
        v["concurrency"].as_u64().unwrap_or(0),
        f(v, "commit_limit_logins_per_s"),
    );
    let l = &v["latency_at_half_peak"];
    let _ = writeln!(
        out,
        "{name:<10} logins at {:.1}/s (half peak, open loop): p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms, {} failed",
        f(l, "target_per_s"),
        f(l, "p50_ms"),
        f(l, "p99_ms"),
        f(l, "max_ms"),
        l["failed"].as_u64().unwrap_or(0),
    );
    if let Some(e) = l["first_error"].as_str() {
        let _ = writeln!(out, "{name:<10}   first error: {e}");
    }
    let _ = writeln!(
        out,
        "{name:<10} goal (>= {GOAL_PER_S:.0} logins/s, p99 < {GOAL_P99_MS:.0} ms at half load): {}",
        met(v["meets_goal"].as_bool().unwrap_or(false))
    );
}

/// The human summary of [`measure`]'s result.
pub(crate) fn summary(v: &Value) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let r = &v["raw"];
    let f = |key: &str| r[key].as_f64().unwrap_or(0.0);
    let _ = writeln!(out, "passwordless raw crypto/s, 1 / 2 threads:");
    for (k, _, _) in PER_LOGIN {
        let _ = writeln!(
            out,
            "  {k:<28} {:>9.0} / {:>9.0}",
            f(&format!("{k}_per_s_1_thread")),
            f(&format!("{k}_per_s_2_threads"))
        );
    }
    for k in ["aes_256_gcm_seal", "device_ecdsa_sign_client"] {
        let _ = writeln!(
            out,
            "  {k:<28} {:>9.0} / {:>9.0}",
            f(&format!("{k}_per_s_1_thread")),
            f(&format!("{k}_per_s_2_threads"))
        );
    }
    let _ = writeln!(
        out,
        "passwordless crypto of one login {:.0} µs (2 threads) → limit {:.0} logins/s; the phone's signature \
         (client side) {:.0}/s",
        f("crypto_us_per_login_2_threads"),
        f("login_crypto_limit_per_s"),
        f("device_ecdsa_sign_client_per_s_2_threads"),
    );
    backend_summary("sqlite", &v["sqlite"], &mut out);
    backend_summary("postgres", &v["postgres"], &mut out);
    out.trim_end().to_owned()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_suite_runs_and_reports_every_figure() {
        let sizes = Sizes { phones: 3, seconds: 0.3, latency_seconds: 0.2, raw_seconds: 0.01, concurrency: 2 };
        let v = measure(sizes, None).await.unwrap();
        let limit = v["raw"]["login_crypto_limit_per_s"].as_f64().unwrap();
        assert!(limit > 0.0 && limit.is_finite());
        let s = &v["sqlite"];
        assert_eq!(s["phones"].as_u64(), Some(3), "{s}");
        for key in ["logins_service_vds", "logins_service_id"] {
            assert!(s[key]["ok"].as_u64().unwrap() > 0, "{s}");
            assert_eq!(s[key]["failed"].as_u64(), Some(0), "{s}");
        }
        assert_eq!(s["latency_at_half_peak"]["failed"].as_u64(), Some(0), "{s}");
        assert!(v["postgres"]["skipped"].is_string());
        assert!(summary(&v).contains("half peak"));
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentiles(&v), (50.0, 99.0));
        assert_eq!(percentiles(&[]), (0.0, 0.0));
    }
}
