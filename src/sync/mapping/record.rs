//! A user's mapped values without an owned copy: [`DesiredView`], borrowed from the Entra user
//! and the mappings, which the planner hashes for every user; and [`CreateRecord`], the compact
//! buffer a create keeps until apply time.

use super::*;

/// [`DesiredUser`] borrowed from the Entra user and the mappings: what the planner hashes for
/// every user, so that only users with an action pay for an owned copy (most users, most
/// cycles, have none). It serializes, and so hashes, exactly like [`DesiredUser`].
#[derive(Clone, Debug)]
pub struct DesiredView<'a> {
    pub(super) user_name: Cow<'a, str>,
    pub(super) external_id: &'a str,
    pub(super) active: bool,
    pub(super) given_name: Option<Cow<'a, str>>,
    pub(super) family_name: Option<Cow<'a, str>>,
    pub(super) display_name: Option<Cow<'a, str>>,
    pub(super) emails: Cow<'a, str>,
    pub(super) phone: Option<Cow<'a, str>>,
    pub(super) title: Option<Cow<'a, str>>,
    pub(super) department: Option<Cow<'a, str>>,
    pub(super) employee_number: Option<Cow<'a, str>>,
    /// The other keys' values, in the order of `shape.extra_keys`; `None` = unset.
    pub(super) extra: Vec<Option<Cow<'a, str>>>,
    /// Sorted, without repeats.
    pub(super) roles: Vec<String>,
    pub(super) shape: &'a Arc<Shape>,
}

/// The fields of [`DesiredUser`]'s JSON, in its order and with its names: the stored hashes
/// (R4) are of those bytes.
impl Serialize for DesiredView<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let has_extra = self.extra.iter().any(Option::is_some);
        let len = 11 + usize::from(has_extra) + usize::from(!self.roles.is_empty());
        let mut s = serializer.serialize_struct("DesiredUser", len)?;
        s.serialize_field("userName", &self.user_name)?;
        s.serialize_field("externalId", self.external_id)?;
        s.serialize_field("active", &self.active)?;
        s.serialize_field("name.givenName", &self.given_name)?;
        s.serialize_field("name.familyName", &self.family_name)?;
        s.serialize_field("displayName", &self.display_name)?;
        s.serialize_field("emails", &self.emails)?;
        s.serialize_field("phoneNumbers", &self.phone)?;
        s.serialize_field("title", &self.title)?;
        s.serialize_field("department", &self.department)?;
        s.serialize_field("employeeNumber", &self.employee_number)?;
        if has_extra {
            s.serialize_field("extra", &ExtraMap(self))?;
        } else {
            s.skip_field("extra")?;
        }
        if self.roles.is_empty() {
            s.skip_field("roles")?;
        } else {
            s.serialize_field("roles", &self.roles)?;
        }
        s.end()
    }
}

/// The view's other values as the map of their keys, sorted (as a `BTreeMap` serializes).
struct ExtraMap<'v, 'a>(&'v DesiredView<'a>);

impl Serialize for ExtraMap<'_, '_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.extras())
    }
}

impl<'a> DesiredView<'a> {
    /// The owned [`DesiredUser`].
    pub fn to_desired(&self) -> DesiredUser {
        let owned = |v: &Option<Cow<'_, str>>| v.as_deref().map(str::to_owned);
        DesiredUser {
            user_name: self.user_name.to_string(),
            external_id: self.external_id.to_owned(),
            active: self.active,
            given_name: owned(&self.given_name),
            family_name: owned(&self.family_name),
            display_name: owned(&self.display_name),
            emails: self.emails.to_string(),
            phone: owned(&self.phone),
            title: owned(&self.title),
            department: owned(&self.department),
            employee_number: owned(&self.employee_number),
            extra: self
                .extras()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            roles: self.roles.clone(),
            keys: self.shape.keys.clone(),
            roles_write: None,
            held: Default::default(),
        }
    }

    /// [`values_hash`] of [`Self::to_desired`], without making it.
    pub fn values_hash(&self) -> String {
        hash_json(self)
    }

    /// The mapped `userName`.
    pub fn user_name(&self) -> &str {
        &self.user_name
    }

    /// The mapped work email (empty when unset).
    pub fn emails(&self) -> &str {
        &self.emails
    }

    /// The set values of the other keys, by key, sorted.
    pub(super) fn extras(&self) -> impl Iterator<Item = (&str, &str)> {
        self.shape
            .extra_keys
            .iter()
            .zip(&self.extra)
            .filter_map(|(k, v)| Some((k.as_str(), v.as_deref()?)))
    }

    /// Writes one mapped value (`None` = unset).
    pub(super) fn set(&mut self, slot: Slot, value: Option<Cow<'a, str>>) {
        match slot {
            // Every SCIM user needs a userName: an empty mapped one keeps the policy's.
            Slot::UserName => {
                if let Some(v) = value {
                    self.user_name = v;
                }
            }
            Slot::Emails => self.emails = value.unwrap_or_default(),
            Slot::GivenName => self.given_name = value,
            Slot::FamilyName => self.family_name = value,
            Slot::DisplayName => self.display_name = value,
            Slot::Phone => self.phone = value,
            Slot::Title => self.title = value,
            Slot::Department => self.department = value,
            Slot::EmployeeNumber => self.employee_number = value,
            Slot::Extra(n) => self.extra[n] = value,
        }
    }

