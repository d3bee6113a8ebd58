//! Lookups into the target snapshot for matching users (R2): by externalId, by userName or email,
//! and which Entra user each target user is linked to.

use super::model::{Links, TargetSnapshot};

// foldhash, as in the planner: these maps are built once per plan over every target user.
type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// Lookups into the target snapshot for matching (R2).
pub(super) struct TargetIndex<'a> {
    pub(super) by_external_id: HashMap<&'a str, Vec<&'a str>>,
    /// Lower-cased userName and every lower-cased email → target ids.
    pub(super) by_name_or_email: HashMap<String, Vec<&'a str>>,
    /// Target id → the Entra id it is linked to.
    pub(super) linked_to: HashMap<&'a str, &'a str>,
}

impl<'a> TargetIndex<'a> {
    pub(super) fn new(target: &'a TargetSnapshot, links: &'a Links) -> Self {
        let mut by_external_id: HashMap<&str, Vec<&str>> =
            HashMap::with_capacity_and_hasher(target.users.len(), Default::default());
        let mut by_name_or_email: HashMap<String, Vec<&str>> =
            HashMap::with_capacity_and_hasher(target.users.len() * 2, Default::default());
        let mut keys: Vec<String> = Vec::new();
        for user in target.users.values() {
            if let Some(ext) = user.external_id.as_deref() {
                by_external_id.entry(ext).or_default().push(&user.id);
            }
            keys.clear();
            keys.push(user.user_name.to_lowercase());
            for email in &user.emails {
                let email = email.to_lowercase();
                if !keys.contains(&email) {
                    keys.push(email);
                }
            }
            for key in keys.drain(..) {
                by_name_or_email.entry(key).or_default().push(&user.id);
            }
        }
        let linked_to = links
            .values()
            .map(|l| (l.target_id.as_str(), l.entra_id.as_str()))
            .collect();
        Self {
            by_external_id,
            by_name_or_email,
            linked_to,
        }
    }

    /// The externalIds that more than one target user carries, each with those users' ids
    /// (sorted), in externalId order: the duplicates two writers or blind retries leave (R13).
    pub(super) fn duplicate_external_ids(&self) -> Vec<(&'a str, Vec<&'a str>)> {
        let mut duplicates: Vec<(&str, Vec<&str>)> = self
            .by_external_id
            .iter()
            .filter(|(_, ids)| ids.len() > 1)
            .map(|(ext, ids)| {
                let mut ids = ids.clone();
                ids.sort_unstable();
                (*ext, ids)
            })
            .collect();
        duplicates.sort_unstable();
        duplicates
    }
}
