//! Test bodies that run unchanged against the simulated application, scim2-server and the SCIMMY
//! application (see the `against_both!` list in `mod.rs`).

use super::harness::{Target, client_for};
use crate::scim::{NewUser, ScimError, UserAttributes, UserField, UserPatch, run_bounded};
use crate::secret::Secret;

fn ann(suffix: &str) -> UserAttributes {
    UserAttributes {
        user_name: format!("ann.lee{suffix}@contoso.example"),
        external_id: Some(format!("0f8fad5b-d9cb-469f-a165-70867728950e{suffix}")),
        active: true,
        given_name: Some("Ann".into()),
        family_name: Some("Lee".into()),
        display_name: Some("Ann Lee".into()),
        email: Some(format!("ann.lee{suffix}@contoso.example")),
        phone: Some("+1 425 555 0100".into()),
        title: Some("Support Agent".into()),
        department: Some("Customer Support".into()),
        employee_number: Some("4711".into()),
        ..UserAttributes::default()
    }
}

fn new_user(attributes: UserAttributes) -> NewUser {
    NewUser {
        attributes,
        password: Some(Secret::new("Initial-Passw0rd!")),
    }
}

pub async fn discovery_reports_capabilities(t: &Target) {
    let caps = t.client.discover().await.expect("discover");
    assert!(caps.patch, "{caps:?}");
    assert!(caps.filter, "{caps:?}");
    assert_eq!(caps.etag, t.advertises_etag(), "{caps:?}");
    assert!(caps.max_results.is_some(), "{caps:?}");
    assert!(
        caps.authentication_schemes
            .iter()
            .any(|s| s.eq_ignore_ascii_case("oauthbearertoken")),
        "{caps:?}"
    );
}

pub async fn create_and_find_by_each_filter(t: &Target) {
    let created = t
        .client
        .create_user(&new_user(ann("")))
        .await
        .expect("create");
    assert!(!created.already_existed);
    let user = created.user;
    assert_eq!(
        user.attributes(),
        ann(""),
        "every mapped attribute round-trips"
    );

    let by_external = t
        .client
        .find_users_by_external_id("0f8fad5b-d9cb-469f-a165-70867728950e")
        .await
        .expect("externalId filter");
    assert_eq!(by_external.len(), 1);
    assert_eq!(by_external[0].id, user.id);

    let by_name = t
        .client
        .find_users_by_user_name("ANN.LEE@contoso.example")
        .await
        .expect("userName filter");
    assert_eq!(by_name.len(), 1, "userName matches ignoring case");
    assert_eq!(by_name[0].id, user.id);

    let by_email = t
        .client
        .find_users_by_email("ann.lee@contoso.example")
        .await
        .expect("emails filter");
    assert_eq!(by_email.len(), 1);
    assert_eq!(by_email[0].id, user.id);

    let none = t
        .client
        .find_users_by_user_name("nobody@contoso.example")
        .await
        .expect("filter with no hit");
    assert!(none.is_empty());

    let fetched = t.client.get_user(&user.id).await.expect("get");
    assert_eq!(fetched.attributes(), ann(""));
}

pub async fn filter_values_are_escaped(t: &Target) {
    let mut odd = ann("");
    odd.user_name = r#"o"brien\x@contoso.example"#.into();
    odd.email = Some("o'brien@contoso.example".into());
    odd.external_id = Some(r#"ext "quoted""#.into());
    let created = t
        .client
        .create_user(&new_user(odd.clone()))
        .await
        .expect("create");
    if t.parses_escaped_quotes() {
        let found = t
            .client
            .find_users_by_user_name(&odd.user_name)
            .await
            .expect("userName with a quote and a backslash");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].id, created.user.id);
        let found = t
            .client
            .find_users_by_external_id(r#"ext "quoted""#)
            .await
            .expect("externalId with quotes");
        assert_eq!(found.len(), 1);
    } else {
        // The lookup fails with the server's own words, never with a wrong answer.
        let error = t
            .client
            .find_users_by_user_name(&odd.user_name)
            .await
            .expect_err("the server cannot parse the escaped quote");
        assert_eq!(error.status(), Some(400), "{error:?}");
        assert!(error.to_string().contains("invalidFilter"), "{error}");
    }
    let found = t
        .client
        .find_users_by_email("o'brien@contoso.example")
        .await
        .expect("email with an apostrophe");
    assert_eq!(found.len(), 1);
}

