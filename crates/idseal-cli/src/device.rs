//! `idseal device enroll|watch|approve|reject|revoke` (and, with the `scal3` feature,
//! `scal3-enrol|authorize`, in [`crate::scal3`], and `fetch-proof`, which downloads an
//! audit-log entry with its proof for `idseal scal3 verify`): a simulated phone for passwordless login
//! (ITU-T X.1280) on the command line. The phone's work is idseal-device's; this module reads
//! files, parses arguments and prints.
//!
//! The state file (server, device id, token id, seal, private key) is created with mode 0600,
//! and a file its group or others can read is refused, like ssh does with keys.
//!
//! Exit codes: 0 success, 1 a failure (I/O, refused by the server, code mismatch, timeout),
//! 2 a usage error.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Subcommand};
use idseal_device::{Approval, Channel, Device, DeviceError, DeviceState, LoginRequest};
use idseal_server::state::SystemClock;
use idseal_types::Clock as _;
use serde_json::json;

use crate::vds::Failure;

macro_rules! out {
    ($($t:tt)*) => {{
        let _ = writeln!(std::io::stdout(), $($t)*);
    }};
}

/// How long to wait for more pending logins after the first, to tell "the only one" apart.
const SETTLE: Duration = Duration::from_millis(500);

/// The device subcommands.
#[derive(Subcommand)]
pub(crate) enum DeviceCommand {
    /// Make a new simulated phone (P-256 key, device id) holding a seal, and enroll it with a
    /// server; the state file is written (mode 0600) before the server is asked.
    Enroll(EnrollArgs),
    /// Print each login request as it arrives on the device channel (until interrupted or the
    /// server closes it).
    Watch {
        /// The state file.
        #[arg(long)]
        state: PathBuf,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Approve the pending login: check the code the browser shows, grant scopes, sign.
    Approve(ApproveArgs),
    /// Decline the pending login (signed).
    Reject {
        /// The state file.
        #[arg(long)]
        state: PathBuf,
        /// The session to decline (default: the only pending one).
        #[arg(long)]
        session: Option<String>,
        /// Seconds to wait for the login to arrive.
        #[arg(long, default_value_t = 60)]
        timeout: u64,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Revoke this phone's enrollment (signed by its key); its sessions and grants end.
    Revoke {
        /// The state file.
        #[arg(long)]
        state: PathBuf,
    },
    /// Enrol a SCAL3 credential (device key + PIN) for high-risk instructions; the PIN is read
    /// from stdin unless --pin-file or --pin is given.
    #[cfg(feature = "scal3")]
    Scal3Enrol(crate::scal3::EnrolArgs),
    /// Authorise a high-risk instruction with SCAL3 (device key + PIN), e.g.
    /// `--instruction '{"op":"revoke_enrollment"}'`; prints the log index and the record.
    #[cfg(feature = "scal3")]
    Authorize(crate::scal3::AuthorizeArgs),
    /// Download from the phone's server audit-log entry `--index` (e.g. the log index printed
    /// by `authorize`), its inclusion proof against the latest checkpoint that covers it, that
    /// checkpoint and the log's verifier key, as the files `idseal scal3 verify` reads.
    #[cfg(feature = "scal3")]
    FetchProof(FetchProofArgs),
}

/// `idseal device fetch-proof`.
#[cfg(feature = "scal3")]
#[derive(Args)]
pub(crate) struct FetchProofArgs {
    /// The state file (its server is asked).
    #[arg(long)]
    state: PathBuf,
    /// The audit-log entry's index.
    #[arg(long)]
    index: u64,
    /// The directory to write `entry.bin`, `proof.json`, `checkpoint.txt` and
    /// `verifier-key.txt` to (created if missing).
    #[arg(long)]
    out_dir: PathBuf,
    /// Seconds to wait for a signed checkpoint that covers the entry.
    #[arg(long, default_value_t = 15)]
    timeout: u64,
}

/// `idseal device enroll`.
#[derive(Args)]
pub(crate) struct EnrollArgs {
    /// The idseal server's base URL (http:// or https://).
    #[arg(long)]
    server: String,
    /// The identity seal text file (`-` for stdin).
    #[arg(long)]
    vds: PathBuf,
    /// The state file to create (refused when it exists and is already enrolled).
    #[arg(long)]
    state: PathBuf,
    /// An FCM registration token: the server then also pushes login requests through FCM.
    #[arg(long)]
    fcm_token: Option<String>,
    /// JSON output.
    #[arg(long)]
    json: bool,
}

/// `idseal device approve`.
#[derive(Args)]
pub(crate) struct ApproveArgs {
    /// The state file.
    #[arg(long)]
    state: PathBuf,
    /// The code the browser shows, as the user reads it.
    #[arg(long)]
    code: String,
    /// The scopes to grant, space-separated (a subset of the requested ones; default: all).
    #[arg(long, conflicts_with = "all")]
    scopes: Option<String>,
    /// Grant every requested scope (the default).
    #[arg(long)]
    all: bool,
    /// The session to approve (default: the only pending one).
    #[arg(long)]
    session: Option<String>,
    /// Seconds to wait for the login to arrive.
    #[arg(long, default_value_t = 60)]
    timeout: u64,
    /// JSON output.
    #[arg(long)]
    json: bool,
}

/// Runs one device subcommand and maps its failure to `error: …` and the exit code.
pub(crate) async fn run(cmd: DeviceCommand) -> ExitCode {
    let result = match cmd {
        DeviceCommand::Enroll(a) => enroll(&a).await,
        DeviceCommand::Watch { state, json } => watch(&state, json).await,
        DeviceCommand::Approve(a) => approve(&a).await,
        DeviceCommand::Reject { state, session, timeout, json } => {
            reject(&state, session.as_deref(), timeout, json).await
        }
        DeviceCommand::Revoke { state } => revoke(&state).await,
        #[cfg(feature = "scal3")]
        DeviceCommand::Scal3Enrol(a) => crate::scal3::enrol(&a).await,
        #[cfg(feature = "scal3")]
        DeviceCommand::Authorize(a) => crate::scal3::authorize(&a).await,
        #[cfg(feature = "scal3")]
        DeviceCommand::FetchProof(a) => fetch_proof(&a).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(m)) => {
            eprintln!("error: {m}");
            ExitCode::from(2)
        }
        Err(Failure::Failed(m)) => {
            eprintln!("error: {m}");
            ExitCode::FAILURE
        }
    }
}

fn failed(e: DeviceError) -> Failure {
    Failure::failed(e)
}

pub(crate) fn open_device(state: &Path) -> Result<Device, Failure> {
    let st = DeviceState::load(state).map_err(failed)?;
    if st.token_id.is_none() {
        return Err(Failure::failed(format!("{} is not enrolled: run idseal device enroll", state.display())));
    }
    Device::new(st, Arc::new(SystemClock)).map_err(failed)
}

async fn enroll(a: &EnrollArgs) -> Result<(), Failure> {
    if !(a.server.starts_with("http://") || a.server.starts_with("https://")) {
        return Err(Failure::usage("--server must be an http:// or https:// URL"));
    }
    let vds = crate::vds::read_seal_text(&a.vds)?;
    let st = if a.state.exists() {
        // A phone made by an earlier attempt whose enrollment failed keeps its key.
        let mut st = DeviceState::load(&a.state).map_err(failed)?;
        if st.token_id.is_some() {
            return Err(Failure::failed(format!("{} is already enrolled", a.state.display())));
        }
        st.server = a.server.trim_end_matches('/').to_owned();
        st.vds = vds;
        st
    } else {
        DeviceState::new(&a.server, &vds).map_err(failed)?
    };
    st.save(&a.state).map_err(failed)?;
    let mut device = Device::new(st, Arc::new(SystemClock)).map_err(failed)?;
    let r = device.enroll(a.fcm_token.as_deref()).await.map_err(failed)?;
    device.state().save(&a.state).map_err(failed)?;
    let thumbprint = device.public_key().thumbprint();
    if a.json {
        let v = json!({
            "enrolled": true,
            "tokenId": r.token_id,
            "expiresAt": r.expires_at,
            "trustLevel": r.trust_level,
            "deviceId": device.state().device_id,
            "keyThumbprint": thumbprint,
        });
        out!("{v}");
    } else {
        out!("enrolled: token id {}", r.token_id);
        out!("  trust level {}, valid until {}", r.trust_level, r.expires_at);
        out!("  device {} key {thumbprint}", device.state().device_id);
        out!("  state saved to {}", a.state.display());
    }
    Ok(())
}

fn request_json(r: &LoginRequest) -> serde_json::Value {
    json!({
        "sessionId": r.session_id,
        "service": {"id": r.service_id, "name": r.service_name, "url": r.service_url, "verified": r.service_verified},
        "scopes": r.scopes,
        "code": r.auto_password.as_str(),
        "expiresAt": r.expires_at_rfc3339(),
    })
}

fn print_request(r: &LoginRequest, json: bool) {
    if json {
        out!("{}", request_json(r));
        return;
    }
    let verified = if r.service_verified { "VERIFIED" } else { "unverified" };
    out!("login request {}", r.session_id);
    out!("  service: {} ({verified}) {}", r.service_name, r.service_url);
    out!("  scopes:  {}", if r.scopes.is_empty() { "(none)".to_owned() } else { r.scopes.join(" ") });
    out!("  code:    {}", r.auto_password.as_str());
    out!("  expires: {}", r.expires_at_rfc3339());
}

async fn watch(state: &Path, json: bool) -> Result<(), Failure> {
    let device = open_device(state)?;
    let mut ch = device.connect().await.map_err(failed)?;
    if !json {
        out!("connected; waiting for login requests (Ctrl-C to stop)");
    }
    loop {
        match ch.next().await {
            Ok(Some(r)) => print_request(&r, json),
            Ok(None) => return Ok(()),
            Err(DeviceError::BadLoginRequest(why)) => eprintln!("warning: malformed login request ignored: {why}"),
            Err(e) => return Err(failed(e)),
        }
    }
}

/// Waits up to `timeout` for the login to act on: the one with `session`, or the only pending
/// one (several pending without `session` is an error naming them).
async fn pick(ch: &mut Channel, session: Option<&str>, timeout: u64) -> Result<LoginRequest, Failure> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(timeout);
    let mut found: Vec<LoginRequest> = Vec::new();
    loop {
        let until = match found.first() {
            Some(_) => (tokio::time::Instant::now() + SETTLE).min(deadline),
            None => deadline,
        };
        let next = match tokio::time::timeout_at(until, ch.next()).await {
            Err(_) => break,
            Ok(Ok(Some(r))) => r,
            Ok(Ok(None)) => break,
            Ok(Err(DeviceError::BadLoginRequest(why))) => {
                eprintln!("warning: malformed login request ignored: {why}");
                continue;
            }
            Ok(Err(e)) => return Err(failed(e)),
        };
        if next.is_expired(SystemClock.now()) {
            continue;
        }
        match session {
            Some(s) if next.session_id == s => return Ok(next),
            Some(_) => {}
            None if found.iter().any(|f| f.session_id == next.session_id) => {}
            None => found.push(next),
        }
    }
    match (session, found.len()) {
        (Some(s), _) => Err(Failure::failed(format!("no pending login {s} arrived within {timeout} s"))),
        (None, 0) => Err(Failure::failed(format!("no login request arrived within {timeout} s"))),
        (None, 1) => found.pop().ok_or_else(|| Failure::failed("no login request")),
        (None, _) => {
            let ids: Vec<&str> = found.iter().map(|r| r.session_id.as_str()).collect();
            Err(Failure::usage(format!("several logins are pending ({}): choose one with --session", ids.join(", "))))
        }
    }
}

