//! The `idseal` binary.

mod bench;
mod bench_oauth;
mod bench_tlog;
mod bench_vds;
mod cli;
mod clients;
mod log;
mod log_proof;
mod vds;
mod vds_issue;
mod vds_show;

use std::process::ExitCode;

fn main() -> ExitCode {
    cli::main()
}
