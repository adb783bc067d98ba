//! Integration tests of the device simulator.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing, missing_docs)]

mod channel;
#[cfg(feature = "scal3")]
mod scal3;
mod server;
