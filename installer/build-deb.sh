#!/usr/bin/env bash
# Builds the .deb: a release build, the man page (help2man, from `adsync --help`), then cargo-deb.
# Needs: cargo-deb (`cargo install cargo-deb --locked`), help2man, gzip.
# Prints the path of the .deb on its last line.
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"

cargo build --release --locked >&2

installer/man-page.sh

mkdir -p "$target/debian"
cargo deb --no-build --locked --output "$target/debian/" >&2
ls -t "$target"/debian/adsync_*.deb | head -1
