// Package replay restarts a local JupyterHub of a chosen release on a copy
// of a user's own hub database and measures the real start-up: peak RSS
// (VmHWM once init_spawners is done, as internal/calibrate measures),
// seconds to healthy, the init_spawners duration and, under a memory limit
// (a cgroup, as hubcap validate runs), whether the hub is OOM-killed. It is
// the ground truth for one database, without a model.
//
// The original database is never written: it is opened read-only through
// internal/hubdb (which handles WAL and hot-journal databases) and copied
// with SQLite's VACUUM INTO on that read-only connection. Only the copy is
// changed: migrated with `jupyterhub upgrade-db` when it is older than the
// release, and every running server's servers row pointed at hubcap's
// fleet, which registers each with a fresh API token (the user's pods are
// not reachable; the hub polls every running server at start-up and would
// otherwise drop them). The proxy gets the routes of those servers before
// the restart, as a production proxy keeps its routes across hub restarts.
package replay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hubcap-dev/hubcap/internal/bytesize"
	"github.com/hubcap-dev/hubcap/internal/fleet"
	"github.com/hubcap-dev/hubcap/internal/hub"
	"github.com/hubcap-dev/hubcap/internal/hubdb"
	"github.com/hubcap-dev/hubcap/internal/localhub"
	"github.com/hubcap-dev/hubcap/internal/proc"
	"github.com/hubcap-dev/hubcap/shape"
	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/hubapi"
)

// Errors of Run; each is wrapped with what to do.
var (
	// ErrOptions: the options are unusable (see Options.Validate).
	ErrOptions = errors.New("replay: bad options")
	// ErrCopyPostgres: the rows of a PostgreSQL database could not be
	// copied into SQLite.
	ErrCopyPostgres = errors.New("replay: cannot copy the PostgreSQL database")
	// ErrNewerRevision: the database was written by a newer JupyterHub than
	// the release asked for.
	ErrNewerRevision = errors.New("replay: database is newer than the release")
	// ErrUpgrade: `jupyterhub upgrade-db` failed on the copy.
	ErrUpgrade = errors.New("replay: upgrade-db failed on the copy")
	// ErrPrepare: pointing the copy's running servers at the fleet failed.
	ErrPrepare = errors.New("replay: cannot prepare the copy")
)

// Defaults of Options.
const (
	DefaultStartTimeout = 10 * time.Minute
	DefaultSettle       = 2 * time.Second
)

// dbFile is the hub's database in its run directory (hub.GenerateConfig's
// db_url).
const dbFile = "jupyterhub.sqlite"

// Options configure Run.
type Options struct {
	// DB is the database to replay: a path, sqlite:///path or a
	// postgresql:// URL (its rows are copied into SQLite). Required.
	DB string
	// Release is the installed release to run (Root/.hubcap/venvs), e.g.
	// "5.3.0". Required unless JupyterHub is set; with it, it must match.
	Release string
	// JupyterHub is an install to run instead (a venv or prefix with
	// bin/jupyterhub and bin/python, hub.InstallAt); its release is read
	// from `jupyterhub --version`.
	JupyterHub string
	// Root is the install root holding .hubcap/ ("" = hub.FindRoot()).
	Root string
	// MemoryLimit of the replayed start in bytes (a cgroup); 0 = none.
	MemoryLimit int64
	// RunDir keeps the hub's run directory (config, logs, the copy);
	// "" = a temporary directory removed afterwards. A database left in it
	// is replaced.
	RunDir string
	// StartTimeout bounds the replayed start (default 10 min: a quadratic
	// release needs minutes for a million joined rows).
	StartTimeout time.Duration
	// Settle is how long after init_spawners finished the steady RSS is
	// read (default 2 s).
	Settle time.Duration
	// Progress receives one line per step; nil discards.
	Progress io.Writer
	// Log receives the hub harness's lines; nil discards.
	Log io.Writer
}