pub async fn patch_attributes(t: &Target) {
    let user = t
        .client
        .create_user(&new_user(ann("")))
        .await
        .expect("create")
        .user;
    let mut desired = ann("");
    desired.given_name = Some("Annie".into());
    desired.display_name = Some("Annie Lee".into());
    desired.title = None;
    desired.department = Some("Field Service".into());
    desired.employee_number = Some("4712".into());
    desired.email = Some("annie.lee@contoso.example".into());
    desired.phone = Some("+1 425 555 0199".into());
    let fields = user.attributes().differences(&desired);
    assert_eq!(
        fields,
        vec![
            UserField::GivenName,
            UserField::DisplayName,
            UserField::Emails,
            UserField::PhoneNumbers,
            UserField::Title,
            UserField::Department,
            UserField::EmployeeNumber
        ]
    );
    t.client
        .patch_user(&user.id, &UserPatch::from_attributes(&desired, &fields))
        .await
        .expect("patch");
    let after = t.client.get_user(&user.id).await.expect("get");
    assert_eq!(after.attributes(), desired);
    assert!(after.attributes().differences(&desired).is_empty());
}

/// The work email and phone written through filtered paths: changed, emptied and added
/// again, while the user's home email and mobile number (which this update does not map) stay as
/// the server holds them.
pub async fn typed_items_change_alone(t: &Target) {
    const HOME: &str = r#"emails[type eq "home"].value"#;
    const MOBILE: &str = r#"phoneNumbers[type eq "mobile"].value"#;
    let mut with_private = ann("");
    with_private
        .extra
        .insert(HOME.into(), "ann@home.example".into());
    with_private
        .extra
        .insert(MOBILE.into(), "+1 425 555 0111".into());
    let user = t
        .client
        .create_user(&new_user(with_private))
        .await
        .expect("create")
        .user;
    let private = |u: &crate::scim::ScimUser| {
        (
            u.extra.get(HOME).cloned(),
            u.extra.get(MOBILE).cloned(),
            u.emails.len(),
        )
    };
    let expected = (
        Some("ann@home.example".to_owned()),
        Some("+1 425 555 0111".to_owned()),
        2,
    );
    let mut desired = ann("");
    let write = async |desired: &mut UserAttributes, fields: &[&str]| {
        desired.held = t.client.get_user(&user.id).await.expect("get").held;
        let patch = UserPatch::from_fields(desired, fields);
        t.client.patch_user(&user.id, &patch).await.expect("patch");
        t.client.get_user(&user.id).await.expect("get")
    };

    desired.email = Some("annie.lee@contoso.example".into());
    desired.phone = Some("+1 425 555 0199".into());
    let after = write(&mut desired, &["emails", "phoneNumbers"]).await;
    assert_eq!(after.primary_email(), Some("annie.lee@contoso.example"));
    assert!(
        after
            .emails
            .iter()
            .any(|e| e.value == "annie.lee@contoso.example" && e.primary),
        "{after:?}"
    );
    assert_eq!(after.work_phone(), Some("+1 425 555 0199"));
    assert_eq!(private(&after), expected, "{after:?}");

    desired.phone = None;
    let after = write(&mut desired, &["phoneNumbers"]).await;
    assert_eq!(after.work_phone(), None, "{after:?}");
    assert_eq!(private(&after), expected, "{after:?}");

    desired.phone = Some("+1 425 555 0123".into());
    let after = write(&mut desired, &["phoneNumbers"]).await;
    assert_eq!(after.work_phone(), Some("+1 425 555 0123"));
    assert_eq!(private(&after), expected, "{after:?}");
    assert_eq!(after.phone_numbers.len(), 2, "{after:?}");
    assert!(
        !t.client.writes_whole_lists(),
        "the server took every filtered path"
    );
}

