//! `adsync sim scim`: runs the simulated SCIM application in the foreground, for trying adsync
//! (or any SCIM client) without a real application.

use std::path::Path;

use crate::cli::Exit;
use crate::sim::scim::{ScimSim, Seed, SeedError};

/// Serves the application seeded from `seed` until Ctrl-C.
pub fn scim(seed: &Path, port: u16, token: Option<&str>) -> anyhow::Result<Exit> {
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
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let sim = match ScimSim::start_on(seed, port).await {
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
