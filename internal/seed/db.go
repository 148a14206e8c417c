package seed

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/hubcap-dev/hubcap/internal/fleet"
)

// The fast path: ApplyDB writes a plan straight into a stopped hub's
// database with the hub's own ORM and registers the running servers in the
// fleet. It exists so that calibration and validation, which restart the
// hub dozens of times on databases of thousands of servers, fit their time
// budget: a few thousand rows take a second or two instead of minutes of
// REST spawns (7–20 servers/s on a small machine).
//
// Apply (the REST path) stays the realistic one: the hub itself creates
// every row, exactly as in production, and runs the spawner for each
// server. ApplyDB reproduces the rows that path leaves (checked by a test
// that restarts both and compares the shape and the start-up peak) but
// runs none of the hub's code paths around a spawn.

// ErrSeedDB wraps the failures of ApplyDB.
var ErrSeedDB = errors.New("seed database")

// Fleet is what ApplyDB needs of the fleet (a *fleet.Server): register
// the running servers it writes, unregister those it stops, and list what
// is registered so that servers already known are left alone.
type Fleet interface {
	Register(fleet.Registration) error
	Unregister(user, server string)
	List() []fleet.ServerInfo
}

var _ Fleet = (*fleet.Server)(nil)

// DBOptions configure ApplyDB.
type DBOptions struct {
	// Python is the python of the hub release's virtualenv (it must import
	// jupyterhub): rows are written with that release's ORM.
	Python string
	// DB is the path of the hub's SQLite database. The hub must be stopped
	// (between restarts); the database must have been created by the hub
	// (it is never created or migrated here).
	DB string
	// DBURL, instead of DB, is the hub's database URL (its db_url, e.g.
	// postgresql://user:password@127.0.0.1:5432/jupyterhub, as
	// hub.Hub.DBURL gives it). It reaches the script on stdin, never argv.
	DBURL string
	// Fleet receives a registration for every running server of the plan
	// that it does not have yet; nil registers nothing (the servers would
	// then be found stopped at the next restart).
	Fleet Fleet
	// ServerURL is where the running servers are (the fleet's URL, e.g.
	// http://127.0.0.1:41234): the ip and port of their servers rows.
	// Required.
	ServerURL string
	// HubAPIURL is the hub's internal API URL given to the fleet, e.g.
	// http://127.0.0.1:8081/hub/api. Required with Fleet.
	HubAPIURL string
	// StateBytes is the size of each running spawner's JSON state, as
	// fleet.SpawnerOptions.StateBytes (0 = 512). It must match the hub's
	// FleetSpawner setting for the rows to look like the REST path's.
	StateBytes int
	// Namespace recorded in the state ("" = "jhub"), as the fleet spawner.
	Namespace string
	// StateKeys, if > 0, spreads the state's padding over that many keys
	// (a state of many small fields, like a spawner that stores its
	// environment) instead of one long string.
	StateKeys int
	// UserOptions stored for every server of the plan; nil = the fleet
	// spawner's default {"profile": "workshop", "image": …}.
	UserOptions map[string]any
	// NoUserOptions stores none (NULL), as a hub without profiles does.
	NoUserOptions bool
	// Progress, when set, is called once with the servers written.
	Progress func(done, total int)
}

// DBResult says what ApplyDB changed.
type DBResult struct {
	// NewUsers were created (each with its default "" spawner row, which
	// NewRows does not count).
	NewUsers int
	// NewRows are named spawner rows created (running or stopped).
	NewRows int
	// Started rows got a server row (new rows or stopped ones); Stopped
	// rows lost theirs; Unchanged rows existed and already matched.
	Started, Stopped, Unchanged int
	// Registered is how many servers were registered in the fleet.
	Registered int
	Elapsed    time.Duration
}

