#!/usr/bin/env bash
# make demo: a 700-attendee workshop against a real local JupyterHub 5.3.0,
# then its capacity report.
#
#  1. sets up what is missing (scripts/setup.sh: JupyterHub releases,
#     configurable-http-proxy, ECharts; idempotent) and builds bin/hubcap;
#  2. takes the shipped 5.3.0 calibration, or makes one (hubcap calibrate,
#     3-minute budget) when there is none;
#  3. runs scenarios/workshop.js with `hubcap run --hub local:5.3.0`: a
#     local hub whose single-user servers are hubcap's fleet, 700 attendees
#     arriving over 3 minutes, 75-minute sessions played 30× faster;
#  4. writes out/report.html and prints the verdict and its path.
#
# Knobs (environment): ATTENDEES (700), ARRIVAL_WINDOW (3m), SESSION_LENGTH
# (75m), TIME_SCALE (30), THINK_TIME (10m), SECOND_SERVER_FRACTION (0.1),
# HUB_MEMORY_LIMIT (3Gi, the limit the verdict is about), OUT (out).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

ATTENDEES=${ATTENDEES:-700}
ARRIVAL_WINDOW=${ARRIVAL_WINDOW:-3m}
SESSION_LENGTH=${SESSION_LENGTH:-75m}
TIME_SCALE=${TIME_SCALE:-30}
THINK_TIME=${THINK_TIME:-10m}
SECOND_SERVER_FRACTION=${SECOND_SERVER_FRACTION:-0.1}
HUB_MEMORY_LIMIT=${HUB_MEMORY_LIMIT:-3Gi}
OUT=${OUT:-out}
RELEASE=5.3.0

start=$(date +%s)
say() { printf '\n== %s (t+%ss)\n' "$*" "$(($(date +%s) - start))"; }

say "setting up what is missing"
bash scripts/setup.sh
mkdir -p bin "$OUT"
go build -o bin/hubcap ./cmd/hubcap

cal="models/calibrations/jupyterhub-$RELEASE.json"
if [ -f "$cal" ]; then
  say "calibration: $cal (shipped)"
else
  cal="$OUT/calibration-$RELEASE.json"
  if [ ! -f "$cal" ]; then
    say "no shipped calibration of $RELEASE: calibrating (3 minutes)"
    bin/hubcap calibrate --hub "local:$RELEASE" --budget 3m -o "$cal"
  fi
  say "calibration: $cal"
fi

results="$OUT/results.ndjson"
say "running scenarios/workshop.js: $ATTENDEES attendees over $ARRIVAL_WINDOW against a local JupyterHub $RELEASE"
code=0
bin/hubcap run --hub "local:$RELEASE" --run-dir "$OUT/runs/demo-$(date -u +%Y%m%d-%H%M%S)" \
  --progress plain --progress-interval 30s \
  --out "json=$results" --summary-export "$OUT/summary.json" \
  -e ATTENDEES="$ATTENDEES" -e ARRIVAL_WINDOW="$ARRIVAL_WINDOW" -e SESSION_LENGTH="$SESSION_LENGTH" \
  -e TIME_SCALE="$TIME_SCALE" -e THINK_TIME="$THINK_TIME" \
  -e SECOND_SERVER_FRACTION="$SECOND_SERVER_FRACTION" -e HUB_MEMORY_LIMIT="$HUB_MEMORY_LIMIT" \
  scenarios/workshop.js || code=$?
case $code in
  0) ;;
  99) echo "demo: some thresholds failed (exit 99); the report says which" ;;
  105 | 130) echo "demo: interrupted; writing the report of what ran" ;;
  *) if [ ! -s "$results" ]; then
       echo "demo: hubcap run failed (exit $code) before writing results" >&2
       exit "$code"
     fi
     echo "demo: hubcap run exited $code; writing the report of what ran" ;;
esac

say "writing the capacity report"
bin/hubcap report "$results" --summary "$OUT/summary.json" --calibration "$cal" \
  --limit "$HUB_MEMORY_LIMIT" --planned "$ATTENDEES" \
  --title "Workshop of $ATTENDEES attendees on JupyterHub $RELEASE" -o "$OUT/report.html"
say "done: open $OUT/report.html (wall time $(($(date +%s) - start)) s)"