pub async fn disable_and_enable(t: &Target) {
    let user = t
        .client
        .create_user(&new_user(ann("")))
        .await
        .expect("create")
        .user;
    assert!(user.active);
    t.client.set_active(&user.id, false).await.expect("disable");
    assert!(!t.client.get_user(&user.id).await.expect("get").active);
    t.client.set_active(&user.id, true).await.expect("enable");
    assert!(t.client.get_user(&user.id).await.expect("get").active);
}

pub async fn group_members_add_and_remove(t: &Target) {
    let a = t
        .client
        .create_user(&new_user(ann("1")))
        .await
        .expect("a")
        .user;
    let b = t
        .client
        .create_user(&new_user(ann("2")))
        .await
        .expect("b")
        .user;
    let group = t.client.create_group("Tier 1").await.expect("create group");
    assert_eq!(group.display_name, "Tier 1");
    t.client.create_group("Tier 2").await.expect("second group");

    let found = t
        .client
        .find_groups_by_display_name("Tier 1")
        .await
        .expect("displayName filter");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].id, group.id);

    t.client
        .add_members(&group.id, &[a.id.clone(), b.id.clone()])
        .await
        .expect("add members");
    let mut members = t.client.group_member_ids(&group.id).await.expect("members");
    members.sort();
    let mut expected = vec![a.id.clone(), b.id.clone()];
    expected.sort();
    assert_eq!(members, expected);

    // Adding an existing member again is harmless.
    t.client
        .add_members(&group.id, std::slice::from_ref(&a.id))
        .await
        .expect("add again");

    t.client
        .remove_member(&group.id, &a.id)
        .await
        .expect("remove member");
    assert_eq!(
        t.client.group_member_ids(&group.id).await.expect("members"),
        vec![b.id.clone()]
    );

    let groups = t.client.list_groups().await.expect("list groups");
    assert_eq!(groups.len(), 2);
    assert_eq!(t.client.count_groups().await.expect("count"), 2);
}

pub async fn paging_across_several_pages(t: &Target) {
    let creates = (0..25).map(|i| {
        let client = t.client.clone();
        async move {
            let mut user = ann(&format!("-{i:02}"));
            user.external_id = Some(format!("ext-{i:02}"));
            client.create_user(&new_user(user)).await
        }
    });
    for outcome in run_bounded(creates, 4).await {
        outcome.expect("create");
    }
    let client = t.client.clone().with_page_size(10);
    let users = client.list_users().await.expect("list all");
    assert_eq!(users.len(), 25);
    let mut ids: Vec<_> = users.iter().map(|u| u.id.clone()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 25, "no user twice");
    if let Some(sim) = t.sim_handle() {
        assert_eq!(
            sim.log().count("GET", "/Users"),
            3,
            "25 users in pages of 10"
        );
    }
}

pub async fn duplicate_user_name_resolves_to_existing(t: &Target) {
    let first = t
        .client
        .create_user(&new_user(ann("")))
        .await
        .expect("create")
        .user;
    let mut again = ann("");
    again.user_name = again.user_name.to_uppercase();
    again.external_id = Some("another-entra-id".into());
    let second = t
        .client
        .create_user(&new_user(again))
        .await
        .expect("a 409 is resolved, not a failure");
    assert!(second.already_existed);
    assert_eq!(second.user.id, first.id);
    assert_eq!(t.client.list_users().await.expect("list").len(), 1);
}