// Validate reports every problem with o at once.
func (o Options) Validate() []error {
	var errs []error
	if strings.TrimSpace(o.DB) == "" {
		errs = append(errs, fmt.Errorf("%w: no database given; pass the hub's jupyterhub.sqlite (a copy of it is fine)", ErrOptions))
	}
	if o.Release == "" && o.JupyterHub == "" {
		errs = append(errs, fmt.Errorf("%w: no release given; pass the release your hub runs (e.g. 5.3.0) or an install of it", ErrOptions))
	}
	if o.MemoryLimit < 0 {
		errs = append(errs, fmt.Errorf("%w: memory limit %d is negative", ErrOptions, o.MemoryLimit))
	} else if o.MemoryLimit > 0 && o.MemoryLimit < 64<<20 {
		errs = append(errs, fmt.Errorf("%w: memory limit %s is below what an empty hub needs; give at least 64Mi (e.g. 2Gi)", ErrOptions, bytesize.Format(o.MemoryLimit)))
	}
	if o.StartTimeout < 0 || o.Settle < 0 {
		errs = append(errs, fmt.Errorf("%w: negative start timeout or settle time", ErrOptions))
	}
	return errs
}

// Result is one replay.
type Result struct {
	// Release is the JupyterHub release that ran; JupyterHub its install
	// directory when it was given by path.
	Release    string `json:"release"`
	JupyterHub string `json:"jupyterhub,omitempty"`
	// Source names the database replayed (no secrets).
	Source string `json:"source"`
	// SourceEngine is "sqlite" or "postgres"; a PostgreSQL database's
	// rows are copied into SQLite and the hub runs on that (the driver's
	// share of the peak may differ from a hub on PostgreSQL).
	SourceEngine string `json:"source_engine"`
	// Revision is the database's alembic revision; Upgraded says that
	// `jupyterhub upgrade-db` migrated the copy to UpgradedTo first.
	Revision   string `json:"revision"`
	Upgraded   bool   `json:"upgraded"`
	UpgradedTo string `json:"upgraded_to,omitempty"`
	// Shape is the database's shape (totals, no users), read from the
	// copy before the hub starts.
	Shape shape.Shape `json:"shape"`
	// Registered is how many running servers the fleet stands in for.
	Registered int `json:"registered"`
	// Limit is the memory limit of the replayed start (0: none).
	Limit int64 `json:"memory_limit"`
	// Healthy: the hub answered /hub/health and was alive once its
	// spawners were loaded. OOMKilled: its memory cgroup killed it.
	Healthy   bool `json:"healthy"`
	OOMKilled bool `json:"oom_killed"`
	// PeakRSS is VmHWM when the start-up was over (init_spawners done,
	// Settle passed); PeakAtHealthy when /hub/health first answered. Under
	// OOMKilled, PeakRSS is the peak seen before the kill (≥ it needed).
	PeakRSS       int64 `json:"peak_rss"`
	PeakAtHealthy int64 `json:"peak_rss_at_healthy"`
	SteadyRSS     int64 `json:"steady_rss,omitempty"`
	// Seconds to healthy (directly and through the proxy).
	Seconds float64 `json:"seconds_to_healthy"`
	// InitSpawners is jupyterhub_init_spawners_duration_seconds, nil when
	// the hub did not report it (killed first, or an old release).
	InitSpawners *float64 `json:"init_spawners_seconds"`
	// EmptyPeakRSS is the peak of the same release started on a new, empty
	// database in the same run, for scale.
	EmptyPeakRSS int64 `json:"empty_hub_peak_rss"`
	// Wall is the whole replay's duration in seconds.
	Wall float64 `json:"wall_seconds"`
}

