//! `idseal trust inspect`, and what it shares with `vds verify --trust`: reading a list from a
//! file or an http(s) URL, telling its kind, and naming certificates.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use idseal_trust::lists::{
    GovernanceList, IDSEAL_NS, ListKind, ListPointer, SchemeList, StatusPeriod, TSL_TYPE_GOVERNANCE, TSL_TYPE_SCHEME,
    TSL_TYPE_TSL, Tsl, Vrl, format_datetime, to_hex,
};
use idseal_trust::xmldsig::{Verified, verify_enveloped};
use serde_json::{Map, Value, json};

use crate::vds::{Failure, hex, now, out, read_limited};

/// Largest list read (file or HTTP answer).
pub(crate) const MAX_LIST: usize = 10 * 1024 * 1024;
/// Timeout of an HTTP fetch.
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Args)]
pub(crate) struct InspectArgs {
    /// The list: a file, a `file:` URL or an http:// URL.
    #[arg(value_name = "FILE|URL")]
    input: String,
    /// One JSON document instead of the human form.
    #[arg(long)]
    json: bool,
}

/// Whether `s` is an http(s) URL.
pub(crate) fn is_http(s: &str) -> bool {
    let l = s.to_ascii_lowercase();
    l.starts_with("http://") || l.starts_with("https://")
}

/// The path of a `file:` URL (`file:///abs`, `file:rel`), or `None`.
pub(crate) fn file_url_path(s: &str) -> Option<PathBuf> {
    let rest = s.strip_prefix("file:")?;
    Some(PathBuf::from(rest.strip_prefix("//").unwrap_or(rest)))
}

/// GET `url` (10 s timeout, at most 10 MiB, status 200), from sync code running on the
/// multi-threaded runtime (or without one).
pub(crate) fn http_get(url: &str) -> Result<String, String> {
    let fetch = async {
        let client = idseal_server::http::client_builder()
            .timeout(HTTP_TIMEOUT)
            .redirect(reqwest::redirect::Policy::limited(5))
            .build()
            .map_err(|e| format!("HTTP client: {e}"))?;
        let mut r = client.get(url).send().await.map_err(|e| e.to_string())?;
        if r.status() != reqwest::StatusCode::OK {
            return Err(format!("status {}", r.status()));
        }
        if r.content_length().is_some_and(|n| n > MAX_LIST as u64) {
            return Err(format!("answer larger than {MAX_LIST} bytes"));
        }
        let mut body = Vec::new();
        while let Some(chunk) = r.chunk().await.map_err(|e| e.to_string())? {
            if body.len() + chunk.len() > MAX_LIST {
                return Err(format!("answer larger than {MAX_LIST} bytes"));
            }
            body.extend_from_slice(&chunk);
        }
        String::from_utf8(body).map_err(|_| "the answer is not UTF-8".to_owned())
    };
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(|| h.block_on(fetch))
        }
        _ => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("runtime: {e}"))?
            .block_on(fetch),
    }
}

