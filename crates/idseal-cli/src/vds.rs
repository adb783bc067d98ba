//! `idseal vds …`: make a demo CA, issue, inspect, verify and render Visible Digital Seals
//! (docs/vds.md, "CLI"). The protocol work is idseal-vds's and idseal-barcode's; this module
//! reads files, parses arguments and prints.
//!
//! Exit codes: 0 success, 1 a failure (I/O, bad input file, refused issuance, invalid seal),
//! 2 a usage error (clap's own, or an argument value this module refuses).

use std::fmt;
use std::io::{Read as _, Write as _};
use std::path::Path;
use std::process::ExitCode;

use clap::{Subcommand, ValueEnum};
use idseal_server::state::SystemClock;
use idseal_types::{Clock as _, UnixTime};
use idseal_vds::{ManifestId, Transport, VdsError};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::vds_issue::{DevCaArgs, IssueArgs, IssueServiceArgs};
use crate::vds_show::{DecodeImageArgs, InspectArgs, RenderArgs, VerifyArgs};

/// Help text shared by every command that reads seal text.
pub(crate) const TEXT_INPUT_HELP: &str = "Seal text is read as is: exactly one trailing \"\\n\" or \"\\r\\n\" \
     is removed (files usually end with one), nothing else. Spaces are never trimmed: they are \
     Base45 characters.";

/// The seal subcommands.
#[derive(Subcommand)]
pub(crate) enum VdsCommand {
    /// Write a development CA and a seal-signing certificate (with its UsageList) for demos:
    /// ca.pem, ca.key, signer.pem, signer.key (keys PKCS#8 PEM, mode 0600).
    DevCa(DevCaArgs),
    /// Issue an identity seal from a JSON file of identity fields and a WEBP photo; print the
    /// seal text (or write it with --out).
    Issue(IssueArgs),
    /// Issue a service seal (manifest 0A0002): a relying service's own identity, shown to the
    /// holder's phone (id, display name, web origin, the scopes it may request); print the seal
    /// text (or write it with --out).
    IssueService(IssueServiceArgs),
    /// Decode a seal without verifying it: header, payload (the face template is never shown),
    /// transport and fingerprint.
    Inspect(InspectArgs),
    /// Verify a seal against a signing certificate: exit 0 and "valid", or exit 1 and why not.
    Verify(VerifyArgs),
    /// Draw a seal as a QR (default) or Aztec code, SVG or PNG by the --out extension.
    Render(RenderArgs),
    /// Read a QR or Aztec code from a PNG and print its text.
    DecodeImage(DecodeImageArgs),
}

/// Runs one seal subcommand and maps its failure to `error: …` and the exit code.
pub(crate) fn run(cmd: VdsCommand) -> ExitCode {
    let result = match cmd {
        VdsCommand::DevCa(a) => crate::vds_issue::dev_ca(&a),
        VdsCommand::Issue(a) => crate::vds_issue::issue(&a),
        VdsCommand::IssueService(a) => crate::vds_issue::issue_service(&a),
        VdsCommand::Inspect(a) => crate::vds_show::inspect(&a),
        VdsCommand::Verify(a) => crate::vds_show::verify(&a),
        VdsCommand::Render(a) => crate::vds_show::render(&a),
        VdsCommand::DecodeImage(a) => crate::vds_show::decode_image(&a),
    };
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

/// Why a subcommand stopped.
#[derive(Debug)]
pub(crate) enum Failure {
    /// A bad argument value: exit 2.
    Usage(String),
    /// Anything else (I/O, bad input, refused or invalid seal): exit 1.
    Failed(String),
}

impl Failure {
    pub(crate) fn usage(msg: impl fmt::Display) -> Self {
        Self::Usage(msg.to_string())
    }

    pub(crate) fn failed(msg: impl fmt::Display) -> Self {
        Self::Failed(msg.to_string())
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Usage(m) | Self::Failed(m) => f.write_str(m),
        }
    }
}

/// A codec error as `message (Variant)`, so scripts can match the typed error.
pub(crate) fn vds_error(context: &str, e: &VdsError) -> Failure {
    Failure::failed(format!("{context}: {e} ({})", error_kind(e)))
}

