//! Text bound for a terminal. Directory and application data are not trusted: a display name
//! holding escape sequences could clear the screen, rewrite earlier lines or set the window
//! title when printed raw. Control characters (but line breaks and tabs) and the Unicode bidi
//! controls that reorder what is shown are printed as visible escapes (`\u{1b}`) instead.

use std::borrow::Cow;

/// Is `c` shown as an escape rather than printed?
fn unsafe_char(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}')
}

/// `text` with every control character except `\n` and `\t`, and every bidi control, written
/// as `\u{…}`.
pub fn safe(text: String) -> String {
    if !text.chars().any(unsafe_char) {
        return text;
    }
    escape(&text).into_owned()
}

/// One table cell or line: like [`safe`], and line breaks and tabs escaped too.
pub fn cell(text: &str) -> Cow<'_, str> {
    if !text
        .chars()
        .any(|c| unsafe_char(c) || c == '\n' || c == '\t')
    {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if unsafe_char(c) || c == '\n' || c == '\t' {
            out.push_str(&c.escape_unicode().to_string());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

fn escape(text: &str) -> Cow<'_, str> {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if unsafe_char(c) {
            out.push_str(&c.escape_unicode().to_string());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_become_visible_and_line_breaks_stay() {
        let text = "Ann\u{1b}]0;pwned\u{7}\u{1b}[2J Lee\n\tnext\u{202E}txt.exe\u{9b}".to_owned();
        let shown = safe(text);
        assert_eq!(
            shown,
            "Ann\\u{1b}]0;pwned\\u{7}\\u{1b}[2J Lee\n\tnext\\u{202e}txt.exe\\u{9b}"
        );
        assert_eq!(safe("plain\n".to_owned()), "plain\n");
        assert_eq!(cell("a\nb\tc"), "a\\u{a}b\\u{9}c");
        assert!(matches!(cell("Ann Lee"), Cow::Borrowed(_)));
    }
}
