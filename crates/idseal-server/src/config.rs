//! Configuration: defaults, then a TOML file, then `IDSEAL_*` environment variables, then
//! command-line flags. Every error names the key at fault.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use idseal_keys::Algorithm;
use idseal_ratelimit::{KeyKind, Policy, Window, parse_duration};
use serde::{Deserialize, Serialize};

/// A configuration that cannot be used; the message names the key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file or an environment variable did not parse into the schema.
    #[error("{0}")]
    Parse(String),
    /// A value parsed but is not acceptable.
    #[error("invalid value for `{key}`: {reason}")]
    Invalid {
        /// The key, dotted (`keys.grace_hours`).
        key: String,
        /// Why.
        reason: String,
    },
}

fn invalid(key: impl Into<String>, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid { key: key.into(), reason: reason.into() }
}

/// Log output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// Database pool settings.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// Largest number of pooled connections.
    pub max_connections: u32,
    /// Seconds to wait for a connection.
    pub acquire_timeout_secs: u64,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self { max_connections: 10, acquire_timeout_secs: 10 }
    }
}

/// Signing-key settings.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KeysConfig {
    /// Algorithms to hold an active key for.
    pub algorithms: Vec<String>,
    /// Hours a rotated-out key stays published and valid.
    pub grace_hours: u32,
    /// Seconds between reloads of the key set from the database (picks up rotations made by
    /// other instances or the CLI).
    pub refresh_secs: u64,
}

impl Default for KeysConfig {
    fn default() -> Self {
        Self {
            algorithms: Algorithm::ALL.iter().map(|a| a.as_str().to_owned()).collect(),
            grace_hours: 24,
            refresh_secs: 60,
        }
    }
}

/// Audit-log settings.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlogConfig {
    /// Seconds between signed checkpoints of the audit log (a checkpoint is signed only when
    /// the log has grown since the last one).
    pub checkpoint_secs: u64,
}

impl Default for TlogConfig {
    fn default() -> Self {
        Self { checkpoint_secs: 10 }
    }
}

/// OAuth 2.1 / OpenID Connect provider settings (docs/oauth.md).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OAuthConfig {
    /// Accept RFC 7591 dynamic client registration at `POST /oauth/register`.
    pub dynamic_registration: bool,
    /// Algorithm of the `pq_sig` claim of ID tokens: `ML-DSA-65` or `EdDSA`.
    pub pq_sig_alg: String,
    /// Algorithm of JWT access tokens (RFC 9068): `RS256` by default, as resource servers expect.
    pub access_token_alg: String,
    /// Lifetime of access tokens and ID tokens, seconds.
    pub access_token_secs: u64,
    /// Lifetime of refresh tokens, days.
    pub refresh_token_days: u64,
    /// Lifetime of authorization codes, seconds.
    pub code_secs: u64,
    /// Lifetime of browser sessions, hours.
    pub session_hours: u64,
    /// Refuse password logins until the account's email address is verified.
    pub require_verified_email: bool,
    /// argon2id parameters for new password hashes (older hashes are upgraded at login).
    pub argon2: idseal_oauth::password::Argon2Params,
}

impl Default for OAuthConfig {
    fn default() -> Self {
        Self {
            dynamic_registration: false,
            pq_sig_alg: "ML-DSA-65".into(),
            access_token_alg: "RS256".into(),
            access_token_secs: 3600,
            refresh_token_days: 30,
            code_secs: 60,
            session_hours: 24,
            require_verified_email: true,
            argon2: idseal_oauth::password::Argon2Params::default(),
        }
    }
}

/// Trust lists (docs/trust.md): the cache of fetched lists and the lists this server publishes.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrustConfig {
    /// Seconds a fetched list is used before it is fetched again (conditionally).
    pub cache_ttl_secs: u64,
    /// Seconds a list fetch may take.
    pub fetch_timeout_secs: u64,
    /// Directory of signed lists (`idseal trust publish --out-dir`) served at `/trust/<file>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub publish_dir: Option<PathBuf>,
    /// Where the Governance List is fetched from: the trust anchor of enrollment and Service
    /// VDS checks (passwordless login is refused with 503 until it is set).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub governance_location: Option<String>,
    /// Certificate files (PEM or DER), one of which must have signed the Governance List.
    pub governance_signers: Vec<PathBuf>,
}

