//! Validation of config text: walks the spanned TOML tree once, checking every key against the v1
//! schema (unknown keys, types, required keys, value rules, cross-key rules) and collecting every
//! problem with its key and line, so that `adsync config validate` can list them all at once.
//! Only a text with no problem becomes a [`ConfigFile`].

use std::collections::HashMap;
use std::fmt;
use std::ops::Range;

use toml::de::{DeTable, DeValue};

use super::file::*;
use super::mappings::{Transform, When, canonical_target, check_source, template_sources};
use crate::secret::SecretRef;

/// One thing wrong with a config file: which key, on which line, and what to do about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigProblem {
    /// The key's dotted path, e.g. `entra.client_id` or `pairs[2].order`.
    pub key: String,
    /// 1-based line number.
    pub line: usize,
    /// What is wrong and what is expected. Never contains a secret field's value.
    pub message: String,
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}: {}", self.line, self.key, self.message)
    }
}

/// Validates `text` as a v1 config file. Returns every problem found, in file order.
pub fn parse_str(text: &str) -> Result<ConfigFile, Vec<ConfigProblem>> {
    let mut walker = Walker {
        text,
        problems: Vec::new(),
    };
    let (root, syntax_errors) = DeTable::parse_recoverable(text);
    if !syntax_errors.is_empty() {
        let problems = syntax_errors
            .into_iter()
            .map(|e| ConfigProblem {
                key: "(syntax)".into(),
                line: walker.line(e.span().unwrap_or(0..0)),
                message: format!(
                    "this is not valid TOML: {}. Check quotes, brackets and `key = value` form",
                    e.message().trim_end_matches('.')
                ),
            })
            .collect();
        return Err(problems);
    }
    walker.root(root.get_ref(), root.span());
    if !walker.problems.is_empty() {
        walker.problems.sort_by_key(|p| p.line);
        return Err(walker.problems);
    }
    toml::from_str(text).map_err(|e| {
        // The walker accepts exactly what serde accepts; reaching this is a bug, but still say where.
        vec![ConfigProblem {
            key: "(file)".into(),
            line: walker.line(e.span().unwrap_or(0..0)),
            message: e.message().to_owned(),
        }]
    })
}

/// The problems the config loader reports for these `[[mappings]]` entries (keys
/// `mappings[N].…`, lines counted in a file holding only the entries): the setup wizard's
/// Attributes panel shows them beside its rows, so the screen and `config validate` agree.
pub fn mapping_problems(mappings: &[super::Mapping]) -> Vec<ConfigProblem> {
    #[derive(serde::Serialize)]
    struct Only<'a> {
        mappings: &'a [super::Mapping],
    }
    if mappings.is_empty() {
        return Vec::new();
    }
    let text = toml::to_string(&Only { mappings }).expect("mappings always serialize");
    let mut walker = Walker {
        text: &text,
        problems: Vec::new(),
    };
    let (root, _) = DeTable::parse_recoverable(&text);
    walker.mappings(root.get_ref());
    walker.problems.sort_by_key(|p| p.line);
    walker.problems
}

/// What a key's value must be.
#[derive(Clone, Copy)]
enum Kind {
    /// Any string, checked by the function.
    Str(fn(&str) -> Result<(), String>),
    /// One of a fixed set of spellings.
    Choice(&'static [&'static str]),
    Bool,
    /// An integer within the range (inclusive).
    Int(i64, i64),
    /// A secret field: a `keyring:`, `env:` or `file:` reference.
    Secret,
    /// An array of non-empty strings (a pair's `roles`).
    StrList,
}

type Spec = &'static [(&'static str, Kind)];

