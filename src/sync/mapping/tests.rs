use super::record::{Reader, len_size, put_len};
use super::*;
use crate::config::Mapping;

/// Hashes stored by earlier versions (JSON buffered, then each byte `format!`ted) must still
/// match, or every managed user would be compared field by field again after an upgrade.
#[test]
fn values_hash_is_the_sha256_hex_of_the_mapped_json() {
    let user = SourceUser {
        id: "0b6d4c9e-1111-2222-3333-444455556666".into(),
        user_principal_name: "Zoë.Müller@contoso.example".into(),
        mail: Some("zoe.mueller@contoso.example".into()),
        given_name: Some(" Zoë ".into()),
        surname: Some("Müller \"Quote\"".into()),
        business_phones: vec!["+49 30 1234".into()],
        job_title: Some("Lead\\Engineer".into()),
        ..SourceUser::default()
    };
    for policy in [
        UsernamePolicy::Upn,
        UsernamePolicy::UpnLocalPart,
        UsernamePolicy::Mail,
    ] {
        let desired = desired_user(&user, policy);
        let json = serde_json::to_vec(&desired).unwrap();
        let expected: String = Sha256::digest(&json)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(values_hash(&desired), expected);
        // The borrowed view the planner hashes is the same record, hashing the same.
        let view = desired_view(&user, policy);
        assert_eq!(view.to_desired(), desired);
        assert_eq!(view.values_hash(), expected);
        assert_eq!(expected.len(), 64);
    }
    let mut other = user.clone();
    other.job_title = Some("Engineer".into());
    assert_ne!(
        values_hash(&desired_user(&user, UsernamePolicy::Upn)),
        values_hash(&desired_user(&other, UsernamePolicy::Upn))
    );
}

/// The properties compiled once per plan read what [`SourceUser::source`] reads, by every
/// name it knows and by any other; and templates split as they render.
#[test]
fn compiled_properties_and_templates_read_as_the_names_do() {
    let mut user = SourceUser {
        id: "u-1".into(),
        user_principal_name: "ann@contoso.example".into(),
        mail: Some(" ann@contoso.example ".into()),
        given_name: Some("Ann".into()),
        surname: Some("Lee".into()),
        display_name: Some("Ann Lee".into()),
        business_phones: vec!["+1 555 0100".into()],
        job_title: Some("Technician".into()),
        department: Some("Field".into()),
        employee_id: Some("4711".into()),
        office_location: Some("B1".into()),
        company_name: Some("Contoso".into()),
        city: Some("Berlin".into()),
        country: Some("DE".into()),
        user_type: Some("Member".into()),
        account_enabled: true,
        ..SourceUser::default()
    };
    user.extra.insert("manager".into(), "m-1".into());
    user.extra
        .insert("mobilePhone".into(), "+1 555 0199".into());
    user.extra
        .insert("employeeOrgData.costCenter".into(), "  ".into());
    for name in [
        "id",
        "userPrincipalName",
        "mail",
        "givenName",
        "surname",
        "displayName",
        "businessPhones",
        "jobTitle",
        "department",
        "employeeId",
        "officeLocation",
        "companyName",
        "city",
        "country",
        "userType",
        "manager",
        "mobilePhone",
        "employeeOrgData.costCenter",
        "unknown",
    ] {
        assert_eq!(Prop::new(name).get(&user), user.source(name), "{name}");
    }
    let none = |_: &str| None;
    let text = |t: &str| render(&parse_template(t), &user, &none);
    assert_eq!(text("{givenName}.{surname}").as_deref(), Some("Ann.Lee"));
    assert_eq!(text("x {unknown} y").as_deref(), None);
    assert_eq!(
        text("{city} {unclosed").as_deref(),
        Some("Berlin {unclosed")
    );
    assert_eq!(text("{}{city}}").as_deref(), Some("Berlin}"));
    let boss = |id: &str| Some(format!("t-{id}"));
    assert_eq!(
        render(&parse_template("by {manager}"), &user, &boss).as_deref(),
        Some("by t-m-1")
    );
    for n in [0, 1, 126, 127, 128, 16_383, 16_384, 1 << 30] {
        let mut bytes = Vec::new();
        put_len(&mut bytes, n);
        assert_eq!(bytes.len(), len_size(n), "{n}");
        assert_eq!(Reader(&bytes).len(), n);
    }
}

