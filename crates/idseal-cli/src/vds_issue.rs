//! `idseal vds dev-ca`, `idseal vds issue` and `idseal vds issue-service`.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use aws_lc_rs::rand::{SecureRandom as _, SystemRandom};
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use clap::Args;
use idseal_keys::{Pkcs11Config, Pkcs11Signer};
use idseal_types::UnixTime;
use idseal_vds::certificate::{from_pem_or_der, to_pem};
use idseal_vds::{
    CertificateAuthority, CertificateReference, FACE_LEN, Identity, LocalSigner, ManifestId, Payload, Pkcs11SealSigner,
    SealSigner, Service, SigningCertificate, TrustLevel, decode,
};
use serde::Deserialize;
use zeroize::Zeroizing;

use crate::vds::{Failure, TransportArg, fmt_time, hex, now, out, parse_expiry, parse_manifest_id, vds_error};

/// Largest identity JSON, certificate or key file read.
const MAX_SMALL_FILE: usize = 64 * 1024;
/// The manifest's photo limit.
const MAX_PHOTO: usize = 2048;

#[derive(Args)]
pub(crate) struct DevCaArgs {
    /// Directory for ca.pem, ca.key, signer.pem and signer.key (created if missing; existing
    /// files are never overwritten).
    #[arg(long)]
    out: PathBuf,
    /// CA id: 4 characters A-Z 0-9 (the first half of every certificate reference).
    #[arg(long, default_value = "IDSL")]
    ca_id: String,
    /// Certificate id of the signing certificate: 4 characters A-Z 0-9. The signer's subject
    /// CN and the seals' certificate reference are CA id + certificate id.
    #[arg(long, default_value = "0001")]
    cert_id: String,
    /// Manifest ids the signing certificate may sign (its UsageList), 6 hex digits each.
    #[arg(long = "manifest", num_args = 1.., default_value = "0A0001", value_parser = parse_manifest_id)]
    manifests: Vec<ManifestId>,
    /// Validity of both certificates, in days from now.
    #[arg(long, default_value_t = 365, value_parser = clap::value_parser!(u32).range(1..=3650))]
    days: u32,
    /// Common name of the CA.
    #[arg(long, default_value = "idseal dev CA")]
    common_name: String,
    /// Generate the signing key on a PKCS#11 token instead of writing signer.key:
    /// `pkcs11:token=T;object=LABEL?module-path=/usr/lib/softhsm/libsofthsm2.so` (PIN in
    /// `pin-value` or IDSEAL_PKCS11_PIN). Use the same URI with `issue --pkcs11`.
    #[arg(long, value_name = "URI")]
    pkcs11: Option<String>,
}

/// Who signs a seal: the signing certificate and its key (a file or a PKCS#11 token).
#[derive(Args)]
pub(crate) struct SignerArgs {
    /// The signing certificate (PEM or DER); its UsageList must hold the seal's manifest
    /// (0A0001 identity, 0A0002 service).
    #[arg(long, value_name = "signer.pem")]
    cert: PathBuf,
    /// The signing key: PKCS#8 P-256, PEM or DER.
    #[arg(long, value_name = "signer.key", required_unless_present = "pkcs11", conflicts_with = "pkcs11")]
    key: Option<PathBuf>,
    /// The signing key on a PKCS#11 token:
    /// `pkcs11:token=T;object=LABEL?module-path=/path/module.so` (PIN in `pin-value` or
    /// IDSEAL_PKCS11_PIN).
    #[arg(long, value_name = "URI")]
    pkcs11: Option<String>,
}

