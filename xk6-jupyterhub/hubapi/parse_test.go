package hubapi

import (
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"

	"github.com/hubcap-dev/hubcap/shape"
)

func TestParseScopeMessage(t *testing.T) {
	cases := []struct {
		name   string
		msg    string
		want   []string
		wantOK bool
	}{
		// exact text of jupyterhub/scopes.py needs_scope, 4.1 … 6.x
		{"needs_scope one", "Action is not authorized with current scopes; requires any of [admin:users]", []string{"admin:users"}, true},
		{"needs_scope several", "Action is not authorized with current scopes; requires any of [read:users, read:users:name, read:servers]",
			[]string{"read:users", "read:users:name", "read:servers"}, true},
		// utils.py metrics_authentication
		{"metrics", "Access to metrics requires scope 'read:metrics'", []string{"read:metrics"}, true},
		// apihandlers/shares.py
		{"shares", "Need scope 'read:users:name' to share with users by name", []string{"read:users:name"}, true},
		// filtered scope names survive
		{"filtered", "requires any of [servers!user=alice]", []string{"servers!user=alice"}, true},
		// no scope named: credentials are the problem
		{"credentials", "Missing or invalid credentials.", nil, false},
		{"empty list", "requires any of []", nil, false},
		{"garbage inside", "requires any of [<script>, ok:scope]", []string{"ok:scope"}, true},
		{"empty", "", nil, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, ok := ParseScopeMessage(c.msg)
			if ok != c.wantOK || !reflect.DeepEqual(got, c.want) {
				t.Errorf("ParseScopeMessage(%q) = %q, %v; want %q, %v", c.msg, got, ok, c.want, c.wantOK)
			}
		})
	}
}

func TestAPIErrorIs(t *testing.T) {
	cases := []struct {
		status int
		want   error
	}{
		{401, ErrUnauthorized}, {403, ErrForbidden}, {404, ErrNotFound}, {409, ErrConflict},
		{429, ErrThrottled}, {500, ErrServer}, {503, ErrServer}, {400, ErrBadRequest}, {418, ErrBadRequest},
	}
	for _, c := range cases {
		err := error(&APIError{Method: "GET", Path: "/x", Status: c.status})
		if !errors.Is(err, c.want) {
			t.Errorf("status %d: errors.Is(%v) false", c.status, c.want)
		}
		if c.want != ErrNotFound && errors.Is(err, ErrNotFound) {
			t.Errorf("status %d matches ErrNotFound", c.status)
		}
	}
}

