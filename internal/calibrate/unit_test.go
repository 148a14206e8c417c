package calibrate

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hubcap-dev/hubcap/internal/hub"
	"github.com/hubcap-dev/hubcap/internal/seed"
)

func TestOptionsValidate(t *testing.T) {
	errs := Options{Budget: -1, MaxRunning: -1, MaxMemory: 1 << 20, StateBytes: 5 << 20}.Validate()
	msg := ""
	for _, e := range errs {
		if !errors.Is(e, ErrOptions) {
			t.Errorf("%v does not wrap ErrOptions", e)
		}
		msg += e.Error() + "\n"
	}
	for _, want := range []string{"release is empty", "budget", "negative", "state bytes", "max memory"} {
		if !strings.Contains(msg, want) {
			t.Errorf("problems lack %q:\n%s", want, msg)
		}
	}
	if errs := (Options{Release: "5.5.1"}).Validate(); len(errs) > 0 {
		t.Errorf("defaults are valid, got %v", errs)
	}
}

func TestRoutesFor(t *testing.T) {
	rt := routesFor(seed.Plan{{Name: "ada", Running: 2, Stopped: 3}, {Name: "b c"}}, "http://127.0.0.1:9")
	if len(rt) != 2 {
		t.Fatalf("%d routes, want one per running server: %v", len(rt), rt)
	}
	// CHP's path form of JupyterHub's routespec /user/ada/s0001/ (no
	// trailing slash), with the data Proxy.add_user attaches
	d, ok := rt["/user/ada/s0001"]
	if !ok || d.User != "ada" || d.ServerName != "s0001" || d.Target != "http://127.0.0.1:9" || !d.JupyterHub {
		t.Errorf("route of ada/s0001: %+v (present %v)", d, ok)
	}
}

// TestSyncRouteTableErrors (hub.SyncRoutes with calibrate's routes): a proxy that refuses is reported with the
// count of failed requests; a wrong token (401 listing) stops at once.
func TestSyncRouteTableErrors(t *testing.T) {
	var posts int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "token good" {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		switch r.Method {
		case http.MethodGet:
			w.Write([]byte(`{"/": {"target": "http://hub"}, "/user/old/s0000": {"target": "http://x", "user": "old"}}`))
		case http.MethodDelete:
			w.WriteHeader(http.StatusNotFound) // already gone: fine
		default:
			posts++
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	want := routesFor(seed.OneUser("u", 2), "http://f")
	if err := hub.SyncRoutes(ctx, srv.Client(), srv.URL+"/api/routes", "bad", want); err == nil || !strings.Contains(err.Error(), "403") {
		t.Errorf("wrong token: %v", err)
	}
	err := hub.SyncRoutes(ctx, srv.Client(), srv.URL+"/api/routes", "good", want)
	if err == nil || !strings.Contains(err.Error(), "2 of 3 requests failed") {
		t.Errorf("refused adds: %v", err)
	}
}

func TestEnvParsers(t *testing.T) {
	cpu := []byte("processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC   7B13\nprocessor\t: 1\nmodel name\t: other\n")
	if got := cpuModel(cpu); got != "AMD EPYC 7B13" {
		t.Errorf("cpuModel = %q", got)
	}
	if got := memTotal([]byte("MemTotal:       24605064 kB\nMemFree: 1 kB\n")); got != 24605064*1024 {
		t.Errorf("memTotal = %d", got)
	}
	if cpuModel(nil) != "" || memTotal([]byte("MemTotal: lots kB")) != 0 {
		t.Error("unparsable input gives zero values")
	}
}

func FuzzEnvParsers(f *testing.F) {
	f.Add([]byte("model name\t: X\nMemTotal: 1 kB\n"))
	f.Add([]byte(":::\n\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = cpuModel(b)
		_ = memTotal(b)
	})
}

func FuzzParseShapes(f *testing.F) {
	for _, s := range []string{"incident", "one-user:5", "even:3:4", "spread:10:20:0.5", "1,2,2,4", "spread:1:0:2", "even:0:1", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		shapes, err := ParseShapes(spec)
		if err != nil {
			if !errors.Is(err, ErrFamily) {
				t.Fatalf("%q: error %v does not wrap ErrFamily", spec, err)
			}
			return
		}
		for _, s := range shapes {
			if errs := s.Shape.Validate(); len(errs) > 0 {
				t.Fatalf("%q: inconsistent shape %+v: %v", spec, s.Shape, errs)
			}
		}
		if _, err := ParseFamily(spec); err == nil && len(shapes) > 0 {
			t.Fatalf("%q parses both as a family and as fixed shapes", spec)
		}
	})
}

func TestParseShapes(t *testing.T) {
	for _, c := range []struct {
		spec string
		n    int
		ok   bool
	}{
		{"incident", len(IncidentSpreads), true},
		{"one-user:350", 1, true},
		{"even:10:30", 1, true},
		{"spread:736:1746:0.9", 1, true},
		{"1,1746,736,1285056", 1, true},
		{"1,10,20,5", 0, false}, // R > S
		{"spread:10:5:0.5", 0, false},
		{"spread:10:20:1.5", 0, false},
		{"one-user", 0, false}, // a family: validate's threshold search, not a fixed shape
		{"even:10", 0, false},
	} {
		got, err := ParseShapes(c.spec)
		if (err == nil) != c.ok || len(got) != c.n {
			t.Errorf("ParseShapes(%q) = %d shapes, %v", c.spec, len(got), err)
		}
	}
}