fn print_result(r: &LoginRequest, a: &Approval, granted: &[String], json: bool) {
    if json {
        let v = json!({
            "sessionId": r.session_id,
            "status": a.status,
            "grantedScopes": granted,
            "jwt": a.jwt,
            "hash": a.hash,
            "random": a.random,
            "expiresAt": a.expires_at,
        });
        out!("{v}");
        return;
    }
    out!("{} {} ({})", a.status, r.session_id, r.service_name);
    if a.status == "approved" {
        out!("  granted: {}", if granted.is_empty() { "(none)".to_owned() } else { granted.join(" ") });
    }
    if let Some(jwt) = &a.jwt {
        out!("  jwt: {jwt}");
    }
}

async fn approve(a: &ApproveArgs) -> Result<(), Failure> {
    let device = open_device(&a.state)?;
    let mut ch = device.connect().await.map_err(failed)?;
    let req = pick(&mut ch, a.session.as_deref(), a.timeout).await?;
    if !a.json {
        print_request(&req, false);
    }
    let granted: Vec<String> = match &a.scopes {
        Some(s) if !a.all => s.split_whitespace().map(str::to_owned).collect(),
        _ => req.scopes.clone(),
    };
    let result = device.approve(&req, &a.code, &granted).await;
    ch.close().await;
    let approval = result.map_err(failed)?;
    print_result(&req, &approval, &granted, a.json);
    Ok(())
}

