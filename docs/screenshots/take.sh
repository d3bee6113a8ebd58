#!/usr/bin/env bash
# Retakes docs/screenshots/step-N-*.png: runs `adsync-setup --demo --open-step N` for each step
# on a private Xvfb display at 1024x768, waits for its background work, and grabs the screen.
# Needs: xvfb imagemagick xdotool (apt-get install -y xvfb imagemagick xdotool).
# Usage: docs/screenshots/take.sh [path/to/adsync-setup]   (default: cargo's debug build)
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${1:-${CARGO_TARGET_DIR:-target}/debug/adsync-setup}
[ -x "$bin" ] || { echo "build it first: cargo build --bin adsync-setup"; exit 2; }
names=(credentials azure-app pairing search preview finish)
display=:${SCREENSHOT_DISPLAY:-97}
Xvfb "$display" -screen 0 1024x768x24 -nolisten tcp >/dev/null 2>&1 &
xvfb=$!
trap 'kill $xvfb 2>/dev/null || true' EXIT
sleep 1
for n in 1 2 3 4 5 6; do
    out=docs/screenshots/step-$n-${names[$((n - 1))]}.png
    DISPLAY=$display "$bin" --demo --open-step "$n" >/dev/null 2>&1 &
    app=$!
    # The window, then the simulators and the step's reads (groups, members, plan).
    window=
    for _ in $(seq 1 240); do
        window=$(DISPLAY=$display xdotool search --name "adsync setup" 2>/dev/null | head -1) && [ -n "$window" ] && break
        sleep 0.5
    done
    [ -n "$window" ] || { echo "no window for step $n"; exit 1; }
    sleep "${SCREENSHOT_WAIT:-8}"
    DISPLAY=$display import -window "$window" "$out"
    kill "$app" 2>/dev/null || true
    wait "$app" 2>/dev/null || true
    echo "wrote $out"
done
