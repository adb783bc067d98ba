//! The audit-event interface: every security-relevant action calls [`AuditSink::record`] once
//! with a typed [`AuditEvent`].
//!
//! Events are typed so that the set of things we audit is visible in one place and so that the
//! encoding can later become canonical leaves of the tamper-evident log. Details never carry
//! secrets: a caller that needs to refer to a secret records its hash.

use std::future::Future;
use std::net::IpAddr;

use serde::Serialize;

use crate::UnixTime;

/// What happened. The string form (`as_str`) is stable and stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[non_exhaustive]
pub enum AuditEventKind {
    /// A server instance started against this store.
    ServerStart,
    /// A signing key was generated.
    KeyGenerate,
    /// A signing key was rotated out (it stays published for the grace period).
    KeyRotate,
    /// A key reached the end of its grace period and stopped being published.
    KeyDeactivate,
    /// A rate-limit key was locked out.
    RateLimitLockout,
    /// An admin API call was refused for lack of valid credentials.
    AdminAuthFail,
    /// The admin bootstrap token was issued.
    AdminBootstrapToken,
}

impl AuditEventKind {
    /// The stable name stored with the entry.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ServerStart => "SERVER_START",
            Self::KeyGenerate => "KEY_GENERATE",
            Self::KeyRotate => "KEY_ROTATE",
            Self::KeyDeactivate => "KEY_DEACTIVATE",
            Self::RateLimitLockout => "RATE_LIMIT_LOCKOUT",
            Self::AdminAuthFail => "ADMIN_AUTH_FAIL",
            Self::AdminBootstrapToken => "ADMIN_BOOTSTRAP_TOKEN",
        }
    }
}

/// One security-relevant event.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AuditEvent {
    /// What happened.
    pub kind: AuditEventKind,
    /// When it happened.
    pub at: UnixTime,
    /// Who did it: an operator, `system`, a pseudonymous subject id.
    pub actor: String,
    /// What it was done to (key id, token id, account id), when there is one.
    pub subject: Option<String>,
    /// The client IP address of the request that caused it.
    pub ip: Option<IpAddr>,
    /// The user agent of that request.
    pub user_agent: Option<String>,
    /// Event-specific details. Never secrets: hashes only.
    pub details: serde_json::Value,
}

impl AuditEvent {
    /// A new event by `actor` at `at`, with no subject, request context or details.
    pub fn new(kind: AuditEventKind, at: UnixTime, actor: impl Into<String>) -> Self {
        Self {
            kind,
            at,
            actor: actor.into(),
            subject: None,
            ip: None,
            user_agent: None,
            details: serde_json::Value::Null,
        }
    }

    /// The same event about `subject`.
    #[must_use]
    pub fn subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = Some(subject.into());
        self
    }

    /// The same event with request context.
    #[must_use]
    pub fn request(mut self, ip: Option<IpAddr>, user_agent: Option<String>) -> Self {
        self.ip = ip;
        self.user_agent = user_agent;
        self
    }

    /// The same event with details.
    #[must_use]
    pub fn details(mut self, details: serde_json::Value) -> Self {
        self.details = details;
        self
    }
}

/// Where audit events go. An implementation must make the event durable before it returns
/// `Ok`, so that an action is never reported done without its record.
pub trait AuditSink: Send + Sync {
    /// The error a failed write reports.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Append one event durably.
    fn record(&self, event: &AuditEvent) -> impl Future<Output = Result<(), Self::Error>> + Send;
}
