//! The typed items of multi-valued attributes that adsync manages (the work email, the work
//! phone, and the mapped home email, mobile and fax numbers and work address, SPEC §2/§3.1):
//! which of them a user holds ([`Held`]), and how one item is written without touching the
//! others ([`TypedEdit`]): through a filtered path (`emails[type eq "work"].value`, RFC 7644
//! §3.5.2) or, for an application that refuses those, as the whole list the application holds
//! with only that item changed. A user's private email or mobile number, which adsync does not
//! map, is never replaced or removed.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::model::get_ci;

/// One managed typed item.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Slot {
    WorkEmail,
    HomeEmail,
    WorkPhone,
    MobilePhone,
    FaxPhone,
    WorkAddress,
}

impl Slot {
    /// Every managed item.
    pub const ALL: [Slot; 6] = [
        Slot::WorkEmail,
        Slot::HomeEmail,
        Slot::WorkPhone,
        Slot::MobilePhone,
        Slot::FaxPhone,
        Slot::WorkAddress,
    ];

    /// The multi-valued attribute holding the item.
    pub fn list(self) -> &'static str {
        match self {
            Slot::WorkEmail | Slot::HomeEmail => "emails",
            Slot::WorkPhone | Slot::MobilePhone | Slot::FaxPhone => "phoneNumbers",
            Slot::WorkAddress => "addresses",
        }
    }

    /// The item's `type`.
    pub fn kind(self) -> &'static str {
        match self {
            Slot::WorkEmail | Slot::WorkPhone | Slot::WorkAddress => "work",
            Slot::HomeEmail => "home",
            Slot::MobilePhone => "mobile",
            Slot::FaxPhone => "fax",
        }
    }

    /// The slot of the item of `kind` in `list`, if adsync manages it.
    pub fn of(list: &str, kind: &str) -> Option<Slot> {
        Self::ALL
            .into_iter()
            .find(|s| s.list().eq_ignore_ascii_case(list) && s.kind().eq_ignore_ascii_case(kind))
    }

    /// The filtered path selecting the item: `emails[type eq "work"]`.
    pub fn filter(self) -> String {
        format!(r#"{}[type eq "{}"]"#, self.list(), self.kind())
    }

    /// Is the item one value (an email, a phone number) rather than parts (an address)?
    fn single(self) -> bool {
        self != Slot::WorkAddress
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// Which managed typed items a target user holds, as read from the application. The default
/// (nothing read, e.g. a record built in a test) takes "holds the item" to mean "has a value
/// for it".
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Held(u8);

impl Held {
    /// Read from the application: the slot bits are what it holds.
    const READ: u8 = 1 << 7;
    /// The user has an email adsync takes for the work one (typed `work`, else untyped).
    const WORK_EMAIL_FOUND: u8 = 1 << 6;

    /// What the User resource `obj` holds.
    pub fn read(obj: &Map<String, Value>) -> Self {
        let mut bits = Self::READ;
        for slot in Slot::ALL {
            if typed_items(obj, slot).next().is_some() {
                bits |= slot.bit();
            }
        }
        Self(bits)
    }

    /// This, with whether an email was found to compare as the work one.
    pub fn with_work_email(self, found: bool) -> Self {
        if found {
            Self(self.0 | Self::WORK_EMAIL_FOUND)
        } else {
            Self(self.0 & !Self::WORK_EMAIL_FOUND)
        }
    }

    /// Was this read from the application?
    pub fn is_read(self) -> bool {
        self.0 & Self::READ != 0
    }

    /// Does the user hold an item of `slot`'s type? Unread: whether it `has_value`.
    pub fn holds(self, slot: Slot, has_value: bool) -> bool {
        if self.is_read() {
            self.0 & slot.bit() != 0
        } else {
            has_value
        }
    }

    /// Read from the application and no email to compare as the work one?
    pub fn lacks_work_email(self) -> bool {
        self.is_read() && self.0 & Self::WORK_EMAIL_FOUND == 0
    }
}

/// The items of `slot`'s list with its type, in a User resource.
fn typed_items(obj: &Map<String, Value>, slot: Slot) -> impl Iterator<Item = &Map<String, Value>> {
    let items = match get_ci(obj, slot.list()) {
        Some(Value::Array(items)) => items.as_slice(),
        _ => &[],
    };
    items
        .iter()
        .filter_map(Value::as_object)
        .filter(move |item| is_of(item, slot))
}

fn is_of(item: &Map<String, Value>, slot: Slot) -> bool {
    get_ci(item, "type")
        .and_then(Value::as_str)
        .is_some_and(|t| t.eq_ignore_ascii_case(slot.kind()))
}

/// One managed item to write: its sub-attributes with their desired values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TypedEdit {
    pub slot: Slot,
    /// Every sub-attribute adsync maps for the item, with its desired value (`None` = unset):
    /// what a new item is made of.
    pub values: Vec<(String, Option<String>)>,
    /// The sub-attributes that changed: what is written to an item the user holds.
    pub changed: Vec<String>,
}

impl TypedEdit {
    /// An email or phone number item set to `value` (`None` removes the item).
    pub fn single(slot: Slot, value: Option<&str>) -> Self {
        Self {
            slot,
            values: vec![("value".into(), value.map(str::to_owned))],
            changed: vec!["value".into()],
        }
    }

    /// Does adsync mark this item primary (the work email, as a create does)?
    fn primary(&self) -> bool {
        self.slot == Slot::WorkEmail
    }

    fn value_of(&self, sub: &str) -> Option<&str> {
        self.values
            .iter()
            .find(|(k, _)| k == sub)
            .and_then(|(_, v)| v.as_deref())
    }

    /// The new item, when it has any value.
    fn new_item(&self) -> Option<Value> {
        let mut item = Map::new();
        for (sub, value) in &self.values {
            if let Some(v) = value {
                item.insert(sub.clone(), json!(v));
            }
        }
        if item.is_empty() {
            return None;
        }
        item.insert("type".into(), json!(self.slot.kind()));
        if self.primary() {
            item.insert("primary".into(), json!(true));
        }
        Some(Value::Object(item))
    }

    /// The PATCH operations writing this item through filtered paths: a `replace` of each
    /// changed sub-attribute when the user `holds` an item of the type (the `remove` of the
    /// item, or of an address part, when its value is gone), else an `add` of the new item to
    /// the list. Nothing else in the list is touched.
    pub fn ops(&self, holds: bool) -> Vec<Value> {
        let filter = self.slot.filter();
        if !holds {
            return self
                .new_item()
                .map(|item| json!({"op": "add", "path": self.slot.list(), "value": [item]}))
                .into_iter()
                .collect();
        }
        if self.slot.single() {
            return match self.value_of("value") {
                Some(v) => {
                    let mut ops = vec![
                        json!({"op": "replace", "path": format!("{filter}.value"), "value": v}),
                    ];
                    if self.primary() {
                        ops.push(json!({"op": "replace", "path": format!("{filter}.primary"), "value": true}));
                    }
                    ops
                }
                None => vec![json!({"op": "remove", "path": filter})],
            };
        }
        self.changed
            .iter()
            .map(|sub| {
                let path = format!("{filter}.{sub}");
                match self.value_of(sub) {
                    Some(v) => json!({"op": "replace", "path": path, "value": v}),
                    None => json!({"op": "remove", "path": path}),
                }
            })
            .collect()
    }

    /// Applies this edit to `items`, the list as the application holds it: the items of the
    /// type get the changed values (or go, when an email's or a phone's value is gone); a new
    /// item is added when there is none. Every other item stays as it was, but for `primary`,
    /// which only the work email keeps when adsync marks it.
    pub fn merge_into(&self, items: &mut Vec<Value>) {
        let mine = |item: &Value| item.as_object().is_some_and(|o| is_of(o, self.slot));
        if !items.iter().any(mine) {
            if let Some(item) = self.new_item() {
                if self.primary() {
                    clear_primary(items);
                }
                items.push(item);
            }
            return;
        }
        if self.slot.single() && self.value_of("value").is_none() {
            items.retain(|item| !mine(item));
            return;
        }
        if self.primary() {
            clear_primary(items);
        }
        for item in items.iter_mut().filter(|item| mine(item)) {
            let obj = item.as_object_mut().expect("an object");
            for sub in &self.changed {
                let key = obj
                    .keys()
                    .find(|k| k.eq_ignore_ascii_case(sub))
                    .cloned()
                    .unwrap_or_else(|| sub.clone());
                match self.value_of(sub) {
                    Some(v) => {
                        obj.insert(key, json!(v));
                    }
                    None => {
                        obj.remove(&key);
                    }
                }
            }
            if self.primary() {
                obj.insert("primary".into(), json!(true));
            }
        }
    }
}

/// Unmarks every primary item (RFC 7643 §2.4: at most one is primary).
fn clear_primary(items: &mut [Value]) {
    for obj in items.iter_mut().filter_map(Value::as_object_mut) {
        if let Some(key) = obj
            .keys()
            .find(|k| k.eq_ignore_ascii_case("primary"))
            .cloned()
        {
            obj.insert(key, json!(false));
        }
    }
}

/// The whole lists `edits` touch, as the user `current` holds them with the edits applied:
/// one `replace` per list (a `remove` when nothing is left), for an application that refuses
/// filtered paths.
pub fn merged_ops(current: &Map<String, Value>, edits: &[TypedEdit]) -> Vec<Value> {
    let mut lists: Vec<&'static str> = Vec::new();
    for edit in edits {
        if !lists.contains(&edit.slot.list()) {
            lists.push(edit.slot.list());
        }
    }
    lists
        .into_iter()
        .filter_map(|list| {
            let held = match get_ci(current, list) {
                Some(Value::Array(items)) => items.clone(),
                _ => Vec::new(),
            };
            let mut items = held.clone();
            for edit in edits.iter().filter(|e| e.slot.list() == list) {
                edit.merge_into(&mut items);
            }
            match (items == held, items.is_empty()) {
                (true, _) => None,
                (false, true) => Some(json!({"op": "remove", "path": list})),
                (false, false) => Some(json!({"op": "replace", "path": list, "value": items})),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn held_reads_the_types_a_user_has() {
        let held = Held::read(&user(json!({
            "emails": [{"value": "a@home.example", "type": "Home"}],
            "phoneNumbers": [{"value": "1", "type": "mobile"}, {"value": "2"}],
            "addresses": [{"type": "work"}],
        })));
        assert!(held.is_read());
        let holds: Vec<Slot> = Slot::ALL
            .into_iter()
            .filter(|s| held.holds(*s, false))
            .collect();
        assert_eq!(
            holds,
            vec![Slot::HomeEmail, Slot::MobilePhone, Slot::WorkAddress]
        );
        assert!(held.lacks_work_email());
        assert!(!held.with_work_email(true).lacks_work_email());
        let unread = Held::default();
        assert!(unread.holds(Slot::WorkEmail, true) && !unread.holds(Slot::WorkEmail, false));
        assert!(!unread.lacks_work_email());
    }

    #[test]
    fn merging_changes_only_the_managed_item() {
        let current = user(json!({
            "emails": [
                {"value": "ann@home.example", "type": "home", "primary": true},
                {"value": "old@contoso.example", "type": "work", "display": "kept"},
            ],
            "phoneNumbers": [{"value": "+1 555 0100", "type": "mobile"}],
        }));
        let ops = merged_ops(
            &current,
            &[
                TypedEdit::single(Slot::WorkEmail, Some("new@contoso.example")),
                TypedEdit::single(Slot::WorkPhone, Some("+1 555 0199")),
                TypedEdit::single(Slot::FaxPhone, None),
            ],
        );
        assert_eq!(
            ops,
            vec![
                json!({"op": "replace", "path": "emails", "value": [
                    {"value": "ann@home.example", "type": "home", "primary": false},
                    {"value": "new@contoso.example", "type": "work", "display": "kept", "primary": true},
                ]}),
                json!({"op": "replace", "path": "phoneNumbers", "value": [
                    {"value": "+1 555 0100", "type": "mobile"},
                    {"value": "+1 555 0199", "type": "work"},
                ]}),
            ]
        );
        // Emptying the only managed item removes the list it was alone in, and nothing else.
        let only_work = user(json!({"phoneNumbers": [{"value": "1", "type": "work"}]}));
        assert_eq!(
            merged_ops(&only_work, &[TypedEdit::single(Slot::WorkPhone, None)]),
            vec![json!({"op": "remove", "path": "phoneNumbers"})]
        );
    }
}