func TestErrorMessage(t *testing.T) {
	cases := []struct {
		name, ct, body, want string
	}{
		{"hub json", "application/json", `{"status": 403, "message": "Action is not authorized with current scopes; requires any of [list:users]"}`,
			"Action is not authorized with current scopes; requires any of [list:users]"},
		{"html page with scope", "text/html", `<html><title>JupyterHub</title><p>Access to metrics requires scope 'read:metrics'</p></html>`,
			"requires scope 'read:metrics'"},
		{"html title", "text/html", "<html><head><title>404 Not\n Found</title></head></html>", "404 Not Found"},
		{"plain", "text/plain", "  upstream   connect error  ", "upstream connect error"},
	}
	for _, c := range cases {
		if got := errorMessage(c.ct, []byte(c.body)); got != c.want {
			t.Errorf("%s: errorMessage = %q, want %q", c.name, got, c.want)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		in     string
		want   time.Duration
		wantOK bool
	}{
		{"30", 30 * time.Second, true},                            // what the hub sends (int seconds)
		{" 7 ", 7 * time.Second, true},                            // whitespace tolerated
		{"0", 0, true},                                            // retry at once
		{"1.5", 2 * time.Second, true},                            // non-standard fraction rounds up
		{"Sat, 01 Mar 2025 12:00:45 GMT", 45 * time.Second, true}, // HTTP-date
		{"Sat, 01 Mar 2025 11:59:00 GMT", 0, true},                // date in the past
		{"Saturday, 01-Mar-25 12:01:00 GMT", time.Minute, true},   // RFC 850 date
		{"", 0, false},
		{"-5", 0, false},
		{"soon", 0, false},
		{"99999999999999999999999", time.Duration(math.MaxInt64/int64(time.Second)) * time.Second, true}, // clamped
	}
	for _, c := range cases {
		got, ok := ParseRetryAfter(c.in, now)
		if got != c.want || ok != c.wantOK {
			t.Errorf("ParseRetryAfter(%q) = %v, %v; want %v, %v", c.in, got, ok, c.want, c.wantOK)
		}
	}
}

func TestThrottleWaitAndBackoff(t *testing.T) {
	p := RetryPolicy{BaseBackoff: 100 * time.Millisecond, MaxBackoff: time.Second, MaxWait: 40 * time.Second}
	// Retry-After is honoured, with at most 10 % jitter
	if got := ThrottleWait(30*time.Second, true, 0, p, 0); got != 30*time.Second {
		t.Errorf("no jitter: %v", got)
	}
	if got := ThrottleWait(30*time.Second, true, 0, p, 0.5); got != 31500*time.Millisecond {
		t.Errorf("half jitter: %v", got)
	}
	// capped by MaxWait
	if got := ThrottleWait(90*time.Second, true, 0, p, 0.9); got != 40*time.Second {
		t.Errorf("cap: %v", got)
	}
	// no Retry-After (active_server_limit): exponential backoff
	if got := ThrottleWait(0, false, 2, p, 0); got != 200*time.Millisecond {
		t.Errorf("fallback: %v", got)
	}
	// backoff doubles, stays within [ceil/2, ceil], and is capped
	for attempt, ceil := range []time.Duration{100, 200, 400, 800, 1000, 1000} {
		ceil *= time.Millisecond
		lo, hi := Backoff(attempt, p, 0), Backoff(attempt, p, 0.999999)
		if lo != ceil/2 || hi > ceil || hi < lo {
			t.Errorf("attempt %d: [%v, %v], ceil %v", attempt, lo, hi, ceil)
		}
	}
	if got := Backoff(1000, p, 1); got > time.Second {
		t.Errorf("huge attempt not capped: %v", got)
	}
}

func TestParseVersion(t *testing.T) {
	cases := []struct {
		in      string
		want    HubVersion
		ok      bool
		atLeast bool // AtLeast(6,0,0)
	}{
		{"5.5.1", HubVersion{Raw: "5.5.1", Major: 5, Minor: 5, Patch: 1}, true, false},
		{"6.0.0b2", HubVersion{Raw: "6.0.0b2", Major: 6, Patch: 0, Pre: "b2"}, true, true},
		{"4.1.6", HubVersion{Raw: "4.1.6", Major: 4, Minor: 1, Patch: 6}, true, false},
		{"5.4", HubVersion{Raw: "5.4", Major: 5, Minor: 4}, true, false},
		{"5.5.1.dev0", HubVersion{Raw: "5.5.1.dev0", Major: 5, Minor: 5, Patch: 1, Pre: ".dev0"}, true, false},
		{"10.2.3", HubVersion{Raw: "10.2.3", Major: 10, Minor: 2, Patch: 3}, true, true},
		{"five", HubVersion{Raw: "five"}, false, false},
		{"5", HubVersion{Raw: "5"}, false, false},
	}
	for _, c := range cases {
		got, ok := ParseVersion(c.in)
		if ok != c.ok || got != c.want {
			t.Errorf("ParseVersion(%q) = %+v, %v; want %+v, %v", c.in, got, ok, c.want, c.ok)
		}
		if ok && got.AtLeast(6, 0, 0) != c.atLeast {
			t.Errorf("%q AtLeast(6,0,0) = %v", c.in, !c.atLeast)
		}
	}
}

func TestStartBody(t *testing.T) {
	opts := map[string]any{"profile": "small"}
	v5, _ := ParseVersion("5.5.1")
	v6, _ := ParseVersion("6.0.0b2")
	// before 6.0 the body is the options themselves
	if got := StartBody(v5, opts); !reflect.DeepEqual(got, opts) {
		t.Errorf("5.x body %v", got)
	}
	// 6.x wraps them so that display_name can travel alongside
	if got := StartBody(v6, opts); !reflect.DeepEqual(got, map[string]any{"user_options": opts}) {
		t.Errorf("6.x body %v", got)
	}
}

func TestSSEReader(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want []SSEEvent
	}{
		{"hub events with keepalives",
			"\n\ndata: {\"progress\": 0}\n\n\n\ndata: {\"progress\": 100, \"ready\": true}\n\n",
			[]SSEEvent{{Data: `{"progress": 0}`, Retry: -1}, {Data: `{"progress": 100, "ready": true}`, Retry: -1}}},
		{"multi-line data joined with LF", "data: a\ndata:b\ndata:  c\n\n",
			[]SSEEvent{{Data: "a\nb\n c", Retry: -1}}},
		{"comments ignored", ": keepalive\ndata: x\n: another\n\n", []SSEEvent{{Data: "x", Retry: -1}}},
		{"CRLF and CR line ends", "data: one\r\n\r\ndata: two\r\rdata: three\r\n\n",
			[]SSEEvent{{Data: "one", Retry: -1}, {Data: "two", Retry: -1}, {Data: "three", Retry: -1}}},
		{"event type, id and retry", "event: progress\nid: 7\nretry: 1500\ndata: d\n\n",
			[]SSEEvent{{Type: "progress", ID: "7", Retry: 1500, Data: "d"}}},
		{"bad retry ignored", "retry: 1.5\ndata: d\n\n", []SSEEvent{{Data: "d", Retry: -1}}},
		{"unterminated last event dropped", "data: a\n\ndata: b", []SSEEvent{{Data: "a", Retry: -1}}},
		{"field without colon", "data\n\n", []SSEEvent{{Data: "", Retry: -1}}},
		{"BOM skipped", "\uFEFFdata: x\n\n", []SSEEvent{{Data: "x", Retry: -1}}},
		{"event without data not dispatched", "event: ping\n\ndata: y\n\n", []SSEEvent{{Data: "y", Retry: -1}}},
		{"id persists", "id: 1\ndata: a\n\ndata: b\n\n", []SSEEvent{{ID: "1", Data: "a", Retry: -1}, {ID: "1", Data: "b", Retry: -1}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := NewSSEReader(strings.NewReader(c.in), 0)
			var got []SSEEvent
			for {
				ev, err := r.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, ev)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("got %+v\nwant %+v", got, c.want)
			}
		})
	}
}

