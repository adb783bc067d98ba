//! SCAL3 on the command line (cargo feature `scal3`; see `docs/scal3.md`):
//!
//! - `idseal device scal3-enrol --state FILE [--pin PIN | --pin-file FILE]`: enrol a SCAL3
//!   credential for the simulated phone (PIN from stdin by default);
//! - `idseal device authorize --state FILE --instruction JSON [--out FILE]`: authorise a
//!   high-risk instruction with the device key and the PIN; `--out` writes the evidence bundle
//!   `{"credential", "instruction", "instructionHash", "record", "logIndex"}`;
//! - `idseal scal3 verify --bundle FILE [--entry FILE --proof FILE --checkpoint FILE
//!   --verifier-key KEY]`: check a bundle offline, with public values only: the record against
//!   the credential's Vk and device key and the SHA-256 of the canonical instruction, and, with
//!   the log files, that audit-log entry `logIndex` (`GET /log/entries/{i}`) is this record's
//!   `SCAL3_AUTHORIZE` entry, that the inclusion proof (`GET /log/proof/inclusion`, or
//!   `idseal log proof inclusion --json`) puts it in the checkpoint (`GET /log/checkpoint`) and
//!   that the checkpoint is signed by the verifier key.
//!
//! Of the credential only its Vk and device key are evidence (the record is checked against
//! them, and the log entry names them); its blinded share and sealed provider share are the
//! phone's and the server's working data, which nothing offline can vouch for.
//!
//! Exit codes: 0 all checks pass, 1 a check fails (or the server refused), 2 a usage error.

