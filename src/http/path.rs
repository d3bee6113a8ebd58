//! Ids put in URL paths. An id comes from a server (an application's user id, a Graph object id)
//! and is spliced into the path of a later request: `Users/{id}`. An id such as
//! `../Groups/{gid}` would turn a user update into a group rename, so every id is checked to be
//! plain and percent-encoded before it goes into a path.

/// Why `id` cannot be put in a URL path, or `None` when it is plain. `allowed` lists characters
/// that are refused by default but legitimate for this kind of id (a Graph guest's UPN holds
/// `#`); they are percent-encoded like everything else.
pub fn unplain_reason(id: &str, allowed: &[char]) -> Option<&'static str> {
    let refused = |c: char| !allowed.contains(&c);
    if id.is_empty() {
        Some("it is empty")
    } else if id.trim_matches('.').is_empty() {
        Some("it is a relative path segment such as `..`")
    } else if id.chars().any(char::is_control) {
        Some("it holds a control character")
    } else if id.contains(['/', '\\']) {
        Some("it holds a slash")
    } else if id
        .chars()
        .any(|c| matches!(c, '?' | '#' | '%') && refused(c))
    {
        Some("it holds `?`, `#` or `%`")
    } else {
        None
    }
}

/// `id` percent-encoded as one path segment (everything but ASCII letters, digits and `-._~`
/// is encoded), when it is plain; else why not.
pub fn path_segment(id: &str, allowed: &[char]) -> Result<String, &'static str> {
    if let Some(reason) = unplain_reason(id, allowed) {
        return Err(reason);
    }
    let mut out = String::with_capacity(id.len());
    for byte in id.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_ids_pass_and_are_encoded() {
        assert_eq!(
            path_segment("2819c223-7f76-453a-919d-413861904646", &[]).unwrap(),
            "2819c223-7f76-453a-919d-413861904646"
        );
        assert_eq!(path_segment("a b+c@d", &[]).unwrap(), "a%20b%2Bc%40d");
        assert_eq!(path_segment("jürgen", &[]).unwrap(), "j%C3%BCrgen");
        assert_eq!(
            path_segment("bob_fabrikam.com#EXT#@contoso.onmicrosoft.com", &['#']).unwrap(),
            "bob_fabrikam.com%23EXT%23%40contoso.onmicrosoft.com"
        );
    }

    #[test]
    fn crafted_ids_are_refused() {
        for id in [
            "",
            ".",
            "..",
            "...",
            "../Groups/6f1d",
            "a/b",
            "a\\b",
            "x?filter=y",
            "x#y",
            "%2e%2e",
            "a\nb",
            "a\u{1b}[31m",
        ] {
            assert!(path_segment(id, &[]).is_err(), "{id:?} was accepted");
        }
        assert!(path_segment("..", &['#']).is_err());
        assert!(path_segment("a/b#c", &['#']).is_err());
    }
}