func TestSSELineLimit(t *testing.T) {
	r := NewSSEReader(strings.NewReader("data: "+strings.Repeat("x", 100)+"\n\n"), 50)
	if _, err := r.Next(); !errors.Is(err, ErrSSELineTooLong) {
		t.Fatalf("err = %v, want ErrSSELineTooLong", err)
	}
}

func TestFollowProgress(t *testing.T) {
	// the hub's own event texts (apihandlers/users.py SpawnProgressAPIHandler)
	ready := "data: {\"progress\": 50, \"message\": \"Spawning\"}\n\n" +
		"data: {\"progress\": 100, \"ready\": true, \"message\": \"Server ready at /user/a/s/\", \"url\": \"/user/a/s/\"}\n\n"
	ev, done, err := FollowProgress(strings.NewReader(ready))
	if err != nil || !done || !ev.Ready || ev.URL != "/user/a/s/" {
		t.Errorf("ready stream: %+v %v %v", ev, done, err)
	}
	failed := "data: {\"progress\": 100, \"failed\": true, \"message\": \"Spawn failed: boom\"}\n\n"
	ev, done, err = FollowProgress(strings.NewReader(failed))
	if !errors.Is(err, ErrSpawnFailed) || !done || !strings.Contains(err.Error(), "boom") {
		t.Errorf("failed stream: %+v %v %v", ev, done, err)
	}
	// a stream that ends early is not done: the caller polls
	ev, done, err = FollowProgress(strings.NewReader("data: {\"progress\": 10}\n\n"))
	if err != nil || done || ev.Progress != 10 {
		t.Errorf("short stream: %+v %v %v", ev, done, err)
	}
}

