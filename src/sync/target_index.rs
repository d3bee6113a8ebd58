//! Lookups into the target snapshot for matching users (R2): by externalId, by userName or email,
//! and which Entra user each target user is linked to.
//!
//! Emails and userNames compare with ASCII case folding only. Unicode lower-casing folds a
//! KELVIN SIGN (U+212A) to `k`, so an application account named with one would be adopted by
//! the Entra user it imitates, groups and all. A match that holds only through Unicode folding,
//! or whose key holds non-ASCII characters at all, is reported as a look-alike and never used.

use std::collections::BTreeSet;

use super::model::{Links, TargetSnapshot};

// foldhash, as in the planner: these maps are built once per plan over every target user.
type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// Lookups into the target snapshot for matching (R2).
pub(super) struct TargetIndex<'a> {
    pub(super) by_external_id: HashMap<&'a str, Vec<&'a str>>,
    /// ASCII-lower-cased userName and every ASCII-lower-cased email → target ids.
    pub(super) by_name_or_email: HashMap<String, Vec<&'a str>>,
    /// The keys holding non-ASCII characters, Unicode-lower-cased → target ids: what a
    /// look-alike of an ASCII name folds to.
    look_alike: HashMap<String, Vec<&'a str>>,
    /// Target id → the Entra id it is linked to.
    pub(super) linked_to: HashMap<&'a str, &'a str>,
}

impl<'a> TargetIndex<'a> {
    pub(super) fn new(target: &'a TargetSnapshot, links: &'a Links) -> Self {
        let mut by_external_id: HashMap<&str, Vec<&str>> =
            HashMap::with_capacity_and_hasher(target.users.len(), Default::default());
        let mut by_name_or_email: HashMap<String, Vec<&str>> =
            HashMap::with_capacity_and_hasher(target.users.len() * 2, Default::default());
        let mut look_alike: HashMap<String, Vec<&str>> = HashMap::default();
        let mut keys: Vec<String> = Vec::new();
        for user in target.users.values() {
            if let Some(ext) = user.external_id.as_deref() {
                by_external_id.entry(ext).or_default().push(&user.id);
            }
            keys.clear();
            keys.push(user.user_name.to_ascii_lowercase());
            for email in &user.emails {
                let email = email.to_ascii_lowercase();
                if !keys.contains(&email) {
                    keys.push(email);
                }
            }
            for key in keys.drain(..) {
                if !key.is_ascii() {
                    look_alike
                        .entry(key.to_lowercase())
                        .or_default()
                        .push(&user.id);
                }
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
            look_alike,
            linked_to,
        }
    }

    /// The target users whose userName or an email is `key` under ASCII case folding, into
    /// `hits`; those that hold it only through Unicode folding, or with non-ASCII characters in
    /// it, into `look_alikes` (never to be adopted: a guess).
    pub(super) fn matches(
        &self,
        key: &str,
        hits: &mut BTreeSet<&'a str>,
        look_alikes: &mut BTreeSet<&'a str>,
    ) {
        if key.is_empty() {
            return;
        }
        let folded = key.to_ascii_lowercase();
        if key.is_ascii() {
            if let Some(ids) = self.by_name_or_email.get(&folded) {
                hits.extend(ids.iter().copied());
            }
            if let Some(ids) = self.look_alike.get(&folded) {
                look_alikes.extend(ids.iter().copied());
            }
            return;
        }
        let loose = key.to_lowercase();
        for map_key in [&folded, &loose] {
            if let Some(ids) = self.by_name_or_email.get(map_key.as_str()) {
                look_alikes.extend(ids.iter().copied());
            }
        }
        if let Some(ids) = self.look_alike.get(&loose) {
            look_alikes.extend(ids.iter().copied());
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::model::TargetUser;

    fn target(names: &[(&str, &str, &str)]) -> TargetSnapshot {
        let mut snapshot = TargetSnapshot::default();
        for (id, user_name, email) in names {
            snapshot.users.insert(
                (*id).into(),
                TargetUser {
                    id: (*id).into(),
                    user_name: (*user_name).into(),
                    emails: vec![(*email).into()],
                    ..Default::default()
                },
            );
        }
        snapshot
    }

    fn lookup(index: &TargetIndex<'_>, key: &str) -> (Vec<String>, Vec<String>) {
        let (mut hits, mut look_alikes) = (BTreeSet::new(), BTreeSet::new());
        index.matches(key, &mut hits, &mut look_alikes);
        let own = |s: BTreeSet<&str>| s.into_iter().map(str::to_owned).collect();
        (own(hits), own(look_alikes))
    }

    #[test]
    fn ascii_case_folds_but_a_kelvin_sign_is_only_a_look_alike() {
        let snapshot = target(&[
            ("t-ascii", "Kate@Contoso.com", "kate@contoso.com"),
            (
                "t-kelvin",
                "\u{212A}ate@contoso.com",
                "\u{212A}ate@contoso.com",
            ),
        ]);
        let links = Links::default();
        let index = TargetIndex::new(&snapshot, &links);
        // The ASCII name finds the ASCII account and sees the Kelvin one as a look-alike.
        assert_eq!(
            lookup(&index, "KATE@contoso.COM"),
            (vec!["t-ascii".into()], vec!["t-kelvin".into()])
        );
        // The Kelvin name adopts nothing, whichever account it imitates.
        let (hits, look_alikes) = lookup(&index, "\u{212A}ate@contoso.com");
        assert!(hits.is_empty());
        assert_eq!(
            look_alikes,
            vec!["t-ascii".to_owned(), "t-kelvin".to_owned()]
        );
        let (hits, _) = lookup(&index, "nobody@contoso.com");
        assert!(hits.is_empty());
    }
}
