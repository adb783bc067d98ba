//! `idseal vds verify --trust GOVERNANCE --anchor CERT.pem VDS`: the whole chain of trust
//! (idseal_trust::verify_vds) over lists read from files or http(s) URLs.

use std::cell::RefCell;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use idseal_trust::lists::ListKind;
use idseal_trust::xmldsig::verify_enveloped;
use idseal_trust::{ChainReport, ListSource, TrustAnchors, TrustError, verify_vds};
use serde_json::{Value, json};

use crate::trust::read_certificate;
use crate::trust_show::{cert_summary, file_url_path, http_get, is_http, kind_of, read_list_file};
use crate::vds::{Failure, fmt_time, now, out, parse_rfc3339, read_seal_text};

/// Where relative locations are resolved.
enum Base {
    /// The Governance List's directory.
    Dir(PathBuf),
    /// The Governance List's URL.
    Url(reqwest::Url),
}

/// One list fetched during the walk.
struct Fetched {
    location: String,
    /// The list's kind and signer, when its signature verifies.
    found: Option<(Option<ListKind>, String)>,
}

/// Lists from files (relative locations against the Governance List's directory, `file:` URLs)
/// or http(s) URLs (when the Governance List came over HTTP, only http(s) locations).
struct FileOrHttp {
    base: Base,
    fetched: RefCell<Vec<Fetched>>,
}

impl FileOrHttp {
    fn get(&self, location: &str) -> Result<String, String> {
        match &self.base {
            Base::Url(base) => {
                let url = base.join(location).map_err(|e| format!("not a URL: {e}"))?;
                if !matches!(url.scheme(), "http" | "https") {
                    return Err("a list fetched over HTTP may only point to http(s) locations".to_owned());
                }
                http_get(url.as_str())
            }
            Base::Dir(dir) => {
                if is_http(location) {
                    return http_get(location);
                }
                let path = file_url_path(location).unwrap_or_else(|| PathBuf::from(location));
                read_list_file(&if path.is_absolute() { path } else { dir.join(path) })
            }
        }
    }
}

impl ListSource for FileOrHttp {
    fn fetch(&self, location: &str) -> Result<String, TrustError> {
        let result = self.get(location);
        let found = result.as_ref().ok().and_then(|xml| verify_enveloped(xml).ok()).map(|v| {
            let signer = cert_summary(&v.certificate_der).to_string();
            (kind_of(&v), signer)
        });
        self.fetched.borrow_mut().push(Fetched { location: location.to_owned(), found });
        result.map_err(|reason| TrustError::Fetch { location: location.to_owned(), reason })
    }
}

/// The step number of docs/trust.md's table for a report step name.
fn step_number(step: &str) -> &'static str {
    match step {
        "VDS header" => "1-2",
        "Governance List" => "3",
        "Scheme List" => "4",
        "TSL" => "5",
        "CA" => "6",
        "Signing certificate" => "7",
        "VRL" => "7b",
        "Seal signature" => "8",
        _ => "-",
    }
}

fn list_step(list: ListKind) -> &'static str {
    match list {
        ListKind::Governance => "3 Governance List",
        ListKind::Scheme => "4 Scheme List",
        ListKind::Tsl => "5 TSL",
        ListKind::Vrl => "7b VRL",
    }
}

/// The step at which the walk refused, per docs/trust.md.
fn failed_step(e: &TrustError) -> &'static str {
    match e {
        TrustError::Vds(_) => "1-2 VDS header",
        TrustError::UntrustedGovernanceSigner => "3 Governance List",
        TrustError::ListInvalid { list, .. }
        | TrustError::ListExpired { list, .. }
        | TrustError::WrongListSigner { list } => list_step(*list),
        TrustError::SchemeNotAuthorised { .. } | TrustError::ManifestNotInScope { .. } => "4 Scheme List",
        TrustError::SchemeMismatch { .. } => "4-7b list IAC",
        TrustError::CaNotListed { .. } => "5 TSL",
        TrustError::CaNotGranted { .. } | TrustError::CaCertificateNotValid { .. } => "6 CA",
        TrustError::SigningCertificateNotListed { .. }
        | TrustError::SigningCertificate(_)
        | TrustError::SigningCertificateNotValid { .. }
        | TrustError::UsageListMissing { .. } => "7 Signing certificate",
        TrustError::Revoked { .. } => "7b VRL",
        TrustError::Seal(_) => "8 Seal signature",
        TrustError::Fetch { .. } => "fetching a list",
        _ => "chain",
    }
}

/// The variant name of a trust error, e.g. `Revoked`.
fn error_kind(e: &TrustError) -> String {
    format!("{e:?}").chars().take_while(char::is_ascii_alphanumeric).collect()
}

/// What the failure message says beyond the error: the signer of the Governance List when it is
/// not an anchor.
fn detail(e: &TrustError, fetched: &[Fetched], anchors: &[Vec<u8>]) -> String {
    if !matches!(e, TrustError::UntrustedGovernanceSigner) {
        return String::new();
    }
    let signer = fetched.first().and_then(|f| f.found.as_ref()).map_or("?", |(_, s)| s.as_str());
    let anchors: Vec<String> = anchors.iter().map(|a| cert_summary(a).to_string()).collect();
    format!("; it is signed by {signer}; the anchors are {}", anchors.join(", "))
}

