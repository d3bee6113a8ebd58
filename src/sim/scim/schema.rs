//! What the simulated application says about itself: the User, Group and enterprise-extension
//! schemas of RFC 7643 §4 and §8.7.1 (built from a compact table), the resource types and the
//! service provider configuration. The table also gives each attribute's canonical spelling, so
//! attributes written in any case are stored under one name.

use serde_json::{Value, json};

pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const ENTERPRISE_SCHEMA: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub const LIST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// Is `text` the URN of a schema extension this application knows (ignoring case)?
pub fn is_extension_urn(text: &str) -> bool {
    text.eq_ignore_ascii_case(ENTERPRISE_SCHEMA)
}

/// One row of the attribute table: name, type, flags, sub-attributes.
struct Attr {
    name: &'static str,
    kind: &'static str,
    multi: bool,
    required: bool,
    mutability: &'static str,
    returned: &'static str,
    uniqueness: &'static str,
    case_exact: bool,
    canonical: &'static [&'static str],
    refs: &'static [&'static str],
    subs: Vec<Attr>,
}

fn a(name: &'static str, kind: &'static str) -> Attr {
    Attr {
        name,
        kind,
        multi: false,
        required: false,
        mutability: "readWrite",
        returned: "default",
        uniqueness: "none",
        case_exact: false,
        canonical: &[],
        refs: &[],
        subs: Vec::new(),
    }
}

impl Attr {
    fn multi(mut self) -> Self {
        self.multi = true;
        self
    }
    fn required(mut self) -> Self {
        self.required = true;
        self
    }
    fn exact(mut self) -> Self {
        self.case_exact = true;
        self
    }
    fn mutability(mut self, m: &'static str) -> Self {
        self.mutability = m;
        self
    }
    fn returned(mut self, r: &'static str) -> Self {
        self.returned = r;
        self
    }
    fn unique(mut self) -> Self {
        self.uniqueness = "server";
        self
    }
    fn canonical(mut self, values: &'static [&'static str]) -> Self {
        self.canonical = values;
        self
    }
    fn refs(mut self, refs: &'static [&'static str]) -> Self {
        self.refs = refs;
        self
    }
    fn subs(mut self, subs: Vec<Attr>) -> Self {
        self.subs = subs;
        self
    }

    fn to_json(&self) -> Value {
        let mut v = json!({
            "name": self.name,
            "type": self.kind,
            "multiValued": self.multi,
            "description": self.name,
            "required": self.required,
            "caseExact": self.case_exact,
            "mutability": self.mutability,
            "returned": self.returned,
            "uniqueness": self.uniqueness,
        });
        if !self.canonical.is_empty() {
            v["canonicalValues"] = json!(self.canonical);
        }
        if !self.refs.is_empty() {
            v["referenceTypes"] = json!(self.refs);
        }
        if !self.subs.is_empty() {
            v["subAttributes"] = Value::Array(self.subs.iter().map(Attr::to_json).collect());
        }
        v
    }
}

/// `value`, `display`, `type`, `primary`: the usual sub-attributes of a multi-valued attribute.
fn multi_valued(
    name: &'static str,
    types: &'static [&'static str],
    value_kind: &'static str,
) -> Attr {
    let mut value = a("value", value_kind);
    if value_kind != "string" {
        value = value.exact();
    }
    if value_kind == "reference" {
        value = value.refs(&["external"]);
    }
    a(name, "complex").multi().subs(vec![
        value,
        a("display", "string"),
        a("type", "string").canonical(types),
        a("primary", "boolean"),
    ])
}

fn user_attrs() -> Vec<Attr> {
    vec![
        a("userName", "string").required().unique(),
        a("name", "complex").subs(vec![
            a("formatted", "string"),
            a("familyName", "string"),
            a("givenName", "string"),
            a("middleName", "string"),
            a("honorificPrefix", "string"),
            a("honorificSuffix", "string"),
        ]),
        a("displayName", "string"),
        a("nickName", "string"),
        a("profileUrl", "reference").exact().refs(&["external"]),
        a("title", "string"),
        a("userType", "string"),
        a("preferredLanguage", "string"),
        a("locale", "string"),
        a("timezone", "string"),
        a("active", "boolean"),
        a("password", "string")
            .exact()
            .mutability("writeOnly")
            .returned("never"),
        multi_valued("emails", &["work", "home", "other"], "string"),
        multi_valued(
            "phoneNumbers",
            &["work", "home", "mobile", "fax", "pager", "other"],
            "string",
        ),
        multi_valued(
            "ims",
            &["aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"],
            "string",
        ),
        multi_valued("photos", &["photo", "thumbnail"], "reference"),
        a("addresses", "complex").multi().subs(vec![
            a("formatted", "string"),
            a("streetAddress", "string"),
            a("locality", "string"),
            a("region", "string"),
            a("postalCode", "string"),
            a("country", "string"),
            a("type", "string").canonical(&["work", "home", "other"]),
            a("primary", "boolean"),
        ]),
        a("groups", "complex")
            .multi()
            .mutability("readOnly")
            .subs(vec![
                a("value", "string").exact().mutability("readOnly"),
                a("$ref", "reference")
                    .exact()
                    .mutability("readOnly")
                    .refs(&["Group"]),
                a("display", "string").mutability("readOnly"),
                a("type", "string")
                    .mutability("readOnly")
                    .canonical(&["direct", "indirect"]),
            ]),
        multi_valued("entitlements", &[], "string"),
        multi_valued("roles", &[], "string"),
        multi_valued("x509Certificates", &[], "binary"),
    ]
}