/// Where an issued seal goes.
#[derive(Args)]
pub(crate) struct OutputArgs {
    /// Transport encoding of the text.
    #[arg(long, value_enum, default_value_t = TransportArg::Base45)]
    transport: TransportArg,
    /// Write the seal text (with one trailing newline) to this file instead of stdout.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

#[derive(Args)]
pub(crate) struct IssueArgs {
    /// JSON object of identity fields: gn, fn, dob (YYYY-MM-DD), nat (ICAO 3-letter code), doc,
    /// optional tid (UUID; random when absent). Any other key is refused.
    #[arg(long, value_name = "FILE.json")]
    identity: PathBuf,
    /// The portrait, a WEBP file of at most 2048 bytes.
    #[arg(long, value_name = "FILE.webp")]
    photo: PathBuf,
    #[command(flatten)]
    signer: SignerArgs,
    /// The face template, a file of exactly 140 bytes. Without it the seal carries 140 zero bytes
    /// (no template).
    #[arg(long, value_name = "FILE")]
    face: Option<PathBuf>,
    /// Trust level: 1 self-issued, 2 operator-verified, 3 NFC chip + biometric.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=3))]
    trust_level: u64,
    /// Expiry: RFC 3339 (e.g. 2030-01-01T00:00:00Z) or +N followed by y (years), d (days) or h
    /// (hours) from now.
    #[arg(long, default_value = "+2y")]
    expires: String,
    #[command(flatten)]
    output: OutputArgs,
}

#[derive(Args)]
pub(crate) struct IssueServiceArgs {
    /// Service id: 1 to 64 characters a-z 0-9 . _ -
    #[arg(long, value_name = "ID")]
    sid: String,
    /// Display name shown on the phone: 1 to 64 characters, no control or bidirectional
    /// characters.
    #[arg(long)]
    name: String,
    /// The service's web origin: `https://host[:port]` (http:// only for localhost and
    /// 127.0.0.1), lowercase, no path, not even a trailing "/".
    #[arg(long, value_name = "ORIGIN")]
    url: String,
    /// The scopes the service may request, separated by spaces, e.g.
    /// "identity:name identity:age_over_18".
    #[arg(long)]
    scopes: String,
    /// Validity in days from now.
    #[arg(long, default_value_t = 365, value_parser = clap::value_parser!(u32).range(1..=3650))]
    days: u32,
    #[command(flatten)]
    signer: SignerArgs,
    #[command(flatten)]
    output: OutputArgs,
}

/// The identity JSON file: a closed schema.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IdentityJson {
    gn: String,
    #[serde(rename = "fn")]
    family_name: String,
    dob: String,
    nat: String,
    doc: String,
    #[serde(default)]
    tid: Option<String>,
}

pub(crate) fn dev_ca(a: &DevCaArgs) -> Result<(), Failure> {
    let reference = CertificateReference::new(&a.ca_id, &a.cert_id)
        .map_err(|_| Failure::usage("--ca-id and --cert-id are 4 characters A-Z 0-9 each"))?;
    let pkcs11 = match &a.pkcs11 {
        Some(uri) => {
            warn_pin_in_argv(uri);
            Some(Pkcs11Config::from_uri(uri).map_err(|e| Failure::usage(format!("--pkcs11: {e}")))?)
        }
        None => None,
    };
    let names: &[&str] = if pkcs11.is_some() {
        &["ca.pem", "ca.key", "signer.pem"]
    } else {
        &["ca.pem", "ca.key", "signer.pem", "signer.key"]
    };
    std::fs::create_dir_all(&a.out).map_err(|e| Failure::failed(format!("cannot create {}: {e}", a.out.display())))?;
    for name in names {
        let p = a.out.join(name);
        if p.exists() {
            return Err(Failure::failed(format!("{} exists; dev-ca never overwrites", p.display())));
        }
    }
    let now = now();
    let validity = Duration::from_secs(u64::from(a.days) * 86_400);
    let ca = idseal_vds::dev_ca(&a.common_name, &a.ca_id, now, validity).map_err(|e| vds_error("CA", &e))?;
    let authority =
        CertificateAuthority::from_pem(&ca.certificate_pem, &ca.key_pem).map_err(|e| vds_error("CA", &e))?;
    let (point, leaf_key) = match &pkcs11 {
        Some(config) => {
            let key = Pkcs11Signer::generate(config).map_err(|e| Failure::failed(format!("PKCS#11: {e}")))?;
            (key.public_key().to_vec(), None)
        }
        None => {
            let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                .map_err(|_| Failure::failed("key generation failed"))?;
            let signer =
                LocalSigner::from_pkcs8(pkcs8.as_ref(), reference.clone()).map_err(|e| vds_error("signer key", &e))?;
            (signer.public_key(), Some(Zeroizing::new(to_pem("PRIVATE KEY", pkcs8.as_ref()))))
        }
    };
    let leaf = idseal_vds::signing_certificate(&authority, &a.cert_id, &point, &a.manifests, now, validity)
        .map_err(|e| vds_error("signing certificate", &e))?;
    write_new(&a.out.join("ca.pem"), ca.certificate_pem.as_bytes(), false)?;
    write_new(&a.out.join("ca.key"), ca.key_pem.as_bytes(), true)?;
    write_new(&a.out.join("signer.pem"), leaf.as_bytes(), false)?;
    if let Some(key) = &leaf_key {
        write_new(&a.out.join("signer.key"), key.as_bytes(), true)?;
    }
    let ids: Vec<String> = a.manifests.iter().map(ToString::to_string).collect();
    out!("wrote {}", names.iter().map(|n| a.out.join(n).display().to_string()).collect::<Vec<_>>().join(", "));
    out!("certificate reference  {reference}");
    out!("UsageList              {}", ids.join(", "));
    out!("valid                  {} .. {}", fmt_time(now), fmt_time(now.saturating_add(validity)));
    if pkcs11.is_some() {
        out!("signing key            on the PKCS#11 token (not exported)");
    }
    out!("for demos only: the CA key is an unprotected file");
    Ok(())
}

