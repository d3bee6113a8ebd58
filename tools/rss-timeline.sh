#!/bin/bash
# Runs a command and writes its resident memory every 100 ms to $RSSLOG, one line per sample:
# seconds since start, then VmRSS in KiB. Used to see which phase of a sync holds the peak:
#
#   RSSLOG=/tmp/rss.log ADSYNC_BENCH_WRAP=$PWD/tools/rss-timeline.sh \
#       cargo bench --bench scale -- sync --runs 1
#
# (The benchmark's own peak is then that of this script, so read the peak from the log.)
set -u
: "${RSSLOG:?set RSSLOG to the file to write}"
"$@" &
pid=$!
start=$(date +%s.%N)
while kill -0 "$pid" 2>/dev/null; do
    rss=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null)
    echo "$(echo "$(date +%s.%N) - $start" | bc) ${rss:-0}" >>"$RSSLOG"
    sleep 0.1
done
wait "$pid"