func boolp(b bool) *bool { return &b }

func TestShapeFromUsers(t *testing.T) {
	running := Server{Ready: true, Stopped: boolp(false)}
	pending := Server{Pending: "spawn", Stopped: boolp(false)}
	stopping := Server{Pending: "stop", Stopped: boolp(false)}
	stopped := Server{Stopped: boolp(true)}
	oldReady := Server{Ready: true} // a hub that sends no "stopped"
	cases := []struct {
		name  string
		users []User
		want  shape.Shape
	}{
		{"no users", nil, shape.Shape{}},
		{"user with only the default row, stopped",
			[]User{{Name: "a", Servers: map[string]Server{"": stopped}}},
			shape.Shape{U: 1, S: 1, Users: []shape.User{{Name: "a", S: 1}}}},
		{"one user, default row plus 3 named, 2 active: J = 2·4",
			[]User{{Name: "a", Servers: map[string]Server{"": stopped, "s1": running, "s2": pending, "s3": stopped}}},
			shape.Shape{U: 1, S: 4, R: 2, J: 8, LinearRows: 6, Users: []shape.User{{Name: "a", S: 4, R: 2, J: 8}}}},
		{"pending stop still holds server_id",
			[]User{{Name: "b", Servers: map[string]Server{"": stopping}}},
			shape.Shape{U: 1, S: 1, R: 1, J: 1, LinearRows: 2, Users: []shape.User{{Name: "b", S: 1, R: 1, J: 1}}}},
		{"J sums per user, not R·S overall",
			[]User{
				{Name: "z", Servers: map[string]Server{"": running, "x": running}},
				{Name: "y", Servers: map[string]Server{"": stopped, "p": stopped, "q": stopped}},
			},
			// overall R·S would be 2·5 = 10; per user it is 2·2 + 0·3 = 4
			shape.Shape{U: 2, S: 5, R: 2, J: 4, LinearRows: 4, Users: []shape.User{{Name: "z", S: 2, R: 2, J: 4}, {Name: "y", S: 3}}}},
		{"old hub without stopped field: ready or pending counts",
			[]User{{Name: "o", Servers: map[string]Server{"": oldReady, "n": {Pending: "spawn"}, "m": {}}}},
			shape.Shape{U: 1, S: 3, R: 2, J: 6, LinearRows: 5, Users: []shape.User{{Name: "o", S: 3, R: 2, J: 6}}}},
		{"user without servers (never listed with include_stopped_servers)",
			[]User{{Name: "n"}},
			shape.Shape{U: 1, Users: []shape.User{{Name: "n"}}}},
		{"duplicate name from a shifting page counted once",
			[]User{{Name: "d", Servers: map[string]Server{"": running}}, {Name: "d", Servers: map[string]Server{"": running}}},
			shape.Shape{U: 1, S: 1, R: 1, J: 1, LinearRows: 2, Users: []shape.User{{Name: "d", S: 1, R: 1, J: 1}}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := ShapeFromUsers(c.users)
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("got %+v\nwant %+v", got, c.want)
			}
		})
	}
}

func TestBucketQuantile(t *testing.T) {
	inf := math.Inf(1)
	b := []Bucket{{0.1, 10}, {0.5, 30}, {1, 40}, {inf, 40}}
	cases := []struct {
		name string
		q    float64
		b    []Bucket
		want float64
	}{
		// rank 20 lies halfway through (0.1, 0.5] which holds 20 observations
		{"median interpolated", 0.5, b, 0.3},
		// rank 5 in the first bucket, interpolated from 0
		{"low quantile from zero", 0.125, b, 0.05},
		{"top", 1, b, 1},
		{"rank in +Inf bucket gives highest finite bound", 0.99, []Bucket{{1, 1}, {inf, 10}}, 1},
		{"no +Inf bucket", 0.5, []Bucket{{1, 1}, {2, 2}}, math.NaN()},
		{"empty", 0.5, []Bucket{{1, 0}, {inf, 0}}, math.NaN()},
		{"q < 0", -0.1, b, math.Inf(-1)},
		{"q > 1", 1.1, b, math.Inf(1)},
	}
	for _, c := range cases {
		got := BucketQuantile(c.q, c.b)
		if !(math.IsNaN(c.want) && math.IsNaN(got)) && math.Abs(got-c.want) > 1e-12 && got != c.want {
			t.Errorf("%s: BucketQuantile(%v) = %v, want %v", c.name, c.q, got, c.want)
		}
	}
}

