//! The `adsync` command line (SPEC §4): argument parsing with clap and one function per command.
//! Commands return an [`Exit`] code; `main` only maps it to the process status.

mod check_cmd;
mod common;
mod config_cmd;
mod demo_cmd;
mod entra_cmd;
mod link_cmd;
mod register_cmd;
mod run_cmd;
mod secret_cmd;
mod service_cmd;
mod sim_cmd;
mod sync_cmd;
mod target_cmd;

pub use service_cmd::{ScopeArgs, ServiceCommand};

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::logging::LogFormat;

pub use crate::cycle::Exit;

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
    /// Try adsync with nothing to set up: simulated tenant and application, check, plan, sync
    Demo {
        /// Where to write the demo config, secrets, state and logs [default: a new temp dir]
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        /// Exit after the first sync instead of keeping the simulators running
        #[arg(long)]
        no_wait: bool,
        /// First create the app registration on the simulated tenant, as `adsync entra register`
        /// does (the simulator plays the administrator who signs in with a device code)
        #[arg(long)]
        register: bool,
    },
    /// Check the config, the secrets, Entra ID and the target; one line per check
    Check,
    /// Dry run: read both sides and print every change a sync would make
    Plan {
        /// Output format
        #[arg(long, value_enum, default_value = "text")]
        format: sync_cmd::PlanFormat,
        /// Write the plan to FILE instead of standard output
        #[arg(long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// Plan what `sync --rebuild-state` would do (adopt the users carrying Entra ids)
        #[arg(long)]
        rebuild_state: bool,
    },
    /// One full cycle: plan, then apply, printing every action's outcome
    Sync {
        /// Apply a plan even when an R11 guard (mass disables, attribute wipes, dropped links) withholds it
        #[arg(long)]
        allow_mass_disable: bool,
        /// First rebuild lost links: adopt the users carrying Entra ids as externalId (R13)
        #[arg(long)]
        rebuild_state: bool,
        /// Output format
        #[arg(long, value_enum, default_value = "text")]
        format: sync_cmd::ReportFormat,
    },
    /// The background service loop, in the foreground (what the service manager starts)
    Run,
    /// Past runs and the actions each applied
    History {
        /// How many runs, newest first
        #[arg(long, default_value_t = 10)]
        limit: usize,
        /// Output format
        #[arg(long, value_enum, default_value = "text")]
        format: sync_cmd::ReportFormat,
    },
    /// Explain a user: in scope or not and why, its pair, and what the next sync would do
    Explain {
        /// A userPrincipalName, email or object id
        user: String,
    },
    /// Link an Entra user to an existing target user by hand, where adsync refuses to guess
    Link {
        /// The Entra user: a userPrincipalName, email or object id
        user: String,
        /// The target user's id (`adsync target users` lists them)
        target_user_id: String,
    },
    /// Forget a user's link, without changing the target user
    Unlink {
        /// The Entra user: a userPrincipalName, email or object id
        user: String,
    },
    /// Browse the Entra ID tenant the config points at
    #[command(subcommand)]
    Entra(EntraCommand),
    /// Browse the SCIM application (the target)
    #[command(subcommand)]
    Target(TargetCommand),
    /// Run a simulator in the foreground (for trying adsync out and for tests)
    #[command(subcommand)]
    Sim(SimCommand),
}

#[derive(Debug, Subcommand)]
pub enum EntraCommand {
    /// List the tenant's groups (id, name, created)
    Groups {
        /// Only groups whose name has a word starting with TERM
        #[arg(long, value_name = "TERM")]
        search: Option<String>,
    },
    /// List a group's user members (nested groups expanded unless --direct)
    Members {
        /// The group's object id
        group_id: String,
        /// Only direct members, without expanding nested groups
        #[arg(long)]
        direct: bool,
    },
    /// Create the Azure app registration by signing in once as an administrator: a certificate
    /// made here, the app, its service principal and the Graph permissions with admin consent;
    /// then write [entra] into the config
    Register {
        /// Directory (tenant) ID or verified domain [default: the config's tenant]
        #[arg(long, value_name = "T")]
        tenant: Option<String>,
        /// National cloud: global, usgov-l4, usgov-l5, china [default: the config's, else global]
        #[arg(long, value_name = "C", value_parser = parse_cloud)]
        cloud: Option<crate::config::Cloud>,
        /// The app registration's display name; a rerun with the same name adopts it
        #[arg(long, value_name = "NAME")]
        name: Option<String>,
        /// Sign in with a code on another device instead of a browser on this one
        #[arg(long)]
        device_code: bool,
        /// The public client to sign in with [default: Microsoft Graph Command Line Tools]
        #[arg(long, value_name = "ID")]
        client_id: Option<String>,
        /// How long to wait for Entra to show the granted permissions, in seconds
        #[arg(long, value_name = "SECS", default_value_t = 600)]
        wait_secs: u64,
    },
}

fn parse_cloud(text: &str) -> Result<crate::config::Cloud, String> {
    text.parse().map_err(|()| {
        format!(
            "unknown cloud; use one of {}",
            crate::config::Cloud::NAMES.join(", ")
        )
    })
}

#[derive(Debug, Subcommand)]
pub enum TargetCommand {
    /// List the application's groups (their ids go in target_group_id of a pair)
    Groups,
    /// List the application's users
    Users,
}

