#!/usr/bin/env bash
# Writes installer/linux/build/adsync.1.gz, the man page both packages ship, from the release
# binary's own help (help2man), so it never drifts from it. Needs the release build and help2man.
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"
mkdir -p installer/linux/build
help2man --no-info --section 1 \
    --name "keeps an application's users in step with Microsoft Entra ID" \
    --include installer/linux/adsync.h2m \
    "$target/release/adsync" | gzip -9n > installer/linux/build/adsync.1.gz