impl Default for TrustConfig {
    fn default() -> Self {
        Self {
            cache_ttl_secs: 3600,
            fetch_timeout_secs: 10,
            publish_dir: None,
            governance_location: None,
            governance_signers: Vec::new(),
        }
    }
}

/// SCAL3 sole-control evidence (docs/scal3.md).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Scal3Config {
    /// Wrong PINs before a credential locks (an operator re-enrols the phone after that).
    pub max_pin_attempts: u32,
}

impl Default for Scal3Config {
    fn default() -> Self {
        Self { max_pin_attempts: 5 }
    }
}

/// Passwordless login (docs/passwordless.md).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PasswordlessConfig {
    /// Digits of the code the browser socket's `otp_ready` event shows (6 = all; fewer masks
    /// the rest with `*`, for pages that show the code from the initiate response instead).
    pub otp_visible_digits: u8,
    /// Lifetime of the result JWT of direct integrations, seconds.
    pub result_ttl_secs: u64,
    /// Days a resolved login session's record is kept (admin history), then deleted.
    pub session_retention_days: u64,
    /// WebSockets (browser views and phone channels) one instance holds open at most.
    pub max_sockets: usize,
    /// WebSockets one instance holds open from one client address at most.
    pub max_sockets_per_ip: usize,
}

impl Default for PasswordlessConfig {
    fn default() -> Self {
        Self {
            otp_visible_digits: 6,
            result_ttl_secs: 3600,
            session_retention_days: 30,
            max_sockets: 10_000,
            max_sockets_per_ip: 50,
        }
    }
}

/// One rate-limit policy as configured.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    /// What is counted.
    pub key: KeyKind,
    /// Short window, like `"5/1m"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub burst: Option<Window>,
    /// Long window, like `"15/1h"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sustained: Option<Window>,
    /// Lockout ladder, like `["1m", "15m"]`; empty for none.
    #[serde(default)]
    pub lockout: Vec<String>,
    /// Quiet time after which the ladder starts again (default `"1d"`).
    #[serde(default = "default_reset")]
    pub lockout_reset: String,
    /// Routes (paths as routed, `*` at the end for a prefix) this IP policy guards in the
    /// HTTP middleware. Policies for accounts, wallets and tokens are applied by handlers.
    #[serde(default)]
    pub routes: Vec<String>,
}

fn default_reset() -> String {
    "1d".into()
}

fn pc(key: KeyKind, burst: &str, sustained: Option<&str>, lockout: &[&str], routes: &[&str]) -> PolicyConfig {
    PolicyConfig {
        key,
        burst: burst.parse().ok(),
        sustained: sustained.and_then(|s| s.parse().ok()),
        lockout: lockout.iter().map(|s| (*s).to_owned()).collect(),
        lockout_reset: default_reset(),
        routes: routes.iter().map(|s| (*s).to_owned()).collect(),
    }
}