async fn reject(state: &Path, session: Option<&str>, timeout: u64, json: bool) -> Result<(), Failure> {
    let device = open_device(state)?;
    let mut ch = device.connect().await.map_err(failed)?;
    let req = pick(&mut ch, session, timeout).await?;
    let result = device.reject(&req).await;
    ch.close().await;
    let approval = result.map_err(failed)?;
    print_result(&req, &approval, &[], json);
    Ok(())
}

async fn revoke(state: &Path) -> Result<(), Failure> {
    let device = open_device(state)?;
    device.revoke().await.map_err(failed)?;
    out!("revoked: token id {}", device.token_id().unwrap_or_default());
    Ok(())
}

/// One GET of the log API: the body, or a failure naming the path and the status.
#[cfg(feature = "scal3")]
async fn log_get(http: &reqwest::Client, base: &str, path: &str) -> Result<Vec<u8>, Failure> {
    let r = http.get(format!("{base}{path}")).send().await.map_err(|e| Failure::failed(format!("GET {path}: {e}")))?;
    let status = r.status();
    let body = r.bytes().await.map_err(|e| Failure::failed(format!("GET {path}: {e}")))?;
    if !status.is_success() {
        let text: String = String::from_utf8_lossy(&body).chars().filter(|c| !c.is_control()).take(200).collect();
        return Err(Failure::failed(format!("GET {path}: {status} {text}")));
    }
    Ok(body.to_vec())
}

