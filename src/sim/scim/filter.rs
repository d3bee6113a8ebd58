//! SCIM filter and attribute-path grammar of RFC 7644 §3.4.2.2 and §3.5.2: parsing, and evaluating a
//! filter against a JSON resource. Attribute names compare case-insensitively; string values compare
//! case-insensitively except for the case-exact attributes (`id`, `externalId`, member ids).

use serde_json::{Map, Value};

use super::schema::is_extension_urn;

/// `[urn:...:]attr[.sub]`, as written in a filter or a PATCH path.
#[derive(Clone, Debug, PartialEq)]
pub struct AttrPath {
    /// The schema URN prefix, when the path names an extension attribute.
    pub uri: Option<String>,
    pub attr: String,
    pub sub: Option<String>,
}

/// A PATCH target: `attr`, `attr.sub`, `attr[filter]` or `attr[filter].sub`, optionally prefixed
/// by a schema URN.
#[derive(Clone, Debug, PartialEq)]
pub struct PatchPath {
    pub uri: Option<String>,
    pub attr: String,
    pub filter: Option<Filter>,
    pub sub: Option<String>,
}

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

/// A parsed filter expression.
#[derive(Clone, Debug, PartialEq)]
pub enum Filter {
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    Present(AttrPath),
    Compare(AttrPath, Op, Value),
    /// `attr[inner]`: some value of the multi-valued `attr` matches `inner`.
    ValuePath(AttrPath, Box<Filter>),
}

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Word(String),
    Str(String),
    Open,
    Close,
    OpenBracket,
    CloseBracket,
}

fn tokenize(text: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            c if c.is_whitespace() => i += 1,
            '(' => {
                tokens.push(Token::Open);
                i += 1;
            }
            ')' => {
                tokens.push(Token::Close);
                i += 1;
            }
            '[' => {
                tokens.push(Token::OpenBracket);
                i += 1;
            }
            ']' => {
                tokens.push(Token::CloseBracket);
                i += 1;
            }
            '"' => {
                // A JSON string: find its end honouring backslash escapes, then let serde decode it.
                let start = i;
                i += 1;
                while i < chars.len() && chars[i] != '"' {
                    if chars[i] == '\\' {
                        i += 1;
                    }
                    i += 1;
                }
                if i >= chars.len() {
                    return Err("unterminated string".into());
                }
                i += 1;
                let raw: String = chars[start..i].iter().collect();
                let decoded: String = serde_json::from_str(&raw)
                    .map_err(|e| format!("bad string literal {raw}: {e}"))?;
                tokens.push(Token::Str(decoded));
            }
            _ => {
                let start = i;
                while i < chars.len()
                    && !chars[i].is_whitespace()
                    && !matches!(chars[i], '(' | ')' | '[' | ']' | '"')
                {
                    i += 1;
                }
                tokens.push(Token::Word(chars[start..i].iter().collect()));
            }
        }
    }
    Ok(tokens)
}

/// Parses `[urn:...:]attr[.sub]`.
pub fn parse_attr_path(text: &str) -> Result<AttrPath, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("empty attribute path".into());
    }
    let (uri, rest) = if text.len() > 4 && text[..4].eq_ignore_ascii_case("urn:") {
        if is_extension_urn(text) {
            // The whole extension object.
            return Ok(AttrPath {
                uri: Some(text.to_owned()),
                attr: String::new(),
                sub: None,
            });
        }
        let cut = text.rfind(':').ok_or("bad URN path")?;
        (Some(text[..cut].to_owned()), &text[cut + 1..])
    } else {
        (None, text)
    };
    let mut parts = rest.splitn(2, '.');
    let attr = parts.next().unwrap_or_default().to_owned();
    let sub = parts.next().map(str::to_owned);
    if attr.is_empty() || sub.as_deref() == Some("") {
        return Err(format!("bad attribute path {text:?}"));
    }
    Ok(AttrPath { uri, attr, sub })
}