/// The default table: the NETWORKCOIN.ID seed's rate limits and the IDToken endpoint limits.
fn default_rate_limits() -> BTreeMap<String, PolicyConfig> {
    use KeyKind::*;
    [
        ("login_ip", pc(Ip, "5/1m", Some("15/1h"), &["1m", "15m"], &[])),
        ("login_email", pc(Account, "5/1m", Some("15/1h"), &["15m"], &[])),
        ("registration", pc(Ip, "3/5m", Some("10/1h"), &["5m", "30m"], &[])),
        ("siwe_wallet", pc(Wallet, "5/5m", Some("10/1h"), &["5m", "1h"], &[])),
        ("token", pc(Client, "60/1m", Some("600/1h"), &[], &[])),
        ("password_reset", pc(Account, "3/5m", Some("5/1h"), &["10m", "1h"], &[])),
        ("password_reset_ip", pc(Ip, "10/5m", Some("30/1h"), &["10m", "1h"], &[])),
        ("payment_charge", pc(Client, "10/1m", Some("100/1h"), &[], &[])),
        ("auth_initiate", pc(Ip, "10/1m", None, &[], &["/auth/initiate", "/login/phone"])),
        ("enroll", pc(Ip, "5/1h", None, &[], &["/enroll"])),
        ("login_token", pc(Account, "10/1m", Some("60/1h"), &[], &[])),
        ("admin", pc(Ip, "60/1m", None, &[], &["/admin/*"])),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// The whole configuration.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address to listen on.
    pub bind: String,
    /// Public issuer URL (default `http://<bind>`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// Data directory for the embedded database and the generated master key.
    pub data_dir: PathBuf,
    /// `sqlite:PATH` or `postgres://…` (default: SQLite in the data directory).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    /// Master key file (default `<data_dir>/master.key`); `IDSEAL_MASTER_KEY` wins over it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub master_key_file: Option<PathBuf>,
    /// Log format.
    pub log_format: LogFormat,
    /// Log filter (tracing `EnvFilter` syntax, e.g. `info` or `idseal_server=debug`).
    pub log_level: String,
    /// Largest accepted request body in bytes.
    pub max_body_bytes: usize,
    /// Seconds before a request is abandoned with 503.
    pub request_timeout_secs: u64,
    /// Header a trusted reverse proxy appends the client IP to (e.g. `x-forwarded-for`); its
    /// right-most address is the client. Unset means the TCP peer address is the client.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_ip_header: Option<String>,
    /// Database pool.
    pub database: DatabaseConfig,
    /// Signing keys.
    pub keys: KeysConfig,
    /// The tamper-evident audit log.
    pub tlog: TlogConfig,
    /// Rate-limit policies by name.
    pub rate_limits: BTreeMap<String, PolicyConfig>,
    /// The OAuth 2.1 / OpenID Connect provider.
    pub oauth: OAuthConfig,
    /// Outgoing mail (verification and password-reset links).
    pub mail: crate::mail::MailConfig,
    /// Trust lists.
    pub trust: TrustConfig,
    /// Push to phones through Firebase Cloud Messaging (docs/push.md).
    pub push: crate::push::PushConfig,
    /// Passwordless login.
    pub passwordless: PasswordlessConfig,
    /// SCAL3 (used only when the server is built with the `scal3` feature).
    pub scal3: Scal3Config,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:8080".into(),
            issuer: None,
            data_dir: PathBuf::from("./idseal-data"),
            database_url: None,
            master_key_file: None,
            log_format: LogFormat::Text,
            log_level: "info".into(),
            max_body_bytes: 64 * 1024,
            request_timeout_secs: 30,
            client_ip_header: None,
            database: DatabaseConfig::default(),
            keys: KeysConfig::default(),
            tlog: TlogConfig::default(),
            rate_limits: default_rate_limits(),
            oauth: OAuthConfig::default(),
            mail: crate::mail::MailConfig::default(),
            trust: TrustConfig::default(),
            push: crate::push::PushConfig::default(),
            passwordless: PasswordlessConfig::default(),
            scal3: Scal3Config::default(),
        }
    }
}

/// Values from command-line flags; `None` leaves the lower layers alone.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Overrides {
    /// `--bind`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bind: Option<String>,
    /// `--data-dir`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    /// `--database-url`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    /// `--issuer`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// `--log-format`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_format: Option<LogFormat>,
}

/// Environment variables with the `IDSEAL_` prefix that are not configuration keys.
const NOT_CONFIG: &[&str] =
    &["master_key", "test_database_url", "config", "interop_python", "update_openapi", "pkcs11_pin", "smtp_password"];

/// A validated configuration with its derived values.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The configuration as loaded.
    pub config: Config,
    /// The listen address.
    pub bind: SocketAddr,
    /// The issuer URL, without a trailing slash.
    pub issuer: String,
    /// The database URL.
    pub database_url: String,
    /// The master key file.
    pub master_key_file: PathBuf,
    /// Algorithms to keep active keys for.
    pub algorithms: Vec<Algorithm>,
    /// Rate-limit policies and the routes they guard.
    pub policies: BTreeMap<String, (Policy, KeyKind, Vec<String>)>,
}

