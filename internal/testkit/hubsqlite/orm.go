package hubsqlite

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// ORMUser is a user written by WriteORM: first its Spawners as given, then
// a stopped default "" row (when Default), Running named servers r0000…
// with servers rows, and Stopped named servers s0000… without; the
// generated rows carry a KubeSpawner-like state padded to the stateBytes
// of JSON that WriteORM is given.
type ORMUser struct {
	Name     string       `json:"name"`
	Spawners []ORMSpawner `json:"spawners"`
	Default  bool         `json:"default"`
	Running  int          `json:"running"`
	Stopped  int          `json:"stopped"`
}

// ORMSpawner is one spawner row written as given (nil maps stay NULL).
type ORMSpawner struct {
	Name        string         `json:"name"`
	Running     bool           `json:"running"`
	State       map[string]any `json:"state"`
	UserOptions map[string]any `json:"user_options"`
}

// ORMResult is what WriteORM reports of the database it wrote.
type ORMResult struct {
	Version  string         // jupyterhub.__version__ of the Python that wrote it
	Revision string         // alembic_version as the hub stamped it
	Bytes    map[string]int // per user: bytes of state + user_options as JupyterHub's JSONDict stored them (json.dumps)
}

// ormPy writes users through JupyterHub's own ORM (orm.new_session_factory
// is what the hub runs at start-up: create_all and an alembic stamp).
const ormPy = `
import json, sqlite3, sys
import jupyterhub
from jupyterhub import orm

path, spec_path = sys.argv[1], sys.argv[2]
spec = json.load(open(spec_path))
session = orm.new_session_factory("sqlite:///" + path)()

def state(user, server):
    s = {"pod_name": "jupyter-%s--%s" % (user, server), "namespace": "jhub", "dns_name": "x"}
    pad = spec["state_bytes"] - len(json.dumps(s)) - 12
    if pad > 0:
        s["pad"] = "x" * pad
    return s

nbytes = {}
for u in spec["users"]:
    user = orm.User(name=u["name"])
    session.add(user)
    spawners = []
    for sp in u["spawners"] or []:
        s = orm.Spawner(user=user, name=sp["name"], state=sp["state"], user_options=sp["user_options"])
        if sp["running"]:
            s.server = orm.Server(base_url="/user/%s/%s/" % (u["name"], sp["name"]))
        spawners.append(s)
    if u["default"]:
        spawners.append(orm.Spawner(user=user, name="", state=state(u["name"], "")))
    for i in range(u["running"]):
        name = "r%04d" % i
        s = orm.Spawner(user=user, name=name, state=state(u["name"], name), user_options={"profile": "default"})
        s.server = orm.Server(base_url="/user/%s/%s/" % (u["name"], name))
        spawners.append(s)
    for i in range(u["stopped"]):
        name = "s%04d" % i
        spawners.append(orm.Spawner(user=user, name=name, state=state(u["name"], name), user_options={"profile": "default"}))
    n = 0
    for s in spawners:
        for v in (s.state, s.user_options):
            if v is not None:
                n += len(json.dumps(v).encode("utf-8"))
        session.add(s)
    nbytes[u["name"]] = n
    session.commit()
session.close()
rev = sqlite3.connect(path).execute("SELECT version_num FROM alembic_version").fetchone()[0]
print(json.dumps({"version": jupyterhub.__version__, "revision": rev, "bytes": nbytes}))
`

// WriteORM writes users into a new database at path with the ORM of the
// JupyterHub installed beside python (hubtest.Python gives it for a
// release), so the schema and the stored JSON are exactly the hub's.
func WriteORM(tb testing.TB, python, path string, users []ORMUser, stateBytes int) ORMResult {
	tb.Helper()
	if users == nil {
		users = []ORMUser{}
	}
	spec, _ := json.Marshal(map[string]any{"users": users, "state_bytes": stateBytes})
	specPath := filepath.Join(tb.TempDir(), "spec.json")
	if err := os.WriteFile(specPath, spec, 0o600); err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(python, "-c", ormPy, path, specPath)
	cmd.Dir = filepath.Dir(path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr // alembic logs its stamp there
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.Output()
	if err != nil {
		e := stderr.String()
		tb.Fatalf("the JupyterHub ORM of %s could not write %s: %v\n%s", python, path, err, e[max(0, len(e)-2000):])
	}
	var res ORMResult
	if err := json.Unmarshal(out, &res); err != nil {
		tb.Fatalf("ORM script output %q: %v", out, err)
	}
	os.Remove(specPath)
	return res
}
