//! Property tests that feed arbitrary answers to every parser of what a SCIM application or
//! Graph sends (the Graph error parser's is beside it, in `entra::tests::hostile`): JSON of any shape (with the keys the parsers look for, so they get past the
//! first check) and arbitrary bytes. Each parser must return a value or an error, never panic.
//! Run longer with `PROPTEST_CASES=20000 cargo nextest run -E 'test(/http::fuzz/)'`.

use proptest::prelude::*;
use serde_json::{Map, Value};

use crate::entra::{EntraGroup, EntraUser};
use crate::scim::{ScimGroup, ScimUser, ServerCapabilities};

/// Keys the SCIM and Graph parsers read, and a few others.
const KEYS: &[&str] = &[
    "id",
    "userName",
    "externalId",
    "name",
    "givenName",
    "familyName",
    "displayName",
    "emails",
    "value",
    "type",
    "primary",
    "active",
    "phoneNumbers",
    "title",
    "members",
    "groups",
    "roles",
    "meta",
    "version",
    "schemas",
    "Resources",
    "totalResults",
    "itemsPerPage",
    "patch",
    "bulk",
    "filter",
    "maxResults",
    "maxOperations",
    "supported",
    "authenticationSchemes",
    "error",
    "code",
    "message",
    "innerError",
    "request-id",
    "@odata.type",
    "@odata.count",
    "@odata.nextLink",
    "userPrincipalName",
    "mail",
    "accountEnabled",
    "userType",
    "manager",
    "members@delta",
    "@removed",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
    "department",
    "employeeNumber",
    "x",
];

/// Any JSON value, its object keys mostly from [`KEYS`].
pub(crate) fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::String),
        Just(Value::String("true".into())),
        Just(Value::String("12".into())),
    ];
    leaf.prop_recursive(4, 48, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(KEYS), inner), 0..8).prop_map(|pairs| {
                Value::Object(
                    pairs
                        .into_iter()
                        .map(|(k, v)| (k.to_owned(), v))
                        .collect::<Map<_, _>>(),
                )
            }),
        ]
    })
}

proptest! {
    #[test]
    fn scim_parsers_never_panic(value in json_value()) {
        let _ = ScimUser::from_json(&value);
        let _ = ScimGroup::from_json(&value);
        let capabilities = ServerCapabilities::from_json(&value);
        let _ = capabilities.summary();
        if let Ok(user) = ScimUser::from_json(&value) {
            let _ = user.primary_email();
        }
    }

    #[test]
    fn graph_parsers_never_panic(value in json_value(), bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = serde_json::from_value::<EntraUser>(value.clone());
        let _ = serde_json::from_value::<EntraGroup>(value.clone());
        // The error body parser is private to the Graph client: its property is there.
        let _ = serde_json::from_slice::<Value>(&bytes);
    }
}
