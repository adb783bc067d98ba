//! Process-level integration tests of the `idseal` binary (one test binary for the crate).
//!
//! Every test runs the real binary (`CARGO_BIN_EXE_idseal`) in its own temporary directory,
//! with every inherited `IDSEAL_*` variable removed, and talks to it over HTTP. Children are
//! SIGKILLed when a test fails (see [`harness::Server`]).

#![allow(missing_docs, unreachable_pub)]
// Outside `#[test]` functions (helpers, harness) clippy.toml's test allowances do not apply.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod harness;

mod config_check;
mod crash;
mod crash_log;
mod demo_cli;
mod first_start;
mod log_attacks;
mod log_cli;
mod oidc_interop;
mod oidc_phone_interop;
mod postgres;
mod rotate_cli;
#[cfg(feature = "scal3")]
mod scal3_cli;
#[cfg(feature = "scal3")]
mod scal3_process;
mod signals;
mod start_failures;
mod trust_cli;
mod vds_cli;