/// POST an RFC 3161 TimeStampReq to a time-stamping authority (RFC 3161 §3.4: content type
/// `application/timestamp-query`), returning the TimeStampResp DER (at most 64 KiB).
pub(crate) fn http_timestamp(url: &str, request: Vec<u8>) -> Result<Vec<u8>, String> {
    let max = idseal_trust::timestamp::MAX_TOKEN_BYTES;
    let exchange = async {
        let client = idseal_server::http::client_builder()
            .timeout(HTTP_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("HTTP client: {e}"))?;
        let mut r = client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/timestamp-query")
            .body(request)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if r.status() != reqwest::StatusCode::OK {
            return Err(format!("status {}", r.status()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = r.chunk().await.map_err(|e| e.to_string())? {
            if body.len() + chunk.len() > max {
                return Err(format!("answer larger than {max} bytes"));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    };
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(|| h.block_on(exchange))
        }
        _ => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("runtime: {e}"))?
            .block_on(exchange),
    }
}

/// A list file as text (at most 10 MiB).
pub(crate) fn read_list_file(path: &Path) -> Result<String, String> {
    let bytes = read_limited(path, MAX_LIST, "list").map_err(|e| e.to_string())?;
    String::from_utf8(bytes).map_err(|_| format!("{} is not UTF-8", path.display()))
}

/// The kind of a verified list, from its root and `TSLType` (the strict parse confirms it).
pub(crate) fn kind_of(v: &Verified) -> Option<ListKind> {
    let d = &v.signed_document;
    let has_type = |t: &str| d.contains(&format!(">{t}<"));
    if has_type(TSL_TYPE_GOVERNANCE) {
        Some(ListKind::Governance)
    } else if has_type(TSL_TYPE_SCHEME) {
        Some(ListKind::Scheme)
    } else if has_type(TSL_TYPE_TSL) {
        Some(ListKind::Tsl)
    } else if d.contains("VdsRevocationList") && d.contains(IDSEAL_NS) {
        Some(ListKind::Vrl)
    } else {
        None
    }
}

/// A certificate's subject and SHA-256.
pub(crate) struct CertSummary {
    /// `CN=…, serialNumber=…` (the attributes we know), or `?` when unreadable.
    pub(crate) subject: String,
    /// SHA-256 of the DER, hex.
    pub(crate) sha256: String,
}

impl CertSummary {
    pub(crate) fn json(&self) -> Value {
        json!({"subject": self.subject, "sha256": self.sha256})
    }
}

impl std::fmt::Display for CertSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (SHA-256 {})", self.subject, self.sha256)
    }
}

pub(crate) fn cert_summary(der: &[u8]) -> CertSummary {
    CertSummary {
        subject: subject_of(der).unwrap_or_else(|| "?".to_owned()),
        sha256: hex(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der).as_ref()),
    }
}

/// One DER TLV: tag, content, rest.
fn tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = match first {
        0..=0x7F => (usize::from(first), rest),
        0x81..=0x84 => {
            let (bytes, rest) = rest.split_at_checked(usize::from(first & 0x7F))?;
            (bytes.iter().fold(0usize, |acc, b| (acc << 8) | usize::from(*b)), rest)
        }
        _ => return None,
    };
    let (content, rest) = rest.split_at_checked(len)?;
    Some((tag, content, rest))
}

/// The subject of an X.509 certificate as `CN=…, O=…` (known attributes only).
fn subject_of(der: &[u8]) -> Option<String> {
    let (_, cert, _) = tlv(der)?;
    let (_, tbs, _) = tlv(cert)?;
    let mut fields = Vec::new();
    let mut rest = tbs;
    while let Some((tag, content, r)) = tlv(rest) {
        fields.push((tag, content));
        rest = r;
    }
    let skip = usize::from(fields.first()?.0 == 0xA0);
    let (_, subject) = fields.get(skip + 4)?;
    let mut parts = Vec::new();
    let mut rdns = *subject;
    while let Some((_, set, r)) = tlv(rdns) {
        rdns = r;
        let Some((_, atv, _)) = tlv(set) else { continue };
        let Some((0x06, oid, value)) = tlv(atv) else { continue };
        let Some((_, v, _)) = tlv(value) else { continue };
        let name = match oid {
            [0x55, 0x04, 0x03] => "CN",
            [0x55, 0x04, 0x05] => "serialNumber",
            [0x55, 0x04, 0x06] => "C",
            [0x55, 0x04, 0x0A] => "O",
            [0x55, 0x04, 0x0B] => "OU",
            _ => continue,
        };
        parts.push(format!("{name}={}", String::from_utf8_lossy(v)));
    }
    Some(parts.join(", "))
}

fn period_json(p: &StatusPeriod) -> Value {
    json!({"status": format!("{:?}", p.status).to_lowercase(), "since": format_datetime(p.since)})
}

fn pointer_json(p: &ListPointer) -> Value {
    json!({"location": p.location, "signer": cert_summary(&p.signer_certificate).json()})
}

/// The object of a `json!({…})`.
fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// `v[path[0]][path[1]]…`, `Null` when absent.
fn field<'a>(v: &'a Value, path: &[&str]) -> &'a Value {
    static NULL: Value = Value::Null;
    path.iter().try_fold(v, |v, k| v.get(k)).unwrap_or(&NULL)
}