use std::io::{BufRead as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use aws_lc_rs::digest::{SHA256, digest};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use clap::{Args, Subcommand};
use idseal_scal3::Credential;
use idseal_tlog::hash::leaf_hash;
use idseal_tlog::proof::verify_inclusion;
use idseal_tlog::{Checkpoint, Hash, NoteVerifier};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use zeroize::Zeroizing;

use crate::vds::{Failure, out};

/// The largest bundle, entry, proof or checkpoint file read.
const MAX_FILE: u64 = 256 * 1024;

/// The SCAL3 subcommands.
#[derive(Subcommand)]
pub(crate) enum Scal3Command {
    /// Check a SCAL3 evidence bundle offline (and, with the log files, its audit-log entry,
    /// inclusion proof and signed checkpoint); exit 0 only if every check passes.
    Verify(VerifyArgs),
}

/// `idseal scal3 verify`.
#[derive(Args)]
pub(crate) struct VerifyArgs {
    /// The bundle written by `idseal device authorize --out`.
    #[arg(long)]
    bundle: PathBuf,
    /// The audit-log entry's bytes (`GET /log/entries/{logIndex}`).
    #[arg(long, requires_all = ["proof", "checkpoint", "verifier_key"])]
    entry: Option<PathBuf>,
    /// The inclusion proof JSON (`GET /log/proof/inclusion?index=…&size=…`).
    #[arg(long, requires = "entry")]
    proof: Option<PathBuf>,
    /// The signed checkpoint (`GET /log/checkpoint`) of the proof's tree size.
    #[arg(long, requires = "entry")]
    checkpoint: Option<PathBuf>,
    /// The log's verifier key (`<name>+<id>+<key>`), or a file holding it.
    #[arg(long, requires = "entry")]
    verifier_key: Option<String>,
}

/// Where the PIN comes from.
#[derive(Args)]
pub(crate) struct PinArgs {
    /// The PIN (visible in the process list and shell history: prefer --pin-file or stdin).
    #[arg(long, conflicts_with = "pin_file")]
    pin: Option<String>,
    /// A file whose first line is the PIN (default: the PIN is read from stdin).
    #[arg(long)]
    pin_file: Option<PathBuf>,
}

/// `idseal device scal3-enrol`.
#[derive(Args)]
pub(crate) struct EnrolArgs {
    /// The state file (enrolled with `idseal device enroll`).
    #[arg(long)]
    state: PathBuf,
    #[command(flatten)]
    pin: PinArgs,
}

/// `idseal device authorize`.
#[derive(Args)]
pub(crate) struct AuthorizeArgs {
    /// The state file (with a SCAL3 credential).
    #[arg(long)]
    state: PathBuf,
    #[command(flatten)]
    pin: PinArgs,
    /// The instruction, a JSON object such as `{"op":"revoke_enrollment"}`.
    #[arg(long)]
    instruction: String,
    /// Write the evidence bundle (JSON) to this file.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// The evidence bundle of one authorisation.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Bundle {
    /// b64u of the credential bytes.
    credential: String,
    /// The RFC 8785 canonical text of the instruction.
    instruction: String,
    /// Lowercase hex SHA-256 of `instruction`.
    instruction_hash: String,
    /// b64u of the record.
    record: String,
    /// The audit-log entry holding the record.
    log_index: u64,
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn sha256(b: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (o, x) in out.iter_mut().zip(digest(&SHA256, b).as_ref()) {
        *o = *x;
    }
    out
}

fn read_file(path: &Path) -> Result<Vec<u8>, Failure> {
    let meta = std::fs::metadata(path).map_err(|e| Failure::usage(format!("{}: {e}", path.display())))?;
    if meta.len() > MAX_FILE {
        return Err(Failure::usage(format!("{}: larger than {MAX_FILE} bytes", path.display())));
    }
    std::fs::read(path).map_err(|e| Failure::usage(format!("{}: {e}", path.display())))
}

/// The PIN from `--pin` (with a warning), `--pin-file` or the first line of stdin; never echoed.
fn read_pin(a: &PinArgs) -> Result<Zeroizing<String>, Failure> {
    let mut pin = Zeroizing::new(String::new());
    if let Some(p) = &a.pin {
        eprintln!(
            "warning: the PIN is in a command-line argument (--pin), visible in the process list and shell \
             history; prefer --pin-file or stdin"
        );
        pin.push_str(p);
    } else if let Some(f) = &a.pin_file {
        let bytes = Zeroizing::new(read_file(f)?);
        let text = std::str::from_utf8(&bytes).map_err(|_| Failure::usage("--pin-file is not UTF-8"))?;
        pin.push_str(text.lines().next().unwrap_or_default());
    } else {
        std::io::stdin().lock().read_line(&mut pin).map_err(|e| Failure::usage(format!("stdin: {e}")))?;
        let end = pin.trim_end_matches(['\r', '\n']).len();
        pin.truncate(end);
    }
    if pin.is_empty() {
        return Err(Failure::usage("the PIN is empty"));
    }
    Ok(pin)
}

/// `idseal device scal3-enrol`.
pub(crate) async fn enrol(a: &EnrolArgs) -> Result<(), Failure> {
    let pin = read_pin(&a.pin)?;
    let mut device = crate::device::open_device(&a.state)?;
    let vk = device.scal3_enrol(&pin).await.map_err(Failure::failed)?;
    device.state().save(&a.state).map_err(Failure::failed)?;
    out!("scal3 enrolled: token id {}", device.token_id().unwrap_or_default());
    out!("  vk {}", hex(&vk));
    out!("  credential saved to {}", a.state.display());
    Ok(())
}

/// `idseal device authorize`.
pub(crate) async fn authorize(a: &AuthorizeArgs) -> Result<(), Failure> {
    let instruction: Value =
        serde_json::from_str(&a.instruction).map_err(|e| Failure::usage(format!("--instruction: {e}")))?;
    if !instruction.is_object() {
        return Err(Failure::usage("--instruction must be a JSON object"));
    }
    let pin = read_pin(&a.pin)?;
    let device = crate::device::open_device(&a.state)?;
    let credential = device
        .state()
        .scal3_credential()
        .ok_or_else(|| Failure::failed("no SCAL3 credential: run idseal device scal3-enrol"))?
        .to_vec();
    let auth = device.scal3_authorize(&pin, &instruction).await.map_err(Failure::failed)?;
    let record = URL_SAFE_NO_PAD.encode(&auth.record);
    out!("authorized: {}", auth.instruction);
    out!("  log index {}", auth.log_index);
    out!("  record {record}");
    if let Some(path) = &a.out {
        let bundle = Bundle {
            credential: URL_SAFE_NO_PAD.encode(credential),
            instruction: auth.instruction,
            instruction_hash: hex(&auth.instruction_hash),
            record,
            log_index: auth.log_index,
        };
        let text = serde_json::to_string_pretty(&bundle).map_err(Failure::failed)?;
        std::fs::write(path, text + "\n").map_err(|e| Failure::failed(format!("{}: {e}", path.display())))?;
        out!("  bundle written to {}", path.display());
    }
    Ok(())
}

/// Runs `idseal scal3 …`.
pub(crate) fn run(cmd: Scal3Command) -> ExitCode {
    let Scal3Command::Verify(a) = cmd;
    match verify(&a) {
        Ok(lines) => {
            for l in lines {
                out!("{l}");
            }
            ExitCode::SUCCESS
        }
        Err(Failure::Usage(m)) => {
            eprintln!("error: {m}");
            ExitCode::from(2)
        }
        Err(Failure::Failed(m)) => {
            out!("FAILED: {m}");
            ExitCode::FAILURE
        }
    }
}

fn b64u_field(name: &str, v: &str) -> Result<Vec<u8>, Failure> {
    URL_SAFE_NO_PAD.decode(v).map_err(|_| Failure::failed(format!("{name} is not base64url")))
}

/// Every check of `idseal scal3 verify`; the lines to print when all pass.
fn verify(a: &VerifyArgs) -> Result<Vec<String>, Failure> {
    let bundle: Bundle = serde_json::from_slice(&read_file(&a.bundle)?)
        .map_err(|e| Failure::failed(format!("the bundle is malformed: {e}")))?;
    let credential = Credential::from_bytes(&b64u_field("credential", &bundle.credential)?)
        .map_err(|e| Failure::failed(format!("credential: {e}")))?;
    let value: Value = serde_json::from_str(&bundle.instruction)
        .map_err(|_| Failure::failed("the instruction is not JSON".to_owned()))?;
    let canonical = idseal_types::jcs::canonical_json(&value).map_err(|e| Failure::failed(e.0))?;
    if canonical != bundle.instruction {
        return Err(Failure::failed("the instruction is not canonical JSON (RFC 8785)"));
    }
    let hash = sha256(bundle.instruction.as_bytes());
    if hex(&hash) != bundle.instruction_hash {
        return Err(Failure::failed("instructionHash is not the SHA-256 of the instruction"));
    }
    let record = b64u_field("record", &bundle.record)?;
    let (vk, device_pk) = (credential.verifying_key(), credential.device_public_key());
    idseal_scal3::verify_record(&vk, &device_pk, &record, &hash)
        .map_err(|e| Failure::failed(format!("the record does not verify: {e}")))?;
    let mut lines = vec![
        format!("ok: record verifies for instruction {}", bundle.instruction),
        format!("  vk {}  device key {}", hex(&vk), hex(&device_pk)),
    ];
    if let (Some(entry), Some(proof), Some(checkpoint), Some(vkey)) =
        (&a.entry, &a.proof, &a.checkpoint, &a.verifier_key)
    {
        let files = LogFiles { entry: read_file(entry)?, proof: read_file(proof)?, checkpoint: read_file(checkpoint)? };
        lines.push(check_log(&bundle, &record, &credential, &files, &verifier(vkey)?)?);
    }
    Ok(lines)
}

/// `--verifier-key`: the key text, or a file holding it.
fn verifier(v: &str) -> Result<NoteVerifier, Failure> {
    if let Ok(k) = NoteVerifier::from_vkey(v.trim()) {
        return Ok(k);
    }
    let path = Path::new(v);
    if path.is_file() {
        let text =
            String::from_utf8(read_file(path)?).map_err(|_| Failure::usage("--verifier-key file is not UTF-8"))?;
        return NoteVerifier::from_vkey(text.trim()).map_err(|e| Failure::usage(format!("--verifier-key: {e}")));
    }
    NoteVerifier::from_vkey(v.trim()).map_err(|e| Failure::usage(format!("--verifier-key: {e}")))
}

struct LogFiles {
    entry: Vec<u8>,
    proof: Vec<u8>,
    checkpoint: Vec<u8>,
}

/// The inclusion proof as the server serves it (`{index, size, root, hashes}`) or as
/// `idseal log proof inclusion --json` prints it (`tree_size`, `root_hash`, `proof`).
#[derive(Deserialize)]
struct InclusionProof {
    index: u64,
    #[serde(alias = "tree_size")]
    size: u64,
    #[serde(default, alias = "root_hash")]
    root: Option<String>,
    #[serde(alias = "proof")]
    hashes: Vec<String>,
}

fn hash32(what: &str, b64: &str) -> Result<Hash, Failure> {
    let bytes = STANDARD.decode(b64).map_err(|_| Failure::failed(format!("{what} is not base64")))?;
    bytes.try_into().map_err(|_| Failure::failed(format!("{what} is not 32 bytes")))
}

/// The entry is this record's `SCAL3_AUTHORIZE` entry, it is in the proof's tree, and that
/// tree is the signed checkpoint's.
fn check_log(
    bundle: &Bundle,
    record: &[u8],
    credential: &Credential,
    files: &LogFiles,
    verifier: &NoteVerifier,
) -> Result<String, Failure> {
    let (kind, details) = parse_entry(&files.entry).map_err(|m| Failure::failed(format!("entry: {m}")))?;
    if kind != "SCAL3_AUTHORIZE" {
        return Err(Failure::failed(format!("entry: kind {kind}, not SCAL3_AUTHORIZE")));
    }
    let field = |k: &str| details.get(k).and_then(Value::as_str);
    let want = [
        ("record", hex(record)),
        ("instruction_hash", bundle.instruction_hash.clone()),
        ("instruction", bundle.instruction.clone()),
        ("vk", hex(&credential.verifying_key())),
        ("device_pk", hex(&credential.device_public_key())),
    ];
    for (k, v) in &want {
        if field(k) != Some(v.as_str()) {
            return Err(Failure::failed(format!("entry: its {k} is not the bundle's")));
        }
    }
    let proof: InclusionProof =
        serde_json::from_slice(&files.proof).map_err(|e| Failure::failed(format!("inclusion proof: {e}")))?;
    if proof.index != bundle.log_index {
        return Err(Failure::failed(format!("the proof is for entry {}, not {}", proof.index, bundle.log_index)));
    }
    let hashes = proof.hashes.iter().map(|h| hash32("proof hash", h)).collect::<Result<Vec<_>, _>>()?;
    let cp = Checkpoint::open(&files.checkpoint, verifier.name(), std::slice::from_ref(verifier))
        .map_err(|e| Failure::failed(format!("checkpoint: {e}")))?;
    if cp.size() != proof.size {
        return Err(Failure::failed(format!("the proof is for size {}, the checkpoint {}", proof.size, cp.size())));
    }
    if let Some(r) = &proof.root
        && &hash32("proof root", r)? != cp.root()
    {
        return Err(Failure::failed("the proof's root is not the checkpoint's"));
    }
    verify_inclusion(&leaf_hash(&files.entry), proof.index, proof.size, &hashes, cp.root())
        .map_err(|e| Failure::failed(format!("entry {} is not in the checkpoint's tree: {e}", proof.index)))?;
    Ok(format!(
        "ok: entry {} is the record's SCAL3_AUTHORIZE entry, included in checkpoint {} signed by {}",
        proof.index,
        cp.size(),
        verifier.name()
    ))
}

/// The kind and details of a version-1 audit-log entry (docs/audit-log.md, "Entry encoding").
fn parse_entry(data: &[u8]) -> Result<(String, Value), String> {
    struct R<'a>(&'a [u8]);
    impl<'a> R<'a> {
        fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
            let (h, t) = self.0.split_at_checked(n).ok_or("truncated")?;
            self.0 = t;
            Ok(h)
        }
        fn byte(&mut self) -> Result<u8, String> {
            Ok(self.take(1)?.first().copied().unwrap_or_default())
        }
        fn str16(&mut self) -> Result<&'a str, String> {
            let n = self.take(2)?;
            let n = u16::from_be_bytes([n.first().copied().unwrap_or_default(), n.get(1).copied().unwrap_or_default()]);
            std::str::from_utf8(self.take(usize::from(n))?).map_err(|_| "not UTF-8".to_owned())
        }
        fn opt(&mut self, some: impl FnOnce(&mut Self) -> Result<(), String>) -> Result<(), String> {
            match self.byte()? {
                0 => Ok(()),
                1 => some(self),
                _ => Err("bad optional field".into()),
            }
        }
    }
    let mut r = R(data);
    if r.byte()? != 1 {
        return Err("not a version-1 entry".into());
    }
    let kind = r.str16()?.to_owned();
    r.take(8)?;
    r.str16()?;
    r.opt(|r| r.take(32).map(drop))?;
    r.opt(|r| r.take(32).map(drop))?;
    r.opt(|r| r.str16().map(drop))?;
    let len: [u8; 4] = r.take(4)?.try_into().map_err(|_| "truncated")?;
    let len = usize::try_from(u32::from_be_bytes(len)).map_err(|_| "details too long")?;
    let details = r.take(len)?;
    if !r.0.is_empty() {
        return Err("trailing bytes".into());
    }
    let value: Value = serde_json::from_slice(details).map_err(|_| "details are not JSON")?;
    Ok((kind, value))
}
