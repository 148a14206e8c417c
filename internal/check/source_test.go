package check

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hubcap-dev/hubcap/internal/filesnap"
	"github.com/hubcap-dev/hubcap/internal/hubdb"
	"github.com/hubcap-dev/hubcap/internal/testkit/hubsqlite"
	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/hubapi"
)

// runDB checks a database with the test calibrations.
func runDB(t *testing.T, dsn string, o Options) (*Report, error) {
	t.Helper()
	o.DB = dsn
	if o.CalibrationsDir == "" && o.Calibration == "" {
		o.CalibrationsDir = testCalibrations(t)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return Run(ctx, o)
}

func TestBadDatabases(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "notes.txt")
	os.WriteFile(text, []byte("these are not the tables you are looking for\n"), 0o644)
	other := filepath.Join(dir, "other.sqlite")
	db, err := sql.Open("sqlite", "file:"+other)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("CREATE TABLE grafana_dashboards (id INTEGER PRIMARY KEY, title TEXT)"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	// A port nothing listens on: bind, then close.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := fmt.Sprintf("postgresql://hubcap:s3cret@%s/jupyterhub?connect_timeout=5", l.Addr())
	l.Close()

	cases := []struct {
		name, dsn string
		release   string
		want      error
		say       string // in the message
	}{
		{"missing file", filepath.Join(dir, "nope.sqlite"), "", hubdb.ErrNotFound, "kubectl cp"},
		{"not SQLite", text, "", hubdb.ErrNotSQLite, "SQLite header"},
		{"not JupyterHub", other, "", hubdb.ErrNotJupyterHub, "no users, spawners, servers table"},
		{"unknown revision", minimalDB(t, "deadbeefcafe", nil), "", hubdb.ErrUnknownRevision, "--release"},
		{"empty revision", minimalDB(t, "", nil), "", hubdb.ErrUnknownRevision, "--release"},
		{"Postgres refused", refused, "", hubdb.ErrConnect, "127.0.0.1"},
		{"bad release", minimalDB(t, "4621fec11365", nil), "five", ErrBadOptions, "5.3.0"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := runDB(t, c.dsn, Options{Release: c.release})
			if !errors.Is(err, c.want) {
				t.Fatalf("error %v, want %v", err, c.want)
			}
			if !strings.Contains(err.Error(), c.say) {
				t.Errorf("message %q does not say %q", err, c.say)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("message shows the password: %q", err)
			}
		})
	}
	// An unknown revision is fine with --release.
	r, err := runDB(t, minimalDB(t, "deadbeefcafe", []hubsqlite.User{{Name: "ada", S: 3, R: 2, StateBytes: 100}}), Options{Release: "5.3.0"})
	if err != nil || r.Shape.J != 6 || r.Release.Source != SourceFlag {
		t.Fatalf("unknown revision with --release: %v %+v", err, r)
	}
}

func TestOptionsValidate(t *testing.T) {
	cases := []struct {
		o    Options
		want error
	}{
		{Options{}, ErrBadOptions},
		{Options{DB: "x", Hub: "http://h"}, ErrBadOptions},
		{Options{Hub: "http://h"}, ErrNoToken},
		{Options{DB: "x", Headroom: -1}, ErrBadOptions},
		{Options{DB: "x", MemoryLimit: -1}, ErrBadOptions},
		{Options{DB: "x", Top: -1}, ErrBadOptions},
		{Options{DB: "x", Release: "v"}, ErrBadOptions},
	}
	for _, c := range cases {
		errs := c.o.Validate()
		if len(errs) == 0 || !errors.Is(errs[0], c.want) {
			t.Errorf("%v: %v, want %v", c.o, errs, c.want)
		}
	}
	if errs := (Options{DB: "x", Headroom: 0.2}).Validate(); len(errs) != 0 {
		t.Errorf("valid options: %v", errs)
	}
	// All problems at once.
	if errs := (Options{Headroom: -1, Top: -1, Release: "x"}).Validate(); len(errs) != 4 {
		t.Errorf("want 4 problems, got %v", errs)
	}
	// The token never prints.
	o := Options{Hub: "http://h", Token: "tok-123456"}
	for _, s := range []string{o.String(), fmt.Sprintf("%v %+v %#v %s", o, o, o, o)} {
		if strings.Contains(s, "tok-123456") {
			t.Errorf("token printed: %s", s)
		}
	}
}

// TestReadOnlyDB: check on a database leaves the directory byte-identical,
// in rollback-journal and in WAL mode.
func TestReadOnlyDB(t *testing.T) {
	for _, wal := range []bool{false, true} {
		t.Run(fmt.Sprintf("wal=%v", wal), func(t *testing.T) {
			path := minimalDB(t, "4621fec11365", []hubsqlite.User{{Name: "ada", S: 40, R: 30, StateBytes: 100}, {Name: "bob", S: 3, R: 1, StateBytes: 100}})
			if wal {
				db, err := sql.Open("sqlite", "file:"+path)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := db.Exec("PRAGMA journal_mode=WAL"); err != nil {
					t.Fatal(err)
				}
				db.Close()
			}
			dir := filepath.Dir(path)
			before := filesnap.Snapshot(t, dir)
			r, err := runDB(t, "sqlite:///"+path, Options{MemoryLimit: 1 << 30, Headroom: 0.2})
			if err != nil {
				t.Fatal(err)
			}
			if r.Shape.U != 2 || r.Shape.S != 43 || r.Shape.R != 31 || r.Shape.J != 30*40+3 {
				t.Errorf("shape %+v", r.Shape)
			}
			filesnap.AssertUntouched(t, dir, before)
		})
	}
}

