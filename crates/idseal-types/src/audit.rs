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
    /// A password login succeeded.
    LoginSuccess,
    /// A password login failed (wrong password, unknown account, locked).
    LoginFailure,
    /// An account was registered.
    AccountRegister,
    /// An account's email address was verified.
    EmailVerify,
    /// A signed-in user changed their password.
    PasswordChange,
    /// A password-reset mail was requested.
    PasswordResetRequest,
    /// A password was reset by an emailed token (every session and grant revoked).
    PasswordReset,
    /// A user granted scopes to a client.
    ConsentGrant,
    /// A user revoked a client's consent (and its grants).
    ConsentRevoke,
    /// Tokens were issued (code exchange or client credentials).
    TokenIssue,
    /// A refresh token was rotated.
    TokenRefresh,
    /// A token was revoked (RFC 7009).
    TokenRevoke,
    /// A rotated or revoked refresh token was used again: every grant of that client and user was revoked.
    RefreshReuse,
    /// An authorization code was used twice: the grant it produced was revoked.
    CodeReplay,
    /// A browser session was created.
    SessionCreate,
    /// A browser session was revoked (by its user, by logout or by a reset).
    SessionRevoke,
    /// RP-initiated logout ended a session.
    Logout,
    /// An OAuth client was registered.
    ClientRegister,
    /// An OAuth client was removed.
    ClientRemove,
    /// A device enrolled a document-anchored identity (passwordless login).
    Enroll,
    /// An enrollment was refused (seal, key or duplicate).
    EnrollFail,
    /// An enrollment was revoked (by an admin or by its user).
    EnrollmentRevoke,
    /// A passwordless login session started.
    AuthInitiate,
    /// The phone approved a passwordless login (the granted scopes are the consent decision).
    AuthApprove,
    /// A passwordless login was declined on the phone or failed its checks.
    AuthReject,
    /// A passwordless login session expired unanswered.
    AuthExpire,
    /// A seal (identity or service) failed the chain of trust.
    VdsVerifyFail,
    /// A relying service was registered or updated for passwordless login.
    ServiceRegister,
    /// A relying service was removed.
    ServiceRemove,
    /// A phone enrolled a SCAL3 credential (device key + PIN).
    Scal3Enrol,
    /// An instruction was authorised with SCAL3: the entry holds the record anyone can verify.
    Scal3Authorize,
    /// A SCAL3 proof failed the PIN factor (counted; the credential locks at the limit).
    Scal3PinFailure,
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
            Self::LoginSuccess => "LOGIN_SUCCESS",
            Self::LoginFailure => "LOGIN_FAILURE",
            Self::AccountRegister => "ACCOUNT_REGISTER",
            Self::EmailVerify => "EMAIL_VERIFY",
            Self::PasswordChange => "PASSWORD_CHANGE",
            Self::PasswordResetRequest => "PASSWORD_RESET_REQUEST",
            Self::PasswordReset => "PASSWORD_RESET",
            Self::ConsentGrant => "CONSENT_GRANT",
            Self::ConsentRevoke => "CONSENT_REVOKE",
            Self::TokenIssue => "TOKEN_ISSUE",
            Self::TokenRefresh => "TOKEN_REFRESH",
            Self::TokenRevoke => "TOKEN_REVOKE",
            Self::RefreshReuse => "REFRESH_REUSE",
            Self::CodeReplay => "CODE_REPLAY",
            Self::SessionCreate => "SESSION_CREATE",
            Self::SessionRevoke => "SESSION_REVOKE",
            Self::Logout => "LOGOUT",
            Self::ClientRegister => "CLIENT_REGISTER",
            Self::ClientRemove => "CLIENT_REMOVE",
            Self::Enroll => "ENROLL",
            Self::EnrollFail => "ENROLL_FAIL",
            Self::EnrollmentRevoke => "REVOKE",
            Self::AuthInitiate => "AUTH_INITIATE",
            Self::AuthApprove => "AUTH_APPROVE",
            Self::AuthReject => "AUTH_REJECT",
            Self::AuthExpire => "AUTH_EXPIRE",
            Self::VdsVerifyFail => "VDS_VERIFY_FAIL",
            Self::ServiceRegister => "SERVICE_REGISTER",
            Self::ServiceRemove => "SERVICE_REMOVE",
            Self::Scal3Enrol => "SCAL3_ENROL",
            Self::Scal3Authorize => "SCAL3_AUTHORIZE",
            Self::Scal3PinFailure => "SCAL3_PIN_FAILURE",
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
