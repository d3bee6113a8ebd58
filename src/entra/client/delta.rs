//! Delta rounds: users and groups changed since a delta link (or from the start), read page by
//! page to the round's new link, with removals told apart from changes. Each page's items are
//! parsed as the page arrives and its JSON dropped before the next is asked for, so a round holds
//! the parsed users and groups once, never every raw page besides them.

use super::*;

impl GraphClient {
    /// One users delta round: from the start when `delta_link` is `None`, else from that link.
    /// A link Graph no longer accepts gives [`EntraError::ResyncRequired`].
    pub async fn users_delta(&self, delta_link: Option<&str>) -> Result<UsersDelta, EntraError> {
        let first = match delta_link {
            Some(link) => link.to_owned(),
            None => self.url(&format!("/users/delta?{}", self.user_query)),
        };
        let mut round = UsersDelta::default();
        let mut changed_at: HashMap<String, usize> = HashMap::new();
        let mut removed_at: HashMap<String, usize> = HashMap::new();
        let delta_link = self
            .delta_pages(&first, "users", |item| {
                self.take_user(&mut round, &mut changed_at, &mut removed_at, item)
            })
            .await?;
        round.delta_link = delta_link;
        round.changed.retain(|u| !u.id.is_empty());
        round.removed.retain(|r| !r.id.is_empty());
        Ok(round)
    }

    /// One item of a users delta page: a removal, or the latest state of a user (later pages
    /// replace what earlier ones said).
    fn take_user(
        &self,
        round: &mut UsersDelta,
        changed_at: &mut HashMap<String, usize>,
        removed_at: &mut HashMap<String, usize>,
        item: Value,
    ) -> Result<(), EntraError> {
        if let Some(reason) = removed_reason(&item) {
            let id = item["id"].as_str().unwrap_or_default().to_owned();
            if let Some(at) = changed_at.remove(&id) {
                round.changed[at].id.clear();
            }
            let entry = Removed {
                id: id.clone(),
                reason,
            };
            match removed_at.get(&id) {
                Some(&at) => round.removed[at] = entry,
                None => {
                    removed_at.insert(id, round.removed.len());
                    round.removed.push(entry);
                }
            }
            return Ok(());
        }
        let absent: Vec<String> = match item.as_object() {
            Some(obj) => self
                .user_props
                .iter()
                .filter(|p| !obj.contains_key(p.as_str()))
                .cloned()
                .collect(),
            None => Vec::new(),
        };
        let user: EntraUser = parse_item(item, "the users delta")?;
        // The latest entry for a user is the one kept, and so are its absent properties.
        if absent.is_empty() {
            round.absent.remove(&user.id);
        } else {
            round.absent.insert(user.id.clone(), absent);
        }
        if let Some(at) = removed_at.remove(&user.id) {
            round.removed[at].id.clear();
        }
        match changed_at.get(&user.id) {
            Some(&at) => round.changed[at] = user,
            None => {
                changed_at.insert(user.id.clone(), round.changed.len());
                round.changed.push(user);
            }
        }
        Ok(())
    }

    /// Delta links that start from now (`$deltatoken=latest`, graph-notes §5.1): no enumeration of
    /// the tenant, one request per stream. The next round returns only what changes after this.
    pub async fn delta_from_now(&self) -> Result<DeltaLinks, EntraError> {
        let users = self.url(&format!(
            "/users/delta?{}&$deltatoken=latest",
            self.user_query
        ));
        let groups = self.url(&format!(
            "/groups/delta?$select={GROUP_SELECT},members&$deltatoken=latest"
        ));
        let (users, groups) = tokio::try_join!(
            self.users_delta(Some(&users)),
            self.groups_delta(Some(&groups))
        )?;
        Ok(DeltaLinks {
            users: users.delta_link,
            groups: groups.delta_link,
        })
    }

    /// One groups delta round, with `members@delta` merged over every page a group appears on.
    pub async fn groups_delta(&self, delta_link: Option<&str>) -> Result<GroupsDelta, EntraError> {
        let first = match delta_link {
            Some(link) => link.to_owned(),
            None => self.url(&format!("/groups/delta?$select={GROUP_SELECT},members")),
        };
        let mut round = GroupsDelta::default();
        let mut index: HashMap<String, usize> = HashMap::new();
        let delta_link = self
            .delta_pages(&first, "groups", |item| {
                take_group(&mut round, &mut index, item)
            })
            .await?;
        round.delta_link = delta_link;
        // A group removed later in the round is not also reported as changed.
        round
            .changed
            .retain(|c| !round.removed.iter().any(|r| r.id == c.group.id));
        Ok(round)
    }

