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
