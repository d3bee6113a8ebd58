//! The wizard on a lost store (R13): with no links in the state store and an application whose
//! accounts already carry the paired members' Entra ids, the preview shows why it cannot plan a
//! first sync and what to run instead, and the first sync Finish runs refuses the same way,
//! writing nothing.

use super::*;
use crate::sync::ActionKind;
use crate::wizard::step::Step;
use crate::wizard::steps::finish::{FirstSync, first_sync};

const LOST: &str = "has no links, but the application already holds 5 users whose externalId is \
                    the Entra object id of a member of the paired groups";

#[test]
fn the_preview_and_the_first_sync_on_a_lost_store_say_so_and_write_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let rt = runtime();
    let mut h = harness(demo_at(tmp.path(), &rt, Step::Preview));
    settle(&mut h);
    let plan = h.state().preview.plan.done().cloned().expect("a plan");
    let creates: Vec<String> = plan
        .actions
        .iter()
        .filter(|a| a.kind == ActionKind::Create)
        .take(5)
        .map(|a| a.entra_id.clone())
        .collect();
    assert_eq!(creates.len(), 5);
    // Accounts another tool (or a store now lost) provisioned for five of them.
    {
        let demo = h.state().demo.as_ref().unwrap();
        for (i, entra_id) in creates.iter().enumerate() {
            demo.scim
                .add_user(serde_json::json!({
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                    "userName": format!("provisioned.{i}"),
                    "externalId": entra_id,
                    "active": true,
                }))
                .unwrap();
        }
        demo.scim.log().clear();
    }
    click(&mut h, "Refresh");
    settle(&mut h);
    let failure = h
        .state()
        .preview
        .plan
        .failure()
        .expect("the preview refuses to plan")
        .to_owned();
    assert!(
        failure.contains(LOST) && failure.contains("`adsync sync --rebuild-state` to adopt them"),
        "{failure}"
    );
    h.get_by_label_contains(LOST);

    // What Finish runs on the saved config refuses the same way.
    let demo = h.state().demo.as_ref().unwrap();
    let settings = config::Settings::from_file(&demo.config);
    let outcome = rt.block_on(first_sync(settings, Default::default(), Default::default()));
    match outcome {
        FirstSync::Failed(message) => assert!(message.contains(LOST), "{message}"),
        other => panic!("the first sync ran on a lost store: {other:?}"),
    }
    let log = demo.scim.log();
    assert_eq!(
        log.count("POST", "/Users") + log.count("PATCH", "") + log.count("PUT", ""),
        0,
        "nothing written"
    );
}
