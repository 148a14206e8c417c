package replay

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/hubcap-dev/hubcap/internal/hub"
	"github.com/hubcap-dev/hubcap/internal/hubdb"
)

// revisionPy prints the install's alembic head and whether the revision
// in argv[1] is one of its migrations (so the database is at most as new).
const revisionPy = `
import json, os, sys
import jupyterhub
from alembic.config import Config
from alembic.script import ScriptDirectory
cfg = Config()
cfg.set_main_option("script_location", os.path.join(os.path.dirname(jupyterhub.__file__), "alembic"))
sd = ScriptDirectory.from_config(cfg)
rev = sys.argv[1]
try:
    known = sd.get_revision(rev) is not None
except Exception:
    known = False
json.dump({"head": sd.get_current_head(), "known": known}, sys.stdout)
`

type revisionStatus struct {
	head         string
	needsUpgrade bool
}

// checkRevision compares the database's alembic revision with the
// install's head: equal is fine, an older one of its migrations needs
// upgrade-db, anything else was written by a newer JupyterHub.
func checkRevision(ctx context.Context, in hub.Install, rev string) (revisionStatus, error) {
	var out struct {
		Head  string `json:"head"`
		Known bool   `json:"known"`
	}
	if rev == "" {
		return revisionStatus{}, fmt.Errorf("%w: the database has no alembic revision; it was not written by a JupyterHub release hubcap can replay", ErrNewerRevision)
	}
	if err := runPython(ctx, in, revisionPy, nil, &out, rev); err != nil {
		return revisionStatus{}, err
	}
	st := revisionStatus{head: out.Head}
	switch {
	case rev == out.Head:
		return st, nil
	case out.Known:
		st.needsUpgrade = true
		return st, nil
	}
	use := "the release your hub runs (jupyterhub --version in the hub pod)"
	if rr, err := hubdb.LookupRevision(rev); err == nil {
		use = fmt.Sprintf("--release %s (the database's schema is that of JupyterHub %s … %s)", rr.MaxRelease, rr.MinRelease, rr.MaxRelease)
	}
	return st, fmt.Errorf("%w: the database is at alembic revision %s, which jupyterhub %s (head %s) does not know: a newer JupyterHub wrote it, and an older one cannot start on it; replay with %s",
		ErrNewerRevision, rev, in.Release, out.Head, use)
}

