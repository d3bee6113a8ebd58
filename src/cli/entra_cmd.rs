//! `adsync entra groups | members` (browse the tenant the config points at) and
//! `adsync sim entra` (run the simulated tenant in the foreground).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::Exit;
use super::common::{emit, load_settings, runtime};
use crate::entra::{EntraError, GraphClient};
use crate::sim::entra::{EntraSim, Fixture};

/// Loads the config and makes a Graph client; `Err(exit)` after printing why not.
fn client(config_path: &Path) -> Result<GraphClient, Exit> {
    let settings = load_settings(config_path)?;
    GraphClient::new(&settings.entra).map_err(|e| {
        eprintln!("error: {e}");
        Exit::Failure
    })
}

fn fail(error: EntraError) -> Exit {
    eprintln!("error: {error}");
    Exit::Failure
}

/// Cuts `text` to `width` characters (with an ellipsis) so the table stays aligned.
fn fit(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        text.to_owned()
    } else {
        let mut cut: String = text.chars().take(width.saturating_sub(1)).collect();
        cut.push('…');
        cut
    }
}

/// `adsync entra groups [--search TERM]`: id, name, created date.
pub fn groups(config_path: &Path, search: Option<&str>) -> anyhow::Result<Exit> {
    let graph = match client(config_path) {
        Ok(graph) => graph,
        Err(exit) => return Ok(exit),
    };
    let result = runtime()?.block_on(async {
        match search {
            Some(term) => graph.search_groups(term).await,
            None => graph.list_groups().await,
        }
    });
    let mut groups = match result {
        Ok(groups) => groups,
        Err(e) => return Ok(fail(e)),
    };
    groups.sort_by(|a, b| {
        let key = |g: &crate::entra::EntraGroup| {
            g.display_name.clone().unwrap_or_default().to_lowercase()
        };
        key(a).cmp(&key(b))
    });
    let mut out = String::new();
    writeln!(out, "{:<36}  {:<40}  {:<10}", "ID", "NAME", "CREATED")?;
    for group in &groups {
        let created = group
            .created_date_time
            .as_deref()
            .map(|d| d.get(..10).unwrap_or(d))
            .unwrap_or("-");
        writeln!(
            out,
            "{:<36}  {:<40}  {:<10}",
            group.id,
            fit(group.display_name.as_deref().unwrap_or("-"), 40),
            created
        )?;
    }
    emit(&out);
    eprintln!("{} group(s)", groups.len());
    Ok(Exit::Ok)
}

/// `adsync entra members GROUP_ID [--direct]`: the group's user members.
pub fn members(config_path: &Path, group_id: &str, direct: bool) -> anyhow::Result<Exit> {
    let graph = match client(config_path) {
        Ok(graph) => graph,
        Err(exit) => return Ok(exit),
    };
    let users = match runtime()?.block_on(graph.group_members(group_id, !direct)) {
        Ok(users) => users,
        Err(e) => return Ok(fail(e)),
    };
    let mut out = String::new();
    writeln!(
        out,
        "{:<36}  {:<40}  {:<28}  {:<6}  {:<8}",
        "ID", "USER PRINCIPAL NAME", "NAME", "TYPE", "ENABLED"
    )?;
    for user in &users {
        writeln!(
            out,
            "{:<36}  {:<40}  {:<28}  {:<6}  {:<8}",
            user.id,
            fit(user.user_principal_name.as_deref().unwrap_or("-"), 40),
            fit(user.display_name.as_deref().unwrap_or("-"), 28),
            user.user_type.as_deref().unwrap_or("-"),
            match user.account_enabled {
                Some(true) => "yes",
                Some(false) => "no",
                None => "-",
            }
        )?;
    }
    emit(&out);
    eprintln!(
        "{} user(s), {} members",
        users.len(),
        if direct {
            "direct"
        } else {
            "direct and nested"
        }
    );
    Ok(Exit::Ok)
}

/// `adsync sim entra [--fixture PATH] [--port N]`: serves the simulated tenant until Ctrl-C.
pub fn sim(fixture_path: Option<&PathBuf>, port: u16) -> anyhow::Result<Exit> {
    let fixture = match fixture_path {
        Some(path) => match Fixture::from_file(path) {
            Ok(fixture) => fixture,
            Err(e) => {
                eprintln!("error: {e}");
                return Ok(Exit::Usage);
            }
        },
        None => Fixture::demo(),
    };
    let tenant_name = fixture.tenant.display_name.clone();
    let users = fixture.users.len();
    let groups = fixture.groups.len();
    runtime()?.block_on(async move {
        let sim = match EntraSim::start_on(fixture, port).await {
            Ok(sim) => sim,
            Err(e) => {
                eprintln!("error: cannot listen on 127.0.0.1:{port}: {e}");
                return Ok(Exit::Failure);
            }
        };
        let port = sim.url().rsplit(':').next().unwrap_or_default().to_owned();
        let secret_ref = match sim.client_secret() {
            Some(secret) => {
                let path = std::env::temp_dir().join(format!("adsync-sim-entra-{port}.secret"));
                crate::fsutil::write_atomic(&path, secret.as_bytes())?;
                format!("file:{}", path.display())
            }
            None => "(the fixture's first app has no unexpired secret)".to_owned(),
        };
        println!("Simulated Entra ID tenant \"{tenant_name}\" ({users} users, {groups} groups)");
        println!("  url        {}", sim.url());
        println!("  tenant     {} ({})", sim.tenant_domain(), sim.tenant_id());
        println!("  client id  {}", sim.client_id());
        println!("  secret     {secret_ref}  (a demo-only value)");
        println!();
        println!("Use it from a config file:");
        println!("[entra]");
        println!("tenant = \"{}\"", sim.tenant_domain());
        println!("client_id = \"{}\"", sim.client_id());
        println!("client_secret = \"{secret_ref}\"");
        println!("authority_url = \"{}\"", sim.url());
        println!("graph_url = \"{}\"", sim.url());
        println!();
        println!("Press Ctrl-C to stop.");
        tokio::signal::ctrl_c().await?;
        eprintln!("stopping ({} request(s) served)", sim.log().total());
        sim.stop().await;
        Ok(Exit::Ok)
    })
}