// ApplyDB makes the stopped hub's database hold the plan, writing rows as
// the REST path (Apply with the fleet spawner) leaves them:
//
//   - a users row per new user, with the "user" role and its default ""
//     spawner row (all NULL), as the hub creates on POST /users;
//   - per running named server (names ServerName(0 … Running-1)): a
//     servers row (proto/ip/port of ServerURL, base_url /user/u/s/), a
//     spawners row with the fleet spawner's state padded to StateBytes,
//     user_options, started and last_activity, an oauth_clients row
//     (jupyterhub-user-u-s) and the server's api_tokens row;
//   - per stopped named server (ServerName(Running … Running+Stopped-1)):
//     a spawners row with state {}, user_options and last_activity only,
//     as a spawn followed by a stop leaves it.
//
// It is cumulative: users and rows that exist are kept; a named row whose
// running state differs from the plan is started or stopped; rows outside
// the plan are not touched. So a plan grown step by step (more users, or
// more servers per user) adds only the difference. Secrets: the servers'
// tokens travel from python to Go on a pipe and go only to the fleet.
func ApplyDB(ctx context.Context, p Plan, o DBOptions) (DBResult, error) {
	start := time.Now()
	if err := o.validate(p); err != nil {
		return DBResult{}, err
	}
	su, err := url.Parse(o.ServerURL)
	if err != nil || su.Hostname() == "" || (su.Scheme != "http" && su.Scheme != "https") {
		return DBResult{}, fmt.Errorf("%w: server URL %q: want http://host:port", ErrSeedDB, o.ServerURL)
	}
	port := 80
	if su.Scheme == "https" {
		port = 443
	}
	if ps := su.Port(); ps != "" {
		if port, err = strconv.Atoi(ps); err != nil {
			return DBResult{}, fmt.Errorf("%w: server URL %q: bad port", ErrSeedDB, o.ServerURL)
		}
	}
	registered := map[string]bool{}
	if o.Fleet != nil {
		for _, s := range o.Fleet.List() {
			registered[s.User+"\x00"+s.ServerName] = true
		}
	}
	in := dbInput{
		DBURL:       cmp.Or(o.DBURL, "sqlite:///"+o.DB),
		Proto:       su.Scheme,
		IP:          su.Hostname(),
		Port:        port,
		StateBytes:  o.StateBytes,
		StateKeys:   o.StateKeys,
		Namespace:   o.Namespace,
		UserOptions: o.UserOptions,
	}
	if in.StateBytes == 0 {
		in.StateBytes = 512
	}
	if in.Namespace == "" {
		in.Namespace = "jhub"
	}
	if in.UserOptions == nil && !o.NoUserOptions {
		in.UserOptions = map[string]any{"profile": "workshop", "image": "quay.io/jupyter/scipy-notebook:2025-03-17"}
	}
	total := 0
	for _, u := range p {
		du := dbUser{Name: u.Name}
		for i := range u.Running + u.Stopped {
			name := ServerName(i)
			running := i < u.Running
			du.Servers = append(du.Servers, dbServer{
				Name:    name,
				Running: running,
				// a running server the fleet lacks needs a token to register with
				NeedToken: running && o.Fleet != nil && !registered[u.Name+"\x00"+name],
			})
		}
		total += len(du.Servers)
		in.Users = append(in.Users, du)
	}
	out, err := runDBScript(ctx, o.Python, in)
	res := DBResult{Elapsed: time.Since(start)}
	if err != nil {
		return res, err
	}
	res.NewUsers, res.NewRows, res.Started, res.Stopped, res.Unchanged = out.NewUsers, out.NewRows, out.Started, out.Stopped, out.Unchanged
	if o.Fleet != nil {
		for _, s := range out.StoppedServers {
			o.Fleet.Unregister(s.User, s.Server)
		}
		for _, r := range out.Tokens {
			reg := fleet.Registration{
				User: r.User, ServerName: r.Server, BaseURL: r.BaseURL,
				APIToken: r.Token, OAuthClientID: r.ClientID, HubAPIURL: o.HubAPIURL,
			}
			if err := o.Fleet.Register(reg); err != nil {
				res.Elapsed = time.Since(start)
				return res, fmt.Errorf("%w: register %s/%s in the fleet: %w", ErrSeedDB, r.User, r.Server, err)
			}
			res.Registered++
		}
	}
	res.Elapsed = time.Since(start)
	if o.Progress != nil {
		o.Progress(total, total)
	}
	return res, nil
}

