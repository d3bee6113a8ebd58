//! `adsync target groups` and `adsync target users`: browse the SCIM application as tables, to
//! find group ids for `[[pairs]]` and to see what adsync would match against.

use std::path::Path;

use super::Exit;
use super::common::{load_settings, runtime};
use crate::scim::{ScimClient, ScimError};

fn client(config_path: &Path) -> Result<ScimClient, Exit> {
    let settings = load_settings(config_path)?;
    ScimClient::from_settings(&settings.target).map_err(|error| {
        eprintln!("error: {error}");
        Exit::Failure
    })
}

/// The most characters of one cell shown; the rest is cut with `…`. A field over 65,535
/// characters made the padding panic, and a table is for reading, not for whole values.
const MAX_CELL: usize = 200;

/// One cell as shown: control characters visible as escapes, at most [`MAX_CELL`] characters.
fn shown(cell: &str) -> String {
    let cell = crate::render::terminal::cell(cell);
    match cell.char_indices().nth(MAX_CELL) {
        Some((end, _)) => format!("{}…", &cell[..end]),
        None => cell.into_owned(),
    }
}

/// Prints rows as left-aligned columns under a header.
fn print_table(header: &[&str], rows: &[Vec<String>]) {
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|row| row.iter().map(|c| shown(c)).collect())
        .collect();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let text: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<width$}", width = widths[i]))
            .collect();
        println!("{}", text.join("  ").trim_end());
    };
    line(header.iter().map(|h| h.to_string()).collect());
    for row in rows {
        line(row);
    }
}

fn report(error: ScimError) -> Exit {
    eprintln!("error: {error}");
    Exit::Failure
}

/// `adsync target groups`.
pub fn groups(config_path: &Path) -> anyhow::Result<Exit> {
    let client = match client(config_path) {
        Ok(client) => client,
        Err(exit) => return Ok(exit),
    };
    let runtime = runtime()?;
    let groups = match runtime.block_on(client.list_groups()) {
        Ok(groups) => groups,
        Err(error) => return Ok(report(error)),
    };
    let rows: Vec<Vec<String>> = groups
        .iter()
        .map(|g| vec![g.id.clone(), g.display_name.clone()])
        .collect();
    print_table(&["ID", "NAME"], &rows);
    println!("{} group(s)", groups.len());
    Ok(Exit::Ok)
}

/// `adsync target users`.
pub fn users(config_path: &Path) -> anyhow::Result<Exit> {
    let client = match client(config_path) {
        Ok(client) => client,
        Err(exit) => return Ok(exit),
    };
    let runtime = runtime()?;
    let users = match runtime.block_on(client.list_users()) {
        Ok(users) => users,
        Err(error) => return Ok(report(error)),
    };
    let rows: Vec<Vec<String>> = users
        .iter()
        .map(|u| {
            vec![
                u.id.clone(),
                u.user_name.clone(),
                u.display_name.clone().unwrap_or_default(),
                u.primary_email().unwrap_or_default().to_owned(),
                if u.active { "yes" } else { "no" }.to_owned(),
                u.groups
                    .iter()
                    .map(|g| g.display.clone().unwrap_or_else(|| g.value.clone()))
                    .collect::<Vec<_>>()
                    .join(", "),
                u.external_id.clone().unwrap_or_default(),
            ]
        })
        .collect();
    print_table(
        &[
            "ID",
            "USERNAME",
            "NAME",
            "EMAIL",
            "ACTIVE",
            "GROUPS",
            "EXTERNAL ID",
        ],
        &rows,
    );
    println!("{} user(s)", users.len());
    Ok(Exit::Ok)
}
