//! `adsync sim scim`: runs the simulated SCIM application in the foreground, for trying adsync
//! (or any SCIM client) without a real application.

use std::path::Path;

use crate::cli::Exit;
use crate::sim::scim::{Behaviour, ScimSim, Seed, SeedError};

/// `adsync sim scim`'s switches for behaving like a small server (docs/PERFORMANCE.md).
#[derive(clap::Args, Clone, Debug, Default, PartialEq, Eq)]
pub struct BehaviourArgs {
    /// Behave like scim2-server as shipped: one request per connection, one at a time, a listen
    /// backlog of 5 (the switches below override its parts)
    #[arg(long)]
    pub like_scim2_server: bool,
    /// Close the connection after every answer
    #[arg(long)]
    pub close_connections: bool,
    /// Serve at most N connections at once (implies --close-connections)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub workers: Option<u32>,
    /// The listen backlog: connection attempts queued while no worker is free
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub backlog: Option<u32>,
    /// The largest page served (and advertised as filter.maxResults); overrides the seed's
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_results: Option<u32>,
}

impl BehaviourArgs {
    fn behaviour(&self) -> Behaviour {
        let base = if self.like_scim2_server {
            Behaviour::like_scim2_server()
        } else {
            Behaviour::default()
        };
        Behaviour {
            close_connections: base.close_connections || self.close_connections,
            workers: self.workers.map(|n| n as usize).or(base.workers),
            backlog: self.backlog.or(base.backlog),
        }
    }
}

/// Serves the application seeded from `seed` until Ctrl-C.
pub fn scim(
    seed: &Path,
    port: u16,
    token: Option<&str>,
    behaviour: &BehaviourArgs,
) -> anyhow::Result<Exit> {
    let mut seed = match Seed::from_file(seed) {
        Ok(seed) => seed,
        Err(error) => {
            eprintln!("error: {error}");
            return Ok(Exit::Usage);
        }
    };
    if let Some(token) = token {
        seed.token = Some(token.to_owned());
    }
    if let Some(max) = behaviour.max_results {
        seed.max_results = Some(max as usize);
    }
    let behaviour = behaviour.behaviour();
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let sim = match ScimSim::start_with(seed, port, behaviour).await {
            Ok(sim) => sim,
            Err(error @ SeedError::Invalid(_)) => {
                eprintln!("error: {error}");
                return Ok(Exit::Usage);
            }
            Err(error) => return Err(error.into()),
        };
        println!("SCIM application listening at {}", sim.url());
        println!("bearer token: {}", sim.token);
        println!(
            "{} users, {} groups; press Ctrl-C to stop",
            sim.user_count(),
            sim.group_count()
        );
        tokio::signal::ctrl_c().await?;
        sim.stop().await;
        Ok::<_, anyhow::Error>(Exit::Ok)
    })
}

/// `adsync sim generate`: writes a synthetic tenant, application and pairs into `out`.
pub fn generate(users: usize, groups: usize, seed: u64, out: &Path) -> anyhow::Result<Exit> {
    use crate::sim::synth::{SynthSpec, generate};
    let synth = generate(SynthSpec {
        users,
        groups,
        seed,
    });
    synth
        .write(out)
        .map_err(|e| anyhow::anyhow!("{}: cannot write the tenant: {e}", out.display()))?;
    let s = &synth.stats;
    println!(
        "wrote {dir}/tenant.json: {} users ({} guests, {} disabled, {} managers), {} groups \
         ({} group-in-group links), {} devices, {} memberships",
        s.users,
        s.guests,
        s.disabled,
        s.managers,
        s.groups,
        s.nested_links,
        s.devices,
        s.memberships,
        dir = out.display()
    );
    println!(
        "wrote {dir}/app.json: {} users ({} to link by email, {} of its own), token {}",
        s.app_matching + s.app_only,
        s.app_matching,
        s.app_only,
        crate::sim::synth::APP_TOKEN,
        dir = out.display()
    );
    println!(
        "wrote {dir}/pairs.toml: {} pairs reaching {:?} users (at least {} Graph pages of 999)",
        synth.pairs.len(),
        synth.pair_user_counts(),
        synth.minimum_member_pages(),
        dir = out.display()
    );
    println!(
        "serve them with: adsync sim entra --fixture {dir}/tenant.json  and  adsync sim scim \
         --seed {dir}/app.json (client secret: {})",
        crate::sim::synth::CLIENT_SECRET,
        dir = out.display()
    );
    Ok(Exit::Ok)
}