func (o DBOptions) validate(p Plan) error {
	var errs []error
	if o.Python == "" {
		errs = append(errs, errors.New("Python is empty: give the release venv's python (hub.Install.Bin(\"python\"))"))
	}
	switch {
	case o.DB != "" && o.DBURL != "":
		errs = append(errs, errors.New("DB and DBURL both given: give one"))
	case o.DBURL != "":
	case o.DB == "":
		errs = append(errs, errors.New("DB is empty: give the hub's jupyterhub.sqlite (or DBURL)"))
	default:
		if _, err := os.Stat(o.DB); err != nil {
			errs = append(errs, fmt.Errorf("database %s: %w (start the hub once so that it creates it)", o.DB, err))
		}
	}
	if o.ServerURL == "" {
		errs = append(errs, errors.New("ServerURL is empty: give the fleet's URL"))
	}
	if o.Fleet != nil && o.HubAPIURL == "" {
		errs = append(errs, errors.New("HubAPIURL is empty: the fleet needs the hub's API URL"))
	}
	if o.StateBytes < 0 || o.StateBytes > 4<<20 {
		errs = append(errs, fmt.Errorf("state bytes %d outside 0..4 MiB", o.StateBytes))
	}
	if o.StateKeys < 0 || o.StateKeys > 10000 {
		errs = append(errs, fmt.Errorf("state keys %d outside 0..10000", o.StateKeys))
	}
	if o.NoUserOptions && o.UserOptions != nil {
		errs = append(errs, errors.New("UserOptions given with NoUserOptions: choose one"))
	}
	seen := map[string]bool{}
	for _, u := range p {
		if u.Name == "" || len(u.Name) > 255 || strings.ContainsAny(u.Name, "/\x00") {
			errs = append(errs, fmt.Errorf("user name %q: want 1-255 bytes without / or NUL", u.Name))
		}
		if seen[u.Name] {
			errs = append(errs, fmt.Errorf("user %q is in the plan twice", u.Name))
		}
		seen[u.Name] = true
		if u.Running < 0 || u.Stopped < 0 || u.Running+u.Stopped > 9999 {
			errs = append(errs, fmt.Errorf("user %q: running %d, stopped %d: want ≥ 0 and at most 9999 servers (ServerName has 4 digits)", u.Name, u.Running, u.Stopped))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrSeedDB, errors.Join(errs...))
	}
	return nil
}

type dbInput struct {
	DBURL       string         `json:"db_url"`
	Proto       string         `json:"proto"`
	IP          string         `json:"ip"`
	Port        int            `json:"port"`
	StateBytes  int            `json:"state_bytes"`
	StateKeys   int            `json:"state_keys"`
	Namespace   string         `json:"namespace"`
	UserOptions map[string]any `json:"user_options"`
	Users       []dbUser       `json:"users"`
}

type dbUser struct {
	Name    string     `json:"name"`
	Servers []dbServer `json:"servers"`
}

type dbServer struct {
	Name      string `json:"name"`
	Running   bool   `json:"running"`
	NeedToken bool   `json:"need_token"`
}

type dbOutput struct {
	NewUsers  int `json:"new_users"`
	NewRows   int `json:"new_rows"`
	Started   int `json:"started"`
	Stopped   int `json:"stopped"`
	Unchanged int `json:"unchanged"`
	Tokens    []struct {
		User     string `json:"user"`
		Server   string `json:"server"`
		BaseURL  string `json:"base_url"`
		ClientID string `json:"client_id"`
		Token    string `json:"token"`
	} `json:"tokens"`
	StoppedServers []struct {
		User   string `json:"user"`
		Server string `json:"server"`
	} `json:"stopped_servers"`
}

