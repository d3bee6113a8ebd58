#!/usr/bin/env bash
# Retakes docs/screenshots/: every step of `adsync-setup --demo --open-step N`, in the light and
# the dark theme, at 1024x768 and at 1600x900, each size on a private Xvfb display of that size.
# Files: docs/screenshots/<W>x<H>/<theme>/step-N-<name>.png
# Needs: xvfb imagemagick xdotool (apt-get install -y xvfb imagemagick xdotool).
# Usage: docs/screenshots/take.sh [path/to/adsync-setup]   (default: cargo's debug build)
# Narrow it with SCREENSHOT_SIZES="1024x768", SCREENSHOT_THEMES="dark", SCREENSHOT_STEPS="1 6".
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${1:-${CARGO_TARGET_DIR:-target}/debug/adsync-setup}
[ -x "$bin" ] || { echo "build it first: cargo build --bin adsync-setup"; exit 2; }
names=(credentials azure-app pairing search preview finish)
sizes=${SCREENSHOT_SIZES:-1024x768 1600x900}
themes=${SCREENSHOT_THEMES:-light dark}
steps=${SCREENSHOT_STEPS:-1 2 3 4 5 6}
# One display number per size: a display just stopped may still hold its number for a moment.
first_display=${SCREENSHOT_DISPLAY:-97}
work=$(mktemp -d)
xvfb=
app=
cleanup() {
    [ -n "$app" ] && kill "$app" 2>/dev/null || true
    [ -n "$xvfb" ] && kill "$xvfb" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
trap 'echo "take.sh: failed at line $LINENO" >&2' ERR

index=0
for size in $sizes; do
    display=:$((first_display + index))
    index=$((index + 1))
    Xvfb "$display" -screen 0 "${size}x24" -nolisten tcp >/dev/null 2>&1 &
    xvfb=$!
    for _ in $(seq 1 150); do
        DISPLAY=$display xdotool getdisplaygeometry >/dev/null 2>&1 && break
        sleep 0.2
    done
    kill -0 "$xvfb" 2>/dev/null || { echo "Xvfb did not start on $display"; exit 1; }
    [ "$(DISPLAY=$display xdotool getdisplaygeometry | tr ' ' x)" = "$size" ] ||
        { echo "$display is not the ${size} display this script started"; exit 1; }
    for theme in $themes; do
        mkdir -p "docs/screenshots/$size/$theme"
        for n in $steps; do
            out=docs/screenshots/$size/$theme/step-$n-${names[$((n - 1))]}.png
            log=$work/step-$n.log
            # The wizard prints `ready` once the simulators are up and the step's reads
            # (groups, members, plan) have settled.
            DISPLAY=$display "$bin" --demo --open-step "$n" --theme "$theme" \
                --window-size "$size" >"$log" 2>&1 &
            app=$!
            for _ in $(seq 1 600); do
                grep -qx ready "$log" && break
                kill -0 "$app" 2>/dev/null || { cat "$log"; echo "adsync-setup exited (step $n)"; exit 1; }
                sleep 0.2
            done
            grep -qx ready "$log" || { cat "$log"; echo "step $n never settled"; exit 1; }
            window=
            for _ in $(seq 1 50); do
                window=$(DISPLAY=$display xdotool search --name "adsync setup" 2>/dev/null | head -1 || true)
                [ -n "$window" ] && break
                sleep 0.2
            done
            [ -n "$window" ] || { echo "no window for step $n"; exit 1; }
            # The pointer away from every control (no hover highlight), and one more frame shown.
            DISPLAY=$display xdotool mousemove 0 0 || true
            sleep 1
            DISPLAY=$display import -window "$window" "$out"
            kill "$app" 2>/dev/null || true
            wait "$app" 2>/dev/null || true
            app=
            echo "wrote $out"
        done
    done
    kill "$xvfb" 2>/dev/null || true
    wait "$xvfb" 2>/dev/null || true
    xvfb=
done
