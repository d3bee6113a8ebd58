//! Attribute mappings and roles (SPEC §3.1) through the planner.

use super::properties::{run_step, step};
use super::*;

/// [`settings`] with `roles` on the two pairs and `extra` TOML (mappings) after them.
fn settings_with_roles(support: &[&str], sales: &[&str], extra: &str) -> Settings {
    let list = |roles: &[&str]| {
        roles
            .iter()
            .map(|r| format!("\"{r}\""))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let text = format!(
        r#"version = 1
[entra]
tenant = "contoso.example"
client_id = "11111111-2222-3333-4444-555555555555"
client_secret = "env:X"
[target]
url = "http://127.0.0.1:1/scim"
token = "env:Y"
[[pairs]]
entra_group_id = "{SUPPORT}"
target_group_id = "tier-1"
order = 1
roles = [{}]
[[pairs]]
entra_group_id = "{SALES}"
target_group_id = "tier-2"
order = 2
roles = [{}]
{extra}"#,
        list(support),
        list(sales)
    );
    Settings::from_file(&parse_str(&text).unwrap_or_else(|e| panic!("{e:?}")))
}

fn with_extra(mut u: SourceUser, pairs: &[(&str, &str)]) -> SourceUser {
    for (k, v) in pairs {
        u.extra.insert((*k).to_owned(), (*v).to_owned());
    }
    u
}

fn desired_of(plan: &Plan) -> DesiredUser {
    only(plan).execution.desired().unwrap().into_owned()
}

#[test]
fn each_mapping_kind_gives_its_value() {
    let mappings = r#"
[[mappings]]
target = "phoneNumbers[type eq \"mobile\"].value"
source = "mobilePhone"
[[mappings]]
target = "costCenter"
source = "employeeOrgData.costCenter"
default = "CC-000"
[[mappings]]
target = "userType"
value = "Technician"
[[mappings]]
target = "userName"
template = "{givenName}.{surname}@example.com"
transform = "lower"
[[mappings]]
target = "title"
omit = true
[[mappings]]
target = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:organization"
source = "companyName"
transform = "upper"
[[mappings]]
target = "emails"
source = "userPrincipalName"
transform = "local-part"
[[mappings]]
target = "urn:example:scim:acme:2.0:User:badge"
source = "onPremisesExtensionAttributes.extensionAttribute3"
"#;
    let mut w = World::new(settings_with_roles(&["technician"], &[], mappings));
    let mut ann = with_extra(
        user("u-ann", "ann"),
        &[
            ("mobilePhone", " +1 555 0101 "),
            ("onPremisesExtensionAttributes.extensionAttribute3", "B-7"),
        ],
    );
    ann.company_name = Some("Contoso".into());
    w.add(ann, &[SUPPORT]);
    let plan = w.plan();
    let d = desired_of(&plan);
    assert_eq!(
        d.extra[r#"phoneNumbers[type eq "mobile"].value"#], "+1 555 0101",
        "a source, trimmed"
    );
    assert_eq!(
        d.extra["costCenter"], "CC-000",
        "the default of an empty source"
    );
    assert_eq!(d.extra["userType"], "Technician", "a constant");
    assert_eq!(
        d.user_name, "ann.example@example.com",
        "a template, lower-cased"
    );
    assert_eq!(d.title, None, "omitted");
    assert_eq!(d.extra["organization"], "CONTOSO");
    assert_eq!(d.emails, "ann", "local-part");
    assert_eq!(d.extra["urn:example:scim:acme:2.0:User:badge"], "B-7");
    assert_eq!(d.roles, vec!["technician"]);
    assert_eq!(
        d.display_name.as_deref(),
        Some("ANN Example"),
        "defaults stay"
    );
    w.apply(&plan);
    assert!(w.plan().is_empty(), "{:#?}", kinds(&w.plan()));
}

#[test]
fn r2_matches_on_the_mapped_user_name_and_email() {
    let mappings = "[[mappings]]\ntarget = \"userName\"\ntemplate = \"{givenName}@app.example\"\n\
                    transform = \"lower\"\n";
    let mut w = World::new(settings_with_roles(&[], &[], mappings));
    w.add(user("u-ann", "ann"), &[SUPPORT]);
    let existing = w.target_user("ann@app.example", None);
    let action = only(&w.plan()).clone();
    assert_eq!(action.kind, ActionKind::Link, "{action:#?}");
    assert_eq!(action.target_user_id.as_deref(), Some(existing.as_str()));

    let mappings = "[[mappings]]\ntarget = \"emails\"\nvalue = \"desk@app.example\"\n";
    let mut w = World::new(settings_with_roles(&[], &[], mappings));
    w.add(user("u-bob", "bob"), &[SUPPORT]);
    let existing = w.target_user("desk@app.example", None);
    let action = only(&w.plan()).clone();
    assert_eq!(action.kind, ActionKind::Link);
    assert_eq!(action.target_user_id.as_deref(), Some(existing.as_str()));
}

/// Upgrading: links whose hashes were stored before mappings existed plan nothing when the
/// config has no mappings and no roles; adding a mapping then updates with `mapping changed`.
#[test]
fn a_config_without_mappings_keeps_stored_hashes_and_a_mapping_change_says_so() {
    let mut w = world();
    for n in 0..5 {
        let mut u = user(&format!("u-{n}"), &format!("user{n}"));
        u.extra
            .insert("mobilePhone".into(), format!("+1 555 010{n}"));
        w.add(u, &[SUPPORT]);
    }
    w.sync();
    // The hashes as an earlier version stored them: the default mapping's plain SHA-256.
    for link in w.links.values_mut() {
        let u = &w.source.users[&link.entra_id];
        link.values_hash = crate::sync::values_hash(&crate::sync::desired_user(
            u,
            crate::config::UsernamePolicy::Upn,
        ));
    }
    assert!(w.plan().is_empty(), "no spurious updates after an upgrade");

    w.settings = settings_with_roles(
        &[],
        &[],
        "[[mappings]]\ntarget = \"phoneNumbers[type eq \\\"mobile\\\"].value\"\nsource = \"mobilePhone\"\n",
    );
    let plan = w.plan();
    assert_eq!(plan.summary.update, 5, "{:#?}", kinds(&plan));
    for a in &plan.actions {
        assert_eq!(a.reason, "mapping changed");
        assert_eq!(a.changes.len(), 1);
        assert_eq!(
            a.changes[0].field,
            r#"phoneNumbers[type eq "mobile"].value"#
        );
        assert_eq!(a.changes[0].from, None);
    }
    w.apply(&plan);
    assert!(w.plan().is_empty());
    // An Entra change under the same mappings names the changed attribute, as before.
    w.source.users.get_mut("u-1").unwrap().job_title = Some("Lead".into());
    assert_eq!(only(&w.plan()).reason, "jobTitle changed");
}

#[test]
fn create_only_values_are_written_once_and_never_compared() {
    let mappings = "[[mappings]]\ntarget = \"displayName\"\ntemplate = \"{givenName} ({jobTitle})\"\n\
                    when = \"create\"\n[[mappings]]\ntarget = \"nickName\"\nsource = \"jobTitle\"\n\
                    when = \"create\"\n";
    let mut w = World::new(settings_with_roles(&[], &[], mappings));
    w.add(user("u-ann", "ann"), &[SUPPORT]);
    let plan = w.sync();
    let d = desired_of(&plan);
    assert_eq!(d.display_name.as_deref(), Some("ANN (Agent)"));
    assert_eq!(d.extra["nickName"], "Agent");
    let t = w.links["u-ann"].target_id.clone();
    assert_eq!(
        w.target.users[&t].extra["nickName"], "Agent",
        "written on create"
    );
    // The source changes, and someone edits the values in the target: only the default
    // `title` (always written) is compared; the create-only values never are.
    w.source.users.get_mut("u-ann").unwrap().job_title = Some("Lead".into());
    w.target.users.get_mut(&t).unwrap().display_name = Some("Edited".into());
    let plan = w.plan();
    let fields: Vec<&str> = only(&plan)
        .changes
        .iter()
        .map(|c| c.field.as_str())
        .collect();
    assert_eq!(fields, vec!["title"]);
}

#[test]
fn roles_follow_the_pair_and_administrator_roles_stay() {
    let mut w = World::new(settings_with_roles(
        &["technician"],
        &["lead", "reports"],
        "",
    ));
    w.add(user("u-ann", "ann"), &[SUPPORT]);
    w.sync();
    let t = w.links["u-ann"].target_id.clone();
    assert_eq!(w.target.users[&t].roles, vec!["technician"]);
    assert!(w.plan().is_empty());
    w.target
        .users
        .get_mut(&t)
        .unwrap()
        .roles
        .push("billing".into());
    assert!(w.plan().is_empty(), "an administrator's role is left alone");
    for g in w.source.groups.values_mut() {
        g.members.clear();
    }
    w.source
        .groups
        .get_mut(SALES)
        .unwrap()
        .members
        .insert("u-ann".into());
    let plan = w.sync();
    let action = only(&plan);
    assert_eq!(action.kind, ActionKind::Move);
    let change = action.changes.iter().find(|c| c.field == "roles").unwrap();
    assert_eq!(change.from.as_deref(), Some("billing, technician"));
    assert_eq!(change.to.as_deref(), Some("billing, lead, reports"));
    let mut roles = w.target.users[&t].roles.clone();
    roles.sort();
    assert_eq!(roles, vec!["billing", "lead", "reports"]);
    assert!(w.plan().is_empty());

    // `all` mode: the union over the user's pairs.
    let mut w = World::new(settings_with_roles(
        &["technician"],
        &["lead"],
        "[policy]\ngroup_mode = \"all\"\n",
    ));
    w.add(user("u-bob", "bob"), &[SUPPORT, SALES]);
    assert_eq!(desired_of(&w.plan()).roles, vec!["lead", "technician"]);
}

#[test]
fn the_manager_is_the_managed_managers_target_id() {
    let mappings = "[[mappings]]\ntarget = \"manager\"\nsource = \"manager\"\n";
    let mut w = World::new(settings_with_roles(&[], &[], mappings));
    w.add(user("u-boss", "boss"), &[SUPPORT]);
    w.add(
        with_extra(user("u-ann", "ann"), &[("manager", "u-boss")]),
        &[SUPPORT],
    );
    w.add(
        with_extra(user("u-bob", "bob"), &[("manager", "u-nobody")]),
        &[SUPPORT],
    );
    w.sync();
    // The manager got its target id in the first sync; the second writes it.
    let plan = w.sync();
    let action = only(&plan);
    assert_eq!(action.entra_id, "u-ann");
    let boss = w.links["u-boss"].target_id.clone();
    assert_eq!(action.changes[0].field, "manager");
    assert_eq!(action.changes[0].to.as_deref(), Some(boss.as_str()));
    assert!(w.plan().is_empty());
}

/// One `[[mappings]]` entry of the pool the property test draws from.
const MAPPING_POOL: &[&str] = &[
    "target = \"phoneNumbers[type eq \\\"mobile\\\"].value\"\nsource = \"mobilePhone\"",
    "target = \"costCenter\"\nsource = \"employeeOrgData.costCenter\"\ndefault = \"CC-0\"",
    "target = \"userType\"\nvalue = \"Technician\"",
    "target = \"nickName\"\ntemplate = \"{givenName}.{surname}\"\ntransform = \"lower\"",
    "target = \"title\"\nomit = true",
    "target = \"displayName\"\ntemplate = \"{givenName} {jobTitle}\"\nwhen = \"create\"",
    "target = \"department\"\nsource = \"jobTitle\"\ntransform = \"upper\"",
    "target = \"emails[type eq \\\"home\\\"].value\"\nsource = \"mail\"\ntransform = \"upper\"",
    "target = \"addresses[type eq \\\"work\\\"].locality\"\nsource = \"city\"\ndefault = \"nowhere\"",
    "target = \"urn:example:scim:acme:2.0:User:badge\"\nsource = \"onPremisesExtensionAttributes.extensionAttribute1\"",
    "target = \"phoneNumbers\"\nomit = true",
    "target = \"name.middleName\"\nsource = \"jobTitle\"\nwhen = \"create\"",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(120))]

    /// R12 with SPEC §3.1: under any mappings and pair roles, applying a plan and planning again
    /// gives nothing to do, whatever happens in the tenant and the target between syncs.
    #[test]
    fn apply_then_plan_is_empty_with_random_mappings(
        chosen in proptest::collection::btree_set(0..MAPPING_POOL.len(), 0..8),
        support in proptest::sample::subsequence(vec!["technician", "reports"], 0..=2),
        sales in proptest::sample::subsequence(vec!["lead", "reports"], 0..=2),
        steps in proptest::collection::vec(step(), 1..30),
    ) {
        let mappings: String = chosen
            .iter()
            .map(|&i| format!("[[mappings]]\n{}\n", MAPPING_POOL[i]))
            .collect();
        let extra = format!("[policy]\nmax_disables = 1000\nmax_disable_percent = 100\n{mappings}");
        let mut w = World::new(settings_with_roles(&support, &sales, &extra));
        for s in &steps {
            run_step(&mut w, s);
            for u in w.source.users.values_mut() {
                let n = u.id.len() + u.job_title.as_deref().map_or(0, str::len);
                u.extra.entry("mobilePhone".into()).or_insert_with(|| format!("+1 555 {n:04}"));
                if n % 2 == 0 {
                    u.extra
                        .entry("employeeOrgData.costCenter".into())
                        .or_insert_with(|| format!("CC-{n}"));
                    u.city = Some("Berlin".into());
                }
            }
            let plan = w.plan();
            w.apply(&plan);
            let again = w.plan();
            prop_assert!(again.is_empty(), "not idempotent after {:?}: {:#?}", s, again.actions);
        }
    }
}