impl Config {
    /// Load from defaults, the optional TOML `file`, `IDSEAL_*` variables (nested keys with
    /// `__`, e.g. `IDSEAL_KEYS__GRACE_HOURS`) and `overrides`.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> Result<Self, ConfigError> {
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        if let Some(f) = file {
            if !f.is_file() {
                return Err(ConfigError::Parse(format!("config file {} does not exist", f.display())));
            }
            fig = fig.merge(Toml::file_exact(f));
        }
        fig = fig.merge(Env::prefixed("IDSEAL_").split("__").ignore(NOT_CONFIG)).merge(Serialized::defaults(overrides));
        fig.extract().map_err(|e| ConfigError::Parse(describe(e)))
    }

    /// Check every value and derive the settings the server runs with.
    pub fn validate(self) -> Result<Settings, ConfigError> {
        let bind: SocketAddr =
            self.bind.parse().map_err(|_| invalid("bind", "expected an IP address and port, like 127.0.0.1:8080"))?;
        let issuer = match &self.issuer {
            Some(i) => check_issuer(i)?,
            None => format!("http://{bind}"),
        };
        let database_url = match &self.database_url {
            Some(u) if u.starts_with("sqlite:") || u.starts_with("postgres://") || u.starts_with("postgresql://") => {
                u.clone()
            }
            Some(_) => return Err(invalid("database_url", "expected sqlite:PATH or postgres://…")),
            None => format!("sqlite:{}", self.data_dir.join("idseal.db").display()),
        };
        if self.data_dir.as_os_str().is_empty() {
            return Err(invalid("data_dir", "must not be empty"));
        }
        let master_key_file = self.master_key_file.clone().unwrap_or_else(|| self.data_dir.join("master.key"));
        if !(1024..=16 * 1024 * 1024).contains(&self.max_body_bytes) {
            return Err(invalid("max_body_bytes", "must be between 1024 and 16777216"));
        }
        if !(1..=3600).contains(&self.request_timeout_secs) {
            return Err(invalid("request_timeout_secs", "must be between 1 and 3600"));
        }
        if self.database.max_connections == 0 || self.database.max_connections > 1000 {
            return Err(invalid("database.max_connections", "must be between 1 and 1000"));
        }
        if !(1..=600).contains(&self.database.acquire_timeout_secs) {
            return Err(invalid("database.acquire_timeout_secs", "must be between 1 and 600"));
        }
        if let Some(h) = &self.client_ip_header
            && (h.is_empty() || !h.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        {
            return Err(invalid("client_ip_header", "must be an HTTP header name"));
        }
        let mut algorithms = Vec::new();
        for a in &self.keys.algorithms {
            let alg: Algorithm = a.parse().map_err(|_| {
                invalid(
                    "keys.algorithms",
                    format!("unknown algorithm `{a}` (supported: RS256, ES256, EdDSA, ML-DSA-65)"),
                )
            })?;
            if !algorithms.contains(&alg) {
                algorithms.push(alg);
            }
        }
        if algorithms.is_empty() {
            return Err(invalid("keys.algorithms", "at least one algorithm is needed"));
        }
        if !(1..=24 * 90).contains(&self.keys.grace_hours) {
            return Err(invalid("keys.grace_hours", "must be between 1 and 2160"));
        }
        if !(1..=86400).contains(&self.keys.refresh_secs) {
            return Err(invalid("keys.refresh_secs", "must be between 1 and 86400"));
        }
        if !(1..=86400).contains(&self.tlog.checkpoint_secs) {
            return Err(invalid("tlog.checkpoint_secs", "must be between 1 and 86400"));
        }
        check_oauth(&self.oauth)?;
        if !(1..=7 * 86400).contains(&self.trust.cache_ttl_secs) {
            return Err(invalid("trust.cache_ttl_secs", "must be between 1 and 604800"));
        }
        if !(1..=120).contains(&self.trust.fetch_timeout_secs) {
            return Err(invalid("trust.fetch_timeout_secs", "must be between 1 and 120"));
        }
        self.push.check().map_err(|(key, reason)| invalid(key, reason))?;
        check_passwordless(&self)?;
        let needed = [
            (self.oauth.access_token_alg.parse().unwrap_or(Algorithm::Rs256), "oauth.access_token_alg"),
            (self.oauth.pq_sig_alg.parse().unwrap_or(Algorithm::MlDsa65), "oauth.pq_sig_alg"),
        ];
        for (alg, why) in needed {
            if !algorithms.contains(&alg) {
                return Err(invalid("keys.algorithms", format!("must include {} (used by {why})", alg.as_str())));
            }
        }
        let mut policies = BTreeMap::new();
        for (name, p) in &self.rate_limits {
            let key = |k: &str| format!("rate_limits.{name}.{k}");
            if p.burst.is_none() && p.sustained.is_none() {
                return Err(invalid(key("burst"), "a policy needs a burst or a sustained window"));
            }
            let ladder = p
                .lockout
                .iter()
                .map(|d| parse_duration(d).map_err(|e| invalid(key("lockout"), e.to_string())))
                .collect::<Result<Vec<Duration>, _>>()?;
            let reset = parse_duration(&p.lockout_reset).map_err(|e| invalid(key("lockout_reset"), e.to_string()))?;
            for r in &p.routes {
                if !r.starts_with('/') {
                    return Err(invalid(key("routes"), format!("`{r}` must start with /")));
                }
                if p.key != KeyKind::Ip {
                    return Err(invalid(key("routes"), "only `key = \"ip\"` policies can guard routes"));
                }
            }
            let mut policy = Policy::new(name.clone(), p.burst, p.sustained).with_lockout(ladder);
            policy.lockout_reset = reset;
            policies.insert(name.clone(), (policy, p.key, p.routes.clone()));
        }
        Ok(Settings { bind, issuer, database_url, master_key_file, algorithms, policies, config: self })
    }
}