func TestParseMetricsText(t *testing.T) {
	// the shapes python prometheus_client writes (counters with _total and
	// _created families, histograms with _bucket/_count/_sum, escaped labels)
	text := `# HELP process_resident_memory_bytes Resident memory size in bytes.
# TYPE process_resident_memory_bytes gauge
process_resident_memory_bytes 1.2345e+08
# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.
# TYPE process_cpu_seconds_total counter
process_cpu_seconds_total 3.5
# HELP jupyterhub_active_users Number of users who were active in the given time period
# TYPE jupyterhub_active_users gauge
jupyterhub_active_users{period="24h"} 3.0
jupyterhub_active_users{period="7d"} 5.0
# TYPE jupyterhub_request_duration_seconds histogram
jupyterhub_request_duration_seconds_bucket{code="200",handler="a\"b\\c",le="0.1",method="GET"} 2.0
jupyterhub_request_duration_seconds_bucket{code="200",handler="a\"b\\c",le="+Inf",method="GET"} 4.0
jupyterhub_request_duration_seconds_count{code="200",handler="a\"b\\c",method="GET"} 4.0
jupyterhub_request_duration_seconds_sum{code="200",handler="a\"b\\c",method="GET"} 0.8
jupyterhub_request_duration_seconds_bucket{code="404",handler="x",le="0.1",method="GET"} 1.0
jupyterhub_request_duration_seconds_bucket{code="404",handler="x",le="+Inf",method="GET"} 1.0
jupyterhub_request_duration_seconds_count{code="404",handler="x",method="GET"} 1.0
jupyterhub_request_duration_seconds_sum{code="404",handler="x",method="GET"} 0.05
# HELP jupyterhub_request_duration_seconds_created Request duration for all HTTP requests
# TYPE jupyterhub_request_duration_seconds_created gauge
jupyterhub_request_duration_seconds_created{code="200",handler="x",method="GET"} 1.7e9
# TYPE jupyterhub_init_spawners_duration_seconds histogram
jupyterhub_init_spawners_duration_seconds_bucket{le="+Inf"} 1.0
jupyterhub_init_spawners_duration_seconds_count 1.0
jupyterhub_init_spawners_duration_seconds_sum 0.25
untyped_thing{a="1"} NaN 1700000000000
`
	fams, err := ParseMetricsText(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	m := HubMetricsFrom(fams)
	if m.RSSBytes != 1.2345e8 || m.CPUSeconds != 3.5 {
		t.Errorf("rss %v cpu %v", m.RSSBytes, m.CPUSeconds)
	}
	if m.ActiveUsers["24h"] != 3 || m.ActiveUsers["7d"] != 5 {
		t.Errorf("active %v", m.ActiveUsers)
	}
	rd := m.RequestDuration
	if rd.Count != 5 || math.Abs(rd.Sum-0.85) > 1e-12 || len(rd.Buckets) != 2 || rd.Buckets[0].Count != 3 {
		t.Errorf("request duration merged wrongly: %+v", rd)
	}
	if m.InitSpawnersSeconds != 0.25 {
		t.Errorf("init_spawners %v", m.InitSpawnersSeconds)
	}
	if !math.IsNaN(m.RunningServers) {
		t.Errorf("absent metric should be NaN, got %v", m.RunningServers)
	}
	f, ok := m.Family("jupyterhub_request_duration_seconds")
	if !ok || f.Type != "histogram" || len(f.Samples) != 8 || f.Samples[0].Labels["handler"] != `a"b\c` {
		t.Errorf("family: %+v", f)
	}
	if f, ok := m.Family("untyped_thing"); !ok || f.Type != "untyped" || !math.IsNaN(f.Samples[0].Value) || f.Samples[0].TimestampMs != 1700000000000 {
		t.Errorf("untyped: %+v", f)
	}
}

// TestParseMetricsTextFlattening: what the expfmt families become. Summaries
// and histograms come back as the lines prometheus_client writes, families
// are sorted by name, and a page without a final line end still parses.
func TestParseMetricsTextFlattening(t *testing.T) {
	text := `# TYPE z_latency summary
z_latency{quantile="0.5",h="a"} 0.2
z_latency{quantile="0.99",h="a"} 0.9
z_latency_sum{h="a"} 12
z_latency_count{h="a"} 40
# TYPE a_hist histogram
a_hist_bucket{le="0.5"} 1.5
a_hist_bucket{le="+Inf"} 2.5
a_hist_sum 1
a_hist_count 2.5
# HELP m_gauge multi\nline \\ help
# TYPE m_gauge gauge
m_gauge 7 1700000000001`
	fams, err := ParseMetricsText(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range fams {
		names = append(names, f.Name)
	}
	if !reflect.DeepEqual(names, []string{"a_hist", "m_gauge", "z_latency"}) {
		t.Fatalf("families %v, want sorted a_hist m_gauge z_latency", names)
	}
	// float bucket counts survive (expfmt keeps them as CumulativeCountFloat)
	wantHist := []PromSample{
		{Name: "a_hist_bucket", Labels: map[string]string{"le": "0.5"}, Value: 1.5},
		{Name: "a_hist_bucket", Labels: map[string]string{"le": "+Inf"}, Value: 2.5},
		{Name: "a_hist_sum", Labels: map[string]string{}, Value: 1},
		{Name: "a_hist_count", Labels: map[string]string{}, Value: 2.5},
	}
	if got := fams[0].Samples; fams[0].Type != "histogram" || !reflect.DeepEqual(got, wantHist) {
		t.Errorf("histogram %s %+v\nwant %+v", fams[0].Type, got, wantHist)
	}
	if h := HistogramOf(fams[0], nil); h.Count != 2.5 || h.Quantile(0.5) != 0.5*1.25/1.5 {
		t.Errorf("histogram of flattened samples: %+v, median %v", h, h.Quantile(0.5))
	}
	if g := fams[1]; g.Help != "multi\nline \\ help" || g.Samples[0].Value != 7 || g.Samples[0].TimestampMs != 1700000000001 {
		t.Errorf("gauge %+v", g)
	}
	wantSum := []PromSample{
		{Name: "z_latency", Labels: map[string]string{"h": "a", "quantile": "0.5"}, Value: 0.2},
		{Name: "z_latency", Labels: map[string]string{"h": "a", "quantile": "0.99"}, Value: 0.9},
		{Name: "z_latency_sum", Labels: map[string]string{"h": "a"}, Value: 12},
		{Name: "z_latency_count", Labels: map[string]string{"h": "a"}, Value: 40},
	}
	if got := fams[2].Samples; fams[2].Type != "summary" || !reflect.DeepEqual(got, wantSum) {
		t.Errorf("summary %s %+v\nwant %+v", fams[2].Type, got, wantSum)
	}
}

func TestParseMetricsTextErrorLine(t *testing.T) {
	_, err := ParseMetricsText(strings.NewReader("a 1\nb 2\nc{ 3\n"))
	var pe expfmt.ParseError
	if !errors.Is(err, ErrMetricsSyntax) || !errors.As(err, &pe) || pe.Line != 3 {
		t.Fatalf("err = %v, want ErrMetricsSyntax at line 3", err)
	}
}

func TestParseMetricsTextErrors(t *testing.T) {
	for _, in := range []string{
		"9bad 1\n",
		"name{a=\"1\" 1\n",
		"name{a=1} 1\n",
		"name one\n",
		"name 1 2 3\n",
		"name{a=\"1\",a=\"2\"} 1\n",
		"# TYPE name notatype\n",
		"# TYPE name counter\n# TYPE name gauge\nname 1\n",
		"# TYPE h histogram\nh_bucket{le=\"x\"} 1\n",
	} {
		if _, err := ParseMetricsText(strings.NewReader(in)); !errors.Is(err, ErrMetricsSyntax) {
			t.Errorf("%q: err = %v, want ErrMetricsSyntax", in, err)
		}
	}
}

func TestConfigRedaction(t *testing.T) {
	const secret = "s3cr3t-t0ken-value"
	cfg := Config{BaseURL: "http://127.0.0.1:1", Token: secret}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tok := Token{ID: "a1", Token: secret, User: "u"}
	req := &Request{Method: "GET", URL: "http://h/hub/api/users?token=" + secret, Header: map[string][]string{"Authorization": {"token " + secret}}}
	resp := &Response{Status: 200, Header: map[string][]string{"Set-Cookie": {"c=" + secret}}, Body: []byte(secret)}
	for _, v := range []any{cfg, &cfg, c, tok, &tok, []any{cfg}, struct{ C Config }{cfg}, c.Transport(), req, resp} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
			if s := fmt.Sprintf(verb, v); strings.Contains(s, secret) {
				t.Errorf("%s of %T reveals the token: %s", verb, v, s)
			}
		}
	}
}

