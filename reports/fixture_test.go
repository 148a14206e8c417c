package reports

import (
	"bytes"
	"encoding/json"
	"flag"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"
)

var regenFixture = flag.Bool("fixture", false, "regenerate testdata/run.ndjson (a synthetic 12-minute workshop run)")

const fixturePath = "testdata/run.ndjson"

// fixtureStart is the synthetic run's start.
var fixtureStart = time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC)

// TestWriteFixture checks that the NDJSON fixture is what its generator
// writes, and regenerates it with -fixture. The run is
// synthetic but shaped like a workshop: 30 attendees arrive over 5 minutes,
// log in, spawn (some throttled with 429, two failing with 500), open the
// lab, start a kernel, execute cells, and stop their servers at the end; the
// hub's telemetry is sampled every 15 s. Fixed seed: the file is reproducible.
func TestWriteFixture(t *testing.T) {
	b := syntheticRun(rand.New(rand.NewPCG(2025, 3)), 30, 12*time.Minute)
	if !*regenFixture {
		have, err := os.ReadFile(fixturePath)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(have, b) {
			t.Fatalf("%s is not what syntheticRun writes: regenerate it with go test -run TestWriteFixture -fixture", fixturePath)
		}
		return
	}
	if err := os.MkdirAll(filepath.Dir(fixturePath), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(fixturePath, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

type fxPoint struct {
	metric string
	t      time.Time
	v      float64
	tags   map[string]string
}

// syntheticRun writes a k6 NDJSON stream as described on TestWriteFixture.
func syntheticRun(rng *rand.Rand, attendees int, length time.Duration) []byte {
	kinds := map[string][2]string{
		MetricArrivals: {"counter", "default"}, MetricActive: {"gauge", "default"},
		MetricHubRunning: {"gauge", "default"}, MetricHubUsers: {"gauge", "default"},
		MetricHubRSS: {"gauge", "data"}, MetricHubCPU: {"gauge", "default"},
		MetricDBSpawners: {"gauge", "default"}, MetricDBRunning: {"gauge", "default"},
		MetricDBJoinedRows: {"gauge", "default"}, MetricVUs: {"gauge", "default"},
		MetricIterations: {"counter", "default"}, MetricIterationTime: {"trend", "time"},
		MetricChecks: {"rate", "default"}, MetricDroppedIters: {"counter", "default"},
		MetricDataSent: {"counter", "data"}, MetricDataReceived: {"counter", "data"},
		"jupyterhub_errors": {"counter", "default"}, "jupyterhub_throttled": {"counter", "default"},
		MetricRunStatus: {"gauge", "default"},
	}
	for _, ph := range PhaseOrder {
		kinds["jupyterhub_"+ph+"_duration"] = [2]string{"trend", "time"}
	}
	var pts []fxPoint
	add := func(m string, at time.Time, v float64, tags map[string]string) {
		if tags == nil {
			tags = map[string]string{}
		}
		tags["scenario"] = "workshop"
		pts = append(pts, fxPoint{m, at, v, tags})
	}
	ms := func(lo, hi float64) float64 { return math.Round((lo+rng.Float64()*(hi-lo))*100) / 100 }
	dur := func(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }
	type life struct{ up, down time.Time }
	var lives []life
	end := fixtureStart.Add(length)
	for i := 0; i < attendees; i++ {
		user := map[string]string{"user": "attendee-" + itoa(i)}
		at := fixtureStart.Add(time.Duration(float64(5*time.Minute) * math.Sqrt(float64(i)/float64(attendees))))
		add(MetricArrivals, at, 1, nil)
		add(MetricVUs, at, float64(i+1), nil)
		t := at
		step := func(phase string, lo, hi float64) {
			v := ms(lo, hi)
			t = t.Add(dur(v))
			add("jupyterhub_"+phase+"_duration", t, v, map[string]string{"phase": phase, "user": user["user"]})
		}
		step("login", 120, 420)
		if i%7 == 3 { // throttled by concurrent_spawn_limit, retried after Retry-After
			t = t.Add(2 * time.Second)
			add("jupyterhub_throttled", t, 1, map[string]string{"phase": "spawn", "status": "429"})
		}
		if i == 11 || i == 23 { // spawn fails
			t = t.Add(dur(ms(8000, 12000)))
			add("jupyterhub_errors", t, 1, map[string]string{"phase": "spawn", "status": "500"})
			add(MetricChecks, t, 0, map[string]string{"check": "server ready"})
			continue
		}
		step("spawn", 2500+float64(i)*120, 5000+float64(i)*200)
		add(MetricChecks, t, 1, map[string]string{"check": "server ready"})
		up := t
		step("oauth", 90, 260)
		step("lab_load", 300, 900)
		step("start_kernel", 900, 2400)
		step("connect_kernel", 15, 80)
		add(MetricChecks, t, 1, map[string]string{"check": "kernel idle"})
		for c := 0; c < 5; c++ {
			t = t.Add(time.Duration(60+rng.IntN(60)) * time.Second)
			if t.After(end.Add(-90 * time.Second)) {
				break
			}
			if i == 17 && c == 2 {
				t = t.Add(30 * time.Second)
				add("jupyterhub_errors", t, 1, map[string]string{"phase": "execute", "status": "timeout"})
				continue
			}
			step("execute", 40, 350+float64(c)*60)
		}
		if t.Before(end.Add(-80 * time.Second)) {
			t = end.Add(-80 * time.Second).Add(time.Duration(rng.IntN(30)) * time.Second)
		}
		step("shutdown_kernel", 80, 300)
		step("stop_server", 900, 2800)
		lives = append(lives, life{up, t})
		add(MetricIterations, t, 1, nil)
		add(MetricIterationTime, t, float64(t.Sub(at).Milliseconds()), nil)
		add(MetricDataSent, t, float64(18000+rng.IntN(4000)), nil)
		add(MetricDataReceived, t, float64(2400000+rng.IntN(400000)), nil)
	}
	add(MetricDroppedIters, fixtureStart.Add(4*time.Minute), 1, nil)
	// Telemetry every 15 s.
	cpu := 3.2
	for tick := fixtureStart; !tick.After(end); tick = tick.Add(15 * time.Second) {
		running, arrived := 0, 0
		for _, l := range lives {
			if !tick.Before(l.up) && tick.Before(l.down) {
				running++
			}
		}
		for i := 0; i < attendees; i++ {
			if at := fixtureStart.Add(time.Duration(float64(5*time.Minute) * math.Sqrt(float64(i)/float64(attendees)))); !at.After(tick) {
				arrived++
			}
		}
		active := arrived
		if tick.After(end.Add(-60 * time.Second)) {
			active = running
		}
		rss := 118<<20 + float64(running)*2.6*(1<<20) + float64(arrived)*0.4*(1<<20) + float64(rng.IntN(3<<20))
		cpu += 0.15 + 0.05*float64(running) + rng.Float64()*0.2
		users := float64(arrived)
		add(MetricActive, tick, float64(active), nil)
		add(MetricHubRunning, tick, float64(running), nil)
		add(MetricHubUsers, tick, users, nil)
		add(MetricHubRSS, tick, math.Round(rss), nil)
		add(MetricHubCPU, tick, math.Round(cpu*100)/100, nil)
		add(MetricDBSpawners, tick, users, nil)
		add(MetricDBRunning, tick, float64(running), nil)
		add(MetricDBJoinedRows, tick, float64(running), nil)
	}
	add(MetricRunStatus, end.Add(time.Second), 1, map[string]string{"status": StatusCompleted})
	sort.SliceStable(pts, func(i, j int) bool { return pts[i].t.Before(pts[j].t) })
	var buf bytes.Buffer
	declared := map[string]bool{}
	enc := json.NewEncoder(&buf)
	for _, p := range pts {
		if !declared[p.metric] {
			declared[p.metric] = true
			k := kinds[p.metric]
			_ = enc.Encode(map[string]any{"type": "Metric", "metric": p.metric,
				"data": map[string]any{"name": p.metric, "type": k[0], "contains": k[1], "thresholds": []string{}, "submetrics": nil}})
		}
		_ = enc.Encode(map[string]any{"type": "Point", "metric": p.metric,
			"data": map[string]any{"time": p.t.Format(time.RFC3339Nano), "value": p.v, "tags": p.tags}})
	}
	return buf.Bytes()
}

func itoa(i int) string { return string(rune('0'+i/10)) + string(rune('0'+i%10)) }
