//! The closed sets of strings the state store keeps in its tables, as enums: the Graph delta
//! streams ([`DeltaStream`], `delta_links.stream`) and, defined by the engine, the run outcomes
//! ([`RunOutcome`], `runs.outcome`). Each is stored as the string adsync has always stored.

use std::fmt;
use std::str::FromStr;

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};

use crate::sync::RunOutcome;

/// A Graph delta stream whose delta link the store keeps between incremental cycles.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DeltaStream {
    /// `/users/delta`.
    Users,
    /// `/groups/delta`.
    Groups,
}

impl DeltaStream {
    /// Both streams.
    pub const ALL: [DeltaStream; 2] = [DeltaStream::Users, DeltaStream::Groups];

    /// The key stored in `delta_links.stream`.
    pub fn as_str(self) -> &'static str {
        match self {
            DeltaStream::Users => "users",
            DeltaStream::Groups => "groups",
        }
    }
}

impl fmt::Display for DeltaStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// A stored stream key this adsync does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown delta stream \"{0}\" in the state store (expected users or groups)")]
pub struct UnknownStream(pub String);

impl FromStr for DeltaStream {
    type Err = UnknownStream;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|d| d.as_str() == s)
            .ok_or_else(|| UnknownStream(s.to_owned()))
    }
}

/// Reads a text column through `FromStr`, naming the unknown value in the error.
fn parse_column<T>(value: ValueRef<'_>) -> FromSqlResult<T>
where
    T: FromStr,
    T::Err: std::error::Error + Send + Sync + 'static,
{
    value
        .as_str()?
        .parse()
        .map_err(|e| FromSqlError::Other(Box::new(e)))
}

impl ToSql for RunOutcome {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(self.as_str().into())
    }
}

impl FromSql for RunOutcome {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        parse_column(value)
    }
}

impl ToSql for DeltaStream {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(self.as_str().into())
    }
}

impl FromSql for DeltaStream {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        parse_column(value)
    }
}