/// Creates a file that must not exist yet (mode 0600 for keys).
fn write_new(path: &Path, bytes: &[u8], secret: bool) -> Result<(), Failure> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let fail = |e: std::io::Error| Failure::failed(format!("cannot write {}: {e}", path.display()));
    let mode = if secret { 0o600 } else { 0o644 };
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(mode).open(path).map_err(fail)?;
    f.write_all(bytes).and_then(|()| f.sync_all()).map_err(fail)
}

fn parse_uuid(s: &str) -> Option<[u8; 16]> {
    let b = s.as_bytes();
    if b.len() != 36 || [8, 13, 18, 23].iter().any(|&i| b.get(i) != Some(&b'-')) {
        return None;
    }
    let digits: String = s.chars().filter(|&c| c != '-').collect();
    let mut out = [0u8; 16];
    for (o, i) in out.iter_mut().zip((0..32).step_by(2)) {
        *o = u8::from_str_radix(digits.get(i..i + 2)?, 16).ok()?;
    }
    Some(out)
}

fn random_uuid() -> Result<[u8; 16], Failure> {
    let mut b = [0u8; 16];
    SystemRandom::new().fill(&mut b).map_err(|_| Failure::failed("no randomness for the token id"))?;
    if let Some(v) = b.get_mut(6) {
        *v = (*v & 0x0F) | 0x40; // version 4
    }
    if let Some(v) = b.get_mut(8) {
        *v = (*v & 0x3F) | 0x80; // RFC 4122 variant
    }
    Ok(b)
}

fn read_identity(
    path: &Path,
    photo: Vec<u8>,
    face: [u8; FACE_LEN],
    tl: TrustLevel,
    exp: UnixTime,
) -> Result<Identity, Failure> {
    let bytes = crate::vds::read_limited(path, MAX_SMALL_FILE, "identity file")?;
    let ctx = |m: String| Failure::failed(format!("identity file {}: {m}", path.display()));
    let value: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| ctx(e.to_string()))?;
    if !value.is_object() {
        return Err(ctx("not a JSON object of gn, fn, dob, nat, doc and optional tid".into()));
    }
    let j: IdentityJson = serde_json::from_value(value).map_err(|e| ctx(e.to_string()))?;
    let token_id = match &j.tid {
        Some(t) => parse_uuid(t).ok_or_else(|| ctx(format!("\"tid\" {t:?} is not a UUID (8-4-4-4-12 hex digits)")))?,
        None => random_uuid()?,
    };
    let identity = Identity {
        given_name: j.gn,
        family_name: j.family_name,
        date_of_birth: j.dob,
        nationality: j.nat,
        document_number: j.doc,
        token_id,
        expires_at: exp,
        photo,
        face,
        trust_level: tl,
    };
    // The codec checks every field against the manifest; report it against the file.
    identity.encode().map_err(|e| ctx(format!("{e} ({})", crate::vds::error_kind(&e))))?;
    Ok(identity)
}

pub(crate) fn issue(a: &IssueArgs) -> Result<(), Failure> {
    let now = now();
    let exp = parse_expiry(&a.expires, now)?;
    if exp <= now {
        return Err(Failure::usage(format!("--expires {} is not in the future", a.expires)));
    }
    let trust_level = TrustLevel::from_u64(a.trust_level).map_err(|e| Failure::usage(format!("--trust-level: {e}")))?;
    let photo = crate::vds::read_limited(&a.photo, MAX_PHOTO, "photo")?;
    idseal_vds::payload::check_webp(&photo)
        .map_err(|e| Failure::failed(format!("photo {}: {e}", a.photo.display())))?;
    let face = match &a.face {
        Some(p) => {
            let b = crate::vds::read_limited(p, FACE_LEN, "face template")?;
            <[u8; FACE_LEN]>::try_from(b.as_slice()).map_err(|_| {
                Failure::failed(format!(
                    "face template {} is {} bytes, exactly {FACE_LEN} required",
                    p.display(),
                    b.len()
                ))
            })?
        }
        None => [0u8; FACE_LEN],
    };
    let identity = read_identity(&a.identity, photo, face, trust_level, exp)?;
    let (cert, signer) = load_signer(&a.signer)?;
    let text = idseal_vds::issue(&identity, signer.as_ref(), &cert, ManifestId::IDENTITY, now)
        .map_err(|e| vds_error("issuance refused", &e))?;
    write_seal(&a.output, &text, ("token id", &identity.token_id_string()), exp)
}

