//! Multi-valued attributes through the binary: linking and updating a user write its work email
//! and work phone and leave the items adsync does not manage (a private email, a mobile number,
//! a home address) as the application holds them, whether the application takes filtered PATCH
//! paths or refuses them (then the lists are merged with what it holds).

use super::*;

/// The demo application's Sara Umar, linked by email on the first sync.
const SARA: &str = "hd-u-0001";
const SARA_UPN: &str = "sara.umar@tailspintoys.com";

/// Her items nobody mapped: a private email, a mobile number and a home address.
fn private_items() -> (Value, Value, Value) {
    (
        json!({"value": "sara@home.example", "type": "home"}),
        json!({"value": "+47 400 00 111", "type": "mobile"}),
        json!({"type": "home", "locality": "Bergen"}),
    )
}

/// The world with Sara's private items added in the application (`no_patch_filters`: an
/// application that refuses filtered PATCH paths).
fn world(no_patch_filters: bool) -> World {
    World::with_app("", |seed| {
        let (home, mobile, address) = private_items();
        let sara = seed["users"]
            .as_array_mut()
            .unwrap()
            .iter_mut()
            .find(|u| u["id"] == SARA)
            .unwrap();
        sara["emails"].as_array_mut().unwrap().push(home);
        sara["phoneNumbers"].as_array_mut().unwrap().push(mobile);
        sara["addresses"] = json!([address]);
        if no_patch_filters {
            seed["noPatchFilters"] = json!(true);
        }
    })
}

fn typed<'a>(user: &'a Value, list: &str, kind: &str) -> Vec<&'a Value> {
    user[list]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|i| i["type"] == kind)
        .collect()
}

/// The user without the lists adsync writes item by item and without `meta`: what must not
/// change when only those items do.
fn rest(user: &Value) -> Value {
    let mut rest = user.clone();
    for key in ["emails", "phoneNumbers", "meta"] {
        rest.as_object_mut().unwrap().remove(key);
    }
    rest
}

