//! Outgoing mail: verification and password-reset links, sent as plain-text UTF-8 mails over SMTP (lettre).
//!
//! [`MailConfig`] is the `[mail]` section of the configuration; the SMTP password is never in it: the caller
//! reads it from the environment variable `IDSEAL_SMTP_PASSWORD` and passes it to [`Mailer::new`].
//!
//! This module does not queue or retry: [`Mailer::send`] makes one attempt and reports the outcome, and callers
//! decide what a failure means (for "forgot password" it must not change the answer the user sees). It never
//! logs a mail's content, recipient or links.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// The default sender, used when `mail.from` is not set.
pub const DEFAULT_FROM: &str = "idseal <no-reply@localhost>";
/// The default SMTP timeout in seconds, used when `mail.timeout_secs` is not set.
pub const DEFAULT_TIMEOUT_SECS: u64 = 10;
/// The environment variable that holds the SMTP password (never put it in the TOML file).
pub const PASSWORD_ENV: &str = "IDSEAL_SMTP_PASSWORD";

/// The `[mail]` configuration section.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MailConfig {
    /// `smtp://host:port` (plain, for a local relay), `smtp+starttls://host:port` (STARTTLS required), or
    /// `smtps://host:port` (implicit TLS); unset = mail is not sent (logged as a warning without content).
    /// Default ports when omitted: 25, 587 and 465.
    pub smtp_url: Option<String>,
    /// The `From` mailbox, e.g. `idseal <no-reply@example.org>`.
    pub from: String,
    /// The SMTP user name; when set, the password must be given in `IDSEAL_SMTP_PASSWORD`.
    pub username: Option<String>,
    /// Timeout of each SMTP operation, in seconds (at least 1).
    pub timeout_secs: u64,
}

impl Default for MailConfig {
    fn default() -> Self {
        Self { smtp_url: None, from: DEFAULT_FROM.to_owned(), username: None, timeout_secs: DEFAULT_TIMEOUT_SECS }
    }
}

/// Why a mail could not be sent, or a mailer not built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MailError {
    /// The `[mail]` configuration is invalid; the message names the key.
    #[error("invalid mail configuration: {0}")]
    Config(String),
    /// A recipient address, or the subject, was refused before anything was sent.
    #[error("invalid mail address or header: {0}")]
    Address(String),
    /// The SMTP exchange failed (connection, TLS, authentication, or the server refused the mail).
    #[error("sending mail failed: {0}")]
    Send(String),
    /// Mail is not configured (`mail.smtp_url` is unset): nothing was sent.
    #[error("mail is not configured (mail.smtp_url is unset)")]
    Disabled,
}

/// Sends mail through the configured SMTP server. Cheap to clone (one shared transport and connection pool).
#[derive(Clone)]
pub struct Mailer {
    inner: Option<Arc<Inner>>,
}

struct Inner {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl fmt::Debug for Mailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.inner {
            Some(inner) => f.debug_struct("Mailer").field("from", &inner.from.to_string()).finish_non_exhaustive(),
            None => f.write_str("Mailer(disabled)"),
        }
    }
}

/// How the connection to the SMTP server is protected, from the URL scheme.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Security {
    /// `smtp://`: no TLS at all.
    Plain,
    /// `smtp+starttls://`: STARTTLS, required.
    StartTls,
    /// `smtps://`: TLS from the first byte.
    Implicit,
}

/// A parsed `mail.smtp_url`.
#[derive(Debug, PartialEq, Eq)]
struct SmtpUrl {
    security: Security,
    /// Host name or IP address, without IPv6 brackets.
    host: String,
    port: u16,
}

