//! `idseal trust keygen|publish|inspect`: list-signing keys, publishing the chain of trust from a
//! TOML description, and reading a signed list (docs/trust.md, "CLI"). The lists, signatures and
//! the walk are idseal-trust's; this module reads files, parses arguments and prints.
//! `idseal vds verify --trust` is in `trust_verify.rs`, `trust inspect` in `trust_show.rs`.
//!
//! Exit codes: 0 success, 1 a failure (I/O, bad file, a signature that does not verify), 2 a
//! usage error.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand};
use idseal_keys::{Algorithm, SigningKey};
use idseal_trust::describe::Description;
use idseal_trust::lists::ListKind;
use idseal_trust::xmldsig::{KeySigner, XmlSigner, self_signed_certificate};
use idseal_vds::certificate::{from_pem_or_der, to_pem};
use zeroize::Zeroizing;

use crate::trust_show::{InspectArgs, cert_summary};
use crate::vds::{Failure, fmt_time, now, out, parse_rfc3339, read_limited, write_file};

/// Largest description, key or certificate file read.
const MAX_SMALL_FILE: usize = 1024 * 1024;

/// The trust-list subcommands.
#[derive(Subcommand)]
pub(crate) enum TrustCommand {
    /// Generate an ES256 list-signing key and its self-signed certificate: NAME.key.pem (PKCS#8,
    /// mode 0600) and NAME.cert.pem in --out-dir. Existing files are never overwritten.
    Keygen(KeygenArgs),
    /// Build and sign every list of a TOML description (docs/trust.md, "CLI") and write them to
    /// --out-dir: `governance.xml`, `scheme-<IAC>.xml`, `tsl-<IAC>.xml`, `vrl-<IAC>.xml`.
    Publish(PublishArgs),
    /// Verify a list's XML signature and print its content: exit 0 when the signature
    /// verifies, 1 when not (with why).
    Inspect(InspectArgs),
}

#[derive(Args)]
pub(crate) struct KeygenArgs {
    /// The signer's name: the files are NAME.key.pem and NAME.cert.pem (letters, digits, `-`,
    /// `_`, `.`; at most 64).
    #[arg(long)]
    name: String,
    /// Directory for the two files (created if missing).
    #[arg(long, value_name = "DIR")]
    out_dir: PathBuf,
    /// Subject CN of the certificate (default: NAME).
    #[arg(long)]
    common_name: Option<String>,
    /// Validity of the certificate in days from now.
    #[arg(long, default_value_t = 365, value_parser = clap::value_parser!(u32).range(1..=3650))]
    days: u32,
}

#[derive(Args)]
pub(crate) struct PublishArgs {
    /// The description (TOML): the Description of idseal_trust::describe, plus an optional
    /// `[certificates]` table mapping certificate names to PEM/DER files (relative to the
    /// description's directory). Names not in it are read from --keys-dir as NAME.cert.pem.
    #[arg(long, value_name = "FILE.toml")]
    description: PathBuf,
    /// Directory of the list signers: NAME.key.pem and NAME.cert.pem for every signer named.
    #[arg(long, value_name = "DIR")]
    keys_dir: PathBuf,
    /// Directory the signed lists are written to (created if missing; lists replaced).
    #[arg(long, value_name = "DIR")]
    out_dir: PathBuf,
    /// Issue time of the lists (RFC 3339) instead of now; NextUpdate is this plus each list's
    /// validity_seconds.
    #[arg(long, value_name = "RFC3339")]
    now: Option<String>,
    /// Time-stamp every list's signature at this RFC 3161 time-stamping authority (XAdES level
    /// T): the answer's token must cover the signature and carry our nonce.
    #[arg(long, value_name = "URL")]
    tsa_url: Option<String>,
}

/// Runs one trust subcommand and maps its failure to `error: …` and the exit code.
pub(crate) fn run(cmd: TrustCommand) -> ExitCode {
    let result = match cmd {
        TrustCommand::Keygen(a) => keygen(&a),
        TrustCommand::Publish(a) => publish(&a),
        TrustCommand::Inspect(a) => crate::trust_show::inspect(&a),
    };
    exit(result)
}

/// `error: …` on stderr and the exit code of a result.
pub(crate) fn exit(result: Result<(), Failure>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("error: {f}");
            match f {
                Failure::Usage(_) => ExitCode::from(2),
                Failure::Failed(_) => ExitCode::FAILURE,
            }
        }
    }
}

fn check_name(name: &str) -> Result<(), Failure> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(Failure::usage(format!("{name:?} is not a signer name (A-Z a-z 0-9 - _ ., at most 64)")))
    }
}

fn create_dir(dir: &Path) -> Result<(), Failure> {
    std::fs::create_dir_all(dir).map_err(|e| Failure::failed(format!("cannot create {}: {e}", dir.display())))
}