const ENTRA: Spec = &[
    ("cloud", Kind::Choice(Cloud::NAMES)),
    ("tenant", Kind::Str(check_tenant)),
    ("client_id", Kind::Str(check_guid)),
    ("client_secret", Kind::Secret),
    ("certificate", Kind::Str(check_nonempty)),
    ("authority_url", Kind::Str(check_url)),
    ("graph_url", Kind::Str(check_url)),
];
const TARGET: Spec = &[
    ("url", Kind::Str(check_url)),
    ("auth", Kind::Choice(TargetAuthKind::NAMES)),
    ("token", Kind::Secret),
    ("username", Kind::Str(check_nonempty)),
    ("password", Kind::Secret),
    ("admin_email", Kind::Str(check_email)),
    ("ca_file", Kind::Str(check_nonempty)),
    ("max_concurrency", Kind::Int(1, 256)),
];
const PAIR: Spec = &[
    ("entra_group_id", Kind::Str(check_group_id)),
    ("entra_group_name", Kind::Str(any)),
    ("target_group_id", Kind::Str(check_nonempty)),
    ("target_group_name", Kind::Str(any)),
    ("order", Kind::Int(0, u32::MAX as i64)),
    ("nested", Kind::Bool),
    ("roles", Kind::StrList),
];
const MAPPING: Spec = &[
    ("target", Kind::Str(check_target)),
    ("source", Kind::Str(check_source)),
    ("value", Kind::Str(any)),
    ("template", Kind::Str(check_template)),
    ("omit", Kind::Bool),
    ("default", Kind::Str(any)),
    ("transform", Kind::Choice(Transform::NAMES)),
    ("when", Kind::Choice(When::NAMES)),
];
const SCOPE: Spec = &[
    ("attribute", Kind::Choice(ScopeAttribute::NAMES)),
    ("operator", Kind::Choice(ScopeOperator::NAMES)),
    ("value", Kind::Str(check_nonempty)),
];
const POLICY: Spec = &[
    ("group_mode", Kind::Choice(GroupMode::NAMES)),
    ("username", Kind::Choice(UsernamePolicy::NAMES)),
    ("default_password", Kind::Secret),
    ("include_guests", Kind::Bool),
    ("max_disables", Kind::Int(1, u32::MAX as i64)),
    ("max_disable_percent", Kind::Int(1, 100)),
];
const SERVICE: Spec = &[
    ("interval_secs", Kind::Int(5, 86_400 * 365)),
    ("full_sync_hours", Kind::Int(1, 24 * 365)),
    ("dry_run", Kind::Bool),
    ("state_path", Kind::Str(check_nonempty)),
    ("log_dir", Kind::Str(check_nonempty)),
    ("alert_webhook", Kind::Secret),
];

struct Walker<'t> {
    text: &'t str,
    problems: Vec<ConfigProblem>,
}

