//! `[[mappings]]` (SPEC §3.1): the entries as written, and the catalogue of what they may name —
//! the target paths adsync can write and the Graph user properties it can read — with the checks
//! the config parser reports by key and line.

use serde::{Deserialize, Serialize};

/// The enterprise User extension URN (RFC 7643 §4.3).
pub const ENTERPRISE_URN: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const CORE_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

/// One `[[mappings]]` entry: where one target attribute's value comes from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    /// The target path as written (see [`canonical_target`]).
    pub target: String,
    /// A Graph user property (see [`check_source`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// A constant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Text with `{property}` placeholders.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    /// Drops the default mapping for this attribute.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub omit: bool,
    /// Written when the source or template comes out empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transform: Option<Transform>,
    #[serde(default, skip_serializing_if = "When::is_always")]
    pub when: When,
}

/// `transform`: applied to the value from the source or template (and to the default).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Transform {
    Lower,
    Upper,
    Trim,
    /// The text before the first `@`.
    LocalPart,
}

impl Transform {
    /// The spellings the config accepts.
    pub const NAMES: &'static [&'static str] = &["lower", "upper", "trim", "local-part"];

    /// Applies the transform.
    pub fn apply(self, text: &str) -> String {
        match self {
            Transform::Lower => text.to_lowercase(),
            Transform::Upper => text.to_uppercase(),
            Transform::Trim => text.trim().to_owned(),
            Transform::LocalPart => text.split('@').next().unwrap_or(text).to_owned(),
        }
    }
}

/// `when`: whether a value is kept up to date or only written on create.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum When {
    #[default]
    Always,
    Create,
}

impl When {
    /// The spellings the config accepts.
    pub const NAMES: &'static [&'static str] = &["always", "create"];

    fn is_always(&self) -> bool {
        *self == When::Always
    }
}

/// Target attributes of the core schema that take a plain value.
const CORE_SIMPLE: &[&str] = &[
    "userName",
    "displayName",
    "nickName",
    "title",
    "userType",
    "preferredLanguage",
    "locale",
    "timezone",
    "name.givenName",
    "name.familyName",
    "name.middleName",
    "name.formatted",
];

