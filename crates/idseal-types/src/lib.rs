//! Types shared by every idseal crate: time, identifiers and the audit-event vocabulary.
//!
//! This crate does no I/O. Time enters the protocol cores through [`Clock`] (or a plain
//! [`UnixTime`] parameter) so that every rule can be tested on a fixed clock.

mod audit;
pub mod jcs;
mod time;

pub use audit::{AuditEvent, AuditEventKind, AuditSink};
pub use time::{Clock, FixedClock, UnixTime};
