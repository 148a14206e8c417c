package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/hubcap-dev/hubcap/internal/hub"
	"github.com/hubcap-dev/hubcap/internal/hubdb"
	"github.com/hubcap-dev/hubcap/internal/replay"
)

func init() {
	register(&command{
		Name:    "replay",
		Summary: "restart a local hub on a copy of your hub database and measure the real start-up peak, time and OOM",
		Run:     runReplay,
	})
}

const replaySynopsis = `replay --db FILE (--release VERSION | --jupyterhub PATH) [--memory-limit 3Gi] [--json] [flags]

Ground truth for your own database, without a model: copies the hub database
(read-only; the original is never written), restarts a local JupyterHub of
that release on the copy with every running server stood in for by hubcap's
fleet (the copy's servers rows are pointed at it, each with a fresh token),
and measures the start-up: peak RSS (VmHWM once init_spawners is done),
seconds to healthy, init_spawners seconds, and, under --memory-limit (a
cgroup), whether the hub is OOM-killed.

--db takes a jupyterhub.sqlite path, sqlite:///path, or postgresql://… (its
rows are copied, read-only, into SQLite and the hub runs on that). --release is an installed release (make setup: 4.1.6, 5.3.0,
5.5.1, 6.1.1); --jupyterhub PATH runs the jupyterhub installed in that venv or
prefix instead (e.g. one pinned to your hub image's versions), its release
read from jupyterhub --version. A database older than the release is
migrated on the copy with jupyterhub upgrade-db; a newer one is refused.

Exit codes: 0 started, 6 OOM-killed under --memory-limit, 2 usage, 21 database
file not found, 22 not SQLite, 23 not a JupyterHub database, 3 release not
installed, 4 no memory cgroup, 5 start timeout, 7 the hub exited, 25 PostgreSQL
refused.`

func runReplay(ctx context.Context, stdio IO, args []string) error {
	var (
		o       replay.Options
		jsonOut bool
		verbose bool
	)
	fs := newFlags("replay", stdio, replaySynopsis)
	fs.StringVar(&o.DB, "db", "", "hub database to replay: jupyterhub.sqlite path, sqlite:///abs/path or postgresql://… (read-only; a copy is replayed)")
	fs.StringVar(&o.Release, "release", "", "installed JupyterHub release to run, e.g. 5.3.0 (the one your hub runs)")
	fs.StringVar(&o.JupyterHub, "jupyterhub", "", "run the jupyterhub installed in this venv or prefix (bin/jupyterhub, bin/python) instead")
	fs.Var(byteFlag{&o.MemoryLimit}, "memory-limit", "the hub's memory limit, e.g. 3Gi (default: none, measure the peak)")
	fs.DurationVar(&o.StartTimeout, "timeout", replay.DefaultStartTimeout, "how long the replayed start may take")
	fs.StringVar(&o.RunDir, "run-dir", "", "keep the hub's run directory (config, logs, the copy) here (default: a temporary one)")
	fs.BoolVar(&jsonOut, "json", false, "print the result as JSON (hubcap check --replay reads it)")
	fs.BoolVar(&verbose, "v", false, "print the hub harness's lines")
	if err := parseFlags(fs, args, false); err != nil {
		return err
	}
	if errs := o.Validate(); len(errs) > 0 {
		return withExitCode(ExitUsage, errors.Join(errs...))
	}
	o.Progress = stdio.Stderr // stdout holds only the result
	if verbose {
		o.Log = stdio.Stderr
	}
	res, err := replay.Run(ctx, o)
	if err != nil {
		return withExitCode(replayExitCode(err), err)
	}
	if jsonOut {
		enc := json.NewEncoder(stdio.Stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(res)
	} else {
		err = res.WriteText(stdio.Stdout)
	}
	if err != nil {
		return err
	}
	if res.OOMKilled {
		return withExitCode(ExitOOMKilled, errSilentWrap(fmt.Errorf("OOM-killed under %d bytes", res.Limit)))
	}
	return nil
}

// replayExitCode: database problems get check's codes, bad input the usage
// code, hub problems the harness's.
func replayExitCode(err error) int {
	switch {
	case errors.Is(err, context.Canceled):
		return ExitInterrupted
	case errors.Is(err, replay.ErrOptions), errors.Is(err, replay.ErrNewerRevision),
		errors.Is(err, hub.ErrVersionMismatch), errors.Is(err, hubdb.ErrBadDSN):
		return ExitUsage
	case errors.Is(err, hubdb.ErrNotFound), errors.Is(err, hubdb.ErrNotSQLite), errors.Is(err, hubdb.ErrNotJupyterHub), errors.Is(err, hubdb.ErrConnect):
		return checkExitCode(err)
	}
	return exitCode(err)
}