impl Walker<'_> {
    fn line(&self, span: Range<usize>) -> usize {
        let end = span.start.min(self.text.len());
        self.text[..end].bytes().filter(|b| *b == b'\n').count() + 1
    }

    fn problem(&mut self, key: &str, span: Range<usize>, message: impl Into<String>) {
        let line = self.line(span);
        self.problems.push(ConfigProblem {
            key: key.to_owned(),
            line,
            message: message.into(),
        });
    }

    fn root(&mut self, root: &DeTable<'_>, span: Range<usize>) {
        const TOP: &[&str] = &[
            "version", "entra", "target", "pairs", "scope", "policy", "service", "mappings",
        ];
        for (key, _) in root.iter() {
            if !TOP.contains(&key.get_ref().as_ref()) {
                self.problem(
                    key.get_ref(),
                    key.span(),
                    format!("unknown key; the top level takes {}", TOP.join(", ")),
                );
            }
        }
        match get(root, "version") {
            None => self.problem(
                "version",
                span.start..span.start,
                "missing; add `version = 1` at the top of the file",
            ),
            Some((vspan, DeValue::Integer(i))) if i.as_str() == "1" && i.radix() == 10 => {
                let _ = vspan;
            }
            Some((vspan, DeValue::Integer(_))) => self.problem(
                "version",
                vspan,
                "unsupported version; this adsync reads `version = 1`",
            ),
            Some((vspan, other)) => self.problem(
                "version",
                vspan,
                format!("expected the integer 1, found {}", type_name(other)),
            ),
        }
        let entra = self.section(root, "entra", ENTRA, span.clone(), true);
        if let Some((tbl, tspan)) = entra {
            let has_secret = tbl.get("client_secret").is_some();
            let has_cert = tbl.get("certificate").is_some();
            match (has_secret, has_cert) {
                (false, false) => self.problem(
                    "entra.client_secret",
                    tspan,
                    "missing credential: set `client_secret` (a secret reference) or \
                     `certificate` (path to a PEM with certificate and private key)",
                ),
                (true, true) => self.problem(
                    "entra.certificate",
                    key_span(tbl, "certificate"),
                    "set either `client_secret` or `certificate`, not both",
                ),
                _ => {}
            }
        }
        if let Some((tbl, tspan)) = self.section(root, "target", TARGET, span.clone(), true) {
            self.target_credentials(tbl, tspan);
        }
        self.section(root, "policy", POLICY, span.clone(), false);
        self.section(root, "service", SERVICE, span, false);
        self.pairs(root);
        self.array_of_tables(root, "scope", SCOPE, &["attribute", "operator", "value"]);
        self.mappings(root);
    }

    /// `[[mappings]]` (SPEC §3.1): each entry's keys, exactly one kind per entry, one entry per
    /// target attribute, and no dropping of the one attribute every user needs.
    fn mappings(&mut self, root: &DeTable<'_>) {
        let entries = self.array_of_tables(root, "mappings", MAPPING, &["target"]);
        let mut seen: HashMap<String, usize> = HashMap::new();
        for (index, tbl) in entries.iter().enumerate() {
            let path = format!("mappings[{}]", index + 1);
            let entry_span = root
                .get("mappings")
                .and_then(|v| match v.get_ref() {
                    DeValue::Array(items) => items.get(index).map(|i| i.span()),
                    _ => None,
                })
                .unwrap_or(0..0);
            let kinds: Vec<&str> = ["source", "value", "template", "omit"]
                .into_iter()
                .filter(|k| tbl.get(*k).is_some())
                .collect();
            match kinds.as_slice() {
                [] => self.problem(
                    &format!("{path}.source"),
                    entry_span.clone(),
                    "missing; every [[mappings]] entry needs exactly one of `source` (a Graph user \
                     property), `value` (a constant), `template` (text with {property} \
                     placeholders) or `omit = true`",
                ),
                [_] => {}
                [_, second, ..] => self.problem(
                    &format!("{path}.{second}"),
                    key_span(tbl, second),
                    format!(
                        "an entry takes exactly one of `source`, `value`, `template` or `omit`, \
                         and this one sets {}; keep one and remove the others",
                        kinds
                            .iter()
                            .map(|k| format!("`{k}`"))
                            .collect::<Vec<_>>()
                            .join(" and ")
                    ),
                ),
            }
            if let Some((span, DeValue::Boolean(false))) = get(tbl, "omit") {
                self.problem(
                    &format!("{path}.omit"),
                    span,
                    "`omit = false` means nothing; write `omit = true` to drop the default \
                     mapping, or remove the key",
                );
            }
            if kinds.first() == Some(&"omit") && kinds.len() == 1 {
                for key in ["default", "transform", "when"] {
                    if tbl.get(key).is_some() {
                        self.problem(
                            &format!("{path}.{key}"),
                            key_span(tbl, key),
                            format!(
                                "has no effect with `omit = true` (nothing is written); remove \
                                 `{key}` or give the entry a source"
                            ),
                        );
                    }
                }
            }
            let Some((tspan, DeValue::String(target))) = get(tbl, "target") else {
                continue;
            };
            let Ok(key) = canonical_target(target) else {
                continue; // reported by the value check
            };
            if key == "userName" && kinds.as_slice() == ["omit"] {
                self.problem(
                    &format!("{path}.omit"),
                    key_span(tbl, "omit"),
                    "userName cannot be omitted: every SCIM user needs one; map it from another \
                     source instead",
                );
            }
            let line = self.line(tspan.clone());
            if let Some(first) = seen.insert(key.clone(), line) {
                self.problem(
                    &format!("{path}.target"),
                    tspan,
                    format!(
                        "`{key}` is already mapped on line {first}; give each target attribute \
                         one entry"
                    ),
                );
            }
        }
    }

    fn target_credentials(&mut self, tbl: &DeTable<'_>, tspan: Range<usize>) {
        let auth = match get(tbl, "auth") {
            Some((_, DeValue::String(s))) => s.to_string(),
            _ => "bearer".to_owned(),
        };
        let (needed, not_allowed): (&[&str], &[&str]) = match auth.as_str() {
            "bearer" => (&["token"], &["username", "password"]),
            "basic" => (&["username", "password"], &["token"]),
            _ => return, // already reported as a bad choice
        };
        for key in needed {
            if tbl.get(*key).is_none() {
                self.problem(
                    &format!("target.{key}"),
                    tspan.clone(),
                    format!("missing; `auth = \"{auth}\"` needs `{key}`"),
                );
            }
        }
        for key in not_allowed {
            if tbl.get(*key).is_some() {
                self.problem(
                    &format!("target.{key}"),
                    key_span(tbl, key),
                    format!(
                        "only used with a different `auth`; with `auth = \"{auth}\"` remove it"
                    ),
                );
            }
        }
    }

    /// Checks a `[name]` table; returns it when present and a table.
    fn section<'a, 'i>(
        &mut self,
        root: &'a DeTable<'i>,
        name: &str,
        spec: Spec,
        root_span: Range<usize>,
        required: bool,
    ) -> Option<(&'a DeTable<'i>, Range<usize>)> {
        match get(root, name) {
            None => {
                if required {
                    self.problem(
                        name,
                        root_span.start..root_span.start,
                        format!(
                            "missing table; add a `[{name}]` section (see `adsync config init`)"
                        ),
                    );
                }
                None
            }
            Some((span, DeValue::Table(tbl))) => {
                self.table(name, tbl, spec, span.clone());
                Some((tbl, span))
            }
            Some((span, other)) => {
                self.problem(
                    name,
                    span,
                    format!("expected a table `[{name}]`, found {}", type_name(other)),
                );
                None
            }
        }
    }

    /// Checks every key of a table against `spec`, and that `required` keys are present.
    fn table(&mut self, path: &str, tbl: &DeTable<'_>, spec: Spec, span: Range<usize>) {
        for (key, value) in tbl.iter() {
            let name = key.get_ref().as_ref();
            let full = format!("{path}.{name}");
            match spec.iter().find(|(k, _)| *k == name) {
                None => {
                    let known: Vec<&str> = spec.iter().map(|(k, _)| *k).collect();
                    self.problem(
                        &full,
                        key.span(),
                        format!("unknown key; [{path}] takes {}", known.join(", ")),
                    );
                }
                Some((_, kind)) => self.value(&full, *kind, value.get_ref(), value.span()),
            }
        }
        let required: &[&str] = match path.split('[').next().unwrap_or(path) {
            "entra" => &["tenant", "client_id"],
            "target" => &["url"],
            _ => &[],
        };
        for key in required {
            if tbl.get(*key).is_none() {
                self.problem(
                    &format!("{path}.{key}"),
                    span.clone(),
                    format!("missing; [{path}] needs `{key}`"),
                );
            }
        }
    }

    fn value(&mut self, key: &str, kind: Kind, value: &DeValue<'_>, span: Range<usize>) {
        match (kind, value) {
            (Kind::Str(check), DeValue::String(s)) => {
                if let Err(why) = check(s) {
                    self.problem(key, span, why);
                }
            }
            (Kind::Choice(names), DeValue::String(s)) => {
                if !names.contains(&s.as_ref()) {
                    self.problem(
                        key,
                        span,
                        format!("`{s}` is not one of: {}", names.join(", ")),
                    );
                }
            }
            (Kind::Secret, DeValue::String(s)) => {
                if let Err(why) = s.parse::<SecretRef>() {
                    // Never echo the value: it may be the secret itself.
                    self.problem(key, span, why.to_string());
                }
            }
            (Kind::Bool, DeValue::Boolean(_)) => {}
            (Kind::StrList, DeValue::Array(items)) => {
                for item in items.iter() {
                    match item.get_ref() {
                        DeValue::String(s) if !s.trim().is_empty() => {}
                        DeValue::String(_) => self.problem(
                            key,
                            item.span(),
                            "an empty role; write each role's value, e.g. roles = [\"technician\"]",
                        ),
                        other => self.problem(
                            key,
                            item.span(),
                            format!(
                                "expected strings, e.g. roles = [\"technician\"], found {}",
                                type_name(other)
                            ),
                        ),
                    }
                }
            }
            (Kind::Int(min, max), DeValue::Integer(i)) => {
                match i64::from_str_radix(&i.as_str().replace('_', ""), i.radix()) {
                    Ok(n) if (min..=max).contains(&n) => {}
                    Ok(n) => self.problem(key, span, range_message(n, min, max)),
                    Err(_) => self.problem(key, span, range_message(i64::MAX, min, max)),
                }
            }
            (Kind::Secret, other) => self.problem(
                key,
                span,
                format!(
                    "expected a secret reference string (keyring:SERVICE/ACCOUNT, env:VAR or \
                     file:PATH), found {}",
                    type_name(other)
                ),
            ),
            (kind, other) => {
                let expected = match kind {
                    Kind::Str(_) => "a string in quotes".to_owned(),
                    Kind::Choice(names) => format!("a string, one of: {}", names.join(", ")),
                    Kind::Bool => "true or false".to_owned(),
                    Kind::Int(min, max) => format!("an integer from {min} to {max}"),
                    Kind::StrList => "an array of strings, e.g. [\"technician\"]".to_owned(),
                    Kind::Secret => unreachable!(),
                };
                self.problem(
                    key,
                    span,
                    format!("expected {expected}, found {}", type_name(other)),
                );
            }
        }
    }

    /// `[[pairs]]`: each entry's keys, then unique Entra groups. Orders may repeat: R1 gives a
    /// tie to the older Entra group (seed 004), so two pairs at one `order` are a valid config.
    fn pairs(&mut self, root: &DeTable<'_>) {
        let entries = self.array_of_tables(
            root,
            "pairs",
            PAIR,
            &["entra_group_id", "target_group_id", "order"],
        );
        let mut groups: HashMap<String, usize> = HashMap::new();
        for (index, tbl) in entries.iter().enumerate() {
            let n = index + 1;
            if let Some((span, DeValue::String(id))) = get(tbl, "entra_group_id") {
                let line = self.line(span.clone());
                if let Some(first) = groups.insert(id.to_lowercase(), line) {
                    self.problem(
                        &format!("pairs[{n}].entra_group_id"),
                        span,
                        format!(
                            "this Entra group is already paired on line {first}; pair each Entra \
                             group once (one Entra group may feed only one pair)"
                        ),
                    );
                }
            }
        }
    }

    /// Checks an array of tables; returns the entries that are tables.
    fn array_of_tables<'a, 'i>(
        &mut self,
        root: &'a DeTable<'i>,
        name: &str,
        spec: Spec,
        required: &[&str],
    ) -> Vec<&'a DeTable<'i>> {
        let mut out = Vec::new();
        match get(root, name) {
            None => {}
            Some((_, DeValue::Array(items))) => {
                for (index, item) in items.iter().enumerate() {
                    let path = format!("{name}[{}]", index + 1);
                    match item.get_ref() {
                        DeValue::Table(tbl) => {
                            self.table(&path, tbl, spec, item.span());
                            for key in required {
                                if tbl.get(*key).is_none() {
                                    self.problem(
                                        &format!("{path}.{key}"),
                                        item.span(),
                                        format!("missing; every [[{name}]] entry needs `{key}`"),
                                    );
                                }
                            }
                            out.push(tbl);
                        }
                        other => self.problem(
                            &path,
                            item.span(),
                            format!("expected a [[{name}]] table, found {}", type_name(other)),
                        ),
                    }
                }
            }
            Some((span, other)) => self.problem(
                name,
                span,
                format!(
                    "expected [[{name}]] tables, found {}; write each entry as a `[[{name}]]` section",
                    type_name(other)
                ),
            ),
        }
        out
    }
}

