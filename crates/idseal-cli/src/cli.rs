//! Command-line interface: `serve`, `config check`, `keys list|rotate`, `log verify`, `bench`,
//! `vds …`, `trust …`, `device …`, `demo`.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use idseal_keys::{Algorithm, KeyStore as _, RotationPolicy};
use idseal_server::config::{Config, LogFormat, Overrides, Settings};
use idseal_server::state::{AppState, FirstStart, SystemClock};
use idseal_types::{AuditEvent, AuditEventKind, AuditSink};

#[derive(Parser)]
#[command(name = "idseal", version, about = "Document-anchored identity provider")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone, Default)]
pub(crate) struct ConfigArgs {
    /// TOML configuration file (also `IDSEAL_CONFIG`).
    #[arg(long, env = "IDSEAL_CONFIG")]
    config: Option<PathBuf>,
    /// Listen address, e.g. 127.0.0.1:8080.
    #[arg(long)]
    bind: Option<String>,
    /// Data directory (default ./idseal-data).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// sqlite:PATH or postgres://… (default: SQLite in the data directory).
    #[arg(long)]
    database_url: Option<String>,
    /// Public issuer URL.
    #[arg(long)]
    issuer: Option<String>,
    /// Log format.
    #[arg(long, value_enum)]
    log_format: Option<LogFormatArg>,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormatArg {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve(ConfigArgs),
    /// Configuration tools.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Signing keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// OAuth clients: add, list, remove.
    Clients {
        #[command(subcommand)]
        command: crate::clients::ClientsCommand,
    },
    /// The tamper-evident audit log: `verify`.
    Log {
        #[command(subcommand)]
        command: crate::log::LogCommand,
    },
    /// Benchmarks next to their raw limits (`--suite foundation|vds|tlog|oauth|all`); JSON results in
    /// `--out-dir` (default bench-results/).
    Bench(crate::bench::BenchArgs),
    /// Visible Digital Seals: dev-ca, issue, inspect, verify, render, decode-image.
    Vds {
        #[command(subcommand)]
        command: crate::vds::VdsCommand,
    },
    /// The chain of trust: trust-list signing keys (keygen), publishing (publish), reading (inspect).
    Trust {
        #[command(subcommand)]
        command: crate::trust::TrustCommand,
    },
    /// A simulated phone for passwordless login: enroll, watch, approve, reject, revoke.
    Device {
        #[command(subcommand)]
        command: crate::device::DeviceCommand,
    },
    /// SCAL3 sole-control evidence: `verify` a bundle offline.
    #[cfg(feature = "scal3")]
    Scal3 {
        #[command(subcommand)]
        command: crate::scal3::Scal3Command,
    },
    /// A whole passwordless login in one command: dev chain of trust, server, seal, phone,
    /// service, browser, approval, checked result.
    Demo(crate::demo::DemoArgs),
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Validate a configuration; exit 2 naming the key at fault.
    Check {
        #[command(flatten)]
        cfg: ConfigArgs,
        /// Print the effective configuration as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// List every signing key and its state.
    List {
        #[command(flatten)]
        cfg: ConfigArgs,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Rotate one algorithm's key; the old one stays valid for the grace period.
    Rotate {
        #[command(flatten)]
        cfg: ConfigArgs,
        /// RS256, ES256, EdDSA or ML-DSA-65.
        #[arg(long)]
        alg: String,
        /// Grace period in hours (default from configuration).
        #[arg(long)]
        grace_hours: Option<u32>,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
}

impl ConfigArgs {
    pub(crate) fn settings(&self) -> Result<Settings, idseal_server::config::ConfigError> {
        let overrides = Overrides {
            bind: self.bind.clone(),
            data_dir: self.data_dir.clone(),
            database_url: self.database_url.clone(),
            issuer: self.issuer.clone(),
            log_format: self.log_format.map(|f| match f {
                LogFormatArg::Text => LogFormat::Text,
                LogFormatArg::Json => LogFormat::Json,
            }),
        };
        Config::load(self.config.as_deref(), &overrides)?.validate()
    }
}

/// Print to stdout; a closed pipe is not an error worth a panic.
macro_rules! out {
    ($($t:tt)*) => {{
        let _ = writeln!(std::io::stdout(), $($t)*);
    }};
}

pub(crate) fn main() -> ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    rt.block_on(async {
        match cli.command {
            Command::Serve(cfg) => serve(cfg).await,
            Command::Config { command: ConfigCommand::Check { cfg, json } } => config_check(&cfg, json),
            Command::Keys { command } => keys(command).await,
            Command::Clients { command } => crate::clients::run(command).await,
            Command::Log { command } => crate::log::run(command).await,
            Command::Bench(args) => crate::bench::run(args).await,
            Command::Vds { command } => crate::vds::run(command),
            Command::Trust { command } => crate::trust::run(command),
            Command::Device { command } => crate::device::run(command).await,
            #[cfg(feature = "scal3")]
            Command::Scal3 { command } => crate::scal3::run(command),
            Command::Demo(args) => crate::demo::run(args).await,
        }
    })
}

fn load_settings(cfg: &ConfigArgs) -> Result<Settings, ExitCode> {
    cfg.settings().map_err(|e| {
        eprintln!("error: configuration: {e}");
        ExitCode::from(2)
    })
}

fn init_logging(s: &Settings) {
    let filter = tracing_subscriber::EnvFilter::try_new(&s.config.log_level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = match s.config.log_format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

fn config_check(cfg: &ConfigArgs, json: bool) -> ExitCode {
    let s = match load_settings(cfg) {
        Ok(s) => s,
        Err(code) => return code,
    };
    if let Err(reason) = tracing_subscriber::EnvFilter::try_new(&s.config.log_level) {
        eprintln!("error: configuration: invalid value for `log_level`: {reason}");
        return ExitCode::from(2);
    }
    if let Ok(v) = std::env::var("IDSEAL_MASTER_KEY")
        && let Err(e) = idseal_keys::MasterKey::parse(&v)
    {
        eprintln!("error: configuration: invalid value for `IDSEAL_MASTER_KEY`: {e}");
        return ExitCode::from(2);
    }
    if json {
        let mut shown = s.config.clone();
        shown.database_url = shown.database_url.as_deref().map(redact_url);
        out!("{}", serde_json::to_string_pretty(&shown).unwrap_or_default());
    } else {
        out!("configuration OK");
        out!("  bind         {}", s.bind);
        out!("  issuer       {}", s.issuer);
        out!("  database     {}", redact_url(&s.database_url));
        out!(
            "  master key   {}",
            if std::env::var_os("IDSEAL_MASTER_KEY").is_some() {
                "IDSEAL_MASTER_KEY".to_owned()
            } else {
                s.master_key_file.display().to_string()
            }
        );
        out!("  algorithms   {}", s.algorithms.iter().map(|a| a.as_str()).collect::<Vec<_>>().join(", "));
        out!("  rate limits  {}", s.policies.keys().cloned().collect::<Vec<_>>().join(", "));
    }
    ExitCode::SUCCESS
}

/// A database URL without its password (in the authority or as a `password=` parameter).
fn redact_url(url: &str) -> String {
    let url = &match url.split_once('?') {
        Some((base, query)) => {
            let q: Vec<String> = query
                .split('&')
                .map(|kv| {
                    if kv.to_ascii_lowercase().starts_with("password=") {
                        "password=<redacted>".into()
                    } else {
                        kv.into()
                    }
                })
                .collect();
            format!("{base}?{}", q.join("&"))
        }
        None => url.to_owned(),
    };
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = url.get(s + 3..at).unwrap_or_default();
            let user = creds.split(':').next().unwrap_or_default();
            format!("{}{}:<redacted>{}", url.get(..s + 3).unwrap_or_default(), user, url.get(at..).unwrap_or_default())
        }
        _ => url.clone(),
    }
}

pub(crate) async fn open(cfg: &ConfigArgs) -> Result<(AppState, FirstStart), ExitCode> {
    let s = load_settings(cfg)?;
    init_logging(&s);
    open_settings(s).await
}

async fn open_settings(s: Settings) -> Result<(AppState, FirstStart), ExitCode> {
    AppState::open(s, Arc::new(SystemClock)).await.map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::FAILURE
    })
}

/// Log generated keys and show the bootstrap token. With `json` output the token goes to
/// stderr, so stdout stays one JSON document and the token is not lost in a pipe.
pub(crate) async fn announce(st: &AppState, first: &FirstStart, json: bool) -> Result<(), ExitCode> {
    for kid in &first.generated_kids {
        tracing::info!(%kid, "generated signing key");
    }
    if let Some(t) = &first.bootstrap_token {
        let line = format!("admin bootstrap token (shown once, store it now): {}\n", t.as_str());
        let shown = if json {
            std::io::stderr().write_all(line.as_bytes()).and_then(|()| std::io::stderr().flush())
        } else {
            std::io::stdout().write_all(line.as_bytes()).and_then(|()| std::io::stdout().flush())
        };
        if let Err(e) = shown {
            // A token nobody saw is useless and must not stay valid: withdraw it, so that
            // the next start issues a new one.
            let withdrawn = st.withdraw_bootstrap_token(t.as_str()).await;
            eprintln!(
                "error: cannot show the admin bootstrap token ({e}); it was withdrawn{}",
                match withdrawn {
                    Ok(()) => String::new(),
                    Err(w) => format!(" (withdrawal failed: {w})"),
                }
            );
            return Err(ExitCode::FAILURE);
        }
    }
    Ok(())
}

async fn serve(cfg: ConfigArgs) -> ExitCode {
    let started = std::time::Instant::now();
    let mut settings = match load_settings(&cfg) {
        Ok(s) => s,
        Err(code) => return code,
    };
    init_logging(&settings);
    // Listen before opening the state: a start that cannot listen must fail before it issues
    // the one-time bootstrap token, which it could then never show.
    let listener = match idseal_server::bind(settings.bind).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    if settings.config.issuer.is_none()
        && let Ok(local) = listener.local_addr()
    {
        // With port 0 the issuer is only known once bound.
        settings.issuer = format!("http://{local}");
    }
    let (state, first) = match open_settings(settings).await {
        Ok(v) => v,
        Err(code) => return code,
    };
    if let Err(code) = announce(&state, &first, false).await {
        return code;
    }
    let addr = listener.local_addr().map(|a| a.to_string()).unwrap_or_default();
    let ev = AuditEvent::new(AuditEventKind::ServerStart, state.clock.now(), "system")
        .details(serde_json::json!({"version": env!("CARGO_PKG_VERSION"), "listen": addr}));
    if let Err(e) = state.store.record(&ev).await {
        eprintln!("error: audit log: {e}");
        return ExitCode::FAILURE;
    }
    out!("idseal {} listening on http://{addr}", env!("CARGO_PKG_VERSION"));
    out!("issuer: {}", state.settings.issuer);
    tracing::info!(elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX), "ready");
    match idseal_server::serve(state, listener, idseal_server::shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: server: {e}");
            ExitCode::FAILURE
        }
    }
}