/// `idseal device fetch-proof`: the verifier key, then the latest checkpoint (polled until it
/// covers the entry), then the entry and its inclusion proof for that checkpoint's size, so the
/// four files always go together. The checkpoint's signature is checked with the fetched key
/// only to read its size: the key itself is the server's word, to compare out of band.
#[cfg(feature = "scal3")]
async fn fetch_proof(a: &FetchProofArgs) -> Result<(), Failure> {
    use idseal_tlog::{Checkpoint, NoteVerifier};

    // The phone asks its own server (making the device also sets up TLS: aws-lc-rs for rustls).
    let device = Device::new(DeviceState::load(&a.state).map_err(failed)?, Arc::new(SystemClock)).map_err(failed)?;
    let base = device.state().server.trim_end_matches('/').to_owned();
    let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().map_err(Failure::failed)?;
    let vkey_bytes = log_get(&http, &base, "/log/verifier-key").await?;
    let vkey = String::from_utf8(vkey_bytes).map_err(|_| Failure::failed("the verifier key is not UTF-8"))?;
    let verifier = NoteVerifier::from_vkey(vkey.trim()).map_err(|e| Failure::failed(format!("verifier key: {e}")))?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(a.timeout);
    let (note, size) = loop {
        let note = log_get(&http, &base, "/log/checkpoint").await?;
        let cp = Checkpoint::open(&note, verifier.name(), std::slice::from_ref(&verifier))
            .map_err(|e| Failure::failed(format!("checkpoint: {e}")))?;
        if cp.size() > a.index {
            break (note, cp.size());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(Failure::failed(format!(
                "no checkpoint covers entry {} within {} s (latest size {})",
                a.index,
                a.timeout,
                cp.size()
            )));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let entry = log_get(&http, &base, &format!("/log/entries/{}", a.index)).await?;
    let proof = log_get(&http, &base, &format!("/log/proof/inclusion?index={}&size={size}", a.index)).await?;
    std::fs::create_dir_all(&a.out_dir).map_err(|e| Failure::failed(format!("{}: {e}", a.out_dir.display())))?;
    let files = [
        ("entry.bin", entry.as_slice()),
        ("proof.json", proof.as_slice()),
        ("checkpoint.txt", note.as_slice()),
        ("verifier-key.txt", vkey.as_bytes()),
    ];
    for (name, bytes) in files {
        let path = a.out_dir.join(name);
        std::fs::write(&path, bytes).map_err(|e| Failure::failed(format!("{}: {e}", path.display())))?;
    }
    let d = a.out_dir.display();
    out!("fetched entry {} with its inclusion proof in checkpoint {size} of {}", a.index, verifier.name());
    out!("  verifier key {}", vkey.trim());
    out!("  (compare the verifier key with one obtained out of band)");
    out!(
        "  idseal scal3 verify --bundle BUNDLE --entry {d}/entry.bin --proof {d}/proof.json \\\n    --checkpoint {d}/checkpoint.txt --verifier-key {d}/verifier-key.txt"
    );
    Ok(())
}
