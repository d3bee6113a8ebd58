//! `adsync secret set REF`: stores a secret without it ever appearing on screen or in a file
//! other than its own.

use std::io::{IsTerminal, Read};

use super::Exit;
use crate::secret::{Secret, SecretRef, keyring_backend};

fn parse(reference: &str) -> Result<SecretRef, Exit> {
    reference.parse().map_err(|e| {
        match e {
            crate::secret::SecretRefError::Literal => eprintln!(
                "error: give where the secret is kept (keyring:SERVICE/ACCOUNT, file:/absolute/path \
                 or env:VAR), not the secret itself; `secret set` reads the secret from standard \
                 input or a hidden prompt"
            ),
            other => eprintln!("error: {other}"),
        }
        Exit::Usage
    })
}

pub fn check(reference: &str) -> anyhow::Result<Exit> {
    let reference = match parse(reference) {
        Ok(r) => r,
        Err(exit) => return Ok(exit),
    };
    match reference.resolve() {
        Ok(_) => {
            println!("ok: {reference} resolves to a stored secret");
            Ok(Exit::Ok)
        }
        Err(e) => {
            eprintln!("error: {e}");
            Ok(Exit::Failure)
        }
    }
}

pub fn set(reference: &str) -> anyhow::Result<Exit> {
    let reference = match parse(reference) {
        Ok(r) => r,
        Err(exit) => return Ok(exit),
    };
    if let SecretRef::Env(var) = &reference {
        eprintln!(
            "error: env:{var} is read from adsync's environment and cannot be stored. For the \
             service, do not put a secret in the unit's Environment= (any local user can read \
             it): store it in a file only root can read with `adsync secret set \
             file:/etc/adsync/secrets/NAME`, which the service receives with LoadCredential="
        );
        return Ok(Exit::Usage);
    }
    let value = if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password(format!("Secret for {reference}: "))?;
        let second = rpassword::prompt_password("Again, to confirm: ")?;
        if first != second {
            eprintln!("error: the two entries differ; nothing was stored");
            return Ok(Exit::Usage);
        }
        first
    } else {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text)?;
        text.trim_end_matches(['\r', '\n']).to_owned()
    };
    if value.is_empty() {
        eprintln!("error: the secret is empty; nothing was stored");
        return Ok(Exit::Usage);
    }
    match reference.store(&Secret::new(value)) {
        Ok(()) => {
            match &reference {
                SecretRef::Keyring { .. } => println!(
                    "stored {reference} in the OS keyring ({})",
                    keyring_backend().describe()
                ),
                _ => println!("stored {reference} (mode 0600)"),
            }
            Ok(Exit::Ok)
        }
        Err(e) => {
            eprintln!("error: {e}");
            Ok(Exit::Failure)
        }
    }
}