fn fmt_time(t: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|d| d.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(|| t.to_string())
}

async fn keys(cmd: KeysCommand) -> ExitCode {
    match cmd {
        KeysCommand::List { cfg, json } => {
            let (st, first) = match open(&cfg).await {
                Ok(v) => v,
                Err(c) => return c,
            };
            if let Err(code) = announce(&st, &first, json).await {
                return code;
            }
            let recs = match st.store.load_keys().await {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::FAILURE;
                }
            };
            if json {
                let v: Vec<_> = recs
                    .iter()
                    .map(|r| {
                        serde_json::json!({"kid": r.kid, "alg": r.alg.as_str(), "state": r.state.as_str(),
                        "created_at": r.created_at.as_secs(), "grace_until": r.grace_until.map(|t| t.as_secs())})
                    })
                    .collect();
                out!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
            } else {
                out!("{:<10} {:<12} {:<26} {:<26} KID", "ALG", "STATE", "CREATED", "GRACE UNTIL");
                for r in recs {
                    let grace = r.grace_until.map(|t| fmt_time(t.as_secs())).unwrap_or_else(|| "-".into());
                    out!(
                        "{:<10} {:<12} {:<26} {:<26} {}",
                        r.alg.as_str(),
                        r.state.as_str(),
                        fmt_time(r.created_at.as_secs()),
                        grace,
                        r.kid
                    );
                }
            }
            ExitCode::SUCCESS
        }
        KeysCommand::Rotate { cfg, alg, grace_hours, json } => {
            let alg: Algorithm = match alg.parse() {
                Ok(a) => a,
                Err(_) => {
                    eprintln!("error: --alg must be one of RS256, ES256, EdDSA, ML-DSA-65");
                    return ExitCode::from(2);
                }
            };
            let (st, first) = match open(&cfg).await {
                Ok(v) => v,
                Err(c) => return c,
            };
            if let Err(code) = announce(&st, &first, json).await {
                return code;
            }
            let hours = grace_hours.unwrap_or(st.settings.config.keys.grace_hours);
            if !(1..=24 * 90).contains(&hours) {
                eprintln!("error: --grace-hours must be between 1 and 2160");
                return ExitCode::from(2);
            }
            let now = st.clock.now();
            let policy = RotationPolicy { grace: Duration::from_secs(u64::from(hours) * 3600) };
            let (rec, prev) = match idseal_keys::rotate(&st.store, &st.master, alg, policy, now).await {
                Ok(v) => v,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::FAILURE;
                }
            };
            let ev = AuditEvent::new(AuditEventKind::KeyRotate, now, "cli")
                .subject(rec.kid.clone())
                .details(serde_json::json!({"alg": alg.as_str(), "previous_kid": prev, "grace_hours": hours}));
            if let Err(e) = st.store.record(&ev).await {
                eprintln!("error: audit log: {e}");
                return ExitCode::FAILURE;
            }
            let until = now.saturating_add(policy.grace).as_secs();
            if json {
                out!(
                    "{}",
                    serde_json::json!({"kid": rec.kid, "alg": alg.as_str(), "previous_kid": prev, "grace_until": until})
                );
            } else {
                out!("rotated {alg}: new key {}", rec.kid);
                if let Some(p) = prev {
                    out!("previous key {p} stays valid until {}", fmt_time(until));
                }
                out!(
                    "running servers pick the new key up within keys.refresh_secs ({} s)",
                    st.settings.config.keys.refresh_secs
                );
            }
            ExitCode::SUCCESS
        }
    }
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn database_passwords_are_redacted() {
        assert_eq!(redact_url("postgres://u:secret@h/db"), "postgres://u:<redacted>@h/db");
        assert_eq!(redact_url("sqlite:./x.db"), "sqlite:./x.db");
        assert_eq!(redact_url("postgres://h/db?user=u&password=pw"), "postgres://h/db?user=u&password=<redacted>");
    }
}