/// Parses a PATCH `path`.
pub fn parse_patch_path(text: &str) -> Result<PatchPath, String> {
    let text = text.trim();
    if let Some(open) = text.find('[') {
        let close = text.rfind(']').ok_or("missing ]")?;
        let head = parse_attr_path(&text[..open])?;
        if head.sub.is_some() {
            return Err(format!("bad path {text:?}"));
        }
        // Marked, so that the answer can say invalidFilter rather than invalidPath.
        let filter = parse_filter(&text[open + 1..close]).map_err(|e| format!("filter: {e}"))?;
        let tail = &text[close + 1..];
        let sub = match tail.strip_prefix('.') {
            Some(sub) if !sub.is_empty() => Some(sub.to_owned()),
            None if tail.is_empty() => None,
            _ => return Err(format!("bad path {text:?}")),
        };
        Ok(PatchPath {
            uri: head.uri,
            attr: head.attr,
            filter: Some(filter),
            sub,
        })
    } else {
        let path = parse_attr_path(text)?;
        Ok(PatchPath {
            uri: path.uri,
            attr: path.attr,
            filter: None,
            sub: path.sub,
        })
    }
}

/// Parses a filter expression.
pub fn parse_filter(text: &str) -> Result<Filter, String> {
    let tokens = tokenize(text)?;
    let mut parser = Parser { tokens, pos: 0 };
    let filter = parser.or()?;
    if parser.pos != parser.tokens.len() {
        return Err(format!("unexpected {:?}", parser.tokens[parser.pos]));
    }
    Ok(filter)
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
}

impl Parser {
    fn peek_word(&self, word: &str) -> bool {
        matches!(self.tokens.get(self.pos), Some(Token::Word(w)) if w.eq_ignore_ascii_case(word))
    }

    fn or(&mut self) -> Result<Filter, String> {
        let mut left = self.and()?;
        while self.peek_word("or") {
            self.pos += 1;
            let right = self.and()?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Filter, String> {
        let mut left = self.factor()?;
        while self.peek_word("and") {
            self.pos += 1;
            let right = self.factor()?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn factor(&mut self) -> Result<Filter, String> {
        if self.peek_word("not") {
            self.pos += 1;
            return Ok(Filter::Not(Box::new(self.factor()?)));
        }
        match self.tokens.get(self.pos).cloned() {
            Some(Token::Open) => {
                self.pos += 1;
                let inner = self.or()?;
                if self.tokens.get(self.pos) != Some(&Token::Close) {
                    return Err("missing )".into());
                }
                self.pos += 1;
                Ok(inner)
            }
            Some(Token::Word(word)) => {
                self.pos += 1;
                let path = parse_attr_path(&word)?;
                if self.tokens.get(self.pos) == Some(&Token::OpenBracket) {
                    self.pos += 1;
                    let inner = self.or()?;
                    if self.tokens.get(self.pos) != Some(&Token::CloseBracket) {
                        return Err("missing ]".into());
                    }
                    self.pos += 1;
                    return Ok(Filter::ValuePath(path, Box::new(inner)));
                }
                let op = match self.tokens.get(self.pos) {
                    Some(Token::Word(op)) => op.to_ascii_lowercase(),
                    other => {
                        return Err(format!("expected an operator after {word}, got {other:?}"));
                    }
                };
                self.pos += 1;
                let op = match op.as_str() {
                    "pr" => return Ok(Filter::Present(path)),
                    "eq" => Op::Eq,
                    "ne" => Op::Ne,
                    "co" => Op::Co,
                    "sw" => Op::Sw,
                    "ew" => Op::Ew,
                    "gt" => Op::Gt,
                    "ge" => Op::Ge,
                    "lt" => Op::Lt,
                    "le" => Op::Le,
                    other => return Err(format!("unknown operator {other:?}")),
                };
                let value = match self.tokens.get(self.pos).cloned() {
                    Some(Token::Str(s)) => Value::String(s),
                    Some(Token::Word(w)) => match w.to_ascii_lowercase().as_str() {
                        "true" => Value::Bool(true),
                        "false" => Value::Bool(false),
                        "null" => Value::Null,
                        _ => serde_json::from_str::<serde_json::Number>(&w)
                            .map(Value::Number)
                            .map_err(|_| format!("bad comparison value {w:?}"))?,
                    },
                    other => return Err(format!("expected a value, got {other:?}")),
                };
                self.pos += 1;
                Ok(Filter::Compare(path, op, value))
            }
            other => Err(format!("unexpected {other:?}")),
        }
    }
}

/// A key of `obj` equal to `name` ignoring case.
pub fn find_key<'a>(obj: &'a Map<String, Value>, name: &str) -> Option<&'a String> {
    obj.keys().find(|k| k.eq_ignore_ascii_case(name))
}

/// `obj[name]`, ignoring the case of the key.
pub fn get_ci<'a>(obj: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    find_key(obj, name).and_then(|k| obj.get(k))
}

fn is_case_exact(path: &AttrPath, parent: Option<&str>) -> bool {
    let attr = path.attr.to_ascii_lowercase();
    if let Some(parent) = parent {
        // Inside `members[...]` / `groups[...]`, `value` is a resource id.
        return matches!(parent.to_ascii_lowercase().as_str(), "members" | "groups")
            && matches!(attr.as_str(), "value" | "$ref");
    }
    match path.sub.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None => matches!(attr.as_str(), "id" | "externalid" | "$ref"),
        Some("value" | "$ref") => matches!(attr.as_str(), "members" | "groups"),
        Some(_) => false,
    }
}