fn information_json(i: &idseal_trust::lists::SchemeInformation) -> Map<String, Value> {
    obj(json!({
        "sequence_number": i.sequence_number,
        "operator": i.operator_name,
        "issued_at": format_datetime(i.issued_at),
        "next_update": format_datetime(i.next_update),
        "distribution_points": i.distribution_points,
    }))
}

/// The content of a verified list as JSON (`kind`, common fields, and the kind's entries).
pub(crate) fn list_json(v: &Verified) -> Result<Map<String, Value>, String> {
    let kind = kind_of(v).ok_or("not a Governance List, Scheme List, TSL or VRL")?;
    let e = |e: idseal_trust::TrustError| format!("{kind}: {e}");
    let mut out = match kind {
        ListKind::Governance => {
            let l = GovernanceList::parse(v).map_err(e)?;
            let mut j = information_json(&l.information);
            j.insert(
                "operators".to_owned(),
                l.operators
                    .iter()
                    .map(|o| {
                        json!({"iac": o.iac, "name": o.name, "scheme_list": o.scheme_list_location,
                    "signer": cert_summary(&o.signer_certificate).json()})
                    })
                    .collect::<Value>(),
            );
            j
        }
        ListKind::Scheme => {
            let l = SchemeList::parse(v).map_err(e)?;
            let mut j = information_json(&l.information);
            j.insert("iac".to_owned(), json!(l.iac));
            j.insert("manifests".to_owned(), l.manifest_scope.iter().map(ToString::to_string).collect::<Value>());
            j.insert("tsls".to_owned(), l.tsls.iter().map(pointer_json).collect::<Value>());
            j.insert("vrl".to_owned(), pointer_json(&l.vrl));
            j
        }
        ListKind::Tsl => {
            let l = Tsl::parse(v).map_err(e)?;
            let mut j = information_json(&l.information);
            j.insert("iac".to_owned(), json!(l.iac));
            j.insert(
                "cas".to_owned(),
                l.providers
                    .iter()
                    .map(|p| {
                        json!({"name": p.name, "service_name": p.service_name,
                    "certificate": cert_summary(&p.ca_certificate).json(), "status": period_json(&p.current),
                    "history": p.history.iter().map(period_json).collect::<Vec<_>>(),
                    "signing_certificates": p.signing_certificates.iter().map(|c| cert_summary(c).json())
                        .collect::<Vec<_>>()})
                    })
                    .collect::<Value>(),
            );
            j
        }
        ListKind::Vrl => {
            let l = Vrl::parse(v).map_err(e)?;
            obj(json!({
                "sequence_number": l.sequence_number,
                "iac": l.iac,
                "issued_at": format_datetime(l.issued_at),
                "next_update": format_datetime(l.next_update),
                "revoked": l.revoked.iter().map(|r| json!({"fingerprint": to_hex(&r.fingerprint),
                    "revoked_at": format_datetime(r.revoked_at), "reason": r.reason})).collect::<Vec<_>>(),
            }))
        }
    };
    out.insert("kind".to_owned(), json!(kind.to_string()));
    out.insert("signer".to_owned(), cert_summary(&v.certificate_der).json());
    out.insert("signing_time".to_owned(), json!(v.signing_time.map(format_datetime)));
    out.insert(
        "signature_timestamp".to_owned(),
        json!(v.signature_timestamp.as_ref().map(|t| json!({
            "gen_time": format_datetime(t.gen_time),
            "tsa": cert_summary(&t.tsa_certificate_der).json(),
        }))),
    );
    let stale = out
        .get("next_update")
        .unwrap_or(&Value::Null)
        .as_str()
        .and_then(|t| idseal_trust::lists::parse_datetime(t).ok())
        .is_some_and(|t| t <= now());
    out.insert("past_next_update".to_owned(), json!(stale));
    Ok(out)
}

fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".to_owned(),
        other => other.to_string(),
    }
}

fn cert_line(v: &Value) -> String {
    format!("{} (SHA-256 {})", s(field(v, &["subject"])), s(field(v, &["sha256"])))
}