/// The variant name of a codec error, e.g. `InvalidSignature`.
pub(crate) fn error_kind(e: &VdsError) -> String {
    format!("{e:?}").chars().take_while(char::is_ascii_alphanumeric).collect()
}

/// Print to stdout; a closed pipe is not worth a panic.
macro_rules! out {
    ($($t:tt)*) => {{
        let _ = writeln!(std::io::stdout(), $($t)*);
    }};
}
pub(crate) use out;

/// Transport encodings offered by `issue --transport`.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum TransportArg {
    /// RFC 9285 Base45 (QR alphanumeric mode; the default).
    Base45,
    /// Padded Base64.
    Base64,
    /// Uppercase hex.
    Hex,
}

impl TransportArg {
    pub(crate) fn transport(self) -> Transport {
        match self {
            Self::Base45 => Transport::Base45,
            Self::Base64 => Transport::Base64,
            Self::Hex => Transport::Hex,
        }
    }
}

/// The name of a transport for output.
pub(crate) fn transport_name(t: Option<Transport>) -> &'static str {
    match t {
        Some(Transport::Base45) => "base45",
        Some(Transport::Hex) => "hex",
        Some(Transport::Base64) => "base64",
        Some(Transport::Base64Url) => "base64url",
        None => "binary",
    }
}

/// The wall clock, through the server's one sanctioned reader.
pub(crate) fn now() -> UnixTime {
    SystemClock.now()
}

/// RFC 3339 (UTC) of `t`, or the seconds if out of range.
pub(crate) fn fmt_time(t: UnixTime) -> String {
    OffsetDateTime::from_unix_timestamp(t.as_secs())
        .ok()
        .and_then(|d| d.format(&Rfc3339).ok())
        .unwrap_or_else(|| t.as_secs().to_string())
}

/// Parses an RFC 3339 time (`--at`, `--expires`).
pub(crate) fn parse_rfc3339(flag: &str, s: &str) -> Result<UnixTime, Failure> {
    OffsetDateTime::parse(s, &Rfc3339)
        .map(|d| UnixTime::from_secs(d.unix_timestamp()))
        .map_err(|e| Failure::usage(format!("{flag}: {s:?} is not an RFC 3339 time ({e})")))
}

/// `--expires`: RFC 3339, or `+N` followed by `y` (calendar years), `d` (days) or `h` (hours)
/// from `now`.
pub(crate) fn parse_expiry(s: &str, now: UnixTime) -> Result<UnixTime, Failure> {
    let Some(rel) = s.strip_prefix('+') else { return parse_rfc3339("--expires", s) };
    let bad = || Failure::usage(format!("--expires: {s:?} is neither RFC 3339 nor +N followed by y, d or h"));
    let (num, unit) = rel.split_at_checked(rel.len().saturating_sub(1)).ok_or_else(bad)?;
    let n: u32 = num.parse().map_err(|_| bad())?;
    if n == 0 || n > 100_000 {
        return Err(bad());
    }
    match unit {
        "h" => Ok(now.saturating_add(std::time::Duration::from_secs(u64::from(n) * 3600))),
        "d" => Ok(now.saturating_add(std::time::Duration::from_secs(u64::from(n) * 86_400))),
        "y" if n <= 100 => {
            let t = OffsetDateTime::from_unix_timestamp(now.as_secs()).map_err(|_| bad())?;
            let year = t.year() + i32::try_from(n).map_err(|_| bad())?;
            // 29 February plus N years is 28 February when year + N is not a leap year.
            let later = t.replace_year(year).or_else(|_| t.replace_day(28).and_then(|d| d.replace_year(year)));
            later.map(|d| UnixTime::from_secs(d.unix_timestamp())).map_err(|_| bad())
        }
        _ => Err(bad()),
    }
}

/// `--manifest`: six hex digits, e.g. `0A0001`.
pub(crate) fn parse_manifest_id(s: &str) -> Result<ManifestId, String> {
    if s.len() != 6 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("{s:?} is not a manifest id (6 hex digits, e.g. 0A0001)"));
    }
    u32::from_str_radix(s, 16).ok().and_then(ManifestId::new).ok_or_else(|| format!("{s:?} is not a manifest id"))
}