#[derive(Debug, Subcommand)]
pub enum SimCommand {
    /// Serve a simulated Entra ID tenant on 127.0.0.1 until Ctrl-C
    Entra {
        /// The tenant fixture (JSON, see docs/entra-simulator.md) [default: the built-in demo tenant]
        #[arg(long, value_name = "PATH")]
        fixture: Option<PathBuf>,
        /// The port to listen on (0 = any free port)
        #[arg(long, default_value_t = 0)]
        port: u16,
    },
    /// Run the simulated SCIM application; prints its URL and the token to use
    Scim {
        /// The seed file (users and groups; see docs/scim-simulator.md)
        #[arg(long, value_name = "PATH")]
        seed: PathBuf,
        /// Port on 127.0.0.1 (0 = any free port)
        #[arg(long, default_value_t = 0)]
        port: u16,
        /// Bearer token to accept (default: the seed's, else adsync-sim-token)
        #[arg(long)]
        token: Option<String>,
        /// How it takes connections and pages, to behave like a small real server
        #[command(flatten)]
        behaviour: sim_cmd::BehaviourArgs,
    },
    /// Write a synthetic tenant (tenant.json), a matching application (app.json) and the pairs
    /// joining them (pairs.toml) into DIR, for benchmarks at any scale
    Generate {
        /// How many users
        #[arg(long, default_value_t = 10_000)]
        users: usize,
        /// How many groups
        #[arg(long, default_value_t = 2_000)]
        groups: usize,
        /// The seed: the same numbers always give the same files
        #[arg(long, default_value_t = 8)]
        seed: u64,
        /// The directory to write into (created if needed)
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
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
    // The service writes its log file in service.log_dir, and logs each cycle at info level.
    let (verbosity, log_dir) = match &cli.command {
        Command::Run => (
            if cli.verbose == 0 { "info" } else { verbosity },
            crate::config::load(&cli.config_path())
                .ok()
                .map(|f| crate::config::Settings::from_file(&f).service.log_dir),
        ),
        _ => (verbosity, None),
    };
    let _guard = match crate::logging::init(cli.log_format, verbosity, log_dir.as_deref()) {
        Ok(guard) => guard,
        Err(e) => {
            eprintln!(
                "error: cannot write logs in {}: {e}",
                log_dir.unwrap_or_default().display()
            );
            return Exit::Failure;
        }
    };
    let result = match &cli.command {
        Command::Config(ConfigCommand::Validate) => config_cmd::validate(&cli.config_path()),
        Command::Config(ConfigCommand::Init { force }) => {
            config_cmd::init(&cli.config_path(), *force)
        }
        Command::Config(ConfigCommand::Path) => config_cmd::path(&cli.config_path()),
        Command::Secret(SecretCommand::Set { reference }) => secret_cmd::set(reference),
        Command::Secret(SecretCommand::Check { reference }) => secret_cmd::check(reference),
        Command::Demo {
            dir,
            no_wait,
            register,
        } => demo_cmd::demo(dir.clone(), !*no_wait, *register),
        Command::Check => check_cmd::check(&cli.config_path()),
        Command::Plan {
            format,
            output,
            rebuild_state,
        } => sync_cmd::plan_cmd(&cli.config_path(), *format, output.as_ref(), *rebuild_state),
        Command::Sync {
            allow_mass_disable,
            rebuild_state,
            format,
        } => sync_cmd::sync_cmd(
            &cli.config_path(),
            *allow_mass_disable,
            *rebuild_state,
            *format,
        ),
        Command::Run => run_cmd::run(&cli.config_path()),
        Command::History { limit, format } => {
            sync_cmd::history_cmd(&cli.config_path(), *limit, *format)
        }
        Command::Explain { user } => sync_cmd::explain_cmd(&cli.config_path(), user),
        Command::Link {
            user,
            target_user_id,
        } => link_cmd::link_cmd(&cli.config_path(), user, target_user_id),
        Command::Unlink { user } => link_cmd::unlink_cmd(&cli.config_path(), user),
        Command::Entra(EntraCommand::Groups { search }) => {
            entra_cmd::groups(&cli.config_path(), search.as_deref())
        }
        Command::Entra(EntraCommand::Members { group_id, direct }) => {
            entra_cmd::members(&cli.config_path(), group_id, *direct)
        }
        Command::Entra(EntraCommand::Register {
            tenant,
            cloud,
            name,
            device_code,
            client_id,
            wait_secs,
        }) => register_cmd::register(
            &cli.config_path(),
            &register_cmd::RegisterArgs {
                tenant: tenant.clone(),
                cloud: *cloud,
                name: name.clone(),
                device_code: *device_code,
                client_id: client_id.clone(),
                wait_secs: *wait_secs,
            },
        ),
        Command::Sim(SimCommand::Entra { fixture, port }) => {
            entra_cmd::sim(fixture.as_ref(), *port)
        }
        Command::Target(TargetCommand::Groups) => target_cmd::groups(&cli.config_path()),
        Command::Target(TargetCommand::Users) => target_cmd::users(&cli.config_path()),
        Command::Sim(SimCommand::Scim {
            seed,
            port,
            token,
            behaviour,
        }) => sim_cmd::scim(seed, *port, token.as_deref(), behaviour),
        Command::Sim(SimCommand::Generate {
            users,
            groups,
            seed,
            out,
        }) => sim_cmd::generate(*users, *groups, *seed, out),
        Command::Service(command) => service_cmd::run(command, cli.config.as_deref()),
    };
    match result {
        Ok(exit) => exit,
        Err(error) => {
            let message = format!("{error:#}");
            eprintln!("error: {}", crate::secret::scrub::scrub(&message));
            Exit::Failure
        }
    }
}
