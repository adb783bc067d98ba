//! `idseal vds inspect|verify|render|decode-image`.

use std::io::Write as _;
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use idseal_barcode::{RenderOptions, Symbology};
use idseal_types::UnixTime;
use idseal_vds::{DecodedVds, Payload, SigningCertificate, VdsError, decode, verify_with_certificate};
use serde_json::{Value, json};

use crate::vds::{
    Failure, TEXT_INPUT_HELP, extension, fmt_time, hex, now, out, parse_rfc3339, read_limited, read_seal_text,
    transport_name, vds_error, write_file,
};

/// Largest certificate file read.
const MAX_CERT: usize = 64 * 1024;
/// Largest PNG read (the decoder refuses more than 4096 × 4096 pixels anyway).
const MAX_PNG: usize = 32 * 1024 * 1024;

#[derive(Args)]
#[command(after_help = TEXT_INPUT_HELP)]
pub(crate) struct InspectArgs {
    /// File with the seal text, or `-` for stdin.
    #[arg(value_name = "FILE|-")]
    input: PathBuf,
    /// One JSON document instead of the human form.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
#[command(after_help = TEXT_INPUT_HELP)]
pub(crate) struct VerifyArgs {
    /// File with the seal text, or `-` for stdin.
    #[arg(value_name = "FILE|-")]
    input: PathBuf,
    /// The signing certificate (PEM or DER). Only this certificate is checked: the chain to a
    /// trusted CA is not (use --trust for that).
    #[arg(long, value_name = "signer.pem", required_unless_present = "trust", conflicts_with = "trust")]
    cert: Option<PathBuf>,
    /// Verify through the whole chain of trust instead: the Governance List (a file, `file:` or
    /// http:// URL); the lists it points to are read relative to it (docs/trust.md, "CLI").
    #[arg(long, value_name = "GOVERNANCE_FILE|URL", requires = "anchor")]
    trust: Option<String>,
    /// With --trust: a certificate (PEM or DER) that may sign the Governance List (repeatable).
    #[arg(long, value_name = "CERT.pem", requires = "trust")]
    anchor: Vec<PathBuf>,
    /// Verify as of this time (RFC 3339) instead of now: the seal must be issued by then and
    /// not expired (with --trust: the lists must not be past NextUpdate then).
    #[arg(long, alias = "now", value_name = "RFC3339")]
    at: Option<String>,
    /// One JSON document (`"valid": true|false`) on stdout.
    #[arg(long)]
    json: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum Preset {
    /// 12 pixels a module at 600 dpi (0.508 mm modules).
    Print,
    /// 6 pixels a module at 96 dpi.
    Screen,
}

#[derive(Args)]
#[command(after_help = TEXT_INPUT_HELP)]
pub(crate) struct RenderArgs {
    /// File with the seal text, or `-` for stdin.
    #[arg(value_name = "FILE|-")]
    input: PathBuf,
    /// Output image: `.svg` or `.png` (replaced if it exists).
    #[arg(long, value_name = "FILE.svg|FILE.png")]
    out: PathBuf,
    /// Aztec instead of QR.
    #[arg(long)]
    aztec: bool,
    /// Module size and resolution.
    #[arg(long, value_enum, default_value_t = Preset::Print)]
    preset: Preset,
}

#[derive(Args)]
pub(crate) struct DecodeImageArgs {
    /// PNG with a QR or Aztec code (`-` for stdin). The text is printed with one trailing
    /// newline.
    #[arg(value_name = "FILE.png")]
    input: PathBuf,
}

fn header_json(d: &DecodedVds) -> Value {
    let h = d.header();
    let manifest = d.manifest().map(|m| m.name.clone()).ok();
    json!({
        "marker": d.header_bytes().first().map(|b| format!("{b:02X}")),
        "version": d.header_bytes().get(1),
        "iac": idseal_vds::header::IAC,
        "certificate_reference": h.certificate_reference.to_string(),
        "ca_id": h.certificate_reference.ca_id(),
        "cert_id": h.certificate_reference.cert_id(),
        "manifest_id": h.manifest_id.to_string(),
        "manifest": manifest,
        "issued_at": fmt_time(h.issued_at),
        "issued_at_unix": h.issued_at.as_secs(),
        "header_len": d.header_bytes().len(),
        "payload_len": d.payload_bytes().len(),
    })
}

/// The payload without the face template, which the manifest marks NEVER shown: only its
/// length is given.
fn payload_json(d: &DecodedVds) -> Value {
    match d.payload() {
        Payload::Identity(p) => json!({
            "gn": p.given_name,
            "fn": p.family_name,
            "dob": p.date_of_birth,
            "nat": p.nationality,
            "doc": p.document_number,
            "tid": p.token_id_string(),
            "exp": fmt_time(p.expires_at),
            "exp_unix": p.expires_at.as_secs(),
            "photo": {"format": "WEBP", "len": p.photo.len()},
            "face": {"len": p.face.len(), "shown": false},
            "tl": p.trust_level.as_u64(),
        }),
        Payload::Service(p) => json!({
            "sid": p.service_id,
            "name": p.name,
            "url": p.url,
            "scp": p.scopes,
            "exp": fmt_time(p.expires_at),
            "exp_unix": p.expires_at.as_secs(),
        }),
    }
}

/// The payload fields as `key value` lines of the human form.
fn payload_lines(p: &Payload) -> Vec<(&'static str, String)> {
    let exp = |t: UnixTime| format!("{} ({})", fmt_time(t), t.as_secs());
    match p {
        Payload::Identity(p) => vec![
            ("gn", p.given_name.clone()),
            ("fn", p.family_name.clone()),
            ("dob", p.date_of_birth.clone()),
            ("nat", p.nationality.clone()),
            ("doc", p.document_number.clone()),
            ("tid", p.token_id_string()),
            ("exp", exp(p.expires_at)),
            ("photo", format!("WEBP, {} bytes", p.photo.len())),
            ("face", format!("<never shown: {}>", p.face.len())),
            ("tl", p.trust_level.as_u64().to_string()),
        ],
        // The codec refuses control, bidirectional and invisible characters in the name.
        Payload::Service(p) => vec![
            ("sid", p.service_id.clone()),
            ("name", p.name.clone()),
            ("url", p.url.clone()),
            ("scp", p.scopes.join(" ")),
            ("exp", exp(p.expires_at)),
        ],
    }
}

fn inspect_json(d: &DecodedVds, text_len: usize) -> Value {
    json!({
        "transport": transport_name(d.transport()),
        "text_len": text_len,
        "header": header_json(d),
        "payload": payload_json(d),
        "signature": hex(d.signature()),
        "signature_verified": false,
        "fingerprint": hex(&d.fingerprint()),
    })
}

pub(crate) fn inspect(a: &InspectArgs) -> Result<(), Failure> {
    let text = read_seal_text(&a.input)?;
    let d = decode(&text).map_err(|e| vds_error("not a valid seal", &e))?;
    if a.json {
        out!("{}", serde_json::to_string_pretty(&inspect_json(&d, text.len())).unwrap_or_default());
        return Ok(());
    }
    let h = d.header();
    let manifest = d.manifest().map(|m| m.name.clone()).unwrap_or_default();
    out!("transport     {} ({} characters)", transport_name(d.transport()), text.len());
    out!("header        {}", hex(d.header_bytes()));
    out!(
        "marker        {}  version {}  IAC {}",
        d.header_bytes().first().map(|b| format!("{b:02X}")).unwrap_or_default(),
        d.header_bytes().get(1).copied().unwrap_or_default(),
        idseal_vds::header::IAC
    );
    out!("certificate   {} / {}", h.certificate_reference.ca_id(), h.certificate_reference.cert_id());
    out!("manifest      {} ({manifest})", h.manifest_id);
    out!("issued_at     {} ({})", fmt_time(h.issued_at), h.issued_at.as_secs());
    out!("payload_len   {}", d.payload_bytes().len());
    for (key, value) in payload_lines(d.payload()) {
        out!("{key:<13} {value}");
    }
    out!("fingerprint   {}", hex(&d.fingerprint()));
    out!("signature     not verified (use `idseal vds verify --cert`)");
    Ok(())
}

fn check(text: &str, cert: &SigningCertificate, at: UnixTime) -> Result<DecodedVds, Failure> {
    match verify_with_certificate(text, cert, at) {
        Err(VdsError::Expired { expired_at }) => {
            return Err(Failure::failed(format!(
                "invalid seal: expired at {} (Expired)",
                fmt_time(UnixTime::from_secs(expired_at))
            )));
        }
        Err(e) => return Err(vds_error("invalid seal", &e)),
        Ok(_) => {}
    }
    decode(text).map_err(|e| vds_error("invalid seal", &e))
}

pub(crate) fn verify(a: &VerifyArgs) -> Result<(), Failure> {
    if let Some(trust) = &a.trust {
        return crate::trust_verify::verify(&a.input, trust, &a.anchor, a.at.as_deref(), a.json);
    }
    let Some(cert_path) = &a.cert else { return Err(Failure::usage("--cert or --trust is required")) };
    let at = match &a.at {
        Some(s) => parse_rfc3339("--at", s)?,
        None => now(),
    };
    let text = read_seal_text(&a.input)?;
    let cert_bytes = read_limited(cert_path, MAX_CERT, "certificate")?;
    let cert = SigningCertificate::parse(&cert_bytes)
        .map_err(|e| vds_error(&format!("certificate {}", cert_path.display()), &e))?;
    match check(&text, &cert, at) {
        Ok(d) => {
            let h = d.header();
            let p = d.payload();
            if a.json {
                let mut v = json!({
                    "valid": true,
                    "checked_at": fmt_time(at),
                    "certificate": {"subject": cert.subject, "issuer": cert.issuer,
                        "not_after": fmt_time(cert.not_after)},
                    "header": header_json(&d),
                    "exp": fmt_time(p.expires_at()),
                    "transport": transport_name(d.transport()),
                    "fingerprint": hex(&d.fingerprint()),
                });
                let extra = match p {
                    Payload::Identity(i) => json!({"tid": i.token_id_string(), "tl": i.trust_level.as_u64()}),
                    Payload::Service(s) => json!({"sid": s.service_id, "name": s.name, "url": s.url, "scp": s.scopes}),
                };
                if let (Some(v), Value::Object(extra)) = (v.as_object_mut(), extra) {
                    v.extend(extra);
                }
                out!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
            } else {
                out!("valid");
                out!("certificate   {} ({}; issuer {})", h.certificate_reference, cert.subject, cert.issuer);
                out!("manifest      {}", h.manifest_id);
                out!("issued_at     {}", fmt_time(h.issued_at));
                out!("expires       {}", fmt_time(p.expires_at()));
                for (key, value) in payload_lines(p) {
                    if matches!(key, "tid" | "tl" | "sid" | "name" | "url" | "scp") {
                        out!("{key:<13} {value}");
                    }
                }
                out!("fingerprint   {}", hex(&d.fingerprint()));
                out!("note          the certificate itself (chain, revocation) was not checked");
            }
            Ok(())
        }
        Err(f) => {
            if a.json {
                let (kind, msg) = match &f {
                    Failure::Failed(m) | Failure::Usage(m) => {
                        let kind = m.rsplit_once('(').map(|(_, k)| k.trim_end_matches(')')).unwrap_or("Invalid");
                        (kind.to_owned(), m.clone())
                    }
                };
                out!("{}", json!({"valid": false, "error": kind, "message": msg}));
            }
            Err(f)
        }
    }
}

pub(crate) fn render(a: &RenderArgs) -> Result<(), Failure> {
    let ext = extension(&a.out);
    if !matches!(ext.as_deref(), Some("svg" | "png")) {
        return Err(Failure::usage(format!("--out {}: the name must end in .svg or .png", a.out.display())));
    }
    let text = read_seal_text(&a.input)?;
    decode(&text).map_err(|e| vds_error("not a valid seal", &e))?;
    let base = match a.preset {
        Preset::Print => RenderOptions::print(),
        Preset::Screen => RenderOptions::screen(),
    };
    let opts = base.with_symbology(if a.aztec { Symbology::Aztec } else { Symbology::Qr });
    let symbol = idseal_barcode::encode(&text, &opts).map_err(|e| Failure::failed(format!("render: {e}")))?;
    let bytes = if ext.as_deref() == Some("svg") {
        idseal_barcode::render_svg(&text, &opts).map(String::into_bytes)
    } else {
        idseal_barcode::render_png(&text, &opts)
    }
    .map_err(|e| Failure::failed(format!("render: {e}")))?;
    write_file(&a.out, &bytes, false)?;
    let side = symbol.side() + 2 * opts.quiet_zone_modules;
    out!(
        "wrote {}: {} {} {}, {side}×{side} modules with the quiet zone, {:.1} mm wide",
        a.out.display(),
        symbol.symbology(),
        if a.aztec { "layers" } else { "version" },
        symbol.version(),
        f64::from(side) * opts.module_mm()
    );
    Ok(())
}

pub(crate) fn decode_image(a: &DecodeImageArgs) -> Result<(), Failure> {
    let png = read_limited(&a.input, MAX_PNG, "image")?;
    let text = idseal_barcode::decode_png(&png).map_err(|e| Failure::failed(format!("{}: {e}", a.input.display())))?;
    out!("{text}");
    Ok(())
}
