//! Properties a Graph delta entry left out (graph-notes §5.2: a delta entry omits never-set
//! properties, and with `Prefer: return=minimal` unchanged ones): for a user the cache already
//! holds, an absent property keeps its cached value, so a quiet omission never reads as an
//! emptied title or a disabled account (R10).

use super::model::SourceUser;

/// `fresh` (made from a delta entry) with every property named in `absent` (Graph names)
/// taken from `cached` instead.
pub(super) fn keep_absent(
    cached: &SourceUser,
    mut fresh: SourceUser,
    absent: &[String],
) -> SourceUser {
    for name in absent {
        match name.as_str() {
            "userPrincipalName" => fresh.user_principal_name = cached.user_principal_name.clone(),
            "mail" => fresh.mail = cached.mail.clone(),
            "givenName" => fresh.given_name = cached.given_name.clone(),
            "surname" => fresh.surname = cached.surname.clone(),
            "displayName" => fresh.display_name = cached.display_name.clone(),
            "businessPhones" => fresh.business_phones = cached.business_phones.clone(),
            "jobTitle" => fresh.job_title = cached.job_title.clone(),
            "department" => fresh.department = cached.department.clone(),
            "employeeId" => fresh.employee_id = cached.employee_id.clone(),
            "officeLocation" => fresh.office_location = cached.office_location.clone(),
            "companyName" => fresh.company_name = cached.company_name.clone(),
            "city" => fresh.city = cached.city.clone(),
            "country" => fresh.country = cached.country.clone(),
            "userType" => fresh.user_type = cached.user_type.clone(),
            "accountEnabled" => fresh.account_enabled = cached.account_enabled,
            // A mapping source (`mobilePhone`, `employeeOrgData` and its `.costCenter`, …).
            other => {
                let within = |key: &str| {
                    key == other
                        || key
                            .strip_prefix(other)
                            .is_some_and(|rest| rest.starts_with('.'))
                };
                fresh.extra.retain(|key, _| !within(key));
                for (key, value) in cached.extra.iter().filter(|(k, _)| within(k)) {
                    fresh.extra.insert(key.clone(), value.clone());
                }
            }
        }
    }
    fresh
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_properties_keep_the_cached_values_and_present_ones_change() {
        let cached = SourceUser {
            id: "u".into(),
            user_principal_name: "u@contoso.example".into(),
            job_title: Some("Agent".into()),
            department: Some("Support".into()),
            account_enabled: true,
            extra: [
                ("employeeOrgData.costCenter".to_owned(), "CC-1".to_owned()),
                ("mobilePhone".to_owned(), "+1 555".to_owned()),
            ]
            .into(),
            ..SourceUser::default()
        };
        let fresh = SourceUser {
            id: "u".into(),
            user_principal_name: "u@contoso.example".into(),
            job_title: Some("Lead".into()),
            ..SourceUser::default()
        };
        let absent = ["accountEnabled", "department", "employeeOrgData"].map(str::to_owned);
        let merged = keep_absent(&cached, fresh, &absent);
        assert!(
            merged.account_enabled,
            "an absent accountEnabled is not false"
        );
        assert_eq!(merged.department.as_deref(), Some("Support"));
        assert_eq!(merged.job_title.as_deref(), Some("Lead"));
        assert_eq!(
            merged
                .extra
                .get("employeeOrgData.costCenter")
                .map(String::as_str),
            Some("CC-1")
        );
        assert_eq!(
            merged.extra.get("mobilePhone"),
            None,
            "present (as null): emptied"
        );
    }
}
