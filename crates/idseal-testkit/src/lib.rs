//! Test peers for idseal's integration tests.
//!
//! [`SmtpSink`] is a real, minimal SMTP server (a subset of RFC 5321) on `127.0.0.1:0` that keeps every mail it
//! receives in memory, so that tests can drive the server's outgoing mail end to end and read the links it sends.
//!
//! [`trust::TrustDemo`] is a whole chain of trust (fresh keys and certificates, the four signed
//! lists, a seal issued under it) for tests of the trust-list consumers.
//!
//! This crate is a dev-dependency only. It does not relay, authenticate, speak TLS (no STARTTLS, no implicit TLS),
//! or parse MIME beyond a single part's transfer encoding; it is not hardened against hostile clients beyond line
//! and size limits.

mod decode;
mod received;
mod smtp;
pub mod trust;

pub use received::ReceivedMail;
pub use smtp::SmtpSink;