impl Mailer {
    /// Builds a mailer from the configuration and the password (from `IDSEAL_SMTP_PASSWORD`).
    ///
    /// With `mail.smtp_url` unset this is [`Mailer::disabled`]. Nothing is connected yet: the URL, the sender
    /// and the credentials are only validated.
    ///
    /// # Errors
    ///
    /// [`MailError::Config`] naming the offending key: `mail.smtp_url` (bad scheme, host or port; or credentials
    /// over a plain connection to a host that is not loopback), `mail.from` (not a mailbox), `mail.username`
    /// (set without a password, or a password given without it), `mail.timeout_secs` (zero).
    pub fn new(cfg: &MailConfig, password: Option<Zeroizing<String>>) -> Result<Self, MailError> {
        let Some(url) = cfg.smtp_url.as_deref() else {
            return Ok(Self::disabled());
        };
        let url = parse_smtp_url(url)?;
        let from: Mailbox = cfg
            .from
            .parse()
            .map_err(|e| MailError::Config(format!("mail.from: {:?} is not a valid mailbox: {e}", cfg.from)))?;
        if cfg.timeout_secs == 0 {
            return Err(MailError::Config("mail.timeout_secs: must be at least 1".to_owned()));
        }
        let credentials = match (cfg.username.as_deref(), password) {
            (Some(user), Some(password)) => Some(Credentials::new(user.to_owned(), password.as_str().to_owned())),
            (None, None) => None,
            (Some(_), None) => {
                return Err(MailError::Config(format!("mail.username: is set but {PASSWORD_ENV} is not")));
            }
            (None, Some(_)) => {
                return Err(MailError::Config(format!("mail.username: must be set when {PASSWORD_ENV} is")));
            }
        };
        if credentials.is_some() && url.security == Security::Plain && !is_loopback(&url.host) {
            return Err(MailError::Config(
                "mail.smtp_url: refusing to send credentials without TLS to a host that is not loopback; \
                 use smtp+starttls:// or smtps://"
                    .to_owned(),
            ));
        }
        let builder = match url.security {
            Security::Plain => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(url.host.as_str()),
            Security::StartTls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&url.host)
                .map_err(|e| MailError::Config(format!("mail.smtp_url: TLS setup failed: {e}")))?,
            Security::Implicit => AsyncSmtpTransport::<Tokio1Executor>::relay(&url.host)
                .map_err(|e| MailError::Config(format!("mail.smtp_url: TLS setup failed: {e}")))?,
        };
        let mut builder = builder.port(url.port).timeout(Some(Duration::from_secs(cfg.timeout_secs)));
        if let Some(credentials) = credentials {
            builder = builder.credentials(credentials);
        }
        let transport = builder.build::<Tokio1Executor>();
        Ok(Self { inner: Some(Arc::new(Inner { transport, from })) })
    }

    /// A mailer that sends nothing: [`Mailer::send`] logs a warning and returns [`MailError::Disabled`].
    #[must_use]
    pub fn disabled() -> Self {
        Self { inner: None }
    }

    /// Whether mail is configured.
    #[must_use]
    pub fn is_enabled(&self) -> bool {
        self.inner.is_some()
    }

    /// Sends one plain-text UTF-8 mail to `to` (a bare address, e.g. `user@example.org`).
    ///
    /// Headers are built by lettre, which encodes them, so no header can be injected; a subject containing CR
    /// or LF is refused all the same, since it is a bug in the caller.
    ///
    /// # Errors
    ///
    /// [`MailError::Disabled`] when mail is not configured, [`MailError::Address`] for an invalid recipient or a
    /// subject with a line break, [`MailError::Send`] when the SMTP exchange fails.
    pub async fn send(&self, to: &str, subject: &str, text_body: &str) -> Result<(), MailError> {
        let Some(inner) = &self.inner else {
            tracing::warn!("mail.smtp_url is unset: a mail was not sent");
            return Err(MailError::Disabled);
        };
        if subject.contains(['\r', '\n']) {
            return Err(MailError::Address("the subject contains a line break".to_owned()));
        }
        let to: Address = to.trim().parse().map_err(|e| MailError::Address(format!("recipient: {e}")))?;
        let message = Message::builder()
            .from(inner.from.clone())
            .to(Mailbox::new(None, to))
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(text_body.to_owned())
            .map_err(|e| MailError::Address(e.to_string()))?;
        inner.transport.send(message).await.map_err(|e| MailError::Send(e.to_string()))?;
        Ok(())
    }
}