// Run replays o.DB; see the package comment. Everything it starts (hub,
// proxy, fleet, cgroups) is stopped before it returns. A hub killed by the
// memory limit is a result (OOMKilled), not an error.
func Run(ctx context.Context, o Options) (res Result, err error) {
	t0 := time.Now()
	if errs := o.Validate(); len(errs) > 0 {
		return res, errors.Join(errs...)
	}
	if o.StartTimeout == 0 {
		o.StartTimeout = DefaultStartTimeout
	}
	if o.Settle == 0 {
		o.Settle = DefaultSettle
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	dsn, err := hubdb.ParseDSN(o.DB)
	if err != nil {
		return res, err
	}
	res.Source = dsn.String()
	res.SourceEngine = string(dsn.Kind)
	// the source first: a missing or foreign file fails before any install
	// is looked for; it stays open (read-only) until it is copied
	src, err := hubdb.Open(ctx, o.DB)
	if err != nil {
		return res, err
	}
	defer src.Close()
	if o.Root == "" {
		if o.Root, err = hub.FindRoot(); err != nil {
			return res, err
		}
	}
	in, err := hub.ResolveInstall(ctx, o.Root, o.Release, o.JupyterHub)
	if err != nil {
		return res, err
	}
	res.Release = in.Release
	if o.JupyterHub != "" {
		res.JupyterHub = in.Dir
	}
	res.Limit = o.MemoryLimit

	runDir := o.RunDir
	if runDir == "" {
		if runDir, err = os.MkdirTemp("", "hubcap-replay-"); err != nil {
			return res, err
		}
		defer os.RemoveAll(runDir)
	} else if err := os.MkdirAll(runDir, 0o700); err != nil {
		return res, err
	}
	if runDir, err = filepath.Abs(runDir); err != nil {
		return res, err
	}
	if st, err := hub.ReadState(runDir); err == nil && !st.Stopped && (proc.Alive(st.Hub) || proc.Alive(st.Proxy)) {
		return res, fmt.Errorf("%w: %s (hub pid %d): replay replaces the database there; stop it with hubcap hub down --run-dir %s, or give another --run-dir",
			hub.ErrAlreadyRunning, runDir, st.Hub.PID, runDir)
	}
	for _, suffix := range []string{"", "-journal", "-wal", "-shm"} {
		if err := os.Remove(filepath.Join(runDir, dbFile+suffix)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return res, err
		}
	}

	// 1. the copy, its shape and revision (the original is only read)
	copyPath := filepath.Join(runDir, "replay-copy.sqlite")
	_ = os.Remove(copyPath)
	if dsn.Kind == hubdb.Postgres {
		if err := src.Close(); err != nil {
			return res, err
		}
		tables, rows, err := copyPostgres(ctx, in, o.DB, copyPath)
		if err != nil {
			return res, err
		}
		fmt.Fprintf(o.Progress, "copied %d tables, %d rows from PostgreSQL into SQLite (read-only snapshot); the hub runs on SQLite\n", tables, rows)
	} else if err := src.CopySQLite(ctx, copyPath); err != nil {
		return res, err
	}
	if err := src.Close(); err != nil {
		return res, err
	}
	sh, rev, err := readCopy(ctx, copyPath)
	if err != nil {
		return res, err
	}
	res.Shape, res.Revision = sh, rev
	fmt.Fprintf(o.Progress, "copied %s: U=%d S=%d R=%d J=%d (alembic %s)\n", res.Source, sh.U, sh.S, sh.R, sh.J, rev)
	rs, err := checkRevision(ctx, in, rev)
	if err != nil {
		return res, err
	}

	// 2. a hub of the release with its fleet, first on an empty database
	l, err := localhub.Start(ctx, localhub.Options{
		Hub: hub.Options{
			Release: in.Release, Root: o.Root, JupyterHub: o.JupyterHub, RunDir: runDir, Log: o.Log,
			StartTimeout: o.StartTimeout,
		},
		Fleet: fleet.Config{MaxServers: 1 << 20},
	})
	if err != nil {
		return res, err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if serr := l.Stop(sctx); serr != nil && err == nil {
			err = fmt.Errorf("replay: stop the hub: %w", serr)
		}
	}()
	res.EmptyPeakRSS = l.Hub.StartReport().PeakRSS
	fmt.Fprintf(o.Progress, "jupyterhub %s up on an empty database (peak %s)\n", in.Release, bytesize.Format(res.EmptyPeakRSS))
	if err := l.Hub.StopProcess(ctx); err != nil {
		return res, err
	}

	// 3. the copy in place of the live database, migrated and pointed at the fleet
	live := filepath.Join(runDir, dbFile)
	for _, suffix := range []string{"-journal", "-wal", "-shm"} {
		if err := os.Remove(live + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
			return res, err
		}
	}
	if err := os.Rename(copyPath, live); err != nil {
		return res, err
	}
	if rs.needsUpgrade {
		fmt.Fprintf(o.Progress, "database at alembic %s is older than jupyterhub %s (%s): running jupyterhub upgrade-db on the copy\n", rev, in.Release, rs.head)
		if err := upgradeDB(ctx, in, live); err != nil {
			return res, err
		}
		res.Upgraded, res.UpgradedTo = true, rs.head
	}
	hubAPI := fmt.Sprintf("http://127.0.0.1:%d/hub/api", l.Hub.Ports().Hub)
	servers, err := pointAtFleet(ctx, in, live, l.FleetURL)
	if err != nil {
		return res, err
	}
	for _, s := range servers {
		reg := fleet.Registration{
			User: s.User, ServerName: s.Server, BaseURL: s.BaseURL,
			APIToken: s.Token, OAuthClientID: s.ClientID, HubAPIURL: hubAPI,
		}
		if err := l.Fleet.Register(reg); err != nil {
			return res, fmt.Errorf("%w: register %s/%s in the fleet: %w", ErrPrepare, s.User, s.Server, err)
		}
		res.Registered++
	}
	if err := syncRoutes(ctx, l, servers); err != nil {
		return res, err
	}
	fmt.Fprintf(o.Progress, "%d running servers registered in the fleet, their proxy routes set\n", res.Registered)

	// 4. the measured restart
	if err := l.Hub.SetMemoryLimit(o.MemoryLimit); err != nil {
		return res, err
	}
	lim := "no memory limit"
	if o.MemoryLimit > 0 {
		lim = "memory limit " + bytesize.Format(o.MemoryLimit)
	}
	fmt.Fprintf(o.Progress, "restarting jupyterhub %s on the copy (%s)\n", in.Release, lim)
	if err := measure(ctx, l, o, &res); err != nil {
		return res, err
	}
	res.Wall = time.Since(t0).Seconds()
	return res, nil
}

// readCopy reads the copy's shape and alembic revision.
func readCopy(ctx context.Context, path string) (shape.Shape, string, error) {
	db, err := hubdb.Open(ctx, path)
	if err != nil {
		return shape.Shape{}, "", err
	}
	defer db.Close()
	sh, err := db.Shape(ctx)
	if err != nil {
		return shape.Shape{}, "", err
	}
	return sh.Totals(), db.Revision(), nil
}

// measure restarts the hub on the prepared database and fills res: as
// internal/calibrate's restart, the peak is VmHWM read once
// init_spawners is over (the hub answers /hub/health while it may still
// run) and the start-up has settled.
func measure(ctx context.Context, l *localhub.Local, o Options, res *Result) error {
	rep, err := l.Hub.Restart(ctx)
	res.Seconds = rep.SecondsToHealthy
	res.PeakAtHealthy, res.PeakRSS = rep.PeakRSS, rep.PeakRSS
	if err != nil {
		if rep.Outcome.Kind == hub.OutcomeOOMKilled {
			res.OOMKilled = true
			res.PeakRSS = max(res.PeakRSS, rep.CgroupPeak)
			return nil
		}
		return err
	}
	tok, err := l.Hub.Token()
	if err != nil {
		return err
	}
	client, err := hubapi.New(hubapi.Config{BaseURL: l.Hub.URL(), Token: tok, MaxRetries: -1})
	if err != nil {
		return err
	}
	pid := rep.PID
	deadline := time.Now().Add(o.StartTimeout)
	for time.Now().Before(deadline) && alive(pid) {
		mctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		hm, err := client.Metrics(mctx)
		cancel()
		if err == nil && !math.IsNaN(hm.InitSpawnersSeconds) {
			v := hm.InitSpawnersSeconds
			res.InitSpawners = &v
			break
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		sleep(ctx, 250*time.Millisecond)
	}
	if alive(pid) {
		sleep(ctx, o.Settle)
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	mem, err := proc.ReadMem(pid)
	if err != nil || !alive(pid) {
		// died after /hub/health answered: under a limit, the OOM killer
		if o.MemoryLimit > 0 {
			res.OOMKilled = true
			return nil
		}
		return fmt.Errorf("replay: jupyterhub %s pid %d exited after it became healthy (log %s)", res.Release, pid, l.Hub.LogFile())
	}
	res.Healthy = true
	res.PeakRSS = max(res.PeakRSS, mem.HWM)
	res.SteadyRSS = mem.RSS
	return nil
}

func alive(pid int) bool {
	p, err := proc.Identify(pid)
	return err == nil && proc.Alive(p)
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