fn keygen(a: &KeygenArgs) -> Result<(), Failure> {
    check_name(&a.name)?;
    let cn = a.common_name.clone().unwrap_or_else(|| a.name.clone());
    if cn.is_empty() || cn.len() > 256 {
        return Err(Failure::usage("--common-name must be 1 to 256 bytes"));
    }
    create_dir(&a.out_dir)?;
    let key_path = a.out_dir.join(format!("{}.key.pem", a.name));
    let cert_path = a.out_dir.join(format!("{}.cert.pem", a.name));
    for p in [&key_path, &cert_path] {
        if p.exists() {
            return Err(Failure::failed(format!("{} exists; keygen never overwrites", p.display())));
        }
    }
    let key = SigningKey::generate(Algorithm::Es256, a.name.clone())
        .map_err(|e| Failure::failed(format!("key generation: {e}")))?;
    let from = now();
    let until = from.saturating_add(Duration::from_secs(u64::from(a.days) * 86_400));
    let cert =
        self_signed_certificate(&key, &cn, from, until).map_err(|e| Failure::failed(format!("certificate: {e}")))?;
    let pkcs8 = key.to_pkcs8().map_err(|e| Failure::failed(format!("key export: {e}")))?;
    let pem = Zeroizing::new(to_pem("PRIVATE KEY", &pkcs8));
    write_file(&key_path, pem.as_bytes(), true)?;
    write_file(&cert_path, to_pem("CERTIFICATE", &cert).as_bytes(), false)?;
    out!("wrote {} (ES256, PKCS#8, mode 0600)", key_path.display());
    out!("wrote {}", cert_path.display());
    out!("subject       CN={cn}");
    out!("valid         {} .. {}", fmt_time(from), fmt_time(until));
    out!("sha256        {}", cert_summary(&cert).sha256);
    Ok(())
}

/// Loads NAME.key.pem (PKCS#8 ES256 or RS256) and NAME.cert.pem from `dir`.
fn load_signer(dir: &Path, name: &str) -> Result<KeySigner, Failure> {
    check_name(name)?;
    let key_path = dir.join(format!("{name}.key.pem"));
    let cert_path = dir.join(format!("{name}.cert.pem"));
    let key_file = Zeroizing::new(read_limited(&key_path, MAX_SMALL_FILE, "signer key")?);
    let der = Zeroizing::new(
        from_pem_or_der(&key_file, "PRIVATE KEY")
            .map_err(|e| Failure::failed(format!("signer key {}: {e}", key_path.display())))?,
    );
    let key = SigningKey::from_pkcs8(Algorithm::Es256, name, &der)
        .or_else(|_| SigningKey::from_pkcs8(Algorithm::Rs256, name, &der))
        .map_err(|e| {
            Failure::failed(format!("signer key {}: not an ES256 or RS256 PKCS#8 key ({e})", key_path.display()))
        })?;
    let certificate_der = read_certificate(&cert_path)?;
    Ok(KeySigner { key, certificate_der })
}

/// A certificate file, PEM or DER.
pub(crate) fn read_certificate(path: &Path) -> Result<Vec<u8>, Failure> {
    let bytes = read_limited(path, MAX_SMALL_FILE, "certificate")?;
    from_pem_or_der(&bytes, "CERTIFICATE").map_err(|e| Failure::failed(format!("certificate {}: {e}", path.display())))
}

/// The description and its `[certificates]` table (name → path).
fn read_description(path: &Path) -> Result<(Description, BTreeMap<String, String>), Failure> {
    let bytes = read_limited(path, MAX_SMALL_FILE, "description")?;
    let text = String::from_utf8(bytes).map_err(|_| Failure::failed(format!("{} is not UTF-8", path.display())))?;
    let bad = |e: &dyn std::fmt::Display| Failure::failed(format!("description {}: {e}", path.display()));
    let mut table: toml::Table = text.parse().map_err(|e| bad(&e))?;
    let certificates = match table.remove("certificates") {
        None => BTreeMap::new(),
        Some(v) => v.try_into::<BTreeMap<String, String>>().map_err(|e| bad(&format!("[certificates]: {e}")))?,
    };
    let description: Description = toml::Value::Table(table).try_into().map_err(|e| bad(&e))?;
    Ok((description, certificates))
}

/// The stable file name of each list of `description`, in `build`'s order.
fn file_names(description: &Description) -> Result<Vec<String>, Failure> {
    let mut names = vec!["governance.xml".to_owned()];
    let mut seen = BTreeSet::new();
    for s in &description.schemes {
        if !idseal_trust::lists::is_iac(&s.iac) {
            return Err(Failure::failed(format!("description: not an IAC: {:?}", s.iac)));
        }
        if !seen.insert(s.iac.clone()) {
            return Err(Failure::failed(format!("description: IAC {} appears twice", s.iac)));
        }
        for kind in ["scheme", "tsl", "vrl"] {
            names.push(format!("{kind}-{}.xml", s.iac));
        }
    }
    Ok(names)
}

