package jsjupyterhub

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hubcap-dev/hubcap/internal/script"
	"github.com/hubcap-dev/hubcap/internal/testkit"
	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/attendee"
	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/hubapi"
	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/samples"
)

// runScript runs testdata/name bound to t (no binding when t is nil).
func runScript(t *testing.T, name string, tg *Target, env map[string]string) (*script.Result, error, string) {
	t.Helper()
	if tg != nil {
		b, err := Bind(*tg)
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
	}
	var out testkit.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := script.Run(ctx, script.Options{Script: filepath.Join("testdata", name), Env: env,
		Stdout: &out, Stderr: &out, Progress: script.ProgressOff, Quiet: true})
	return res, err, out.String()
}

// checksPassed fails t unless the run's checks all passed.
func checksPassed(t *testing.T, res *script.Result, err error, out string) {
	t.Helper()
	if err != nil || res.Snapshot == nil {
		t.Fatalf("run failed: %v\n%s", err, out)
	}
	m, ok := res.Snapshot.Metric("checks")
	if !ok || m.Values["rate"] != 1 || m.Values["passes"] == 0 {
		t.Fatalf("checks did not all pass: %v\n%s", m.Values, out)
	}
}

// TestArgumentErrors: wrong option names and types, and admin calls
// without a token, throw exceptions that say what is wrong.
func TestArgumentErrors(t *testing.T) {
	tg := &Target{HubURL: "http://127.0.0.1:1", NamePrefix: "hubcap-"}
	res, err, out := runScript(t, "errors.js", tg, map[string]string{"WANT_ADMIN": "no admin token: set HUBCAP_TOKEN"})
	checksPassed(t, res, err, out)
}

// TestNoHub: without a target, the module says how to give one.
func TestNoHub(t *testing.T) {
	res, err, out := runScript(t, "nohub.js", &Target{}, nil)
	checksPassed(t, res, err, out)
}

// TestInitContextRefused: an attendee made at the top level of a script
// cannot log in there; the run fails as a script error naming the call.
func TestInitContextRefused(t *testing.T) {
	_, err, out := runScript(t, "init_attendee.js", &Target{HubURL: "http://127.0.0.1:1"}, nil)
	if script.ExitCode(err) != script.ExitScriptException || !errors.Is(err, script.ErrScript) {
		t.Fatalf("exit %d, err %v, want a script error\n%s", script.ExitCode(err), err, out)
	}
	msg := err.Error() + out
	for _, want := range []string{"not available in the init context", "attendee.login()", "init_attendee.js:5:"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error does not mention %q:\n%s", want, msg)
		}
	}
}

// TestForbiddenAdminCall: the hub's 403 reaches the script with the
// missing scope, and the token appears nowhere: not in the exception, the
// logs, nor the samples.
func TestForbiddenAdminCall(t *testing.T) {
	const token = "secret-token-0123456789"
	var sawToken bool
	hub := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sawToken = r.Header.Get("Authorization") == "token "+token
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		w.Write([]byte(`{"status": 403, "message": "Action is not authorized with current scopes; requires any of [admin:users]"}`))
	}))
	defer hub.Close()
	res, err, out := runScript(t, "forbidden.js", &Target{HubURL: hub.URL, Token: token, NamePrefix: "hubcap-"}, nil)
	checksPassed(t, res, err, out)
	if !sawToken {
		t.Error("the admin client did not send the token")
	}
	if strings.Contains(out, token) {
		t.Errorf("output carries the token:\n%s", out)
	}
	// The failed call is counted in the run's stream.
	if m, ok := res.Snapshot.Metric(hubapi.MetricErrors); !ok || m.Values["count"] < 1 {
		t.Errorf("no %s sample for the refused call", hubapi.MetricErrors)
	}
}