// upgradeDB runs `jupyterhub upgrade-db` on the copy at path (in a
// directory without a config file; upgrade-db's backup of the copy is
// removed).
func upgradeDB(ctx context.Context, in hub.Install, path string) error {
	tmp, err := os.MkdirTemp("", "hubcap-upgrade-db-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	before, _ := filepath.Glob(path + ".*")
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, in.Bin("jupyterhub"), "upgrade-db", "--db=sqlite:///"+path)
	cmd.Dir = tmp
	cmd.Env = pythonEnv(in)
	var outb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &outb, &outb
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%w: %s upgrade-db: %v\n%s", ErrUpgrade, in.Bin("jupyterhub"), err, tail(outb.String(), 20))
	}
	after, _ := filepath.Glob(path + ".*")
	for _, f := range after {
		if !contains(before, f) && !strings.HasSuffix(f, "-journal") && !strings.HasSuffix(f, "-wal") && !strings.HasSuffix(f, "-shm") {
			_ = os.Remove(f) // dbutil.backup_db_file's <db>.<timestamp>
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// pointPy points every running server of the copy at the fleet, with the
// release's own ORM: its servers row gets the fleet's proto/ip/port and
// the base_url this hub gives it, and a fresh server API token (the
// hub's rows for a spawned server: an api_tokens row "Server at …" with
// access to the server, the OAuth client's secret the same token) whose
// value goes to Go on stdout, for the fleet only. Rows of stopped servers
// and everything else are left as they are.
const pointPy = `
import json, sys
from urllib.parse import quote
from jupyterhub import orm
from jupyterhub.utils import new_token, hash_token, url_path_join
try:
    from jupyterhub.utils import url_escape_path
except ImportError:
    def url_escape_path(value):
        return quote(value, safe="@~")
try:
    from jupyterhub.utils import utcnow
    try:
        now = utcnow(with_tz=False)
    except TypeError:
        now = utcnow()
except ImportError:
    import datetime
    now = datetime.datetime.utcnow()

spec = json.load(sys.stdin)
db = orm.new_session_factory(spec["db_url"])()
out = {"servers": []}
clients = {c.identifier: c for c in db.query(orm.OAuthClient)}
if "jupyterhub" not in clients:
    # the hub's own client, which server tokens name; a hub creates it
    # at its first start, a database written otherwise may lack it
    clients["jupyterhub"] = orm.OAuthClient(identifier="jupyterhub")
    db.add(clients["jupyterhub"])
    db.flush()
for sp in list(db.query(orm.Spawner).filter(orm.Spawner.server_id != None)):
    user = sp.user
    srv = sp.server
    if user is None or srv is None:
        continue
    name = sp.name or ""
    user_base = url_path_join("/user/", url_escape_path(user.name)) + "/"
    base_url = url_path_join(user_base, url_escape_path(name), "/") if name else user_base
    srv.proto, srv.ip, srv.port, srv.base_url = spec["proto"], spec["ip"], spec["port"], base_url
    t = new_token()
    tok = orm.APIToken(user=user, note="Server at %s" % base_url, client_id="jupyterhub",
                       created=now, last_activity=now)
    if hasattr(orm.APIToken, "scopes"):
        tok.scopes = ["access:servers!server=%s/%s" % (user.name, name), "users:activity!user"]
    tok.token = t
    db.add(tok)
    client_id = sp.oauth_client_id or "jupyterhub-user-%s%s" % (quote(user.name), "-" + quote(name) if name else "")
    client = clients.get(client_id)
    if client is None:
        client = clients[client_id] = orm.OAuthClient(identifier=client_id)
        db.add(client)
        client.redirect_uri = base_url + "oauth_callback"
        client.description = "Server at %s" % base_url
        if hasattr(orm.OAuthClient, "allowed_scopes"):
            client.allowed_scopes = ["access:servers!server=%s/%s" % (user.name, name)]
        sp.oauth_client_id = client_id
    # one hashing round stores the same kind of row as the hub's 16384
    client.secret = hash_token(t, rounds=1)
    out["servers"].append({"user": user.name, "server": name, "base_url": base_url, "client_id": client_id, "token": t})
db.commit()
db.close()
json.dump(out, sys.stdout)
`

// server is one running server of the copy, as pointPy left it. Token is
// a secret: it goes to the fleet only.
type server struct {
	User     string `json:"user"`
	Server   string `json:"server"`
	BaseURL  string `json:"base_url"`
	ClientID string `json:"client_id"`
	Token    string `json:"token"`
}

// pointAtFleet runs pointPy on the copy at path for the fleet at fleetURL.
func pointAtFleet(ctx context.Context, in hub.Install, path, fleetURL string) ([]server, error) {
	u, err := url.Parse(fleetURL)
	if err != nil || u.Hostname() == "" {
		return nil, fmt.Errorf("%w: fleet URL %q", ErrPrepare, fleetURL)
	}
	port, err := strconv.Atoi(u.Port())
	if err != nil {
		return nil, fmt.Errorf("%w: fleet URL %q has no port", ErrPrepare, fleetURL)
	}
	spec := map[string]any{"db_url": "sqlite:///" + path, "proto": u.Scheme, "ip": u.Hostname(), "port": port}
	var out struct {
		Servers []server `json:"servers"`
	}
	if err := runPython(ctx, in, pointPy, spec, &out); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrPrepare, err)
	}
	return out.Servers, nil
}

