//! Property tests for the config parser: text made of config fragments (sections, keys, values
//! of every type, broken quoting and arbitrary characters) never makes it panic, and every
//! problem it reports names a line inside the file.
//! Run longer with `PROPTEST_CASES=20000 cargo nextest run -E 'test(/config::fuzz/)'`.

use proptest::prelude::*;

const FRAGMENTS: &[&str] = &[
    "version = 1\n",
    "version = 2\n",
    "[entra]\n",
    "[target]\n",
    "[policy]\n",
    "[service]\n",
    "[[pairs]]\n",
    "[[mappings]]\n",
    "tenant = \"contoso.onmicrosoft.com\"\n",
    "client_id = \"5d8a1c4e-1f0b-4c59-9a43-2f0b6c1d7e01\"\n",
    "client_secret = \"file:/etc/adsync/secret\"\n",
    "client_secret = \"hunter2\"\n",
    "url = \"https://app.example.com/scim/v2\"\n",
    "url = \"not a url\"\n",
    "token = \"env:TOKEN\"\n",
    "entra_group_id = \"6f1d0000-0000-4000-8000-000000000001\"\n",
    "target_group_id = \"g1\"\n",
    "order = 1\n",
    "order = -1\n",
    "order = 99999999999999999999\n",
    "source = \"department\"\n",
    "target = \"title\"\n",
    "interval = \"15m\"\n",
    "max_disables = 0\n",
    "group_mode = \"first\"\n",
    "x = [1, \"a\", {b = 2}]\n",
    "key = \"unterminated\n",
    "= value\n",
    "[entra\n",
    "\u{feff}",
    "\r\n",
    "# comment\n",
];

fn config_text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            4 => prop::sample::select(FRAGMENTS).prop_map(str::to_owned),
            1 => "\\PC{0,20}\n?",
        ],
        0..30,
    )
    .prop_map(|parts| parts.concat())
}

proptest! {
    #[test]
    fn config_parser_never_panics_and_names_real_lines(text in config_text()) {
        if let Err(problems) = super::parse_str(&text) {
            let lines = text.split('\n').count().max(1);
            prop_assert!(!problems.is_empty());
            for problem in problems {
                prop_assert!(problem.line >= 1 && problem.line <= lines + 1, "{problem} in {text:?}");
                prop_assert!(!problem.message.contains("hunter2"), "{problem}");
            }
        }
    }
}