// TestBindOnce: two runs cannot share the module at once; after Close the
// next binding works.
func TestBindOnce(t *testing.T) {
	b, err := Bind(Target{HubURL: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Bind(Target{}); !errors.Is(err, ErrBound) {
		t.Errorf("second Bind: %v, want ErrBound", err)
	}
	b.Close()
	b.Close()
	b2, err := Bind(Target{})
	if err != nil {
		t.Fatalf("Bind after Close: %v", err)
	}
	b2.Close()
	if _, err := Bind(Target{HubURL: "ftp://x"}); err == nil {
		t.Error("Bind accepted a non-http hub URL")
	}
	if current.Load() != nil {
		t.Error("a failed Bind left a binding")
	}
}

// TestTargetPrintsNoToken: %v and %#v of a Target hide the token.
func TestTargetPrintsNoToken(t *testing.T) {
	tg := Target{HubURL: "http://h", Token: "tok-123"}
	for _, s := range []string{tg.String(), tg.GoString()} {
		if strings.Contains(s, "tok-123") || !strings.Contains(s, "token set") {
			t.Errorf("Target prints %q", s)
		}
	}
}

// TestPhaseTagger: phase trends get their phase as a tag, other samples
// pass unchanged, and the producer's tag map is not modified.
func TestPhaseTagger(t *testing.T) {
	var got samples.Buffer
	p := phaseTagger{next: &got}
	orig := map[string]string{"result": "ok"}
	p.AddSample(samples.Sample{Metric: attendee.MetricSpawn, Tags: orig})
	p.AddSample(samples.Sample{Metric: hubapi.MetricAPIDuration, Tags: map[string]string{"status": "200"}})
	p.AddSample(samples.Sample{Metric: attendee.MetricLogin, Tags: map[string]string{"phase": "custom"}})
	s := got.Samples()
	if s[0].Tags["phase"] != "spawn" || s[0].Tags["result"] != "ok" || len(orig) != 1 {
		t.Errorf("spawn sample tags %v (producer's map now %v)", s[0].Tags, orig)
	}
	if _, ok := s[1].Tags["phase"]; ok {
		t.Errorf("api sample got a phase tag: %v", s[1].Tags)
	}
	if s[2].Tags["phase"] != "custom" {
		t.Errorf("an existing phase tag was replaced: %v", s[2].Tags)
	}
}

func active(b bool) hubapi.Server {
	stopped := !b
	return hubapi.Server{Ready: b, Stopped: &stopped}
}

// TestPlanCleanup: the cleanup puts prefixed users back as they were and
// never touches other users.
func TestPlanCleanup(t *testing.T) {
	before := map[string]map[string]bool{
		"hubcap-old":  {"": false, "kept": true, "idle": false},
		"hubcap-busy": {"": true},
	}
	after := []hubapi.User{
		// Created by the run: deleted with its servers.
		{Name: "hubcap-new", Servers: map[string]hubapi.Server{"ws": active(true)}},
		// Existed: a new named server is removed, a stopped one now
		// running is stopped, one running before stays, and the default
		// server started by the run is stopped (never removed).
		{Name: "hubcap-old", Servers: map[string]hubapi.Server{"": active(true), "kept": active(true),
			"idle": active(true), "fresh": active(false)}},
		// Running before and now: untouched.
		{Name: "hubcap-busy", Servers: map[string]hubapi.Server{"": active(true)}},
		// Without the prefix: never touched, even if new.
		{Name: "alice", Servers: map[string]hubapi.Server{"x": active(true)}},
	}
	p := PlanCleanup("hubcap-", before, after)
	if !slices.Equal(p.DeleteUsers, []string{"hubcap-new"}) {
		t.Errorf("DeleteUsers = %v", p.DeleteUsers)
	}
	if want := []hubapi.ServerRef{{User: "hubcap-old", Server: "fresh"}}; !slices.Equal(p.RemoveServers, want) {
		t.Errorf("RemoveServers = %v, want %v", p.RemoveServers, want)
	}
	if want := []hubapi.ServerRef{{User: "hubcap-old", Server: ""}, {User: "hubcap-old", Server: "idle"}}; !slices.Equal(p.StopServers, want) {
		t.Errorf("StopServers = %v, want %v", p.StopServers, want)
	}
	// An empty prefix removes nothing.
	if p := PlanCleanup("", nil, after); len(p.DeleteUsers)+len(p.RemoveServers)+len(p.StopServers) != 0 {
		t.Errorf("empty prefix planned %+v", p)
	}
}

// TestOptionsConversion: JavaScript values as sobek exports them.
func TestOptionsConversion(t *testing.T) {
	o := newOptions("f()", map[string]any{"s": "x", "b": true, "d": "1m30s", "n": int64(250), "l": []any{"a", "b"}, "nil": nil},
		"s", "b", "d", "n", "l", "nil")
	if o.str("s", "") != "x" || !o.boolean("b", false) || o.duration("d") != 90*time.Second ||
		o.duration("n") != 250*time.Millisecond || !slices.Equal(o.strings("l"), []string{"a", "b"}) ||
		o.str("nil", "def") != "def" || o.err() != nil {
		t.Errorf("conversion wrong: %v", o.err())
	}
	o = newOptions("f()", map[string]any{"l": []any{"a", int64(1)}, "d": "soon"}, "l", "d")
	o.strings("l")
	o.duration("d")
	err := o.err()
	if !errors.Is(err, ErrOption) || !strings.Contains(err.Error(), "l must be an array of strings") || !strings.Contains(err.Error(), "d must be a duration") {
		t.Errorf("errors: %v", err)
	}
}

// TestTrackKeepsNoDroppedSessions: attendees a script no longer holds are
// not kept alive by the binding, and Close closes the ones still held.
func TestTrackKeepsNoDroppedSessions(t *testing.T) {
	b, err := Bind(Target{HubURL: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	newSession := func() *attendee.Session {
		s, err := attendee.New(attendee.Config{HubURL: "http://127.0.0.1:1", Username: "hubcap-x"})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	kept := newSession()
	b.track(kept)
	for range 500 {
		b.track(newSession())
	}
	runtime.GC()
	b.mu.Lock()
	b.compactLocked()
	n := len(b.sessions)
	b.mu.Unlock()
	if n > 100 {
		t.Errorf("the binding holds %d sessions after 500 were dropped", n)
	}
	if n == 0 || b.sessions[0].Value() != kept {
		t.Error("the binding lost a session the script still holds")
	}
	runtime.KeepAlive(kept)
}

// TestAttendeeObject: the attendee object's methods, made on first use, are
// listed, callable and stable like an ordinary object's, and the script can
// add and delete properties.
func TestAttendeeObject(t *testing.T) {
	res, err, out := runScript(t, "attendee_object.js", nil, nil)
	checksPassed(t, res, err, out)
}