/// Sara's Entra object id.
fn sara_id(w: &World) -> String {
    w.tenant["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["userPrincipalName"] == SARA_UPN)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Link then update Sara (work email and work phone changed in Entra ID), checking after each
/// that her private items are still there and the work ones are Entra's; the next plan is
/// empty (R12).
fn link_then_update_keeps_the_private_items(w: &World) {
    let entra_id = sara_id(w);
    let (home, mobile, address) = private_items();

    let (code, plan) = w.plan_json();
    assert_eq!(code, 0, "{plan:#}");
    let link = action(&plan, &entra_id);
    assert_eq!(link["kind"], "link", "{link:#}");
    assert!(
        link["changes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["field"] == "phoneNumbers" && c["to"] == "+1 425 555 2197"),
        "the work phone differs: {link:#}"
    );
    let run = w.run(&["sync"]);
    assert_eq!(run.code, 0, "{}", run.all());
    let linked = w.scim.user(SARA).unwrap();
    assert_eq!(linked["externalId"], entra_id.as_str());
    assert_eq!(typed(&linked, "emails", "home"), vec![&home], "{linked:#}");
    assert_eq!(
        typed(&linked, "phoneNumbers", "mobile"),
        vec![&mobile],
        "{linked:#}"
    );
    assert_eq!(linked["addresses"], json!([address]), "{linked:#}");
    let work_phone = typed(&linked, "phoneNumbers", "work");
    assert_eq!(work_phone.len(), 1, "{linked:#}");
    assert_eq!(work_phone[0]["value"], "+1 425 555 2197");

    // Entra changes her work email and phone.
    w.entra.update_user(
        &entra_id,
        json!({"mail": "s.umar@tailspintoys.com", "businessPhones": ["+1 425 555 3000"]}),
    );
    let (code, plan) = w.plan_json();
    assert_eq!(code, 0, "{plan:#}");
    let update = action(&plan, &entra_id);
    assert_eq!(update["kind"], "update", "{update:#}");
    let mut fields: Vec<&str> = update["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["field"].as_str().unwrap())
        .collect();
    fields.sort_unstable();
    assert_eq!(fields, ["emails", "phoneNumbers"], "{update:#}");
    let run = w.run(&["sync"]);
    assert_eq!(run.code, 0, "{}", run.all());
    let updated = w.scim.user(SARA).unwrap();
    let work_email = typed(&updated, "emails", "work");
    assert_eq!(work_email.len(), 1, "{updated:#}");
    assert_eq!(work_email[0]["value"], "s.umar@tailspintoys.com");
    assert_eq!(work_email[0]["primary"], true);
    assert_eq!(
        typed(&updated, "emails", "home"),
        vec![&home],
        "{updated:#}"
    );
    assert_eq!(updated["emails"].as_array().unwrap().len(), 2);
    assert_eq!(
        typed(&updated, "phoneNumbers", "mobile"),
        vec![&mobile],
        "{updated:#}"
    );
    let work_phone = typed(&updated, "phoneNumbers", "work");
    assert_eq!(work_phone.len(), 1, "{updated:#}");
    assert_eq!(work_phone[0]["value"], "+1 425 555 3000");
    assert_eq!(updated["phoneNumbers"].as_array().unwrap().len(), 2);
    assert_eq!(rest(&updated), rest(&linked), "nothing else changed");

    let (code, again) = w.plan_json();
    assert_eq!(code, 0, "{again:#}");
    assert!(
        again["actions"].as_array().unwrap().is_empty(),
        "the next plan is empty: {again:#}"
    );
}

/// The failure of issue 17: a link and an update replaced Sara's whole `emails` and
/// `phoneNumbers`, deleting her private address and mobile. Now each work item is written
/// through a filtered path.
#[test]
fn link_and_update_keep_the_items_adsync_does_not_manage() {
    let w = world(false);
    link_then_update_keeps_the_private_items(&w);
}

/// An application that refuses filtered PATCH paths (400 invalidPath) gets whole lists, merged
/// with what it holds: the private items survive there too.
#[test]
fn an_application_refusing_filtered_paths_gets_merged_lists() {
    let w = world(true);
    link_then_update_keeps_the_private_items(&w);
    let log = w.scim.log();
    assert!(
        log.count("GET", &format!("/Users/{SARA}")) >= 2,
        "each update read the lists it merged into"
    );
}

/// The demo's mobile mapping (`phoneNumbers[type eq "mobile"].value` from `mobilePhone`): a link
/// replaces only the mobile item, and Entra emptying the mobile removes only that item; the fax
/// number and private email nobody mapped stay, and the next plan is empty.
#[test]
fn a_mapped_mobile_is_replaced_and_removed_alone() {
    let mapping = "[[mappings]]\ntarget = \"phoneNumbers[type eq \\\"mobile\\\"].value\"\n\
                   source = \"mobilePhone\"\n";
    let fax = json!({"value": "+47 22 00 00 00", "type": "fax"});
    let w = World::with_app(mapping, |seed| {
        let (home, mobile, _) = private_items();
        let sara = seed["users"]
            .as_array_mut()
            .unwrap()
            .iter_mut()
            .find(|u| u["id"] == SARA)
            .unwrap();
        sara["emails"].as_array_mut().unwrap().push(home);
        let phones = sara["phoneNumbers"].as_array_mut().unwrap();
        phones.push(mobile);
        phones.push(fax.clone());
    });
    let entra_id = sara_id(&w);
    let (home, _, _) = private_items();
    let phone = |user: &Value, kind: &str| -> Vec<String> {
        typed(user, "phoneNumbers", kind)
            .iter()
            .map(|p| p["value"].as_str().unwrap().to_owned())
            .collect()
    };

    let run = w.run(&["sync"]);
    assert_eq!(run.code, 0, "{}", run.all());
    let linked = w.scim.user(SARA).unwrap();
    assert_eq!(phone(&linked, "mobile"), ["+1 206 555 2387"], "{linked:#}");
    assert_eq!(phone(&linked, "work"), ["+1 425 555 2197"], "{linked:#}");
    assert_eq!(typed(&linked, "phoneNumbers", "fax"), vec![&fax]);
    assert_eq!(typed(&linked, "emails", "home"), vec![&home]);

    w.entra.update_user(&entra_id, json!({"mobilePhone": null}));
    let run = w.run(&["sync"]);
    assert_eq!(run.code, 0, "{}", run.all());
    let updated = w.scim.user(SARA).unwrap();
    assert!(phone(&updated, "mobile").is_empty(), "{updated:#}");
    assert_eq!(phone(&updated, "work"), ["+1 425 555 2197"], "{updated:#}");
    assert_eq!(typed(&updated, "phoneNumbers", "fax"), vec![&fax]);
    assert_eq!(typed(&updated, "emails", "home"), vec![&home]);
    assert_eq!(rest(&updated), rest(&linked), "nothing else changed");

    let (code, again) = w.plan_json();
    assert_eq!(code, 0, "{again:#}");
    assert!(
        again["actions"].as_array().unwrap().is_empty(),
        "the next plan is empty: {again:#}"
    );
}