// fakeHub answers the hub API calls check makes; handlers override paths.
func fakeHub(t *testing.T, routes map[string]http.HandlerFunc) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/hub/api/", func(w http.ResponseWriter, r *http.Request) {
		if h, ok := routes[r.URL.Path]; ok {
			h(w, r)
			return
		}
		if r.URL.Path == "/hub/api/" {
			fmt.Fprint(w, `{"version": "5.3.0"}`)
			return
		}
		http.NotFound(w, r)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func jsonAnswer(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	}
}

const fakeToken = "fake-token-0123456789abcdef"

func TestHubErrors(t *testing.T) {
	admin := jsonAnswer(200, `{"kind": "service", "name": "hubcap", "scopes": ["list:users", "read:servers", "read:users"]}`)
	cases := []struct {
		name   string
		routes map[string]http.HandlerFunc
		url    string // "" = the fake's
		want   error
		say    []string
	}{
		{"not a hub", map[string]http.HandlerFunc{"/hub/api/": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(404)
			fmt.Fprint(w, "<html>nginx</html>")
		}}, "", hubapi.ErrNotJupyterHub, []string{"404"}},
		{"token rejected", map[string]http.HandlerFunc{"/hub/api/user": jsonAnswer(401, `{"status": 401, "message": "Missing or invalid credentials."}`)},
			"", ErrTokenRejected, []string{"401", "HUBCAP_TOKEN"}},
		{"user token", map[string]http.HandlerFunc{"/hub/api/user": jsonAnswer(200, `{"kind": "user", "name": "ada", "scopes": ["list:users!user=ada", "read:servers!user=ada", "access:servers!user=ada"]}`)},
			"", ErrTokenScopes, []string{"lacks scope list:users and read:servers", "list:users!user=ada", "partial"}},
		{"listing refused", map[string]http.HandlerFunc{
			"/hub/api/user":  jsonAnswer(200, `{"kind": "user", "name": "ada"}`), // an old hub: no scopes reported
			"/hub/api/users": jsonAnswer(403, `{"status": 403, "message": "Action is not authorized with current scopes; requires any of [list:users]"}`),
		}, "", ErrTokenScopes, []string{"lacks list:users"}},
		{"no servers", map[string]http.HandlerFunc{
			"/hub/api/user":  admin,
			"/hub/api/users": jsonAnswer(200, `[{"kind": "user", "name": "ada"}]`),
		}, "", ErrTokenScopes, []string{"read:servers"}},
		{"unreachable", nil, "closed", ErrHubUnreachable, []string{"cannot reach"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			url := fakeHub(t, c.routes).URL
			if c.url == "closed" {
				l, _ := net.Listen("tcp", "127.0.0.1:0")
				url = "http://" + l.Addr().String()
				l.Close()
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_, err := Run(ctx, Options{Hub: url, Token: fakeToken, CalibrationsDir: testCalibrations(t), Timeout: 5 * time.Second})
			if !errors.Is(err, c.want) {
				t.Fatalf("error %v, want %v", err, c.want)
			}
			for _, s := range c.say {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("message %q does not say %q", err, s)
				}
			}
			if strings.Contains(err.Error(), fakeToken) {
				t.Errorf("message shows the token: %q", err)
			}
		})
	}
}

// TestHubShape: a listing with stopped servers gives the shape and the
// names of the stopped named servers, and the version from /hub/api/.
func TestHubShape(t *testing.T) {
	users := `{"items": [
	  {"kind": "user", "name": "ada", "servers": {
	    "": {"name": "", "ready": false, "pending": null, "stopped": true},
	    "a": {"name": "a", "ready": true, "pending": null, "stopped": false},
	    "b": {"name": "b", "ready": false, "pending": "spawn", "stopped": false},
	    "old2": {"name": "old2", "ready": false, "pending": null, "stopped": true},
	    "old1": {"name": "old1", "ready": false, "pending": null, "stopped": true}}},
	  {"kind": "user", "name": "bob", "servers": {"": {"name": "", "ready": true, "stopped": false}}},
	  {"kind": "user", "name": "cy", "servers": {}}],
	 "_pagination": {"offset": 0, "limit": 200, "total": 3, "next": null}}`
	var sawToken bool
	srv := fakeHub(t, map[string]http.HandlerFunc{
		"/hub/api/user": jsonAnswer(200, `{"kind": "service", "name": "hubcap", "scopes": ["admin:users", "admin:servers"]}`),
		"/hub/api/users": func(w http.ResponseWriter, r *http.Request) {
			sawToken = r.Header.Get("Authorization") == "token "+fakeToken
			if r.URL.Query().Get("include_stopped_servers") == "" {
				t.Error("listing without include_stopped_servers")
			}
			jsonAnswer(200, users)(w, r)
		},
	})
	ctx := context.Background()
	in, err := ReadHub(ctx, srv.URL, fakeToken, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !sawToken {
		t.Error("the listing did not carry the token")
	}
	sh := in.Shape
	if sh.U != 3 || sh.S != 6 || sh.R != 3 || sh.J != 2*5+1 || !sh.NamesKnown || in.HubVersion != "5.3.0" {
		t.Fatalf("shape %+v version %q", sh, in.HubVersion)
	}
	if a := sh.Users[0]; a.Name != "ada" || strings.Join(sh.StoppedServers[a.Name], ",") != "old1,old2" {
		t.Errorf("ada %+v", a)
	}
	if got := MissingScopes([]string{"admin:users", "read:servers!group=x"}); strings.Join(got, ",") != "read:servers" {
		t.Errorf("MissingScopes = %v", got)
	}
}