fn get<'a, 'i>(tbl: &'a DeTable<'i>, key: &str) -> Option<(Range<usize>, &'a DeValue<'i>)> {
    tbl.get(key).map(|v| (v.span(), v.get_ref()))
}

fn key_span(tbl: &DeTable<'_>, key: &str) -> Range<usize> {
    tbl.get(key).map(|v| v.span()).unwrap_or(0..0)
}

fn type_name(value: &DeValue<'_>) -> &'static str {
    match value {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a decimal number",
        DeValue::Boolean(_) => "true/false",
        DeValue::Datetime(_) => "a date/time",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

fn range_message(n: i64, min: i64, max: i64) -> String {
    if n == i64::MAX {
        format!("too large; expected an integer from {min} to {max}")
    } else {
        format!("{n} is out of range; expected an integer from {min} to {max}")
    }
}

fn check_target(s: &str) -> Result<(), String> {
    canonical_target(s).map(drop)
}

fn check_template(s: &str) -> Result<(), String> {
    match template_sources(s)? {
        names if names.is_empty() => Err(
            "has no {property} placeholder; use `value` for a constant, or name a Graph user \
             property in braces, e.g. \"{givenName}.{surname}@example.com\""
                .into(),
        ),
        _ => Ok(()),
    }
}

fn any(_: &str) -> Result<(), String> {
    Ok(())
}

fn check_nonempty(s: &str) -> Result<(), String> {
    if s.trim().is_empty() {
        Err("is empty; give a value or remove the key".into())
    } else {
        Ok(())
    }
}

/// Is `s` a GUID in its usual 8-4-4-4-12 hex form?
pub(crate) fn is_guid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, len)| g.len() == len && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Is `s` a DNS domain name such as `contoso.onmicrosoft.com`?
pub(crate) fn is_domain(s: &str) -> bool {
    let labels: Vec<&str> = s.split('.').collect();
    s.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.len() >= 2 && tld.bytes().all(|b| b.is_ascii_alphabetic()))
}

pub(crate) fn check_guid(s: &str) -> Result<(), String> {
    if is_guid(s) {
        Ok(())
    } else {
        Err(format!(
            "`{s}` is not a GUID; expected the form 11111111-2222-3333-4444-555555555555 \
             (copy it from the app registration's Overview page in the Azure portal)"
        ))
    }
}

fn check_group_id(s: &str) -> Result<(), String> {
    if is_guid(s) {
        Ok(())
    } else {
        Err(format!(
            "`{s}` is not a group object id; expected a GUID such as \
             6f1d0000-0000-0000-0000-000000000001 (`adsync entra groups` lists each group's id)"
        ))
    }
}

pub(crate) fn check_tenant(s: &str) -> Result<(), String> {
    if is_guid(s) || is_domain(s) {
        Ok(())
    } else {
        Err(format!(
            "`{s}` is neither a tenant GUID nor a domain; use the Directory (tenant) ID from the \
             app registration's Overview page, or a verified domain such as contoso.onmicrosoft.com"
        ))
    }
}

pub(crate) fn check_email(s: &str) -> Result<(), String> {
    match s.split_once('@') {
        Some((local, domain)) if !local.is_empty() && is_domain(domain) => Ok(()),
        _ => Err(format!(
            "`{s}` is not an email address; expected e.g. admin@example.com"
        )),
    }
}

/// Is `host` this machine (loopback)?
pub(crate) fn is_loopback_host(host: &url::Host<&str>) -> bool {
    match host {
        url::Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => ip.is_loopback(),
    }
}

pub(crate) fn check_url(s: &str) -> Result<(), String> {
    let url = url::Url::parse(s).map_err(|e| {
        format!("`{s}` is not a URL ({e}); expected e.g. https://app.example.com/scim/v2")
    })?;
    let Some(host) = url.host() else {
        return Err(format!(
            "`{s}` has no host; expected e.g. https://app.example.com/scim/v2"
        ));
    };
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback_host(&host) => Ok(()),
        "http" => Err(format!(
            "`{s}` uses plain http to a host other than this machine; use https \
             (plain http is accepted only for loopback test servers such as 127.0.0.1)"
        )),
        other => Err(format!("`{s}` uses the scheme `{other}`; use https")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guid_and_domain_rules() {
        assert!(is_guid("11111111-2222-3333-4444-555555555555"));
        assert!(is_guid("6F1D0000-aaaa-bbbb-cccc-0123456789ab"));
        assert!(!is_guid("11111111-2222-3333-4444-55555555555"));
        assert!(!is_guid("{11111111-2222-3333-4444-555555555555}"));
        assert!(!is_guid("1111111122223333444455555555555"));
        assert!(is_domain("contoso.onmicrosoft.com"));
        assert!(is_domain("fabrikam.de"));
        assert!(!is_domain("contoso"));
        assert!(!is_domain("-bad.com"));
        assert!(!is_domain("bad.c0m"));
        assert!(!is_domain("a..com"));
    }

    #[test]
    fn url_rules() {
        assert!(check_url("https://app.example.com/scim/v2").is_ok());
        assert!(check_url("http://127.0.0.1:8080/scim").is_ok());
        assert!(check_url("http://localhost:1/").is_ok());
        assert!(check_url("http://[::1]:8/").is_ok());
        assert!(check_url("http://app.example.com/scim").is_err());
        assert!(check_url("ftp://app.example.com/").is_err());
        assert!(check_url("app.example.com").is_err());
    }
}