// runPython runs script with the install's python: in (JSON) on stdin,
// the result (JSON) from stdout into out. Nothing secret is in argv;
// errors carry stderr, which the scripts never print secrets to.
func runPython(ctx context.Context, in hub.Install, script string, input, out any, args ...string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	var stdin []byte
	if input != nil {
		var err error
		if stdin, err = json.Marshal(input); err != nil {
			return err
		}
	}
	cmd := exec.CommandContext(ctx, in.Bin("python"), append([]string{"-c", script}, args...)...)
	cmd.Env = pythonEnv(in)
	cmd.Dir = os.TempDir()
	cmd.Stdin = bytes.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("%s: %w\n%s", in.Bin("python"), err, tail(stderr.String(), 20))
	}
	if err := json.Unmarshal(stdout.Bytes(), out); err != nil {
		return fmt.Errorf("%s: unreadable result: %w\n%s", in.Bin("python"), err, tail(stderr.String(), 20))
	}
	return nil
}

// pythonEnv is the environment with the install's bin first on PATH
// (upgrade-db runs alembic from there).
func pythonEnv(in hub.Install) []string {
	env := os.Environ()
	bin := filepath.Join(in.Dir, "bin")
	found := false
	for i, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			env[i] = "PATH=" + bin + string(os.PathListSeparator) + v
			found = true
		}
	}
	if !found {
		env = append(env, "PATH="+bin)
	}
	return env
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// pgCopyPy copies every table of a PostgreSQL hub database into a new
// SQLite file: the tables as PostgreSQL has them (reflected, so the
// database's own revision, alembic_version included; types made generic,
// server defaults dropped), the rows in one REPEATABLE READ, READ ONLY
// transaction of a session whose default is read-only: one consistent
// snapshot, and nothing written to the source. The source URL (it may hold
// a password) comes on stdin.
const pgCopyPy = `
import json, sys
from sqlalchemy import create_engine, MetaData
spec = json.load(sys.stdin)
src = create_engine(spec["src"], connect_args={"options": "-c default_transaction_read_only=on"})
dst = create_engine("sqlite:///" + spec["dest"])
md = MetaData()
rows = 0
with src.connect() as sc:
    sc = sc.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
    with sc.begin():
        md.reflect(bind=sc)
        for t in md.tables.values():
            for c in t.columns:
                c.server_default = None
                try:
                    c.type = c.type.as_generic()
                except NotImplementedError:
                    pass
        md.create_all(dst)
        with dst.begin() as dc:
            for t in md.sorted_tables:
                batch = []
                for r in sc.execute(t.select()).mappings():
                    batch.append(dict(r))
                    if len(batch) >= 5000:
                        dc.execute(t.insert(), batch)
                        rows += len(batch)
                        batch = []
                if batch:
                    dc.execute(t.insert(), batch)
                    rows += len(batch)
json.dump({"tables": len(md.tables), "rows": rows}, sys.stdout)
`

// copyPostgres copies the PostgreSQL database at dsn into a new SQLite
// file dest with the install's SQLAlchemy and psycopg2.
func copyPostgres(ctx context.Context, in hub.Install, dsn, dest string) (tables, rows int, err error) {
	src := dsn
	if rest, ok := strings.CutPrefix(src, "postgres://"); ok {
		src = "postgresql://" + rest // SQLAlchemy knows only postgresql://
	}
	var out struct {
		Tables int `json:"tables"`
		Rows   int `json:"rows"`
	}
	if err := runPython(ctx, in, pgCopyPy, map[string]string{"src": src, "dest": dest}, &out); err != nil {
		_ = os.Remove(dest)
		return 0, 0, fmt.Errorf("%w: copy the PostgreSQL rows into SQLite (the install needs psycopg2: pip install psycopg2-binary): %w", ErrCopyPostgres, err)
	}
	return out.Tables, out.Rows, nil
}