pub async fn wrong_token_gives_clear_401(t: &Target) {
    let wrong = "wrong-token-0123456789";
    let client = client_for(&t.url, wrong);
    let error = client.list_users().await.expect_err("refused");
    assert!(
        matches!(error, ScimError::Unauthorized { status: 401, .. }),
        "{error:?}"
    );
    let text = error.to_string();
    assert!(text.contains("refused adsync's credentials (401"), "{text}");
    assert!(text.contains("bearer token"), "says what to check: {text}");
    assert!(!text.contains(wrong) && !format!("{error:?}").contains(wrong));
    assert!(!text.contains(&t.token));
}

pub async fn check_lines_all_pass(t: &Target) {
    t.client.create_group("Managers").await.expect("group");
    let lines = crate::scim::check_with(&t.client, Some("admin@contoso.example")).await;
    let names: Vec<_> = lines.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "target reachable",
            "target credential",
            "target capabilities",
            "target groups"
        ]
    );
    assert!(lines.iter().all(|l| l.ok), "{lines:#?}");
    assert_eq!(lines[3].detail, "1 groups");
    let refused = client_for(&t.url, "nope");
    let lines = crate::scim::check_with(&refused, None).await;
    assert!(!lines.last().expect("a line").ok, "{lines:#?}");
}

