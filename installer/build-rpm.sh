#!/usr/bin/env bash
# Builds the .rpm: the release build (a no-op when installer/build-deb.sh has just made it), the
# man page, then cargo-generate-rpm, which writes the package without rpmbuild or a spec file from
# [package.metadata.generate-rpm] in Cargo.toml.
# Needs: cargo-generate-rpm (`cargo install cargo-generate-rpm --locked`), help2man, gzip.
# Prints the path of the .rpm on its last line.
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"

cargo build --release --locked >&2
installer/man-page.sh

mkdir -p "$target/generate-rpm"
rm -f "$target"/generate-rpm/adsync-*.rpm
# gzip: zstd (the default) took minutes on a loaded 2-core machine for a 20 MB payload.
cargo generate-rpm --target-dir "$target" --payload-compress gzip >&2
ls -t "$target"/generate-rpm/adsync-*.rpm | head -1