// runDBScript runs dbScript with the venv's python: the plan on stdin, the
// result (with the new servers' tokens) on stdout. Nothing secret is in
// argv; stderr is returned in errors (the script prints no tokens there).
func runDBScript(ctx context.Context, python string, in dbInput) (dbOutput, error) {
	var out dbOutput
	body, err := json.Marshal(in)
	if err != nil {
		return out, fmt.Errorf("%w: encode plan: %w", ErrSeedDB, err)
	}
	dir, err := os.MkdirTemp("", "hubcap-seeddb-")
	if err != nil {
		return out, fmt.Errorf("%w: %w", ErrSeedDB, err)
	}
	defer os.RemoveAll(dir)
	script := filepath.Join(dir, "seed_db.py")
	if err := os.WriteFile(script, []byte(dbScript), 0o600); err != nil {
		return out, fmt.Errorf("%w: %w", ErrSeedDB, err)
	}
	if err := os.WriteFile(filepath.Join(dir, fleet.SpawnerModule+".py"), []byte(fleet.SpawnerPython), 0o600); err != nil {
		return out, fmt.Errorf("%w: %w", ErrSeedDB, err)
	}
	cmd := exec.CommandContext(ctx, python, script)
	cmd.Dir = dir
	cmd.Stdin = bytes.NewReader(body)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return out, fmt.Errorf("%w: %w", ErrSeedDB, ctx.Err())
		}
		return out, fmt.Errorf("%w: %s %s: %w\n%s", ErrSeedDB, python, script, err, tail(stderr.String(), 20))
	}
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		return out, fmt.Errorf("%w: unreadable result from the seeding script: %w\n%s", ErrSeedDB, err, tail(stderr.String(), 20))
	}
	return out, nil
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// dbScript writes the plan with JupyterHub's ORM (the release's own
// models, so the columns and their encodings are the hub's). It mirrors
// jupyterhub/user.py (User.spawn, User.stop) and apihandlers/users.py
// (user creation) of 5.x for the rows they leave, and the fleet
// spawner's get_state for the state JSON.
const dbScript = `
import json, sys
from urllib.parse import quote
from sqlalchemy.orm import selectinload
from jupyterhub import orm
from jupyterhub.utils import new_token, hash_token, url_escape_path, url_path_join, utcnow
from hubcap_fleetspawner import _k8s_safe

spec = json.load(sys.stdin)
db = orm.new_session_factory(spec["db_url"])()
now = utcnow(with_tz=False)
user_role = orm.Role.find(db, "user")
if user_role is None:
    sys.exit("the database has no 'user' role: start the hub once on it first")
state_bytes = spec["state_bytes"]
state_keys = spec.get("state_keys") or 0
namespace = spec["namespace"]
options = spec["user_options"]

def fleet_state(user, server):
    # FleetSpawner.get_state: KubeSpawner-like fields padded to state_bytes
    pod = "jupyter-%s--%s" % (_k8s_safe(user), _k8s_safe(server)) if server else "jupyter-%s" % _k8s_safe(user)
    state = {"pod_name": pod, "namespace": namespace, "dns_name": "%s.%s.svc.cluster.local" % (pod, namespace)}
    missing = state_bytes - len(json.dumps(state))
    if missing <= 0:
        return state
    if state_keys <= 0:
        state["hubcap_padding"] = ""
        state["hubcap_padding"] = "x" * max(0, missing - len(', "hubcap_padding": ""'))
        return state
    # many small fields: "hubcap_fNNN": "vvv…", each ~missing/state_keys bytes
    per = max(1, missing // state_keys - len(', "hubcap_f000": ""'))
    for i in range(state_keys):
        state["hubcap_f%03d" % i] = ("%s-%d-" % (server or "default", i) + "v" * per)[:per]
    return state

out = {"new_users": 0, "new_rows": 0, "started": 0, "stopped": 0, "unchanged": 0, "tokens": [], "stopped_servers": []}
names = [u["name"] for u in spec["users"]]
users = {}
for i in range(0, len(names), 500):
    q = db.query(orm.User).filter(orm.User.name.in_(names[i:i + 500])).options(selectinload(orm.User._orm_spawners))
    for u in q:
        users[u.name] = u
# OAuth clients of servers, to reuse one left behind by an earlier run
clients = {c.identifier: c for c in db.query(orm.OAuthClient).filter(orm.OAuthClient.identifier.like("jupyterhub-user-%"))}

def server_token(user, server, base_url):
    tok = orm.APIToken(user=user, note="Server at %s" % base_url, client_id="jupyterhub",
                       scopes=["access:servers!server=%s/%s" % (user.name, server), "users:activity!user"],
                       created=now, last_activity=now)
    t = new_token()
    tok.token = t  # generated token: sha512, 1 round, as the hub stores it
    db.add(tok)
    return tok, t

def seed_user(u):
    user = users.get(u["name"])
    if user is None:
        user = orm.User(name=u["name"], created=now, last_activity=now)
        user.roles.append(user_role)
        db.add(user)
        db.add(orm.Spawner(user=user, name=""))
        out["new_users"] += 1
    existing = {sp.name: sp for sp in user._orm_spawners}
    user_base = url_path_join("/user/", url_escape_path(user.name)) + "/"
    for s in u["servers"] or []:
        name = s["name"]
        base_url = url_path_join(user_base, url_escape_path(name), "/")
        client_id = "jupyterhub-user-%s-%s" % (quote(user.name), quote(name))
        sp = existing.get(name)
        if sp is None:
            sp = orm.Spawner(user=user, name=name, user_options=options, last_activity=now)
            db.add(sp)
            existing[name] = sp
            out["new_rows"] += 1
            is_new = True
        else:
            is_new = False
        was_running = sp.server is not None
        if s["running"] and not was_running:
            srv = orm.Server(proto=spec["proto"], ip=spec["ip"], port=spec["port"], base_url=base_url, cookie_name="cookie")
            db.add(srv)
            sp.server = srv
            sp.state = fleet_state(user.name, name)
            sp.user_options = options
            sp.started = sp.last_activity = now
            tok, t = server_token(user, name, base_url)
            client = clients.get(client_id)
            if client is None:
                client = clients[client_id] = orm.OAuthClient(identifier=client_id)
                db.add(client)
            # the hub hashes the client secret with 16384 rounds; one round
            # stores the same kind of row, verifies the same, costs less
            client.secret = hash_token(t, rounds=1)
            client.redirect_uri = base_url + "oauth_callback"
            client.description = "Server at %s" % base_url
            client.allowed_scopes = ["access:servers!server=%s/%s" % (user.name, name)]
            sp.oauth_client = client
            out["started"] += 1
            out["tokens"].append({"user": user.name, "server": name, "base_url": base_url, "client_id": client_id, "token": t})
        elif not s["running"] and was_running:
            db.delete(sp.server)
            sp.server = None
            sp.state = {}
            sp.started = None
            sp.last_activity = now
            db.query(orm.APIToken).filter_by(user_id=user.id, note="Server at %s" % base_url).delete(synchronize_session=False)
            client = clients.pop(client_id, None)
            if client is not None:
                db.delete(client)
            sp.oauth_client = None
            out["stopped"] += 1
            out["stopped_servers"].append({"user": user.name, "server": name})
        elif not is_new:
            out["unchanged"] += 1
        if s["running"] and was_running:
            srv = sp.server
            if (srv.proto, srv.ip, srv.port) != (spec["proto"], spec["ip"], spec["port"]):
                srv.proto, srv.ip, srv.port = spec["proto"], spec["ip"], spec["port"]
            if s["need_token"]:
                # the fleet lacks it (e.g. a database copied from another
                # run): issue a fresh token so that it can register
                db.query(orm.APIToken).filter_by(user_id=user.id, note="Server at %s" % base_url).delete(synchronize_session=False)
                tok, t = server_token(user, name, base_url)
                if client_id in clients:
                    clients[client_id].secret = hash_token(t, rounds=1)
                out["tokens"].append({"user": user.name, "server": name, "base_url": base_url, "client_id": client_id, "token": t})
with db.no_autoflush:  # one flush at commit, not one per query
    for u in spec["users"]:
        seed_user(u)
db.commit()
db.close()
json.dump(out, sys.stdout)
`