fn print_list(j: &Value) {
    out!("signature     valid");
    out!("kind          {}", s(field(j, &["kind"])));
    out!("sequence      {}", s(field(j, &["sequence_number"])));
    if !field(j, &["operator"]).is_null() {
        out!("operator      {}", s(field(j, &["operator"])));
    }
    if !field(j, &["iac"]).is_null() {
        out!("iac           {}", s(field(j, &["iac"])));
    }
    out!("issued        {}", s(field(j, &["issued_at"])));
    let stale =
        if field(j, &["past_next_update"]).as_bool() == Some(true) { "  (PAST: the list is stale)" } else { "" };
    out!("next update   {}{stale}", s(field(j, &["next_update"])));
    out!("signer        {}", cert_line(field(j, &["signer"])));
    out!("signing time  {}", s(field(j, &["signing_time"])));
    let ts = field(j, &["signature_timestamp"]);
    if ts.is_object() {
        out!("time-stamped  {} by {} (XAdES-T)", s(field(ts, &["gen_time"])), cert_line(field(ts, &["tsa"])));
    }
    let empty = Vec::new();
    let arr = |k: &str| field(j, &[k]).as_array().unwrap_or(&empty).clone();
    for o in arr("operators") {
        out!(
            "operator      IAC {} {}: scheme list {}",
            s(field(&o, &["iac"])),
            s(field(&o, &["name"])),
            s(field(&o, &["scheme_list"]))
        );
        out!("  signer      {}", cert_line(field(&o, &["signer"])));
    }
    if field(j, &["manifests"]).is_array() {
        out!("manifests     {}", arr("manifests").iter().map(s).collect::<Vec<_>>().join(" "));
    }
    for t in arr("tsls") {
        out!("tsl           {}", s(field(&t, &["location"])));
        out!("  signer      {}", cert_line(field(&t, &["signer"])));
    }
    if field(j, &["vrl"]).is_object() {
        out!("vrl           {}", s(field(j, &["vrl", "location"])));
        out!("  signer      {}", cert_line(field(j, &["vrl", "signer"])));
    }
    for ca in arr("cas") {
        out!("ca            {}", s(field(&ca, &["name"])));
        out!("  certificate {}", cert_line(field(&ca, &["certificate"])));
        out!("  status      {} since {}", s(field(&ca, &["status", "status"])), s(field(&ca, &["status", "since"])));
        for h in field(&ca, &["history"]).as_array().unwrap_or(&empty) {
            out!("  history     {} since {}", s(field(h, &["status"])), s(field(h, &["since"])));
        }
        for c in field(&ca, &["signing_certificates"]).as_array().unwrap_or(&empty) {
            out!("  signs       {}", cert_line(c));
        }
    }
    if field(j, &["revoked"]).is_array() {
        out!("revoked       {}", arr("revoked").len());
        for r in arr("revoked") {
            out!(
                "  {} at {}: {}",
                s(field(&r, &["fingerprint"])),
                s(field(&r, &["revoked_at"])),
                s(field(&r, &["reason"]))
            );
        }
    }
}

/// Reads a list named on the command line: a file, a `file:` URL or an http(s) URL.
pub(crate) fn read_list_arg(input: &str) -> Result<String, Failure> {
    if is_http(input) {
        http_get(input).map_err(|e| Failure::failed(format!("cannot fetch {input}: {e}")))
    } else {
        let path = file_url_path(input).unwrap_or_else(|| PathBuf::from(input));
        read_list_file(&path).map_err(Failure::failed)
    }
}

pub(crate) fn inspect(a: &InspectArgs) -> Result<(), Failure> {
    let xml = read_list_arg(&a.input)?;
    let verified = match verify_enveloped(&xml) {
        Ok(v) => v,
        Err(e) => {
            if a.json {
                out!("{}", json!({"signature_valid": false, "error": e.to_string()}));
            } else {
                out!("signature     INVALID: {e}");
                out!("content       not shown: nothing in an unverified list can be trusted");
            }
            return Err(Failure::failed(format!("{}: the signature does not verify: {e}", a.input)));
        }
    };
    let mut j = list_json(&verified).map_err(|e| Failure::failed(format!("{}: {e}", a.input)))?;
    if a.json {
        j.insert("signature_valid".to_owned(), json!(true));
        out!("{}", serde_json::to_string_pretty(&j).unwrap_or_default());
    } else {
        print_list(&Value::Object(j));
    }
    Ok(())
}
