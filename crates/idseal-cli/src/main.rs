//! The `idseal` binary.

mod bench;
mod bench_common;
mod bench_oauth;
mod bench_passwordless;
#[cfg(feature = "scal3")]
mod bench_scal3;
mod bench_tlog;
mod bench_trust;
mod bench_vds;
mod cli;
mod clients;
mod demo;
mod demo_chain;
mod device;
mod log;
mod log_proof;
#[cfg(feature = "scal3")]
mod scal3;
mod trust;
mod trust_show;
mod trust_verify;
mod vds;
mod vds_issue;
mod vds_show;

use std::process::ExitCode;

fn main() -> ExitCode {
    cli::main()
}
