//! The `idseal` binary.

mod bench;
mod bench_vds;
mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    cli::main()
}
