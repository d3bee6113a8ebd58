//! The `adsync` command line and background service. All logic lives in the library.

use clap::Parser;

fn main() -> std::process::ExitCode {
    adsync::cli::run(adsync::cli::Cli::parse()).into()
}
