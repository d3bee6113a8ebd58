//! Scrubbing resolved secrets out of text. [`crate::secret::Secret`] never prints itself, but a
//! server may echo a request back: a SCIM 400 whose `detail` repeats the create body carries the
//! default password into an error, a log line and the history table. Every secret resolved from
//! a reference is remembered here, and text from outside (a server's error) or bound for a
//! person or a file passes through [`scrub`] on its way.

use std::borrow::Cow;
use std::sync::RwLock;

/// What a secret's value is replaced with.
pub const MASK: &str = "***";

/// The longest error text kept in the state database; longer ones are cut with a note.
pub const MAX_STORED_ERROR: usize = 2048;

/// Values shorter than this are not scrubbed: masking every `a` in a message would hide it
/// without protecting anything (no credential is that short).
const MIN_LEN: usize = 4;

static SECRETS: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Remembers `value` so that [`scrub`] masks it from now on.
pub fn register(value: &str) {
    if value.len() < MIN_LEN {
        return;
    }
    let mut secrets = SECRETS.write().unwrap_or_else(|e| e.into_inner());
    if !secrets.iter().any(|s| s == value) {
        secrets.push(value.to_owned());
        // Longest first, so that a secret containing another is masked whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }
}

/// `text` with every registered secret replaced by [`MASK`].
pub fn scrub(text: &str) -> Cow<'_, str> {
    let secrets = SECRETS.read().unwrap_or_else(|e| e.into_inner());
    let mut out = Cow::Borrowed(text);
    for secret in secrets.iter() {
        if out.contains(secret.as_str()) {
            out = Cow::Owned(out.replace(secret.as_str(), MASK));
        }
    }
    out
}

/// [`scrub`]bed and cut to [`MAX_STORED_ERROR`] bytes (on a character boundary), for an error
/// kept in the state database.
pub fn for_storage(text: &str) -> String {
    let text = scrub(text);
    if text.len() <= MAX_STORED_ERROR {
        return text.into_owned();
    }
    let mut end = MAX_STORED_ERROR;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{} … ({} bytes cut)", &text[..end], text.len() - end)
}

/// A writer that scrubs each buffer before passing it on (log lines: the formatter writes one
/// whole line per call).
pub struct ScrubWriter<W>(pub W);

impl<W: std::io::Write> std::io::Write for ScrubWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match std::str::from_utf8(buf) {
            Ok(text) => self.0.write_all(scrub(text).as_bytes())?,
            Err(_) => self.0.write_all(buf)?,
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_secrets_are_masked_and_stored_errors_capped() {
        register("scrub-test-S3cret!value");
        register("ab"); // too short to mask
        let text = "400: invalid body {\"password\":\"scrub-test-S3cret!value\"} ab";
        assert_eq!(scrub(text), "400: invalid body {\"password\":\"***\"} ab");
        assert!(matches!(scrub("nothing here"), Cow::Borrowed(_)));
        let long = format!("{}scrub-test-S3cret!value{}", "é".repeat(3000), "x");
        let stored = for_storage(&long);
        assert!(stored.len() < MAX_STORED_ERROR + 40, "{}", stored.len());
        assert!(stored.ends_with("bytes cut)"));
        assert!(!stored.contains("scrub-test-S3cret!value"));

        let mut out = Vec::new();
        std::io::Write::write_all(&mut ScrubWriter(&mut out), text.as_bytes()).unwrap();
        assert!(!String::from_utf8(out).unwrap().contains("S3cret"));
    }
}