fn group_attrs() -> Vec<Attr> {
    vec![
        a("displayName", "string").required(),
        a("members", "complex").multi().subs(vec![
            a("value", "string").exact().mutability("immutable"),
            a("$ref", "reference")
                .exact()
                .mutability("immutable")
                .refs(&["User", "Group"]),
            a("type", "string")
                .mutability("immutable")
                .canonical(&["User", "Group"]),
            a("display", "string"),
        ]),
    ]
}

fn enterprise_attrs() -> Vec<Attr> {
    vec![
        a("employeeNumber", "string"),
        a("costCenter", "string"),
        a("organization", "string"),
        a("division", "string"),
        a("department", "string"),
        a("manager", "complex").subs(vec![
            a("value", "string").exact(),
            a("$ref", "reference").exact().refs(&["User"]),
            a("displayName", "string").mutability("readOnly"),
        ]),
    ]
}

fn attrs_of(schema: &str) -> Vec<Attr> {
    match schema {
        USER_SCHEMA => user_attrs(),
        GROUP_SCHEMA => group_attrs(),
        ENTERPRISE_SCHEMA => enterprise_attrs(),
        _ => Vec::new(),
    }
}

/// The canonical spelling of a top-level attribute of `schema` (or of `sub` within it), if known.
pub fn canonical_name(schema: &str, attr: &str, sub: Option<&str>) -> Option<&'static str> {
    let attrs = attrs_of(schema);
    let found = attrs.iter().find(|a| a.name.eq_ignore_ascii_case(attr))?;
    match sub {
        None => Some(found.name),
        Some(sub) => found
            .subs
            .iter()
            .find(|s| s.name.eq_ignore_ascii_case(sub))
            .map(|s| s.name),
    }
}

/// Is this attribute of `schema` multi-valued?
pub fn is_multi_valued(schema: &str, attr: &str) -> bool {
    attrs_of(schema)
        .iter()
        .any(|a| a.multi && a.name.eq_ignore_ascii_case(attr))
}

/// Is this a complex attribute of `schema`?
pub fn is_complex(schema: &str, attr: &str) -> bool {
    attrs_of(schema)
        .iter()
        .any(|a| a.kind == "complex" && a.name.eq_ignore_ascii_case(attr))
}

/// The Schema resource for `id`, with its `meta.location` under `base`.
pub fn schema_resource(id: &str, base: &str) -> Option<Value> {
    let (name, description) = match id {
        _ if id.eq_ignore_ascii_case(USER_SCHEMA) => ("User", "User Account"),
        _ if id.eq_ignore_ascii_case(GROUP_SCHEMA) => ("Group", "Group"),
        _ if id.eq_ignore_ascii_case(ENTERPRISE_SCHEMA) => ("EnterpriseUser", "Enterprise User"),
        _ => return None,
    };
    let canonical = [USER_SCHEMA, GROUP_SCHEMA, ENTERPRISE_SCHEMA]
        .into_iter()
        .find(|s| s.eq_ignore_ascii_case(id))?;
    Some(json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
        "id": canonical,
        "name": name,
        "description": description,
        "attributes": attrs_of(canonical).iter().map(Attr::to_json).collect::<Vec<_>>(),
        "meta": {"resourceType": "Schema", "location": format!("{base}/Schemas/{canonical}")},
    }))
}

/// Every Schema resource.
pub fn all_schemas(base: &str) -> Vec<Value> {
    [USER_SCHEMA, GROUP_SCHEMA, ENTERPRISE_SCHEMA]
        .into_iter()
        .filter_map(|id| schema_resource(id, base))
        .collect()
}

/// The ResourceType resource named `id` (`User` or `Group`).
pub fn resource_type(id: &str, base: &str) -> Option<Value> {
    if id.eq_ignore_ascii_case("User") {
        Some(json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
            "id": "User",
            "name": "User",
            "description": "User Account",
            "endpoint": "/Users",
            "schema": USER_SCHEMA,
            "schemaExtensions": [{"schema": ENTERPRISE_SCHEMA, "required": false}],
            "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/User")},
        }))
    } else if id.eq_ignore_ascii_case("Group") {
        Some(json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
            "id": "Group",
            "name": "Group",
            "description": "Group",
            "endpoint": "/Groups",
            "schema": GROUP_SCHEMA,
            "schemaExtensions": [],
            "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/Group")},
        }))
    } else {
        None
    }
}

/// The ServiceProviderConfig: PATCH, filters up to `max_results`, ETags; no bulk, sort or
/// password change.
pub fn service_provider_config(base: &str, max_results: usize, basic: bool) -> Value {
    let mut schemes = vec![json!({
        "type": "oauthbearertoken",
        "name": "OAuth Bearer Token",
        "description": "A static bearer token issued by the application",
        "primary": true,
    })];
    if basic {
        schemes.push(json!({
            "type": "httpbasic",
            "name": "HTTP Basic",
            "description": "A service account's user name and password",
        }));
    }
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "documentationUri": "https://example.invalid/helpdesk/scim",
        "patch": {"supported": true},
        "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": true, "maxResults": max_results},
        "changePassword": {"supported": false},
        "sort": {"supported": false},
        "etag": {"supported": true},
        "authenticationSchemes": schemes,
        "meta": {"resourceType": "ServiceProviderConfig", "location": format!("{base}/ServiceProviderConfig")},
    })
}