func TestConfigValidate(t *testing.T) {
	cases := []struct {
		cfg  Config
		errs int
	}{
		{Config{BaseURL: "http://127.0.0.1:8000"}, 0},
		{Config{BaseURL: "http://host/jhub"}, 0},
		{Config{}, 1},
		{Config{BaseURL: "ftp://x"}, 1},
		{Config{BaseURL: "http://h/hub/api"}, 1},
		{Config{BaseURL: "http://h/hub/"}, 1},
		{Config{BaseURL: "http://h/?token=x", Timeout: -1}, 2},
	}
	for _, c := range cases {
		if errs := c.cfg.Validate(); len(errs) != c.errs {
			t.Errorf("%v: %d errors %v, want %d", c.cfg, len(errs), errs, c.errs)
		}
	}
}

func TestThrottleGiveUp(t *testing.T) {
	s := time.Second
	cases := []struct {
		name        string
		p           RetryPolicy
		throttled   int
		waited      time.Duration
		next        time.Duration
		remaining   time.Duration
		hasDeadline bool
		giveUp      string // substring of the reason; "" to go on waiting
	}{
		// no count bound by default: the hundredth 429 is waited out like the first
		{"many 429s, no deadline", RetryPolicy{}, 100, 200 * s, 2 * s, 0, false, ""},
		{"many 429s, deadline far", RetryPolicy{}, 300, 600 * s, 3 * s, 60 * s, true, ""},
		// the wait would end after the context's deadline
		{"deadline too close", RetryPolicy{}, 3, 9 * s, 3 * s, 2 * s, true, "deadline"},
		{"deadline exactly at the end", RetryPolicy{}, 0, 0, 3 * s, 3 * s, true, "deadline"},
		// the default budget is 15 min of waiting per request
		{"default budget reached", RetryPolicy{}, 400, 14*time.Minute + 59*s, 2 * s, 0, false, "ThrottleBudget"},
		{"default budget not reached", RetryPolicy{}, 400, 14*time.Minute + 57*s, 2 * s, 0, false, ""},
		{"own budget", RetryPolicy{ThrottleBudget: 10 * s}, 2, 8 * s, 3 * s, 0, false, "ThrottleBudget"},
		// an explicit count bound still applies
		{"count bound reached", RetryPolicy{MaxThrottled: 3}, 3, 6 * s, 2 * s, 0, false, "MaxThrottled"},
		{"count bound not reached", RetryPolicy{MaxThrottled: 3}, 2, 4 * s, 2 * s, 0, false, ""},
		// negative: 429s are returned, never waited out
		{"never wait", RetryPolicy{MaxThrottled: -1}, 0, 0, s, 0, false, "not waited out"},
	}
	for _, c := range cases {
		got := ThrottleGiveUp(c.p, c.throttled, c.waited, c.next, c.remaining, c.hasDeadline)
		if (c.giveUp == "") != (got == "") || !strings.Contains(got, c.giveUp) {
			t.Errorf("%s: ThrottleGiveUp = %q, want %q", c.name, got, c.giveUp)
		}
	}
}
