//! `adsync check`: the config, every secret reference, Entra ID (token, permissions, a test read)
//! and the target (reachable, credential accepted, capabilities). One line per check; exit 0 only
//! when all pass.

use std::path::Path;

use super::Exit;
use super::common::{load_settings, runtime};
use crate::health::CheckLine;

pub fn check(config_path: &Path) -> anyhow::Result<Exit> {
    let settings = match load_settings(config_path) {
        Ok(settings) => settings,
        Err(exit) => return Ok(exit),
    };
    let mut lines = vec![CheckLine::new(
        "config",
        true,
        format!("{} is valid", config_path.display()),
    )];
    for (key, reference) in settings.secret_refs() {
        let resolved = reference.resolve().map_err(|e| e.to_string());
        // The webhook's URL is the secret: its check must not show it.
        let resolved = match resolved {
            Ok(url) if key == "service.alert_webhook" => {
                crate::cycle::alert::check_url(url.expose())
                    .map(|()| url)
                    .map_err(|e| e.to_string())
            }
            other => other,
        };
        lines.push(match resolved {
            Ok(_) => CheckLine::new(
                format!("secret {key}"),
                true,
                format!("{reference} resolves"),
            ),
            Err(e) => CheckLine::new(format!("secret {key}"), false, e),
        });
    }
    let (entra, target) = runtime()?.block_on(async {
        tokio::join!(
            crate::entra::check(&settings.entra),
            crate::scim::check(&settings.target)
        )
    });
    lines.extend(entra);
    lines.extend(target);
    if settings.pairs.is_empty() {
        lines.push(CheckLine::new(
            "pairs",
            false,
            "no [[pairs]] yet: pair at least one Entra group with a target group",
        ));
    }
    print!("{}", crate::render::check_table(&lines));
    let failed = lines.iter().filter(|l| !l.ok).count();
    if failed == 0 {
        println!("all {} checks passed", lines.len());
        Ok(Exit::Ok)
    } else {
        println!("{failed} of {} checks failed", lines.len());
        Ok(Exit::Failure)
    }
}
