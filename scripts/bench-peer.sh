#!/usr/bin/env bash
# bench-peer.sh — the generator's CPU per execute, hubcap against hubtraf,
# on hubtraf's journey (form login, default server through /hub/spawn, a
# kernel, `5 * 4` over the kernel websocket every U(0,1) s for
# U(MIN_RUNTIME, MAX_RUNTIME) s, kernel and server stopped), each against a
# fresh local JupyterHub whose single-user servers are hubcap's fleet (in
# its own process). CPU is user+sys of the generator process and its
# children, from /usr/bin/time; executes are hubtraf's summed iterations and
# hubcap's peer_executes counter. hubcap runs with its summary, NDJSON
# output and hub telemetry on.
#
# hubtraf is not installed by this script: point HUBTRAF at hubtraf-simulate
# (e.g. a venv with `pip install` of a hubtraf checkout); without it only
# hubcap runs. The hub is addressed as localhost, not 127.0.0.1: aiohttp's
# cookie jar drops cookies set by IP-address hosts, so hubtraf cannot log in
# at 127.0.0.1.
#
#   ATTENDEES=300 HUBTRAF=/tmp/hubtraf/venv/bin/hubtraf-simulate scripts/bench-peer.sh
#
# Knobs: ATTENDEES 300, START_DELAY 60, MIN_RUNTIME 60, MAX_RUNTIME 90,
# RELEASE 5.5.1, OUT out/bench-peer, HUBTRAF (default: hubtraf-simulate on PATH).
set -euo pipefail

ATTENDEES=${ATTENDEES:-300}
START_DELAY=${START_DELAY:-60}
MIN_RUNTIME=${MIN_RUNTIME:-60}
MAX_RUNTIME=${MAX_RUNTIME:-90}
RELEASE=${RELEASE:-5.5.1}
OUT=${OUT:-out/bench-peer}
HUBTRAF=${HUBTRAF:-$(command -v hubtraf-simulate || true)}

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
[ -x /usr/bin/time ] || { echo "bench-peer: /usr/bin/time is missing (apt-get install time)" >&2; exit 2; }
mkdir -p "$OUT"
go build -o bin/hubcap ./cmd/hubcap

rundir=""
hub_down() {
	if [ -n "$rundir" ]; then
		bin/hubcap hub down --run-dir "$rundir" >/dev/null 2>&1 || true
		rundir=""
	fi
}
trap hub_down EXIT

# hub_up NAME: a fresh fleet-backed hub in $OUT/hub-NAME; sets url, rundir.
hub_up() {
	rundir="$OUT/hub-$1"
	rm -rf "$rundir"
	bin/hubcap hub up --release "$RELEASE" --spawner fleet --run-dir "$rundir" >"$OUT/$1-hub-up.txt" 2>&1 || {
		cat "$OUT/$1-hub-up.txt" >&2
		exit 1
	}
	url=$(sed -n 's/.* is up at \(http[^ ]*\).*/\1/p' "$OUT/$1-hub-up.txt" | head -1)
	url=${url/127.0.0.1/localhost}
}

# cpu_of FILE: "user sys maxrss_kb" written by /usr/bin/time -f.
timefmt='%U %S %M'

rows=()
row() { rows+=("$(printf '%-10s %9s %7s %10s %12s %10s' "$@")"); }
row generator executes errors "cpu (s)" "cpu/execute" "peak RSS"

if [ -n "$HUBTRAF" ]; then
	hub_up hubtraf
	echo "bench-peer: hubtraf, $ATTENDEES attendees against $url" >&2
	/usr/bin/time -f "$timefmt" -o "$OUT/hubtraf.time" "$HUBTRAF" "$url" "$ATTENDEES" --user-prefix peer \
		--user-session-min-runtime "$MIN_RUNTIME" --user-session-max-runtime "$MAX_RUNTIME" \
		--user-session-max-start-delay "$START_DELAY" >"$OUT/hubtraf.log" 2>&1 || true
	hub_down
	read -r ht_user ht_sys ht_rss <"$OUT/hubtraf.time"
	ht_exec=$(sed 's/\x1b\[[0-9;]*m//g' "$OUT/hubtraf.log" | awk '/^Success: code-execute/ { for (i = 1; i <= NF; i++) if ($i ~ /^iteration:/) { split($i, a, ":"); n += a[2] } } END { print n + 0 }')
	ht_fail=$(sed 's/\x1b\[[0-9;]*m//g' "$OUT/hubtraf.log" | grep -c '^Failure: code-execute' || true)
	ht_cpu=$(echo "$ht_user $ht_sys" | awk '{ printf "%.2f", $1 + $2 }')
	ht_per=$(echo "$ht_cpu $ht_exec" | awk '{ if ($2 > 0) printf "%.4f", 1000 * $1 / $2; else print "n/a" }')
	row hubtraf "$ht_exec" "$ht_fail" "$ht_cpu" "${ht_per} ms" "$((ht_rss / 1024)) MB"
	echo "bench-peer: hubtraf outcomes: $(grep -a '^Counter(' "$OUT/hubtraf.log" || echo none)" >&2
else
	echo "bench-peer: hubtraf-simulate not found (set HUBTRAF); running hubcap alone" >&2
fi

hub_up hubcap
echo "bench-peer: hubcap run, $ATTENDEES attendees against $url" >&2
rm -f "$OUT/hubcap.ndjson" "$OUT/hubcap-summary.json"
/usr/bin/time -f "$timefmt" -o "$OUT/hubcap.time" env -u HUBCAP_TOKEN bin/hubcap run --hub "$url" \
	--token-file "$rundir/service-token" --name-prefix peer- -q \
	--out json="$OUT/hubcap.ndjson" --summary-export "$OUT/hubcap-summary.json" \
	-e ATTENDEES="$ATTENDEES" -e START_DELAY="$START_DELAY" -e MIN_RUNTIME="$MIN_RUNTIME" -e MAX_RUNTIME="$MAX_RUNTIME" \
	scripts/bench-peer.js >"$OUT/hubcap.log" 2>&1 || true
hub_down
read -r hc_user hc_sys hc_rss <"$OUT/hubcap.time"
read -r hc_exec hc_fail hc_done < <(python3 -c '
import json, sys
m = json.load(open(sys.argv[1]))["metrics"]
c = lambda k: int(m.get(k, {}).get("count", 0))
print(c("peer_executes"), c("jupyterhub_errors"), c("peer_completed"))' "$OUT/hubcap-summary.json" 2>/dev/null || echo "0 0 0")
hc_cpu=$(echo "$hc_user $hc_sys" | awk '{ printf "%.2f", $1 + $2 }')
hc_per=$(echo "$hc_cpu $hc_exec" | awk '{ if ($2 > 0) printf "%.4f", 1000 * $1 / $2; else print "n/a" }')
row "hubcap" "$hc_exec" "$hc_fail" "$hc_cpu" "${hc_per} ms" "$((hc_rss / 1024)) MB"
echo "bench-peer: hubcap completed journeys: $hc_done of $ATTENDEES" >&2

printf '%s\n' "${rows[@]}"
if [ -n "$HUBTRAF" ] && [ "$hc_exec" -gt 0 ] && [ "$ht_exec" -gt 0 ]; then
	echo "$ht_cpu $ht_exec $hc_cpu $hc_exec" | awk '{ printf "hubtraf / hubcap CPU per execute: %.1fx\n", ($1 / $2) / ($3 / $4) }'
fi
