//! Integration tests of idseal-keys (one test binary for the crate).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod interop;
mod pkcs11;