fn publish(a: &PublishArgs) -> Result<(), Failure> {
    let at = match &a.now {
        Some(s) => parse_rfc3339("--now", s)?,
        None => now(),
    };
    let (description, cert_files) = read_description(&a.description)?;
    let names = file_names(&description)?;
    let base = a.description.parent().unwrap_or_else(|| Path::new("."));

    let mut signer_names = BTreeSet::from([description.governance.signer.clone()]);
    let mut cert_names = BTreeSet::new();
    for s in &description.schemes {
        signer_names.extend([s.scheme.signer.clone(), s.tsl.signer.clone(), s.vrl.signer.clone()]);
        for ca in &s.cas {
            cert_names.insert(ca.certificate.clone());
            cert_names.extend(ca.signing_certificates.iter().cloned());
        }
    }
    let mut loaded = BTreeMap::new();
    for name in &signer_names {
        loaded.insert(name.clone(), load_signer(&a.keys_dir, name)?);
    }
    let signers: BTreeMap<String, &dyn XmlSigner> =
        loaded.iter().map(|(n, s)| (n.clone(), s as &dyn XmlSigner)).collect();
    let mut certificates = BTreeMap::new();
    for name in &cert_names {
        let path = match cert_files.get(name) {
            Some(p) => base.join(p),
            None => {
                check_name(name)?;
                a.keys_dir.join(format!("{name}.cert.pem"))
            }
        };
        certificates.insert(name.clone(), read_certificate(&path)?);
    }
    let built = idseal_trust::build(&description, &signers, &certificates, at)
        .map_err(|e| Failure::failed(format!("publish: {e}")))?;
    if built.documents.len() != names.len() {
        return Err(Failure::failed("publish: unexpected number of lists built"));
    }
    create_dir(&a.out_dir)?;
    for (doc, name) in built.documents.iter().zip(&names) {
        let xml = match &a.tsa_url {
            Some(url) => {
                timestamp(url, &doc.xml).map_err(|e| Failure::failed(format!("{}: time-stamp: {e}", doc.kind)))?
            }
            None => doc.xml.clone(),
        };
        let path = a.out_dir.join(name);
        let tmp = a.out_dir.join(format!(".{name}.tmp"));
        write_file(&tmp, xml.as_bytes(), false)?;
        std::fs::rename(&tmp, &path).map_err(|e| Failure::failed(format!("cannot write {}: {e}", path.display())))?;
        let seq = sequence_of(&description, doc.kind, &doc.location);
        out!("wrote {:<28} {:<15} sequence {seq:<6} location {}", path.display(), doc.kind.to_string(), doc.location);
        let relative = !doc.location.contains(':') && !doc.location.starts_with('/');
        if relative && Path::new(&doc.location).file_name().and_then(|f| f.to_str()) != Some(name.as_str()) {
            eprintln!(
                "warning: the {} is written as {name} but its location is {:?}: serve it there",
                doc.kind, doc.location
            );
        }
    }
    out!("issued        {}", fmt_time(at));
    Ok(())
}

/// Level T: ask the TSA for a token over the signature of `signed_xml` and embed it.
fn timestamp(url: &str, signed_xml: &str) -> Result<String, String> {
    use idseal_trust::timestamp::{parse_response, request, verify_token};
    let imprint = idseal_trust::xmldsig::signature_value_imprint(signed_xml).map_err(|e| e.to_string())?;
    let mut nonce = [0u8; 8];
    aws_lc_rs::rand::fill(&mut nonce).map_err(|_| "no randomness".to_owned())?;
    let nonce = u64::from_be_bytes(nonce) >> 1;
    let response = crate::trust_show::http_timestamp(url, request(&imprint, nonce))?;
    let token = parse_response(&response).map_err(|e| e.to_string())?;
    let info = verify_token(&token).map_err(|e| e.to_string())?;
    if info.imprint != imprint || !info.has_nonce(nonce) {
        return Err("the token does not answer our request".into());
    }
    idseal_trust::xmldsig::add_signature_timestamp(signed_xml, &token).map_err(|e| e.to_string())
}

/// The sequence number the description gives the list at `location` of kind `kind`.
fn sequence_of(d: &Description, kind: ListKind, location: &str) -> u64 {
    if kind == ListKind::Governance {
        return d.governance.sequence_number;
    }
    d.schemes
        .iter()
        .flat_map(|s| [(ListKind::Scheme, &s.scheme), (ListKind::Tsl, &s.tsl), (ListKind::Vrl, &s.vrl)])
        .find(|(k, l)| *k == kind && l.location == location)
        .map_or(0, |(_, l)| l.sequence_number)
}