fn time_rfc(t: idseal_types::UnixTime) -> String {
    fmt_time(t)
}

fn print_report(r: &ChainReport, fetched: &[Fetched], json: bool, at: idseal_types::UnixTime) {
    let signer_of = |kind: ListKind| {
        fetched.iter().rev().find_map(|f| match &f.found {
            Some((Some(k), s)) if *k == kind => Some(s.clone()),
            _ => None,
        })
    };
    let step_signer = |step: &str| match step {
        "Governance List" => signer_of(ListKind::Governance),
        "Scheme List" => signer_of(ListKind::Scheme),
        "TSL" => signer_of(ListKind::Tsl),
        "VRL" => signer_of(ListKind::Vrl),
        _ => None,
    };
    if json {
        let steps: Vec<Value> = r
            .steps
            .iter()
            .map(|s| {
                json!({"step": step_number(s.step), "name": s.step, "found": s.found,
                "signed_by": step_signer(s.step)})
            })
            .collect();
        let v = json!({
            "valid": true,
            "checked_at": time_rfc(at),
            "steps": steps,
            "fingerprint": r.fingerprint,
            "ca": r.ca_name,
            "certificate_reference": r.certificate_reference,
            "lists": fetched.iter().map(|f| f.location.clone()).collect::<Vec<_>>(),
        });
        out!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        return;
    }
    out!("valid (chain of trust, checked at {})", time_rfc(at));
    for s in &r.steps {
        out!("{:<3} {}: {}", step_number(s.step), s.step, s.found);
        if let Some(signer) = step_signer(s.step) {
            out!("      signed by {signer}");
        }
    }
    out!("fingerprint   {}", r.fingerprint);
    match &r.vds.payload {
        idseal_vds::Payload::Identity(p) => out!("tid           {}", p.token_id_string()),
        idseal_vds::Payload::Service(p) => {
            out!("service       {} ({}, {})", p.service_id, p.name, p.url);
            out!("scopes        {}", p.scopes.join(" "));
        }
    }
    out!("expires       {}", fmt_time(r.vds.payload.expires_at()));
}

/// `vds verify --trust`: exit 0 valid, 1 invalid (the step and why), 2 usage.
pub(crate) fn verify(
    input: &Path,
    trust: &str,
    anchor_files: &[PathBuf],
    at: Option<&str>,
    json: bool,
) -> Result<(), Failure> {
    let at = match at {
        Some(s) => parse_rfc3339("--now", s)?,
        None => now(),
    };
    if anchor_files.is_empty() {
        return Err(Failure::usage("--trust needs at least one --anchor (a Governance List signer certificate)"));
    }
    let mut anchors = Vec::new();
    for f in anchor_files {
        anchors.push(read_certificate(f).map_err(|e| Failure::usage(format!("--anchor: {e}")))?);
    }
    let (base, governance_location) = if is_http(trust) {
        let url = reqwest::Url::parse(trust).map_err(|e| Failure::usage(format!("--trust {trust:?}: {e}")))?;
        (Base::Url(url), trust.to_owned())
    } else {
        let path = file_url_path(trust).unwrap_or_else(|| PathBuf::from(trust));
        let path = std::path::absolute(&path).map_err(|e| Failure::usage(format!("--trust {trust:?}: {e}")))?;
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        (Base::Dir(dir), path.to_string_lossy().into_owned())
    };
    let text = read_seal_text(input)?;
    let source = FileOrHttp { base, fetched: RefCell::new(Vec::new()) };
    let anchors_cfg = TrustAnchors { governance_location, governance_signers: anchors.clone() };
    let result = verify_vds(&text, &anchors_cfg, &source, at);
    let fetched = source.fetched.into_inner();
    match result {
        Ok(report) => {
            print_report(&report, &fetched, json, at);
            Ok(())
        }
        Err(e) => {
            let step = failed_step(&e);
            let msg = format!("invalid seal: step {step}: {e}{} ({})", detail(&e, &fetched, &anchors), error_kind(&e));
            if json {
                out!(
                    "{}",
                    json!({"valid": false, "step": step, "error": error_kind(&e), "message": msg,
                    "lists": fetched.iter().map(|f| f.location.clone()).collect::<Vec<_>>()})
                );
            } else {
                out!("invalid");
                for f in &fetched {
                    match &f.found {
                        Some((kind, signer)) => out!(
                            "    read {} ({}, signed by {signer})",
                            f.location,
                            kind.map_or_else(|| "unknown kind".to_owned(), |k| k.to_string())
                        ),
                        None => out!("    read {} (signature does not verify or not fetched)", f.location),
                    }
                }
                out!("failed at step {step}: {e}");
            }
            Err(Failure::failed(msg))
        }
    }
}