/// The values at `path` in `obj`, multi-valued attributes flattened.
fn values_at<'a>(obj: &'a Map<String, Value>, path: &AttrPath) -> Vec<&'a Value> {
    let base = match &path.uri {
        Some(uri) if is_extension_urn(uri) => match get_ci(obj, uri) {
            Some(Value::Object(ext)) => ext,
            _ => return Vec::new(),
        },
        _ => obj,
    };
    if path.attr.is_empty() {
        return Vec::new();
    }
    let Some(value) = get_ci(base, &path.attr) else {
        return Vec::new();
    };
    let items: Vec<&Value> = match value {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    items
        .into_iter()
        .filter_map(|item| match (&path.sub, item) {
            (Some(sub), Value::Object(o)) => get_ci(o, sub),
            (Some(_), _) => None,
            // A complex multi-valued attribute compared as a whole compares its `value`.
            (None, Value::Object(o)) => get_ci(o, "value"),
            (None, other) => Some(other),
        })
        .filter(|v| !v.is_null())
        .collect()
}

fn compare(actual: &Value, op: Op, expected: &Value, case_exact: bool) -> bool {
    match (actual, expected) {
        (Value::String(a), Value::String(e)) => {
            let (a, e) = if case_exact {
                (a.clone(), e.clone())
            } else {
                (a.to_lowercase(), e.to_lowercase())
            };
            match op {
                Op::Eq => a == e,
                Op::Ne => a != e,
                Op::Co => a.contains(&e),
                Op::Sw => a.starts_with(&e),
                Op::Ew => a.ends_with(&e),
                Op::Gt => a > e,
                Op::Ge => a >= e,
                Op::Lt => a < e,
                Op::Le => a <= e,
            }
        }
        (Value::Bool(a), Value::Bool(e)) => match op {
            Op::Eq => a == e,
            Op::Ne => a != e,
            _ => false,
        },
        // A boolean stored as a string by a lenient writer still compares.
        (Value::String(a), Value::Bool(e)) => match op {
            Op::Eq => a.eq_ignore_ascii_case(&e.to_string()),
            Op::Ne => !a.eq_ignore_ascii_case(&e.to_string()),
            _ => false,
        },
        (Value::Number(a), Value::Number(e)) => {
            let (a, e) = (a.as_f64().unwrap_or(0.0), e.as_f64().unwrap_or(0.0));
            match op {
                Op::Eq => a == e,
                Op::Ne => a != e,
                Op::Gt => a > e,
                Op::Ge => a >= e,
                Op::Lt => a < e,
                Op::Le => a <= e,
                _ => false,
            }
        }
        _ => false,
    }
}

impl Filter {
    /// Does `obj` match this filter?
    pub fn matches(&self, obj: &Map<String, Value>) -> bool {
        self.eval(obj, None)
    }

    /// Evaluates against a resource, or against one element of the multi-valued `parent`.
    pub fn eval(&self, obj: &Map<String, Value>, parent: Option<&str>) -> bool {
        match self {
            Filter::And(a, b) => a.eval(obj, parent) && b.eval(obj, parent),
            Filter::Or(a, b) => a.eval(obj, parent) || b.eval(obj, parent),
            Filter::Not(inner) => !inner.eval(obj, parent),
            Filter::Present(path) => values_at(obj, path).iter().any(|v| match v {
                Value::String(s) => !s.is_empty(),
                Value::Array(a) => !a.is_empty(),
                _ => true,
            }),
            Filter::Compare(path, Op::Ne, expected) => {
                let values = values_at(obj, path);
                !values
                    .iter()
                    .any(|v| compare(v, Op::Eq, expected, is_case_exact(path, parent)))
            }
            Filter::Compare(path, op, expected) => {
                if expected.is_null() {
                    return values_at(obj, path).is_empty();
                }
                values_at(obj, path)
                    .iter()
                    .any(|v| compare(v, *op, expected, is_case_exact(path, parent)))
            }
            Filter::ValuePath(path, inner) => {
                let base = match &path.uri {
                    Some(uri) if is_extension_urn(uri) => match get_ci(obj, uri) {
                        Some(Value::Object(ext)) => ext,
                        _ => return false,
                    },
                    _ => obj,
                };
                match get_ci(base, &path.attr) {
                    Some(Value::Array(items)) => items.iter().any(|item| match item {
                        Value::Object(o) => inner.eval(o, Some(&path.attr)),
                        _ => false,
                    }),
                    Some(Value::Object(o)) => inner.eval(o, Some(&path.attr)),
                    _ => false,
                }
            }
        }
    }