    /// The record a create keeps until apply time, compactly ([`CreateRecord`]).
    pub fn to_record(&self) -> CreateRecord {
        let base = [
            Some(&*self.user_name),
            Some(self.external_id),
            self.given_name.as_deref(),
            self.family_name.as_deref(),
            self.display_name.as_deref(),
            Some(&*self.emails),
            self.phone.as_deref(),
            self.title.as_deref(),
            self.department.as_deref(),
            self.employee_number.as_deref(),
        ];
        let values = || {
            base.into_iter()
                .chain(self.extra.iter().map(|v| v.as_deref()))
        };
        // Sized exactly, so that the buffer is never copied to grow or to shrink.
        let size = values()
            .chain(self.roles.iter().map(|r| Some(r.as_str())))
            .map(|v| v.map_or(1, |v| len_size(v.len() + 1) + v.len()))
            .sum::<usize>()
            + len_size(self.roles.len());
        let mut bytes = Vec::with_capacity(size);
        for value in values() {
            put(&mut bytes, value);
        }
        put_len(&mut bytes, self.roles.len());
        for role in &self.roles {
            put(&mut bytes, Some(role));
        }
        debug_assert_eq!(bytes.len(), size);
        CreateRecord {
            shape: self.shape.clone(),
            bytes: bytes.into_boxed_slice(),
        }
    }
}

/// A create's mapped record as the plan keeps it until apply time: every value one after
/// another in one allocation, each after its length, with the keys shared by the whole plan.
/// A [`DesiredUser`] kept for each of 100,000 creates was most of `plan()`'s peak with 15
/// mappings (docs/PERFORMANCE.md); this is a quarter of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreateRecord {
    shape: Arc<Shape>,
    /// Per value: its length + 1 as LEB128 (0 = unset), then its UTF-8. The default
    /// attributes, then the other keys in `shape.extra_keys` order, then the roles' count
    /// and the roles.
    bytes: Box<[u8]>,
}

impl CreateRecord {
    /// The owned [`DesiredUser`] (what the target writer takes).
    pub fn to_desired(&self) -> DesiredUser {
        let mut read = Reader(&self.bytes);
        let mut next = || read.value().map(str::to_owned);
        let mut desired = DesiredUser {
            user_name: next().unwrap_or_default(),
            external_id: next().unwrap_or_default(),
            active: true,
            given_name: next(),
            family_name: next(),
            display_name: next(),
            emails: next().unwrap_or_default(),
            phone: next(),
            title: next(),
            department: next(),
            employee_number: next(),
            keys: self.shape.keys.clone(),
            ..DesiredUser::default()
        };
        for key in &self.shape.extra_keys {
            if let Some(v) = read.value() {
                desired.extra.insert(key.clone(), v.to_owned());
            }
        }
        desired.roles = self.roles_from(read);
        desired
    }

    /// The roles the record gives, without making the rest.
    pub fn roles(&self) -> Vec<String> {
        let mut read = Reader(&self.bytes);
        for _ in 0..10 + self.shape.extra_keys.len() {
            read.value();
        }
        self.roles_from(read)
    }

    pub(super) fn roles_from(&self, mut read: Reader<'_>) -> Vec<String> {
        let count = read.len();
        (0..count)
            .filter_map(|_| read.value().map(str::to_owned))
            .collect()
    }
}

/// How many bytes [`put_len`] takes for `n`.
pub(super) fn len_size(n: usize) -> usize {
    (usize::BITS - n.leading_zeros()).max(1).div_ceil(7) as usize
}

pub(super) fn put_len(bytes: &mut Vec<u8>, mut n: usize) {
    loop {
        let low = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            bytes.push(low);
            return;
        }
        bytes.push(low | 0x80);
    }
}

pub(super) fn put(bytes: &mut Vec<u8>, value: Option<&str>) {
    match value {
        None => put_len(bytes, 0),
        Some(v) => {
            put_len(bytes, v.len() + 1);
            bytes.extend_from_slice(v.as_bytes());
        }
    }
}

/// Reads a [`CreateRecord`]'s values back in the order they were put.
pub(super) struct Reader<'b>(pub(super) &'b [u8]);

impl<'b> Reader<'b> {
    pub(super) fn len(&mut self) -> usize {
        let mut n = 0usize;
        let mut shift = 0;
        while let Some((&b, rest)) = self.0.split_first() {
            self.0 = rest;
            n |= usize::from(b & 0x7f) << shift;
            shift += 7;
            if b & 0x80 == 0 {
                break;
            }
        }
        n
    }

    pub(super) fn value(&mut self) -> Option<&'b str> {
        let len = self.len().checked_sub(1)?;
        let (text, rest) = self.0.split_at(len);
        self.0 = rest;
        Some(std::str::from_utf8(text).expect("put from a str"))
    }
}
