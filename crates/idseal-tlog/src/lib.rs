//! The pure core of idseal's tamper-evident audit log (docs/audit-log.md, "Format").
//!
//! * [`hash`]: RFC 9162 §2.1 leaf, node and tree hashing (SHA-256).
//! * [`proof`]: inclusion and consistency proofs, generated from the hashes of complete
//!   subtrees (the [`HashReader`] trait) and verified with the RFC's algorithms.
//! * [`note`] and [`checkpoint`]: C2SP signed notes with Ed25519 signatures, and the C2SP
//!   tlog-checkpoint body they carry.
//! * [`tiles`]: C2SP tlog-tiles paths, and which tiles and hashes a proof needs.
//! * [`entry`]: the typed, versioned, canonical encoding of an audit event as a log entry.
//!
//! Transport-agnostic like azul's `tlog_core`: no storage, no HTTP and no clock. Time, keys
//! and stored hashes come in as parameters or through small traits ([`HashReader`],
//! [`NoteSigner`]).

pub mod checkpoint;
pub mod entry;
mod error;
pub mod hash;
pub mod note;
pub mod proof;
pub mod tiles;

pub use error::TlogError;
pub use hash::{HASH_LEN, Hash};

pub use checkpoint::Checkpoint;
pub use note::{Ed25519NoteSigner, NoteSigner, NoteVerifier};
pub use proof::{HashReader, MemoryTree, Subtree};