/// Reads at most `max` bytes of `path` (`-` is stdin); longer input is refused.
pub(crate) fn read_limited(path: &Path, max: usize, what: &str) -> Result<Vec<u8>, Failure> {
    let mut buf = Vec::new();
    let limit = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
    let res = if path == Path::new("-") {
        std::io::stdin().lock().take(limit).read_to_end(&mut buf)
    } else {
        std::fs::File::open(path).and_then(|f| f.take(limit).read_to_end(&mut buf))
    };
    res.map_err(|e| Failure::failed(format!("cannot read {what} {}: {e}", path.display())))?;
    if buf.len() > max {
        return Err(Failure::failed(format!("{what} {} is larger than {max} bytes", path.display())));
    }
    Ok(buf)
}

/// Largest seal text read (a 4096-byte payload in hex is under 9 KB).
const MAX_TEXT: usize = 64 * 1024;

/// Reads seal text from `path` (`-` for stdin) and strips exactly one trailing `\n` or `\r\n`.
pub(crate) fn read_seal_text(path: &Path) -> Result<String, Failure> {
    let bytes = read_limited(path, MAX_TEXT, "seal text")?;
    let text =
        String::from_utf8(bytes).map_err(|_| Failure::failed(format!("seal text {} is not UTF-8", path.display())))?;
    Ok(strip_one_newline(&text).to_owned())
}

/// `text` without one trailing `\r\n` or `\n`; spaces and further newlines stay.
pub(crate) fn strip_one_newline(text: &str) -> &str {
    text.strip_suffix("\r\n").or_else(|| text.strip_suffix('\n')).unwrap_or(text)
}

/// Writes a file (replacing it), or creates it with mode 0600 and refuses to replace it when
/// `secret`.
pub(crate) fn write_file(path: &Path, bytes: &[u8], secret: bool) -> Result<(), Failure> {
    let fail = |e: std::io::Error| Failure::failed(format!("cannot write {}: {e}", path.display()));
    if secret {
        use std::os::unix::fs::OpenOptionsExt as _;
        let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path).map_err(fail)?;
        f.write_all(bytes).and_then(|()| f.sync_all()).map_err(fail)
    } else {
        std::fs::write(path, bytes).map_err(fail)
    }
}

/// Lowercase hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The output path's lowercase extension.
pub(crate) fn extension(path: &Path) -> Option<String> {
    path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_newline_is_stripped_and_spaces_stay() {
        assert_eq!(strip_one_newline("AB \n"), "AB ");
        assert_eq!(strip_one_newline("AB\r\n"), "AB");
        assert_eq!(strip_one_newline("AB\n\n"), "AB\n");
        assert_eq!(strip_one_newline(" AB "), " AB ");
    }

    #[test]
    fn expiry_forms() {
        let now = UnixTime::from_secs(1_709_164_800); // 2024-02-29T00:00:00Z
        assert_eq!(parse_expiry("+1y", now).unwrap(), UnixTime::from_secs(1_740_700_800)); // 2025-02-28
        assert_eq!(parse_expiry("+4y", now).unwrap(), UnixTime::from_secs(1_835_395_200)); // 2028-02-29
        assert_eq!(parse_expiry("+2d", now).unwrap(), UnixTime::from_secs(1_709_164_800 + 2 * 86_400));
        assert_eq!(parse_expiry("2030-01-01T00:00:00Z", now).unwrap(), UnixTime::from_secs(1_893_456_000));
        for bad in ["+", "+y", "+0y", "+2w", "2030-01-01", "+-1d", "+101y"] {
            assert!(matches!(parse_expiry(bad, now), Err(Failure::Usage(_))), "{bad}");
        }
    }

    #[test]
    fn error_kinds_are_variant_names() {
        assert_eq!(error_kind(&VdsError::InvalidSignature), "InvalidSignature");
        assert_eq!(error_kind(&VdsError::ManifestNotAllowed { id: 1 }), "ManifestNotAllowed");
    }

    #[test]
    fn manifest_ids() {
        assert_eq!(parse_manifest_id("0A0001"), Ok(ManifestId::IDENTITY));
        assert_eq!(parse_manifest_id("0a0001"), Ok(ManifestId::IDENTITY));
        assert!(parse_manifest_id("A0001").is_err());
        assert!(parse_manifest_id("0A000G").is_err());
    }
}
