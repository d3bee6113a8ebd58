//! The `adsync` command line (SPEC §4): argument parsing with clap and one function per command.
//! Commands return an [`Exit`] code; `main` only maps it to the process status.

mod config_cmd;
mod secret_cmd;
mod service_cmd;

pub use service_cmd::{ScopeArgs, ServiceCommand};

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::logging::LogFormat;

/// The process exit codes of SPEC §4.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// 0: success.
    Ok = 0,
    /// 1: a run-time failure (network, auth, a failed or incomplete read, failed actions).
    Failure = 1,
    /// 2: bad usage or invalid config.
    Usage = 2,
    /// 3: the plan is blocked by the mass-disable guard.
    Blocked = 3,
}

impl From<Exit> for std::process::ExitCode {
    fn from(exit: Exit) -> Self {
        std::process::ExitCode::from(exit as u8)
    }
}

/// Keeps an application's users in step with Microsoft Entra ID over SCIM 2.0.
#[derive(Debug, Parser)]
#[command(name = "adsync", version, about, max_term_width = 100)]
pub struct Cli {
    /// The config file [default: $ADSYNC_CONFIG, else ~/.config/adsync/config.toml]
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// Format of log lines on stderr
    #[arg(long, global = true, value_enum, default_value = "text")]
    pub log_format: LogFormat,

    /// More log detail (-v info, -vv debug)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create and check config files
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Store secrets for the config's secret references
    #[command(subcommand)]
    Secret(SecretCommand),
    /// Register the background service (`adsync run`) with the OS
    #[command(subcommand)]
    Service(ServiceCommand),
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Check the config file and print every problem found (exit 2 if any)
    Validate,
    /// Write a commented template config to fill in
    Init {
        /// Overwrite an existing file
        #[arg(long)]
        force: bool,
    },
    /// Print where adsync looks for its config, state and logs
    Path,
}

#[derive(Debug, Subcommand)]
pub enum SecretCommand {
    /// Store a secret: read from standard input, or from a hidden prompt on a terminal
    Set {
        /// Where to store it: keyring:SERVICE/ACCOUNT or file:/absolute/path
        reference: String,
    },
    /// Check that a reference resolves to a non-empty secret (the value is never shown)
    Check {
        /// keyring:SERVICE/ACCOUNT, env:VAR or file:/absolute/path
        reference: String,
    },
}

impl Cli {
    /// The config path in force: `--config`, else the default location.
    pub fn config_path(&self) -> PathBuf {
        self.config
            .clone()
            .unwrap_or_else(crate::config::default_path)
    }
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Exit {
    let verbosity = match cli.verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let _guard = crate::logging::init(cli.log_format, verbosity, None);
    let result = match &cli.command {
        Command::Config(ConfigCommand::Validate) => config_cmd::validate(&cli.config_path()),
        Command::Config(ConfigCommand::Init { force }) => {
            config_cmd::init(&cli.config_path(), *force)
        }
        Command::Config(ConfigCommand::Path) => config_cmd::path(&cli.config_path()),
        Command::Secret(SecretCommand::Set { reference }) => secret_cmd::set(reference),
        Command::Secret(SecretCommand::Check { reference }) => secret_cmd::check(reference),
        Command::Service(command) => service_cmd::run(command, cli.config.as_deref()),
    };
    match result {
        Ok(exit) => exit,
        Err(error) => {
            eprintln!("error: {error:#}");
            Exit::Failure
        }
    }
}