pub async fn write_many_applies_each_op_with_its_own_outcome(t: &Target) {
    use crate::scim::{WriteOp, WriteOutcome};
    let caps = t.client.discover().await.expect("discover");
    // scim2-server and SCIMMY advertise /Bulk, the simulator does not: both paths are exercised.
    assert_eq!(caps.bulk.is_some(), t.sim_handle().is_none());
    let existing = t
        .client
        .create_user(&new_user(ann("-0")))
        .await
        .expect("create")
        .user;
    let group = t.client.create_group("Tier 1").await.expect("group");
    let ops: Vec<WriteOp> = (1..=5)
        .map(|i| WriteOp::CreateUser(new_user(ann(&format!("-{i}")))))
        .chain([
            WriteOp::CreateUser(new_user(ann("-0"))),
            WriteOp::PatchUser {
                id: existing.id.clone(),
                patch: UserPatch::new().set(UserField::Title, Some("Lead")),
            },
            WriteOp::PatchUser {
                id: "no-such-user".into(),
                patch: UserPatch::active(false),
            },
        ])
        .collect();
    let outcomes = t.client.write_many(&ops, &caps, 4).await;
    assert_eq!(outcomes.len(), ops.len());
    let mut created = Vec::new();
    for outcome in &outcomes[..5] {
        match outcome {
            Ok(WriteOutcome::Created(c)) => {
                assert!(!c.already_existed);
                created.push(c.user.id.clone());
            }
            other => panic!("{other:?}"),
        }
    }
    match &outcomes[5] {
        Ok(WriteOutcome::Created(c)) => {
            assert!(c.already_existed, "409 resolved");
            assert_eq!(c.user.id, existing.id);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(outcomes[6].as_ref().expect("patch"), &WriteOutcome::Done);
    let error = outcomes[7].as_ref().expect_err("unknown user");
    assert_eq!(error.status(), Some(404));

    let adds = vec![WriteOp::AddMembers {
        group_id: group.id.clone(),
        user_ids: created.clone(),
    }];
    for outcome in t.client.write_many(&adds, &caps, 4).await {
        outcome.expect("add members");
    }
    let mut members = t.client.group_member_ids(&group.id).await.expect("members");
    members.sort();
    created.sort();
    assert_eq!(members, created);
    let removes: Vec<WriteOp> = created
        .iter()
        .map(|id| WriteOp::RemoveMember {
            group_id: group.id.clone(),
            user_id: id.clone(),
        })
        .take(1)
        .collect();
    for outcome in t.client.write_many(&removes, &caps, 4).await {
        outcome.expect("remove member");
    }
    assert_eq!(
        t.client
            .group_member_ids(&group.id)
            .await
            .expect("members")
            .len(),
        4
    );
    let user = t.client.get_user(&existing.id).await.expect("get");
    assert_eq!(user.title.as_deref(), Some("Lead"));
    for id in &created {
        let user = t.client.get_user(id).await.expect("created user exists");
        assert!(user.active);
    }
}

pub async fn unknown_ids_are_not_found(t: &Target) {
    let error = t.client.get_user("no-such-user").await.expect_err("404");
    assert!(error.is_not_found(), "{error:?}");
    assert!(error.to_string().contains("failed with 404"), "{error}");
    let error = t.client.get_group("no-such-group").await.expect_err("404");
    assert!(error.is_not_found(), "{error:?}");
    let error = t
        .client
        .set_active("no-such-user", false)
        .await
        .expect_err("404");
    assert!(error.is_not_found(), "{error:?}");
}

/// SPEC §3.1 end to end through the engine (plan, apply, state store, read back): a mobile
/// number, an enterprise attribute, a constant, a template, a custom schema extension and the
/// pair's roles land as mapped; planning again is empty; a move swaps only the roles adsync
/// gave, and a role an administrator added stays.
pub async fn mapped_attributes_and_roles_land_and_admin_roles_survive_a_move(target: &Target) {
    use crate::config::{Settings, parse_str};
    use crate::state::StateStore;
    use crate::sync::{
        ApplyOptions, SourceGroup, SourceSnapshot, SourceUser, apply, plan, read_target,
    };
    const SUPPORT: &str = "00000000-0000-0000-0000-00000000000a";
    const SALES: &str = "00000000-0000-0000-0000-00000000000b";
    const BADGE: &str = "urn:example:params:scim:schemas:extension:helpdesk:2.0:User";
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let tier1 = target
        .client
        .create_group(&format!("Tier 1 {suffix}"))
        .await
        .unwrap();
    let tier2 = target
        .client
        .create_group(&format!("Tier 2 {suffix}"))
        .await
        .unwrap();
    let text = format!(
        r#"version = 1
[entra]
tenant = "contoso.example"
client_id = "11111111-2222-3333-4444-555555555555"
client_secret = "env:X"
[target]
url = "{url}"
token = "env:Y"
[[pairs]]
entra_group_id = "{SUPPORT}"
target_group_id = "{t1}"
order = 1
roles = ["technician"]
[[pairs]]
entra_group_id = "{SALES}"
target_group_id = "{t2}"
order = 2
roles = ["lead", "reports"]
[[mappings]]
target = "phoneNumbers[type eq \"mobile\"].value"
source = "mobilePhone"
[[mappings]]
target = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter"
source = "employeeOrgData.costCenter"
default = "CC-000"
[[mappings]]
target = "title"
value = "Technician"
[[mappings]]
target = "nickName"
template = "{{givenName}}.{{surname}}"
transform = "lower"
{badge}"#,
        url = target.url,
        // scim2-server refuses extensions its schemas do not declare (as a real app would);
        // the simulator keeps any.
        badge = if target.sim_handle().is_some() {
            format!(
                "[[mappings]]\ntarget = \"{BADGE}:badge\"\n\
                 source = \"onPremisesExtensionAttributes.extensionAttribute1\"\n"
            )
        } else {
            String::new()
        },
        t1 = tier1.id,
        t2 = tier2.id,
    );
    let settings = Settings::from_file(&parse_str(&text).unwrap());
    let ann_id = format!("0f8fad5b-d9cb-469f-a165-{}", &suffix[..12]);
    let ann = SourceUser {
        id: ann_id.clone(),
        user_principal_name: format!("ann{suffix}@contoso.example"),
        mail: Some(format!("ann{suffix}@contoso.example").into()),
        given_name: Some("Ann".into()),
        surname: Some("Lee".into()),
        display_name: Some("Ann Lee".into()),
        job_title: Some("Agent".into()),
        account_enabled: true,
        extra: [
            ("mobilePhone", "+1 425 555 0199"),
            ("employeeOrgData.costCenter", "CC-42"),
            ("onPremisesExtensionAttributes.extensionAttribute1", "B-7"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect(),
        ..SourceUser::default()
    };
    let group = |id: &str, members: &[&str]| SourceGroup {
        id: id.into(),
        display_name: id.into(),
        created: None,
        members: members.iter().map(|m| (*m).to_owned()).collect(),
    };
    let mut source = SourceSnapshot::default();
    source.users.insert(ann_id.clone(), ann);
    source
        .groups
        .insert(SUPPORT.into(), group(SUPPORT, &[&ann_id]));
    source.groups.insert(SALES.into(), group(SALES, &[]));

    let dir = tempfile::tempdir().unwrap();
    let store = StateStore::open(&dir.path().join("state.sqlite3")).unwrap();
    let options = ApplyOptions {
        concurrency: 4,
        group_mode: settings.policy.group_mode,
        default_password: None,
        trigger: "test".into(),
        cancel: None,
    };
    let sync = |source: SourceSnapshot| {
        let (settings, store, options) = (&settings, &store, &options);
        async move {
            let snapshot = read_target(&target.client, settings).await.unwrap();
            let links = store.links().unwrap();
            let plan = plan(crate::sync::PlanInput {
                settings,
                source: &source,
                target: &snapshot,
                links: &links,
            })
            .unwrap();
            let applied = apply(plan.clone(), &target.client, store, options, |_| {})
                .await
                .unwrap();
            assert_eq!(applied.failed, 0, "{:#?}", applied.plan.actions);
            plan
        }
    };

    let first = sync(source.clone()).await;
    assert_eq!(first.summary.create, 1, "{:#?}", first.actions);
    let id = store.links().unwrap()[&ann_id].target_id.clone();
    let user = target.client.get_user(&id).await.unwrap();
    let mobile = r#"phoneNumbers[type eq "mobile"].value"#;
    assert_eq!(
        user.extra.get(mobile).map(String::as_str),
        Some("+1 425 555 0199")
    );
    assert_eq!(
        user.extra.get("costCenter").map(String::as_str),
        Some("CC-42")
    );
    assert_eq!(user.title.as_deref(), Some("Technician"), "the constant");
    assert_eq!(
        user.extra.get("nickName").map(String::as_str),
        Some("ann.lee")
    );
    if target.sim_handle().is_some() {
        assert_eq!(
            user.extra
                .get(&format!("{BADGE}:badge"))
                .map(String::as_str),
            Some("B-7"),
            "the custom extension attribute: {user:#?}"
        );
    }
    assert_eq!(user.roles, vec!["technician".to_owned()]);

    let again = sync(source.clone()).await;
    assert!(
        again.actions.is_empty(),
        "planned again: {:#?}",
        again.actions
    );

    // An administrator adds a role of their own in the application.
    let roles = UserAttributes {
        roles: Some(vec!["technician".into(), "billing".into()]),
        ..UserAttributes::default()
    };
    target
        .client
        .patch_user(&id, &UserPatch::from_fields(&roles, &["roles"]))
        .await
        .unwrap();

    // Ann moves to Sales: adsync's role is swapped for Sales' ones, the administrator's stays.
    source.groups.insert(SUPPORT.into(), group(SUPPORT, &[]));
    source.groups.insert(SALES.into(), group(SALES, &[&ann_id]));
    let moved = sync(source.clone()).await;
    let action = &moved.actions[0];
    assert_eq!(action.kind, crate::sync::ActionKind::Move, "{action:#?}");
    let change = action.changes.iter().find(|c| c.field == "roles").unwrap();
    assert_eq!(change.from.as_deref(), Some("billing, technician"));
    assert_eq!(change.to.as_deref(), Some("billing, lead, reports"));
    let mut have = target.client.get_user(&id).await.unwrap().roles;
    have.sort();
    assert_eq!(have, vec!["billing", "lead", "reports"]);
    let after = sync(source).await;
    assert!(
        after.actions.is_empty(),
        "after the move: {:#?}",
        after.actions
    );
}