/// Typed multi-valued paths, as written in full, with the key adsync files them under (the work
/// email and work phone keep the short names the default mapping always used).
const MULTI: &[(&str, &str)] = &[
    (r#"emails[type eq "work"].value"#, "emails"),
    ("emails", "emails"),
    (
        r#"emails[type eq "home"].value"#,
        r#"emails[type eq "home"].value"#,
    ),
    (r#"phoneNumbers[type eq "work"].value"#, "phoneNumbers"),
    ("phoneNumbers", "phoneNumbers"),
    (
        r#"phoneNumbers[type eq "mobile"].value"#,
        r#"phoneNumbers[type eq "mobile"].value"#,
    ),
    (
        r#"phoneNumbers[type eq "fax"].value"#,
        r#"phoneNumbers[type eq "fax"].value"#,
    ),
];

/// The work address's sub-attributes.
pub const ADDRESS_PARTS: &[&str] = &[
    "streetAddress",
    "locality",
    "region",
    "postalCode",
    "country",
];

/// The enterprise extension's attributes adsync writes.
pub const ENTERPRISE_ATTRS: &[&str] = &[
    "employeeNumber",
    "costCenter",
    "organization",
    "division",
    "department",
    "manager",
];

/// The target paths that are default-mapped (SPEC §2), by their keys.
pub const DEFAULT_TARGETS: &[&str] = &[
    "userName",
    "name.givenName",
    "name.familyName",
    "displayName",
    "emails",
    "phoneNumbers",
    "title",
    "department",
    "employeeNumber",
];

/// The key a target path is filed under: the short name for the default attributes and the
/// enterprise ones, the full filtered path for the other typed values, `URN:attribute` for another
/// schema extension. The error says what is allowed.
pub fn canonical_target(path: &str) -> Result<String, String> {
    let path = path.trim();
    if path.eq_ignore_ascii_case("externalId") {
        return Err(
            "externalId cannot be mapped: it is always the Entra object id (the anchor adsync \
             finds the user by); remove this mapping"
                .into(),
        );
    }
    if path.eq_ignore_ascii_case("active") {
        return Err(
            "active cannot be mapped: it is always the sync rules' verdict (true while the user \
             is in scope); remove this mapping"
                .into(),
        );
    }
    if path.eq_ignore_ascii_case("roles") {
        return Err(
            "roles are not mapped attribute by attribute; give each pair its roles with \
             `roles = [...]` under [[pairs]]"
                .into(),
        );
    }
    if let Some(simple) = CORE_SIMPLE.iter().find(|p| p.eq_ignore_ascii_case(path)) {
        return Ok((*simple).to_owned());
    }
    if let Some((_, key)) = MULTI.iter().find(|(p, _)| p.eq_ignore_ascii_case(path)) {
        return Ok((*key).to_owned());
    }
    let address_prefix = r#"addresses[type eq "work"]."#;
    if path.len() > address_prefix.len()
        && path[..address_prefix.len()].eq_ignore_ascii_case(address_prefix)
        && let Some(part) = ADDRESS_PARTS
            .iter()
            .find(|p| p.eq_ignore_ascii_case(&path[address_prefix.len()..]))
    {
        return Ok(format!("{address_prefix}{part}"));
    }
    if let Some(attr) = ENTERPRISE_ATTRS
        .iter()
        .find(|a| a.eq_ignore_ascii_case(path))
    {
        return Ok((*attr).to_owned());
    }
    if path.len() > 4 && path[..4].eq_ignore_ascii_case("urn:") {
        let Some((urn, attr)) = path.rsplit_once(':') else {
            unreachable!("starts with urn:")
        };
        if urn.eq_ignore_ascii_case(ENTERPRISE_URN) {
            return ENTERPRISE_ATTRS
                .iter()
                .find(|a| a.eq_ignore_ascii_case(attr))
                .map(|a| (*a).to_owned())
                .ok_or_else(|| {
                    format!(
                        "the enterprise extension has no attribute `{attr}` that adsync writes; \
                         use one of {}",
                        ENTERPRISE_ATTRS.join(", ")
                    )
                });
        }
        if urn.eq_ignore_ascii_case(CORE_URN) {
            return canonical_target(attr);
        }
        let valid_attr = !attr.is_empty()
            && attr
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.');
        if urn.matches(':').count() >= 2 && valid_attr {
            return Ok(format!("{urn}:{attr}"));
        }
        return Err(format!(
            "`{path}` is not a schema extension attribute; write it in full as \
             urn:…:User:attribute (the extension's schema URN, a colon, the attribute name)"
        ));
    }
    Err(format!(
        "`{path}` is not a target path adsync can write; use one of {}, {}, \
         addresses[type eq \"work\"].{{{}}}, the enterprise extension's {} (short or in full), \
         or another schema extension's attribute in full (urn:…:User:attribute)",
        CORE_SIMPLE.join(", "),
        MULTI
            .iter()
            .map(|(p, _)| *p)
            .filter(|p| p.contains('['))
            .collect::<Vec<_>>()
            .join(", "),
        ADDRESS_PARTS.join("|"),
        ENTERPRISE_ATTRS.join(", ")
    ))
}

/// Every target path as SPEC §3.1 lists it (typed values in full, the enterprise attributes by
/// their short names), for a picker; another schema extension's attributes are written in full.
pub fn known_targets() -> Vec<String> {
    let mut out: Vec<String> = CORE_SIMPLE.iter().map(|p| (*p).to_owned()).collect();
    out.extend(
        MULTI
            .iter()
            .map(|(p, _)| *p)
            .filter(|p| p.contains('['))
            .map(str::to_owned),
    );
    out.extend(
        ADDRESS_PARTS
            .iter()
            .map(|part| format!(r#"addresses[type eq "work"].{part}"#)),
    );
    out.extend(ENTERPRISE_ATTRS.iter().map(|a| (*a).to_owned()));
    out
}

/// Graph user properties a mapping may read, besides the numbered and directory extensions.
pub const SOURCES: &[&str] = &[
    "id",
    "userPrincipalName",
    "mail",
    "mailNickname",
    "givenName",
    "surname",
    "displayName",
    "jobTitle",
    "department",
    "officeLocation",
    "companyName",
    "employeeId",
    "employeeType",
    "employeeOrgData.costCenter",
    "employeeOrgData.division",
    "mobilePhone",
    "businessPhones",
    "faxNumber",
    "streetAddress",
    "city",
    "state",
    "postalCode",
    "country",
    "usageLocation",
    "preferredLanguage",
    "userType",
    "onPremisesSamAccountName",
    "manager",
];

const ON_PREM_PREFIX: &str = "onPremisesExtensionAttributes.extensionAttribute";

/// Is `name` a Graph user property a mapping may read? The error lists what is.
pub fn check_source(name: &str) -> Result<(), String> {
    if SOURCES.contains(&name) {
        return Ok(());
    }
    if let Some(n) = name.strip_prefix(ON_PREM_PREFIX)
        && n.parse::<u8>().is_ok_and(|n| (1..=15).contains(&n))
        && !n.starts_with('0')
    {
        return Ok(());
    }
    if let Some(rest) = name.strip_prefix("extension_")
        && let Some((app, prop)) = rest.split_once('_')
        && app.len() == 32
        && app.bytes().all(|b| b.is_ascii_hexdigit())
        && !prop.is_empty()
        && prop.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        return Ok(());
    }
    let hint = SOURCES
        .iter()
        .find(|s| s.eq_ignore_ascii_case(name))
        .map(|s| format!(" (did you mean `{s}`? names are case-sensitive)"))
        .unwrap_or_default();
    Err(format!(
        "`{name}` is not a Graph user property adsync can read{hint}; use one of {}, \
         {ON_PREM_PREFIX}1 … 15, or a directory extension extension_{{appIdWithoutDashes}}_{{name}}",
        SOURCES.join(", ")
    ))
}

/// The `{property}` placeholders of a template, in order; an error for an unclosed brace or an
/// unknown property.
pub fn template_sources(template: &str) -> Result<Vec<&str>, String> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            return Err(format!(
                "the `{{` at `{}` is never closed; write placeholders as {{property}}",
                &rest[open..]
            ));
        };
        let name = &after[..close];
        check_source(name).map_err(|why| format!("the placeholder {{{name}}}: {why}"))?;
        out.push(name);
        rest = &after[close + 1..];
    }
    if rest.contains('}') {
        return Err("a `}` without its `{`; write placeholders as {property}".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_paths_and_aliases_canonicalize() {
        let ok = |p: &str| canonical_target(p).unwrap();
        assert_eq!(ok(r#"emails[type eq "work"].value"#), "emails");
        assert_eq!(ok("emails"), "emails");
        assert_eq!(ok(r#"phoneNumbers[type eq "work"].value"#), "phoneNumbers");
        assert_eq!(
            ok(r#"phoneNumbers[type eq "mobile"].value"#),
            r#"phoneNumbers[type eq "mobile"].value"#
        );
        assert_eq!(ok(&format!("{ENTERPRISE_URN}:costCenter")), "costCenter");
        assert_eq!(ok("costCenter"), "costCenter");
        assert_eq!(
            ok(r#"addresses[type eq "work"].postalCode"#),
            r#"addresses[type eq "work"].postalCode"#
        );
        assert_eq!(
            ok("urn:example:params:scim:schemas:extension:acme:2.0:User:badge"),
            "urn:example:params:scim:schemas:extension:acme:2.0:User:badge"
        );
        assert_eq!(ok(&format!("{CORE_URN}:nickName")), "nickName");
        for bad in [
            "externalId",
            "active",
            "roles",
            "phone",
            "emails.value",
            "urn:x",
        ] {
            assert!(canonical_target(bad).is_err(), "{bad}");
        }
        assert!(
            canonical_target("externalId")
                .unwrap_err()
                .contains("Entra object id")
        );
    }

    #[test]
    fn sources_and_templates() {
        for good in [
            "mobilePhone",
            "employeeOrgData.costCenter",
            "onPremisesExtensionAttributes.extensionAttribute15",
            "extension_0123456789abcdef0123456789abcdef_badge",
            "manager",
        ] {
            assert!(check_source(good).is_ok(), "{good}");
        }
        for bad in [
            "mobilephone",
            "onPremisesExtensionAttributes.extensionAttribute16",
            "onPremisesExtensionAttributes.extensionAttribute01",
            "extension_123_badge",
            "password",
        ] {
            assert!(check_source(bad).is_err(), "{bad}");
        }
        assert!(
            check_source("mobilephone")
                .unwrap_err()
                .contains("did you mean `mobilePhone`")
        );
        assert_eq!(
            template_sources("{givenName}.{surname}@x.example").unwrap(),
            vec!["givenName", "surname"]
        );
        assert!(
            template_sources("{givenName}.{nope}")
                .unwrap_err()
                .contains("{nope}")
        );
        assert!(template_sources("{givenName").is_err());
        assert!(template_sources("a}b").is_err());
    }

    #[test]
    fn transforms() {
        assert_eq!(Transform::LocalPart.apply("Ann@x.example"), "Ann");
        assert_eq!(Transform::Lower.apply("AnN"), "ann");
        assert_eq!(Transform::Upper.apply("ann"), "ANN");
        assert_eq!(Transform::Trim.apply(" a "), "a");
    }
}