    /// Does the filter refer to attribute `attr` anywhere (ignoring case)?
    pub fn mentions(&self, attr: &str) -> bool {
        match self {
            Filter::And(a, b) | Filter::Or(a, b) => a.mentions(attr) || b.mentions(attr),
            Filter::Not(inner) => inner.mentions(attr),
            Filter::Present(path) | Filter::Compare(path, _, _) => {
                path.attr.eq_ignore_ascii_case(attr)
            }
            Filter::ValuePath(path, _) => path.attr.eq_ignore_ascii_case(attr),
        }
    }

    /// `Some(value)` when the filter is exactly `userName eq "value"` (the simulator's index).
    pub fn user_name_eq(&self) -> Option<&str> {
        match self {
            Filter::Compare(path, Op::Eq, Value::String(value))
                if path.uri.is_none()
                    && path.sub.is_none()
                    && path.attr.eq_ignore_ascii_case("userName") =>
            {
                Some(value)
            }
            _ => None,
        }
    }

    /// For `attr eq "v"` value filters: the attribute and value, so a PATCH can add an element
    /// when none matches.
    pub fn simple_eq(&self) -> Option<(&str, &Value)> {
        match self {
            Filter::Compare(path, Op::Eq, value) if path.uri.is_none() && path.sub.is_none() => {
                Some((&path.attr, value))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn parses_and_evaluates_common_filters() {
        let user = obj(json!({
            "userName": "Adele.Vance@contoso.example",
            "externalId": "ABC",
            "active": true,
            "emails": [{"value": "adele@contoso.example", "type": "work", "primary": true}],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Sales"}
        }));
        let cases = [
            (r#"userName eq "adele.vance@CONTOSO.example""#, true),
            (r#"USERNAME sw "adele""#, true),
            (r#"userName co "vance""#, true),
            (r#"externalId eq "abc""#, false),
            (r#"externalId eq "ABC""#, true),
            (r#"emails.value eq "ADELE@contoso.example""#, true),
            (r#"emails[value eq "adele@contoso.example"]"#, true),
            (r#"emails[type eq "work" and value co "adele"]"#, true),
            (r#"emails[type eq "home"]"#, false),
            (r#"userName eq "x" or externalId eq "ABC""#, true),
            (r#"userName eq "x" and externalId eq "ABC""#, false),
            (r#"not (userName eq "x")"#, true),
            ("active eq true", true),
            ("title pr", false),
            (
                r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "sales""#,
                true,
            ),
        ];
        for (text, expected) in cases {
            let filter = parse_filter(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(filter.matches(&user), expected, "{text}");
        }
    }

    #[test]
    fn string_literals_are_json_escaped() {
        let user = obj(json!({"userName": "o\"brien\\x"}));
        let filter = parse_filter(r#"userName eq "o\"brien\\x""#).unwrap();
        assert!(filter.matches(&user));
        assert!(parse_filter(r#"userName eq "open"#).is_err());
        assert!(parse_filter("userName zz \"a\"").is_err());
    }

    #[test]
    fn patch_paths() {
        let p = parse_patch_path(r#"members[value eq "123"]"#).unwrap();
        assert_eq!(p.attr, "members");
        assert!(p.filter.is_some() && p.sub.is_none());
        let p = parse_patch_path(r#"emails[type eq "work"].value"#).unwrap();
        assert_eq!(p.sub.as_deref(), Some("value"));
        let p = parse_patch_path(
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
        )
        .unwrap();
        assert_eq!(p.attr, "employeeNumber");
        assert!(p.uri.is_some());
        let p = parse_patch_path("name.givenName").unwrap();
        assert_eq!(
            (p.attr.as_str(), p.sub.as_deref()),
            ("name", Some("givenName"))
        );
    }
}