    /// A users round and a groups round; from the start when `links` is `None`.
    pub async fn delta(&self, links: Option<&DeltaLinks>) -> Result<DeltaRound, EntraError> {
        let users = self.users_delta(links.map(|l| l.users.as_str())).await?;
        let groups = self.groups_delta(links.map(|l| l.groups.as_str())).await?;
        Ok(DeltaRound { users, groups })
    }

    /// Reads a delta round's pages up to its deltaLink, handing each item to `take` as its page
    /// arrives; returns the deltaLink.
    async fn delta_pages(
        &self,
        first: &str,
        resource: &str,
        mut take: impl FnMut(Value) -> Result<(), EntraError>,
    ) -> Result<String, EntraError> {
        let what = format!("the {resource} delta");
        let mut url = first.to_owned();
        let mut links = LinkGuard::new(self.max_pages);
        loop {
            links.follow(&url, &what)?;
            let mut page = self.get(&url, &what, false).await?;
            let Some(values) = page.body.get_mut("value").and_then(Value::as_array_mut) else {
                return Err(EntraError::Incomplete {
                    what,
                    detail: "a page has no `value` list".into(),
                    ids: page.ids,
                });
            };
            for item in std::mem::take(values) {
                take(item)?;
            }
            if let Some(next) = page.body["@odata.nextLink"].as_str() {
                url = next.to_owned();
            } else if let Some(delta) = page.body["@odata.deltaLink"].as_str() {
                return Ok(delta.to_owned());
            } else {
                return Err(EntraError::Incomplete {
                    what,
                    detail: "a page has neither a next link nor a delta link".into(),
                    ids: page.ids,
                });
            }
        }
    }
}

/// One item of a groups delta page: a removal, or a change merged with what earlier pages said of
/// the group (`members@delta` spreads over several pages).
fn take_group(
    round: &mut GroupsDelta,
    index: &mut HashMap<String, usize>,
    mut item: Value,
) -> Result<(), EntraError> {
    let id = item["id"].as_str().unwrap_or_default().to_owned();
    if id.is_empty() {
        return Err(EntraError::Incomplete {
            what: "the groups delta".into(),
            detail: "an entry has no id".into(),
            ids: GraphIds::default(),
        });
    }
    if let Some(reason) = removed_reason(&item) {
        round.removed.retain(|r| r.id != id);
        round.removed.push(Removed { id, reason });
        return Ok(());
    }
    let members = item
        .as_object_mut()
        .and_then(|o| o.remove("members@delta"))
        .unwrap_or(Value::Array(Vec::new()));
    let group: EntraGroup = parse_item(item, "the groups delta")?;
    let at = *index.entry(id.clone()).or_insert_with(|| {
        round.changed.push(GroupChange {
            group: EntraGroup {
                id: id.clone(),
                ..EntraGroup::default()
            },
            ..GroupChange::default()
        });
        round.changed.len() - 1
    });
    let change = &mut round.changed[at];
    merge_group(&mut change.group, group);
    for member in members.as_array().into_iter().flatten() {
        let member_ref = MemberRef {
            id: member["id"].as_str().unwrap_or_default().to_owned(),
            kind: ObjectKind::from_odata_type(member["@odata.type"].as_str()),
        };
        if member_ref.id.is_empty() {
            continue;
        }
        change.members_added.retain(|m| m.id != member_ref.id);
        change.members_removed.retain(|m| m.id != member_ref.id);
        if member.get("@removed").is_some() {
            change.members_removed.push(member_ref);
        } else {
            change.members_added.push(member_ref);
        }
    }
    Ok(())
}

fn removed_reason(item: &Value) -> Option<RemovedReason> {
    let removed = item.get("@removed")?;
    Some(match removed["reason"].as_str() {
        Some(r) if r.eq_ignore_ascii_case("deleted") => RemovedReason::Deleted,
        _ => RemovedReason::Changed,
    })
}

fn merge_group(into: &mut EntraGroup, from: EntraGroup) {
    if from.display_name.is_some() {
        into.display_name = from.display_name;
    }
    if from.created_date_time.is_some() {
        into.created_date_time = from.created_date_time;
    }
    if from.description.is_some() {
        into.description = from.description;
    }
    if from.security_enabled.is_some() {
        into.security_enabled = from.security_enabled;
    }
    if from.mail_enabled.is_some() {
        into.mail_enabled = from.mail_enabled;
    }
}
