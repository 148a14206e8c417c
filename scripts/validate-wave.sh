#!/usr/bin/env bash
# validate-wave.sh RELEASE — checks the login-wave prediction (issue #11)
# against a measured saturation on a local hub of RELEASE (default 5.5.1):
#
#  1. a fit run: scenarios/login-ramp.js rising from 20 to FIT_PEAK (150)
#     arrivals/min over 4 minutes, which keeps the hub just below half a core
#     (0.45–0.49 cores measured on 5.5.1 and 5.3.0);
#  2. a ramp run: login-ramp.js from 20 to RAMP_PEAK (300) arrivals/min
#     over 8 minutes, which stops itself when the hub saturates (hub CPU at
#     95% of a core or p95 login above 2 s);
#  3. hubcap wave FIT RAMP: the saturation rate and the RSS at the ramp's
#     peak load predicted from the fit run, beside what the ramp measured.
#
# The machine may be shared: with RENICE=1 (the default) the hub process of
# each run is given nice -10 (its proxy and hubcap itself, the load generator
# and the fleet, -5) once it is up, so that the hub
# gets the core it would have in a deployment rather than a share of a
# loaded machine; /proc/loadavg is printed around each run. Results go to
# OUT (out/wave-RELEASE-TIME): fit.ndjson, ramp.ndjson, fit.txt, compare.txt;
# `hubcap wave OUT/fit.ndjson OUT/ramp.ndjson` redoes the comparison.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
RELEASE=${1:-5.5.1}
OUT=${OUT:-out/wave-$RELEASE-$(date -u +%Y%m%d-%H%M%S)}
FIT_PEAK=${FIT_PEAK:-150}
RAMP_PEAK=${RAMP_PEAK:-300}
RENICE=${RENICE:-1}
mkdir -p bin "$OUT"
go build -o bin/hubcap ./cmd/hubcap

# run NAME ARGS...: one hubcap run against a fresh local hub, reniced.
run() {
  local name=$1
  shift
  local dir="$OUT/runs/$name-$(date -u +%Y%m%d-%H%M%S)"
  echo "== $name: load before $(cut -d' ' -f1-3 /proc/loadavg)"
  bin/hubcap run --hub "local:$RELEASE" --run-dir "$dir" --progress plain --progress-interval 30s \
    --out "json=$OUT/$name.ndjson" "$@" scenarios/login-ramp.js >"$OUT/$name.log" 2>&1 &
  local pid=$!
  if [ "$RENICE" = 1 ]; then
    for _ in $(seq 120); do
      if [ -f "$dir/hubcap-state.json" ] && grep -q '"hub"' "$dir/hubcap-state.json"; then
        local hub proxy
        hub=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["hub"]["pid"])' "$dir/hubcap-state.json")
        proxy=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["proxy"]["pid"])' "$dir/hubcap-state.json")
        if renice -n -10 -p "$hub" >/dev/null && renice -n -5 -p "$proxy" "$pid" >/dev/null; then
          echo "   reniced hub $hub (-10), proxy $proxy and hubcap $pid (-5)"
        else
          echo "   renice failed (needs root): the run goes on at normal priority"
        fi
        break
      fi
      sleep 1
    done
  fi
  wait "$pid" || echo "   hubcap run exited $? (99: a threshold stopped it, as the ramp should)"
  echo "   load after $(cut -d' ' -f1-3 /proc/loadavg); $(grep -c . "$OUT/$name.ndjson") lines"
}

run fit -e START_RATE=20 -e PEAK_RATE="$FIT_PEAK" -e RAMP=4m -e ABORT=false
run ramp -e START_RATE=20 -e PEAK_RATE="$RAMP_PEAK" -e RAMP=8m
echo "== fit run alone"
bin/hubcap wave "$OUT/fit.ndjson" | tee "$OUT/fit.txt"
echo "== prediction from the fit run against the ramp"
bin/hubcap wave "$OUT/fit.ndjson" "$OUT/ramp.ndjson" | tee "$OUT/compare.txt"