fn check_oauth(o: &OAuthConfig) -> Result<(), ConfigError> {
    match o.pq_sig_alg.parse::<Algorithm>() {
        Ok(Algorithm::MlDsa65 | Algorithm::EdDsa) => {}
        _ => return Err(invalid("oauth.pq_sig_alg", "must be ML-DSA-65 or EdDSA")),
    }
    if o.access_token_alg.parse::<Algorithm>().is_err() {
        return Err(invalid("oauth.access_token_alg", "must be RS256, ES256, EdDSA or ML-DSA-65"));
    }
    if !(60..=86400).contains(&o.access_token_secs) {
        return Err(invalid("oauth.access_token_secs", "must be between 60 and 86400"));
    }
    if !(1..=365).contains(&o.refresh_token_days) {
        return Err(invalid("oauth.refresh_token_days", "must be between 1 and 365"));
    }
    if !(10..=600).contains(&o.code_secs) {
        return Err(invalid("oauth.code_secs", "must be between 10 and 600"));
    }
    if !(1..=24 * 30).contains(&o.session_hours) {
        return Err(invalid("oauth.session_hours", "must be between 1 and 720"));
    }
    o.argon2.validate().map_err(|e| invalid("oauth.argon2", e.description()))
}

fn check_passwordless(c: &Config) -> Result<(), ConfigError> {
    let p = &c.passwordless;
    if !(1..=6).contains(&p.otp_visible_digits) {
        return Err(invalid("passwordless.otp_visible_digits", "must be between 1 and 6"));
    }
    if !(60..=86400).contains(&p.result_ttl_secs) {
        return Err(invalid("passwordless.result_ttl_secs", "must be between 60 and 86400"));
    }
    if !(1..=3650).contains(&p.session_retention_days) {
        return Err(invalid("passwordless.session_retention_days", "must be between 1 and 3650"));
    }
    if !(1..=1_000_000).contains(&p.max_sockets) || !(1..=p.max_sockets).contains(&p.max_sockets_per_ip) {
        return Err(invalid(
            "passwordless.max_sockets_per_ip",
            "max_sockets is 1 to 1000000 and max_sockets_per_ip 1 to max_sockets",
        ));
    }
    if !(1..=20).contains(&c.scal3.max_pin_attempts) {
        return Err(invalid("scal3.max_pin_attempts", "must be between 1 and 20"));
    }
    if let Some(g) = &c.trust.governance_location {
        if !(g.starts_with("https://") || g.starts_with("http://")) {
            return Err(invalid("trust.governance_location", "must be an http(s) URL"));
        }
        if c.trust.governance_signers.is_empty() {
            return Err(invalid("trust.governance_signers", "at least one certificate file is needed"));
        }
        if !c.keys.algorithms.iter().any(|a| a == "ES256") {
            return Err(invalid("keys.algorithms", "must include ES256 (used by passwordless login results)"));
        }
    }
    Ok(())
}

fn check_issuer(i: &str) -> Result<String, ConfigError> {
    let rest = i
        .strip_prefix("https://")
        .or_else(|| i.strip_prefix("http://"))
        .ok_or_else(|| invalid("issuer", "must be an http:// or https:// URL"))?;
    if rest.is_empty() || rest.starts_with('/') || i.contains(['?', '#', ' ']) {
        return Err(invalid("issuer", "must be a URL with a host and no query or fragment"));
    }
    Ok(i.trim_end_matches('/').to_owned())
}

/// Figment errors, one line each, with the key and the source (file or variable) they came from.
fn describe(e: figment::Error) -> String {
    e.into_iter()
        .map(|e| {
            let key = if e.path.is_empty() { String::new() } else { format!(" for key `{}`", e.path.join(".")) };
            let from = e.metadata.as_ref().map(|m| format!(" (from {})", m.name)).unwrap_or_default();
            format!("{}{key}{from}", e.kind)
        })
        .collect::<Vec<_>>()
        .join("; ")
}
