//! Test peers for idseal's integration tests.
//!
//! [`SmtpSink`] is a real, minimal SMTP server (a subset of RFC 5321) on `127.0.0.1:0` that keeps every mail it
//! receives in memory, so that tests can drive the server's outgoing mail end to end and read the links it sends.
//!
//! This crate is a dev-dependency only. It does not relay, authenticate, speak TLS (no STARTTLS, no implicit TLS),
//! or parse MIME beyond a single part's transfer encoding; it is not hardened against hostile clients beyond line
//! and size limits.

mod decode;
mod received;
mod smtp;

pub use received::ReceivedMail;
pub use smtp::SmtpSink;