fn mapping(json: serde_json::Value) -> Mapping {
    serde_json::from_value(json).expect("a valid mapping")
}

/// The borrowed view the planner hashes and the compact record a create keeps are the
/// record [`MappingSet::desired`] gives, with every kind of mapping: same JSON, so the same
/// stored hashes, and the same record written at apply time.
#[test]
fn view_and_create_record_are_the_desired_record_under_mappings() {
    let mappings = MappingSet::new(&[
        mapping(
            serde_json::json!({"target": "costCenter", "source": "employeeOrgData.costCenter", "default": "CC-0"}),
        ),
        mapping(serde_json::json!({"target": "division", "value": " Operations "})),
        mapping(
            serde_json::json!({"target": "nickName", "template": "{givenName}.{surname}", "transform": "lower"}),
        ),
        mapping(serde_json::json!({"target": "title", "source": "jobTitle", "transform": "upper"})),
        mapping(
            serde_json::json!({"target": "displayName", "template": " {surname}, {givenName} "}),
        ),
        mapping(
            serde_json::json!({"target": "name.formatted", "template": "{givenName} {surname}", "when": "create"}),
        ),
        mapping(serde_json::json!({"target": "phoneNumbers", "omit": true})),
        mapping(
            serde_json::json!({"target": "urn:example:params:scim:schemas:extension:acme:2.0:User:badge", "source": "onPremisesExtensionAttributes.extensionAttribute1"}),
        ),
        mapping(serde_json::json!({"target": "manager", "source": "manager"})),
        mapping(serde_json::json!({"target": "userName", "source": "employeeId"})),
    ]);
    let long = "x".repeat(300); // a length that takes two bytes in the record
    let mut user = SourceUser {
        id: "0b6d4c9e-1111-2222-3333-444455556666".into(),
        user_principal_name: "Zoë.Müller@contoso.example".into(),
        given_name: Some(" Zoë ".into()),
        surname: Some("Müller".into()),
        business_phones: vec!["+49 30 1234".into()],
        job_title: Some("Lead Engineer".into()),
        department: Some(long.as_str().into()),
        ..SourceUser::default()
    };
    user.extra.insert(
        "onPremisesExtensionAttributes.extensionAttribute1".into(),
        "B-7".into(),
    );
    user.extra.insert("manager".into(), "m-1".into());
    let manager = |id: &str| (id == "m-1").then(|| "target-m-1".to_owned());
    let roles = vec![
        "technician".to_owned(),
        "lead".to_owned(),
        "lead".to_owned(),
    ];
    let desired = mappings.desired(&user, UsernamePolicy::Upn, &roles, &manager);
    assert_eq!(desired.title.as_deref(), Some("LEAD ENGINEER"));
    assert_eq!(desired.display_name.as_deref(), Some("Müller, Zoë"));
    assert_eq!(desired.phone, None);
    assert_eq!(desired.department.as_deref(), Some(long.as_str()));
    assert_eq!(desired.user_name, "Zoë.Müller@contoso.example"); // employeeId unset
    assert_eq!(desired.roles, ["lead", "technician"]);
    let extra: Vec<(&str, &str)> = desired
        .extra
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        extra,
        [
            ("costCenter", "CC-0"),
            ("division", "Operations"),
            ("manager", "target-m-1"),
            ("name.formatted", "Zoë Müller"),
            ("nickName", "zoë.müller"),
            (
                "urn:example:params:scim:schemas:extension:acme:2.0:User:badge",
                "B-7"
            ),
        ]
    );
    let view = mappings.view(&user, UsernamePolicy::Upn, roles.clone(), &manager);
    let json = serde_json::to_vec(&desired).unwrap();
    assert_eq!(serde_json::to_vec(&view).unwrap(), json);
    let expected: String = Sha256::digest(&json)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(view.values_hash(), expected);
    assert_eq!(values_hash(&desired), expected);
    assert_eq!(view.to_desired(), desired);
    let record = view.to_record();
    assert_eq!(record.to_desired(), desired);
    assert_eq!(record.roles(), ["lead", "technician"]);
    // A blank mapped value is unset in the record, not an empty string.
    user.extra
        .remove("onPremisesExtensionAttributes.extensionAttribute1");
    user.job_title = None;
    let view = mappings.view(&user, UsernamePolicy::Upn, Vec::new(), &manager);
    let desired = view.to_record().to_desired();
    assert_eq!(
        desired,
        mappings.desired(&user, UsernamePolicy::Upn, &[], &manager)
    );
    assert_eq!(desired.title, None);
    assert!(
        !desired
            .extra
            .contains_key("urn:example:params:scim:schemas:extension:acme:2.0:User:badge")
    );
    assert!(desired.roles.is_empty());
}