/// Writes an issued seal in the chosen transport: to stdout, or to a file with a summary.
fn write_seal(o: &OutputArgs, text: &str, what: (&str, &str), exp: UnixTime) -> Result<(), Failure> {
    let decoded = decode(text).map_err(|e| vds_error("issued seal", &e))?;
    let text = decoded.to_text(o.transport.transport());
    match &o.out {
        Some(path) => {
            crate::vds::write_file(path, format!("{text}\n").as_bytes(), false)?;
            out!("wrote {} ({} characters)", path.display(), text.len());
            out!("{:<12} {}", what.0, what.1);
            out!("expires      {}", fmt_time(exp));
            out!("fingerprint  {}", hex(&decoded.fingerprint()));
        }
        None => out!("{text}"),
    }
    Ok(())
}

pub(crate) fn issue_service(a: &IssueServiceArgs) -> Result<(), Failure> {
    let now = now();
    let exp = now.saturating_add(Duration::from_secs(u64::from(a.days) * 86_400));
    let scopes: Vec<String> = a.scopes.split_whitespace().map(str::to_owned).collect();
    if scopes.is_empty() {
        return Err(Failure::usage("--scopes: give at least one scope, e.g. identity:name"));
    }
    let service =
        Service { service_id: a.sid.clone(), name: a.name.clone(), url: a.url.clone(), scopes, expires_at: exp };
    // The codec checks every field against the manifest; report it against the flags.
    service.encode().map_err(|e| vds_error("service fields refused", &e))?;
    let (cert, signer) = load_signer(&a.signer)?;
    let text = idseal_vds::issue_payload(&Payload::Service(service), signer.as_ref(), &cert, now)
        .map_err(|e| vds_error("issuance refused", &e))?;
    write_seal(&a.output, &text, ("service", &a.sid), exp)
}

/// The signing certificate and a signer for it: a local PKCS#8 key or a PKCS#11 key.
fn load_signer(a: &SignerArgs) -> Result<(SigningCertificate, Box<dyn SealSigner>), Failure> {
    let (cert_path, key, pkcs11) = (&a.cert, a.key.as_deref(), a.pkcs11.as_deref());
    let cert_bytes = crate::vds::read_limited(cert_path, MAX_SMALL_FILE, "certificate")?;
    let cert = SigningCertificate::parse(&cert_bytes)
        .map_err(|e| vds_error(&format!("certificate {}", cert_path.display()), &e))?;
    let reference = cert.certificate_reference.clone();
    let signer: Box<dyn SealSigner> = match (key, pkcs11) {
        (Some(path), _) => {
            let pem = Zeroizing::new(crate::vds::read_limited(path, MAX_SMALL_FILE, "key")?);
            let der = Zeroizing::new(
                from_pem_or_der(&pem, "PRIVATE KEY").map_err(|e| vds_error(&format!("key {}", path.display()), &e))?,
            );
            Box::new(
                LocalSigner::from_pkcs8(&der, reference)
                    .map_err(|e| vds_error(&format!("key {}", path.display()), &e))?,
            )
        }
        (None, Some(uri)) => {
            warn_pin_in_argv(uri);
            let config = Pkcs11Config::from_uri(uri).map_err(|e| Failure::usage(format!("--pkcs11: {e}")))?;
            let key = Pkcs11Signer::open(&config).map_err(|e| Failure::failed(format!("PKCS#11: {e}")))?;
            Box::new(Pkcs11SealSigner::new(key, reference))
        }
        (None, None) => return Err(Failure::usage("--key or --pkcs11 is required")),
    };
    Ok((cert, signer))
}

/// A PIN in a command-line argument is visible to every user in the process list and stays in
/// shell history: say so (the PIN itself is never printed).
fn warn_pin_in_argv(uri: &str) {
    if uri.to_ascii_lowercase().contains("pin-value=") {
        eprintln!(
            "warning: the PKCS#11 PIN is in a command-line argument (pin-value), visible in the process \
             list and shell history; prefer the IDSEAL_PKCS11_PIN environment variable"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids() {
        let u = parse_uuid("2b7e1516-28ae-4d2a-a6d2-abf7158809cf").unwrap();
        assert_eq!(u[0], 0x2b);
        assert_eq!(u[15], 0xcf);
        for bad in ["2b7e151628ae4d2aa6d2abf7158809cf", "2b7e1516-28ae-4d2a-a6d2-abf7158809cg", "", "é"] {
            assert!(parse_uuid(bad).is_none(), "{bad}");
        }
        let r = random_uuid().unwrap();
        assert_eq!(r[6] >> 4, 4);
        assert_eq!(r[8] >> 6, 2);
    }
}