/// Parses `scheme://host[:port][/]`; no user info, path, query or fragment.
fn parse_smtp_url(url: &str) -> Result<SmtpUrl, MailError> {
    let bad = |why: &str| MailError::Config(format!("mail.smtp_url: {url:?} {why}"));
    let (scheme, rest) = url.split_once("://").ok_or_else(|| bad("is not a URL (expected smtp://host:port)"))?;
    let (security, default_port) = match scheme.to_ascii_lowercase().as_str() {
        "smtp" => (Security::Plain, 25),
        "smtp+starttls" => (Security::StartTls, 587),
        "smtps" => (Security::Implicit, 465),
        _ => return Err(bad("has an unsupported scheme (use smtp://, smtp+starttls:// or smtps://)")),
    };
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    if authority.contains(['/', '?', '#', '@']) || authority.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad("must be only scheme://host[:port] (the user name goes in mail.username)"));
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6.split_once(']').ok_or_else(|| bad("has an unclosed '['"))?;
        if host.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(bad("has an invalid IPv6 address"));
        }
        match after {
            "" => (host, None),
            _ => (host, Some(after.strip_prefix(':').ok_or_else(|| bad("has junk after the IPv6 address"))?)),
        }
    } else {
        match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err(bad("has no host"));
    }
    let port = match port {
        None => default_port,
        Some(p) => match p.parse::<u16>() {
            Ok(p) if p != 0 => p,
            _ => return Err(bad("has an invalid port")),
        },
    };
    Ok(SmtpUrl { security, host: host.to_owned(), port })
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use idseal_testkit::SmtpSink;

    use super::*;

    fn config(url: &str) -> MailConfig {
        MailConfig { smtp_url: Some(url.to_owned()), ..MailConfig::default() }
    }

    #[tokio::test]
    async fn sends_a_plain_text_mail_to_the_sink() {
        let sink = SmtpSink::start().unwrap();
        let cfg = MailConfig { from: "idseal test <no-reply@idseal.test>".to_owned(), ..config(&sink.url()) };
        let mailer = Mailer::new(&cfg, None).unwrap();
        assert!(mailer.is_enabled());
        let body = "Bonjour Zoë,\n\nverify: https://id.example/verify?token=abc_DEF-123&x=1\n\n.a line with a dot\n";
        mailer.clone().send("user@example.org", "Vérifiez votre adresse", body).await.unwrap();

        let mails = sink.wait_for(1, Duration::from_secs(10)).await;
        assert_eq!(mails.len(), 1);
        let mail = &mails[0];
        assert_eq!(mail.from, "no-reply@idseal.test");
        assert_eq!(mail.to, vec!["user@example.org".to_owned()]);
        assert_eq!(mail.header("From").as_deref(), Some("\"idseal test\" <no-reply@idseal.test>"));
        assert_eq!(mail.header("To").as_deref(), Some("user@example.org"));
        assert_eq!(mail.header("Subject").as_deref(), Some("Vérifiez votre adresse"));
        assert!(mail.header("Content-Type").unwrap().starts_with("text/plain; charset=utf-8"));
        // The SMTP transport ends the data with one more line break before the final ".".
        assert_eq!(mail.body_text().replace("\r\n", "\n").trim_end(), body.trim_end());
        assert_eq!(
            mail.find_link("https://id.example/verify").as_deref(),
            Some("https://id.example/verify?token=abc_DEF-123&x=1")
        );
    }

    #[tokio::test]
    async fn refuses_line_breaks_in_subject_and_bad_recipients() {
        let sink = SmtpSink::start().unwrap();
        let mailer = Mailer::new(&config(&sink.url()), None).unwrap();
        for subject in ["a\r\nBcc: victim@example.org", "a\nb", "a\rb"] {
            assert!(matches!(mailer.send("user@example.org", subject, "x").await, Err(MailError::Address(_))));
        }
        for to in ["not an address", "a@b@c", "user@example.org\r\nBcc: x@example.org", "", "<user@example.org>"] {
            assert!(matches!(mailer.send(to, "s", "x").await, Err(MailError::Address(_))), "{to:?}");
        }
        assert!(sink.wait_for(1, Duration::from_millis(200)).await.is_empty());
    }

    #[tokio::test]
    async fn send_failure_is_reported() {
        // Bind and drop a listener to get a port that (very likely) refuses connections.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let cfg = MailConfig { timeout_secs: 2, ..config(&format!("smtp://127.0.0.1:{port}")) };
        let mailer = Mailer::new(&cfg, None).unwrap();
        assert!(matches!(mailer.send("user@example.org", "s", "x").await, Err(MailError::Send(_))));
    }

    #[tokio::test]
    async fn disabled_mailer_sends_nothing() {
        let mailer = Mailer::disabled();
        assert!(!mailer.is_enabled());
        assert!(matches!(mailer.send("user@example.org", "s", "x").await, Err(MailError::Disabled)));
        let from_default = Mailer::new(&MailConfig::default(), None).unwrap();
        assert!(!from_default.is_enabled());
        assert_eq!(format!("{from_default:?}"), "Mailer(disabled)");
    }

    #[test]
    fn config_errors_name_the_key() {
        let err = |cfg: &MailConfig, pw: Option<&str>| match Mailer::new(cfg, pw.map(|p| Zeroizing::new(p.to_owned())))
        {
            Err(MailError::Config(msg)) => msg,
            other => panic!("expected a config error, got {other:?}"),
        };
        for url in ["http://mail.example:25", "mail.example:25", "smtp://", "smtp://:25", "smtp://h:0", "smtp://h:x"] {
            assert!(err(&config(url), None).starts_with("mail.smtp_url"), "{url}");
        }
        for url in ["smtp://user@h:25", "smtp://h:25/path", "smtp://h:25?tls=required", "smtp://[::1:25"] {
            assert!(err(&config(url), None).starts_with("mail.smtp_url"), "{url}");
        }
        let bad_from = MailConfig { from: "not a mailbox".to_owned(), ..config("smtp://127.0.0.1:25") };
        assert!(err(&bad_from, None).starts_with("mail.from"));
        let zero = MailConfig { timeout_secs: 0, ..config("smtp://127.0.0.1:25") };
        assert!(err(&zero, None).starts_with("mail.timeout_secs"));
        let user = MailConfig { username: Some("u".to_owned()), ..config("smtps://mail.example") };
        assert!(err(&user, None).starts_with("mail.username"));
        assert!(err(&config("smtps://mail.example"), Some("pw")).starts_with("mail.username"));
        let plain_remote = MailConfig { username: Some("u".to_owned()), ..config("smtp://mail.example:25") };
        assert!(err(&plain_remote, Some("pw")).starts_with("mail.smtp_url"));
        let plain_local = MailConfig { username: Some("u".to_owned()), ..config("smtp://localhost:25") };
        assert!(Mailer::new(&plain_local, Some(Zeroizing::new("pw".to_owned()))).is_ok());
        assert!(Mailer::new(&user, Some(Zeroizing::new("pw".to_owned()))).is_ok());
    }

    #[test]
    fn parses_smtp_urls() {
        let parse = |s: &str| parse_smtp_url(s).unwrap();
        assert_eq!(
            parse("smtp://127.0.0.1:2525"),
            SmtpUrl { security: Security::Plain, host: "127.0.0.1".into(), port: 2525 }
        );
        assert_eq!(parse("smtp+starttls://mail.example").port, 587);
        assert_eq!(
            parse("SMTPS://mail.example/"),
            SmtpUrl { security: Security::Implicit, host: "mail.example".into(), port: 465 }
        );
        assert_eq!(parse("smtp://[::1]:25").host, "::1");
        assert_eq!(parse("smtp://[::1]").port, 25);
    }

    #[test]
    fn config_deserializes_with_defaults_and_rejects_unknown_keys() {
        let cfg: MailConfig = serde_json::from_str(r#"{"smtp_url":"smtp://127.0.0.1:25"}"#).unwrap();
        assert_eq!(cfg.from, DEFAULT_FROM);
        assert_eq!(cfg.timeout_secs, DEFAULT_TIMEOUT_SECS);
        assert!(serde_json::from_str::<MailConfig>(r#"{"password":"x"}"#).is_err());
    }
}
