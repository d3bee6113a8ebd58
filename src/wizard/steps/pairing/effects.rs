//! The effects of step 3: reading both sides' groups and counting a group's members.

use super::{GroupItem, PairingCommand, Side};
use crate::wizard::draft::{Connections, FingerprintPart, fingerprint};
use crate::wizard::jobs::Reply;
use crate::wizard::shell::Wizard;

impl Wizard {
    /// Runs what step 3 asked for.
    pub(crate) fn run_pairing(&mut self, command: PairingCommand) {
        match command {
            PairingCommand::CountMembers { side, id } => self.count_members(side, id),
            PairingCommand::Reload => self.load_groups(),
            PairingCommand::Fix(step) => self.go_to(step),
        }
    }

    /// Step 3 opens: reads the groups unless they were read with these connection settings.
    pub(crate) fn open_pairing(&mut self) {
        if self.pairing.groups.wants(self.connection_fingerprint()) {
            self.load_groups();
        }
    }

    fn connection_fingerprint(&self) -> u64 {
        fingerprint(&[&self.credentials as &dyn FingerprintPart, &self.azure])
    }

    fn load_groups(&mut self) {
        let key = self.connection_fingerprint();
        self.pairing.groups.start(key);
        let draft = self.draft();
        self.jobs.spawn(async move {
            let result = async {
                let conn = Connections::open(&draft).await?;
                let (entra, target) =
                    tokio::join!(conn.graph.list_groups(), conn.scim.list_groups());
                let entra = entra.map_err(|e| format!("Reading the Entra groups failed: {e}"))?;
                let target =
                    target.map_err(|e| format!("Reading the application's groups failed: {e}"))?;
                Ok::<_, String>((entra, target))
            }
            .await;
            Box::new(move |w: &mut Wizard| {
                let (lists, status) = match result {
                    Ok(lists) => (Some(lists), Ok(())),
                    Err(e) => (None, Err(e)),
                };
                if !w.pairing.groups.finish(key, status) {
                    return;
                }
                if let Some((entra, target)) = lists {
                    w.pairing.entra_groups = entra
                        .into_iter()
                        .map(|g| GroupItem {
                            name: g.display_name.clone().unwrap_or_else(|| g.id.clone()),
                            id: g.id,
                            members: None,
                        })
                        .collect();
                    w.pairing.target_groups = target
                        .into_iter()
                        .map(|g| GroupItem {
                            id: g.id,
                            name: g.display_name,
                            members: None,
                        })
                        .collect();
                }
            }) as Reply
        });
    }

    fn count_members(&mut self, side: Side, id: String) {
        let draft = self.draft();
        self.jobs.spawn(async move {
            let result = async {
                let conn = Connections::open(&draft).await?;
                match side {
                    Side::Entra => conn
                        .graph
                        .group_members(&id, true)
                        .await
                        .map(|m| m.len())
                        .map_err(|e| e.to_string()),
                    Side::Target => conn
                        .scim
                        .group_member_ids(&id)
                        .await
                        .map(|m| m.len())
                        .map_err(|e| e.to_string()),
                }
            }
            .await;
            Box::new(move |w: &mut Wizard| match result {
                Ok(n) => w.pairing.set_member_count(side, &id, n),
                Err(e) => {
                    w.banner = Some(format!("Counting the members of group {id} failed: {e}"))
                }
            }) as Reply
        });
    }
}