/// Only the items of the types adsync manages are compared: an application's other emails and
/// phone numbers (primary or not) never make a change, a user with only a private email has no
/// work email to compare, and the comparison records which typed items the user holds.
#[test]
fn only_managed_item_types_are_compared() {
    let source = SourceUser {
        id: "e-ann".into(),
        user_principal_name: "ann@contoso.example".into(),
        mail: Some("ann@contoso.example".into()),
        business_phones: vec!["+1 425 555 0100".into()],
        ..SourceUser::default()
    };
    let target = |emails: serde_json::Value, phones: serde_json::Value| -> TargetUser {
        crate::scim::ScimUser::from_json(&serde_json::json!({
            "id": "t1", "userName": "ann@contoso.example", "externalId": "e-ann",
            "emails": emails, "phoneNumbers": phones,
        }))
        .unwrap()
        .into()
    };
    let fields = |current: &TargetUser| -> Vec<String> {
        let mut desired = desired_user(&source, UsernamePolicy::Upn);
        let out = differences(&mut desired, current)
            .into_iter()
            .map(|d| format!("{}: {:?} -> {:?}", d.field, d.from, d.to))
            .collect();
        assert_eq!(desired.held, current.held, "recorded for the update");
        out
    };
    // A primary private email and a primary pager beside the work items: nothing to change.
    let extra_items = target(
        serde_json::json!([
            {"value": "ann@home.example", "type": "other", "primary": true},
            {"value": "ann@contoso.example", "type": "work"},
        ]),
        serde_json::json!([
            {"value": "+1 555 0000", "type": "pager", "primary": true},
            {"value": "+1 425 555 0100", "type": "work"},
        ]),
    );
    assert!(
        fields(&extra_items).is_empty(),
        "{:?}",
        fields(&extra_items)
    );
    // Only a home email and a mobile: no work email or phone to compare with.
    let private_only = target(
        serde_json::json!([{"value": "ann@home.example", "type": "home", "primary": true}]),
        serde_json::json!([{"value": "+1 555 0111", "type": "mobile"}]),
    );
    assert!(!private_only.held.holds(crate::scim::Slot::WorkEmail, true));
    assert_eq!(
        fields(&private_only),
        [
            "emails: None -> Some(\"ann@contoso.example\")",
            "phoneNumbers: None -> Some(\"+1 425 555 0100\")",
        ]
    );
    // An untyped email is taken for the work one, as applications that keep no types hold it.
    let untyped = target(
        serde_json::json!([{"value": "ann@contoso.example"}]),
        serde_json::json!([{"value": "+1 425 555 0100"}]),
    );
    assert!(fields(&untyped).is_empty(), "{:?}", fields(&untyped));
}
