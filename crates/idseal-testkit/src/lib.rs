//! Test peers for idseal's integration tests.
//!
//! [`SmtpSink`] is a real, minimal SMTP server (a subset of RFC 5321) on `127.0.0.1:0` that keeps every mail it
//! receives in memory, so that tests can drive the server's outgoing mail end to end and read the links it sends.
//!
//! [`FcmServer`] speaks Firebase Cloud Messaging's HTTP v1 API and the OAuth JWT-bearer token endpoint on
//! `127.0.0.1:0`, verifying every assertion's signature, so that tests can drive push end to end.
//!
//! [`trust::TrustDemo`] is a whole chain of trust (fresh keys and certificates, the four signed
//! lists, a seal issued under it) for tests of the trust-list consumers.
//!
//! This crate is a dev-dependency only. It does not relay, authenticate, speak TLS (no STARTTLS, no implicit TLS),
//! or parse MIME beyond a single part's transfer encoding; it is not hardened against hostile clients beyond line
//! and size limits.

mod accept;
mod decode;
pub mod fcm;
mod received;
mod smtp;
pub mod trust;

pub use fcm::FcmServer;
pub use received::ReceivedMail;
pub use smtp::SmtpSink;
