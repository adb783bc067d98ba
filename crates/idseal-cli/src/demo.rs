//! `idseal demo`: a whole passwordless login (ITU-T X.1280, docs/passwordless.md) in one
//! process, each step told in plain words:
//!
//! 1. a development chain of trust ([`DemoChain`]) written as signed lists into a publish
//!    directory;
//! 2. the server on SQLite in the data directory, on `127.0.0.1:<random port>`, fetching the
//!    lists from itself (`/trust/…`);
//! 3. an identity seal for a fictional person, enrolled by a simulated phone (`POST /enroll`);
//! 4. a service, "Demo Shop", registered with the admin API and its Service VDS;
//! 5. the browser starts the login (`POST /auth/initiate`) and waits on its socket;
//! 6. the phone receives the request on its channel, the user compares the code and approves
//!    a subset of the scopes (not the date of birth);
//! 7. the browser receives the result and checks it as a relying service must: the JWT's
//!    signature against the JWKS, `aud`, `nonce`, and the `hash` under the service's key.
//!
//! With `--json` the steps go to stderr and stdout holds one JSON summary. Exit 0 on success,
//! 1 with `error: …` on any failure, 2 on a usage error.
//!
//! A hidden mode (`--chain-only BASE --dir DIR`) only writes a chain whose lists live under
//! `BASE`, its trust anchor and an identity seal into `DIR`: tests start the real server on it.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use futures_util::StreamExt as _;
use idseal_device::{Device, DeviceState};
use idseal_keys::{JwkSet, VerifyingKey};
use idseal_server::config::Config;
use idseal_server::state::{AppState, SystemClock};
use idseal_types::{Clock as _, UnixTime};
use idseal_vds::{Identity, TrustLevel};
use idseal_x1280::MacKey;
use serde_json::{Map, Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::demo_chain::DemoChain;

/// How long the lists of the demo chain stay valid.
const LIST_VALIDITY: Duration = Duration::from_secs(7 * 86_400);
/// The longest the whole demo may take.
const DEMO_TIMEOUT: Duration = Duration::from_secs(90);
/// The longest any one network wait may take.
const STEP_TIMEOUT: Duration = Duration::from_secs(20);
/// The demo service.
const SERVICE_ID: &str = "demo-shop";
const SERVICE_NAME: &str = "Demo Shop";
const SERVICE_URL: &str = "https://shop.demo.example";
/// What the service may ask for, and asks for.
const REQUESTED: [&str; 3] = ["identity:name", "identity:age_over_18", "identity:date_of_birth"];
/// What the user grants on the phone: not the date of birth.
const GRANTED: [&str; 2] = ["identity:name", "identity:age_over_18"];

/// `idseal demo`.
#[derive(Args)]
pub(crate) struct DemoArgs {
    /// Data directory (must be empty or absent; default: a temporary directory, removed after).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Print a JSON summary on stdout (the steps go to stderr).
    #[arg(long)]
    json: bool,
    /// Only write a chain of trust whose lists are served under this base URL, its anchor and
    /// an identity seal into --dir, print their paths as JSON, and exit (for tests).
    #[arg(long, hide = true, requires = "dir", value_name = "BASE_URL")]
    chain_only: Option<String>,
    /// Trust level (1 to 3) of the seal written by --chain-only.
    #[arg(long, hide = true, default_value_t = 2, requires = "chain_only")]
    level: u64,
}

/// Prints the steps: to stdout, or to stderr when stdout carries the JSON summary.
struct Narrator {
    json: bool,
}

impl Narrator {
    fn say(&self, line: &str) {
        let _ = if self.json { writeln!(std::io::stderr(), "{line}") } else { writeln!(std::io::stdout(), "{line}") };
    }
}

/// Runs `idseal demo` and maps its failure to `error: …` and the exit code.
pub(crate) async fn run(args: DemoArgs) -> ExitCode {
    if let Some(base) = &args.chain_only {
        let dir = args.dir.as_deref().unwrap_or(Path::new("."));
        return match write_chain(base, dir, args.level) {
            Ok(v) => {
                let _ = writeln!(std::io::stdout(), "{v}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e:#}");
                ExitCode::FAILURE
            }
        };
    }
    let n = Narrator { json: args.json };
    let result = tokio::time::timeout(DEMO_TIMEOUT, demo(args.dir.as_deref(), &n)).await;
    match result {
        Ok(Ok(summary)) => {
            if args.json {
                let _ = writeln!(std::io::stdout(), "{summary}");
            }
            ExitCode::SUCCESS
        }
        Ok(Err(e)) => {
            eprintln!("error: demo failed: {e:#}");
            ExitCode::FAILURE
        }
        Err(_) => {
            eprintln!("error: demo failed: it took longer than {} s", DEMO_TIMEOUT.as_secs());
            ExitCode::FAILURE
        }
    }
}

/// The fictional person of the demo, with a fresh random token id.
fn demo_person(now: UnixTime, level: TrustLevel) -> anyhow::Result<Identity> {
    let mut id = crate::bench_vds::sample_identity(now.saturating_add(Duration::from_secs(365 * 86_400)));
    id.given_name = "Demo".into();
    id.family_name = "SPECIMEN".into();
    id.document_number = "DEMO00001".into();
    id.trust_level = level;
    aws_lc_rs::rand::fill(&mut id.token_id).map_err(|_| anyhow::anyhow!("aws-lc-rs: random failed"))?;
    Ok(id)
}

/// The hidden `--chain-only` mode: lists under `<dir>/trust`, the anchor in
/// `<dir>/governance-signer.der`, a seal of trust level `level` in `<dir>/identity.vds`.
fn write_chain(base: &str, dir: &Path, level: u64) -> anyhow::Result<Value> {
    if !(base.starts_with("http://") || base.starts_with("https://")) {
        anyhow::bail!("--chain-only must be an http:// or https:// URL");
    }
    let now = SystemClock.now();
    let chain = DemoChain::new(base, now, LIST_VALIDITY)?;
    let lists = dir.join("trust");
    chain.write_lists(&lists)?;
    let anchor = dir.join("governance-signer.der");
    std::fs::write(&anchor, chain.governance_signer())?;
    let person = demo_person(now, TrustLevel::from_u64(level)?)?;
    let vds = chain.issue_identity(&person, now.saturating_sub(Duration::from_secs(60)))?;
    let seal = dir.join("identity.vds");
    std::fs::write(&seal, &vds)?;
    Ok(json!({
        "publishDir": lists,
        "governanceLocation": chain.anchors.governance_location,
        "governanceSigner": anchor,
        "vds": seal,
        "tokenId": person.token_id_string(),
        "trustLevel": level,
    }))
}

/// The directory the demo runs in: the one given (empty or absent), or a temporary one.
enum WorkDir {
    Given(PathBuf),
    Temp(tempfile::TempDir),
}

impl WorkDir {
    fn open(dir: Option<&Path>) -> anyhow::Result<Self> {
        let Some(d) = dir else { return Ok(Self::Temp(tempfile::Builder::new().prefix("idseal-demo-").tempdir()?)) };
        if d.exists() && std::fs::read_dir(d)?.next().is_some() {
            anyhow::bail!("{} is not empty: the demo needs a fresh directory", d.display());
        }
        std::fs::create_dir_all(d)?;
        Ok(Self::Given(d.to_path_buf()))
    }

    fn path(&self) -> &Path {
        match self {
            Self::Given(p) => p,
            Self::Temp(t) => t.path(),
        }
    }
}

/// The server of the demo, running on a task until [`Running::stop`].
struct Running {
    state: AppState,
    shutdown: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Running {
    async fn stop(self) {
        let Self { state, shutdown, task } = self;
        let _ = shutdown.send(());
        if tokio::time::timeout(Duration::from_secs(30), task).await.is_err() {
            state.store.close().await;
        }
    }
}

async fn demo(dir: Option<&Path>, n: &Narrator) -> anyhow::Result<Value> {
    let work = WorkDir::open(dir)?;
    let root = work.path().to_path_buf();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let now = SystemClock.now();
    n.say("idseal demo: a passwordless login with a phone, from scratch (development keys only)");
    n.say(&format!("  working directory {}", root.display()));

    // 1. The chain of trust.
    let chain = DemoChain::new(&format!("{base}/trust"), now, LIST_VALIDITY)?;
    let publish = root.join("trust");
    chain.write_lists(&publish)?;
    let anchor = root.join("governance-signer.der");
    std::fs::write(&anchor, chain.governance_signer())?;
    n.say("1. chain of trust: Governance List, Scheme List (manifests 0A0001 identity, 0A0002 service),");
    n.say("   TSL with the dev CA and its signing certificate (UsageList 0A0001 0A0002), VRL (empty)");
    n.say(&format!("   signed lists in {}", publish.display()));

    // 2. The server.
    let mut config = Config {
        bind: listener.local_addr()?.to_string(),
        data_dir: root.join("data"),
        issuer: Some(base.clone()),
        log_level: "warn".into(),
        ..Config::default()
    };
    config.trust.publish_dir = Some(publish.clone());
    config.trust.governance_location = Some(chain.anchors.governance_location.clone());
    config.trust.governance_signers = vec![anchor];
    let settings = config.validate()?;
    let (state, first) = AppState::open(settings, Arc::new(SystemClock)).await?;
    let admin = first
        .bootstrap_token
        .ok_or_else(|| anyhow::anyhow!("the database already existed: no admin bootstrap token was issued"))?;
    let (shutdown, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(idseal_server::serve(state.clone(), listener, async move {
        let _ = rx.await;
    }));
    let server = Running { state, shutdown, task };
    n.say(&format!(
        "2. idseal listening on {base} (SQLite in {}), trust anchor: the governance signer",
        root.join("data").display()
    ));

    let outcome = login(&base, &chain, admin.as_str(), n).await;
    server.stop().await;
    outcome
}

/// Steps 3 to 7, against the running server at `base`.
async fn login(base: &str, chain: &DemoChain, admin: &str, n: &Narrator) -> anyhow::Result<Value> {
    let http = idseal_server::http::client_builder().timeout(STEP_TIMEOUT).build()?;
    let now = SystemClock.now();

    // 3. The person's seal and the phone.
    let person = demo_person(now, TrustLevel::OperatorVerified)?;
    let vds = chain.issue_identity(&person, now.saturating_sub(Duration::from_secs(60)))?;
    let mut phone = Device::new(DeviceState::new(base, &vds)?, Arc::new(SystemClock))?;
    let enrolled = phone.enroll(None).await?;
    n.say(&format!(
        "3. identity seal for {} {} (FICTIONAL, born {}), issued under the dev CA ({} characters)",
        person.given_name,
        person.family_name,
        person.date_of_birth,
        vds.len()
    ));
    n.say(&format!(
        "   the phone made its P-256 key and enrolled: token id {}, trust level {}",
        enrolled.token_id, enrolled.trust_level
    ));

    // 4. The service.
    let service_vds = chain.issue_service(SERVICE_ID, SERVICE_NAME, SERVICE_URL, &REQUESTED, now)?;
    let body = json!({"serviceId": SERVICE_ID, "name": SERVICE_NAME, "url": SERVICE_URL,
                      "allowedScopes": REQUESTED, "defaultScopes": [REQUESTED[0]], "serviceVds": service_vds});
    let r = http.post(format!("{base}/admin/services")).bearer_auth(admin).json(&body).send().await?;
    let registered = answer(r, "POST /admin/services").await?;
    let hash_key = registered
        .get("hashKey")
        .and_then(Value::as_str)
        .ok_or_else(|| anyhow::anyhow!("the service registration returned no hashKey"))?;
    let hash_key = MacKey::from_base64url(hash_key).map_err(|e| anyhow::anyhow!("hashKey: {e}"))?;
    n.say(&format!("4. service \"{SERVICE_NAME}\" ({SERVICE_URL}) registered with its Service VDS; its hash key kept"));

    // 5. The browser starts the login.
    let mut channel = phone.connect().await?;
    let body = json!({"tokenId": enrolled.token_id, "serviceVds": service_vds, "scopes": REQUESTED});
    let started =
        answer(http.post(format!("{base}/auth/initiate")).json(&body).send().await?, "POST /auth/initiate").await?;
    let field = |k: &str| {
        started.get(k).and_then(Value::as_str).map(str::to_owned).ok_or_else(|| anyhow::anyhow!("initiate: no {k}"))
    };
    let (session, ws_token, random) = (field("sessionId")?, field("wsToken")?, field("random")?);
    let ws_url = format!("{}/ws/session/{session}?token={ws_token}", base.replacen("http://", "ws://", 1));
    let tcp = tokio::net::TcpStream::connect(base.trim_start_matches("http://")).await?;
    let (mut browser, _) = tokio_tungstenite::client_async(ws_url.as_str(), tcp).await?;
    let ready = next_event(&mut browser).await?;
    anyhow::ensure!(ready.get("type").and_then(Value::as_str) == Some("otp_ready"), "browser socket: {ready}");
    let browser_code = ready
        .get("autoPassword")
        .and_then(Value::as_str)
        .ok_or_else(|| anyhow::anyhow!("otp_ready without a code"))?
        .to_owned();
    n.say(&format!("5. the browser asked to sign in at {SERVICE_NAME}: session {session}"));
    n.say(&format!("   the browser shows the code {browser_code} and waits on its socket"));

    // 6. The phone.
    let request = loop {
        let next = tokio::time::timeout(STEP_TIMEOUT, channel.next()).await;
        match next.map_err(|_| anyhow::anyhow!("no login request reached the phone"))?? {
            Some(r) if r.session_id == session => break r,
            Some(_) => {}
            None => anyhow::bail!("the device channel closed"),
        }
    };
    let verified = if request.service_verified { "VERIFIED" } else { "unverified" };
    n.say(&format!("6. the phone shows: {} ({verified}), {}", request.service_name, request.service_url));
    n.say(&format!("   asks for: {}", request.scopes.join(" ")));
    n.say(&format!("   code: {}", request.auto_password.as_str()));
    request.check_code(&browser_code).map_err(|e| anyhow::anyhow!("the codes differ: {e}"))?;
    n.say("   the user compares it with the browser's: the same; grants name and age over 18, not the date of birth");
    let granted: Vec<String> = GRANTED.iter().map(|s| (*s).to_owned()).collect();
    let approval = phone.approve(&request, &browser_code, &granted).await?;
    channel.close().await;
    anyhow::ensure!(approval.status == "approved", "the server answered {}", approval.status);
    n.say("   approved: signed by the phone's key");

    // 7. The browser's result, checked as the service must.
    let event = next_event(&mut browser).await?;
    let _ = browser.close(None).await;
    anyhow::ensure!(event.get("type").and_then(Value::as_str) == Some("approved"), "browser socket: {event}");
    let got = |k: &str| event.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
    let (jwt, hash) = (got("jwt"), got("hash"));
    anyhow::ensure!(approval.jwt.as_deref() == Some(jwt.as_str()), "the phone and the browser got different results");
    let jwks: JwkSet =
        http.get(format!("{base}/.well-known/jwks.json")).send().await?.error_for_status()?.json().await?;
    let keys: Vec<VerifyingKey> = jwks.keys.iter().filter_map(VerifyingKey::from_jwk).collect();
    let expected =
        Expected { issuer: base, audience: SERVICE_ID, session: &session, random: &random, hash_key: &hash_key };
    let claims = check_result(&jwt, &hash, &keys, &expected, SystemClock.now())?;
    n.say(&format!("7. the browser received the result: an ES256 JWT ({} bytes)", jwt.len()));
    n.say("   checked: signature against /.well-known/jwks.json, aud = demo-shop, nonce = the random of");
    n.say("   this login, hash under the service's key");
    let withheld: Vec<&str> = ["birthdate", "document_number", "nationality", "picture"]
        .into_iter()
        .filter(|c| !claims.contains_key(*c))
        .collect();
    anyhow::ensure!(withheld.contains(&"birthdate"), "the date of birth was released although not granted");
    for k in ["given_name", "family_name", "age_over_18", "acr", "amr", "scope"] {
        if let Some(v) = claims.get(k) {
            n.say(&format!("   {k:<12} {v}"));
        }
    }
    n.say(&format!("   not released: {}", withheld.join(", ")));
    n.say("done: passwordless login approved; the server stored no name or date of birth");

    Ok(json!({
        "ok": true,
        "approved": true,
        "issuer": base,
        "tokenId": enrolled.token_id,
        "trustLevel": enrolled.trust_level,
        "service": {"id": SERVICE_ID, "name": request.service_name, "url": request.service_url,
                    "verified": request.service_verified},
        "sessionId": session,
        "codesMatch": true,
        "requestedScopes": request.scopes,
        "grantedScopes": granted,
        "jwtVerified": true,
        "audOk": true,
        "nonceOk": true,
        "hashOk": true,
        "claims": claims,
        "withheld": withheld,
    }))
}

/// The JSON body of a successful answer, or an error naming the call and the server's reason.
async fn answer(r: reqwest::Response, call: &str) -> anyhow::Result<Value> {
    let status = r.status();
    let text = r.text().await?;
    anyhow::ensure!(status.is_success(), "{call} answered {status}: {text}");
    Ok(serde_json::from_str(&text)?)
}

type BrowserSocket = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

/// The next JSON event on the browser's socket.
async fn next_event(ws: &mut BrowserSocket) -> anyhow::Result<Value> {
    loop {
        let m = tokio::time::timeout(STEP_TIMEOUT, ws.next())
            .await
            .map_err(|_| anyhow::anyhow!("the browser socket stayed silent"))?;
        match m {
            Some(Ok(Message::Text(t))) => return Ok(serde_json::from_str(&t)?),
            Some(Ok(Message::Close(f))) => anyhow::bail!("the browser socket closed: {f:?}"),
            Some(Ok(_)) => {}
            Some(Err(e)) => anyhow::bail!("browser socket: {e}"),
            None => anyhow::bail!("the browser socket ended"),
        }
    }
}

/// What a relying service knows before the result arrives.
struct Expected<'a> {
    issuer: &'a str,
    audience: &'a str,
    session: &'a str,
    random: &'a str,
    hash_key: &'a MacKey,
}

/// The relying service's checks of a direct-integration result: the JWT's ES256 signature by
/// one of `keys` (and `iss`, `exp`), `aud` is the service, `nonce` the `random` of its own
/// login, `sid` its session, and `hash` under its key. Returns the verified claims.
fn check_result(
    jwt: &str,
    hash: &str,
    keys: &[VerifyingKey],
    e: &Expected<'_>,
    now: UnixTime,
) -> anyhow::Result<Map<String, Value>> {
    let v = idseal_oauth::jwt::verify(jwt, keys, Some("JWT"), e.issuer, now, true)
        .map_err(|err| anyhow::anyhow!("the result JWT does not verify: {err}"))?;
    let alg = v.header.get("alg").and_then(Value::as_str);
    anyhow::ensure!(alg == Some("ES256"), "the result JWT is {alg:?}, not ES256");
    let claim = |k: &str| v.claims.get(k).and_then(Value::as_str);
    anyhow::ensure!(claim("aud") == Some(e.audience), "aud is {:?}, not {}", claim("aud"), e.audience);
    anyhow::ensure!(claim("nonce") == Some(e.random), "nonce is not the random of this login");
    anyhow::ensure!(claim("sid") == Some(e.session), "sid is not this login's session");
    anyhow::ensure!(
        idseal_x1280::response_hash_ok(e.hash_key, e.session, e.random, jwt, hash),
        "the hash does not verify under the service's key"
    );
    Ok(v.claims)
}

#[cfg(test)]
#[path = "demo_tests.rs"]
mod tests;
