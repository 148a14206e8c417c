package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	neturl "net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hubcap-dev/hubcap/internal/bytesize"
	"github.com/hubcap-dev/hubcap/internal/hub"
	"github.com/hubcap-dev/hubcap/internal/pglocal"
	"github.com/hubcap-dev/hubcap/internal/proc"
)

func init() {
	register(&command{
		Name:    "hub",
		Summary: "run a local JupyterHub: hub up|down|restart|status",
		Run:     runHub,
	})
}

const hubSynopsis = `hub <up|down|restart|status> [flags]

  up       start proxy and hub in the background (detached), wait until healthy
  down     stop everything "up" started (hub, single-user servers, fleet, proxy)
  restart  restart the hub only (proxy and database stay) and report the start
  status   say whether it runs, whether it is healthy, and its memory`

func runHub(ctx context.Context, stdio IO, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintf(stdio.Stderr, "Usage: hubcap %s\n", hubSynopsis)
		if len(args) == 0 {
			return withExitCode(ExitUsage, errSilentWrap(errors.New("no hub subcommand")))
		}
		return nil
	}
	switch args[0] {
	case "up":
		return hubUp(ctx, stdio, args[1:])
	case "down":
		return hubDown(ctx, stdio, args[1:])
	case "restart":
		return hubRestart(ctx, stdio, args[1:])
	case "status":
		return hubStatus(ctx, stdio, args[1:])
	}
	return withExitCode(ExitUsage, fmt.Errorf("unknown subcommand %q; use up, down, restart or status", args[0]))
}

// fleetSetup is what hub up needs from a fleet started for the hub.
type fleetSetup struct {
	SpawnerConfig string
	Files         map[string][]byte
	Env           map[string]string
	// PID is the detached fleet process, recorded as a companion of the hub.
	PID int
	// Stop ends the fleet when the hub fails to start.
	Stop func()
}

// startFleetForHub starts a detached fleet for a hub in runDir; fleet.go
// sets it. Nil means this build has no fleet.
var startFleetForHub func(ctx context.Context, stdio IO, runDir string) (*fleetSetup, error)

type hubUpOptions struct {
	hub.Options
	MemoryLimit string
	ExtraFile   string
	DB          string
	Fresh       bool
	JSON        bool
}

const hubUpDBUsage = `the hub's database: sqlite (in the run directory, the default); postgresql (a throwaway PostgreSQL cluster started for this hub on 127.0.0.1 — initdb in a temporary directory, a random password; hub down stops it and deletes it; needs Debian's postgresql); or postgresql://user@host:port/db, an existing database, with its password in $PGPASSWORD (never in the URL on the command line)`

// hubDB is what --db asks for: an external URL (password from $PGPASSWORD
// merged in), a throwaway cluster, or SQLite (both empty).
func hubDB(v string, getenv func(string) string) (url string, throwaway bool, err error) {
	switch strings.ToLower(v) {
	case "", "sqlite":
		return "", false, nil
	case "postgresql", "postgres":
		return "", true, nil
	}
	u, perr := neturl.Parse(v)
	if perr != nil || (u.Scheme != "postgresql" && u.Scheme != "postgres") {
		return "", false, fmt.Errorf("--db %q: want sqlite, postgresql, or postgresql://user@host:port/db (password in $PGPASSWORD)", redactArg(v))
	}
	if _, has := u.User.Password(); has {
		return "", false, errors.New("--db: the URL holds a password, and the command line is visible to every user of this machine (ps): " +
			"pass postgresql://user@host:port/db and the password in $PGPASSWORD")
	}
	if pw := getenv("PGPASSWORD"); pw != "" {
		name := "postgres"
		if u.User != nil {
			name = u.User.Username()
		}
		u.User = neturl.UserPassword(name, pw)
	}
	return u.String(), false, nil
}

// redactArg hides what looks like a password in a URL-ish argument.
func redactArg(v string) string {
	if u, err := neturl.Parse(v); err == nil && u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = neturl.UserPassword(u.User.Username(), "xxxxx")
			return u.String()
		}
	}
	if i := strings.LastIndex(v, "@"); i > 0 {
		return "…" + v[i:]
	}
	return v
}

// startHubPostgres starts a throwaway PostgreSQL cluster for a hub and
// makes its database; the caller records it as the hub's companion.
func startHubPostgres(ctx context.Context) (*pglocal.Cluster, string, error) {
	c, err := pglocal.Start(pglocal.Options{})
	if err != nil {
		if errors.Is(err, pglocal.ErrMissing) {
			return nil, "", withExitCode(ExitUsage, fmt.Errorf("--db postgresql: %w", err))
		}
		return nil, "", fmt.Errorf("--db postgresql: %w", err)
	}
	if err := c.Exec(ctx, "postgres", "CREATE DATABASE jupyterhub"); err != nil {
		c.Stop()
		return nil, "", fmt.Errorf("--db postgresql: create the hub's database: %w", err)
	}
	return c, c.URL("jupyterhub"), nil
}

func hubUp(ctx context.Context, stdio IO, args []string) error {
	var o hubUpOptions
	fs := newFlags("hub up", stdio, "hub up [--release 5.5.1] [--run-dir DIR] [--memory-limit 2Gi] [--spawner fleet|local] [--db sqlite|postgresql|URL] [flags]")
	fs.StringVar(&o.Release, "release", "5.5.1", "JupyterHub release (installed by make setup)")
	fs.StringVar(&o.RunDir, "run-dir", "", "run directory: config, database, logs, token (default .hubcap/run/jupyterhub-<release>)")
	fs.StringVar(&o.MemoryLimit, "memory-limit", "", "memory limit of the hub process (cgroup), e.g. 2Gi, 512Mi, 3G; empty: none")
	spawner := fs.String("spawner", string(hub.SpawnerLocal), "single-user servers: local (real jupyterhub-singleuser) or fleet (simulated, cheap)")
	fs.IntVar(&o.Ports.Proxy, "port", 0, "public (proxy) port on 127.0.0.1; 0: a free one")
	fs.IntVar(&o.ConcurrentSpawnLimit, "concurrent-spawn-limit", 0, "c.JupyterHub.concurrent_spawn_limit; 0: JupyterHub's default (100)")
	fs.StringVar(&o.ExtraFile, "extra-config", "", "python file appended to the generated jupyterhub_config.py")
	fs.DurationVar(&o.StartTimeout, "timeout", hub.DefaultStartTimeout, "how long to wait for /hub/health")
	fs.StringVar(&o.DB, "db", "sqlite", hubUpDBUsage)
	fs.BoolVar(&o.Fresh, "fresh", false, "delete the run directory's database first (new users, no servers)")
	fs.BoolVar(&o.JSON, "json", false, "print the result as JSON")
	if err := parseFlags(fs, args, false); err != nil {
		return err
	}
	o.Spawner = hub.SpawnerKind(*spawner)
	dbURL, throwawayPG, err := hubDB(o.DB, os.Getenv)
	if err != nil {
		return withExitCode(ExitUsage, err)
	}
	o.DBURL = dbURL
	if o.MemoryLimit != "" {
		n, err := bytesize.Parse(o.MemoryLimit)
		if err != nil {
			return withExitCode(ExitUsage, fmt.Errorf("--memory-limit: %w", err))
		}
		o.Options.MemoryLimit = n
	}
	if o.ExtraFile != "" {
		b, err := os.ReadFile(o.ExtraFile)
		if err != nil {
			return withExitCode(ExitUsage, fmt.Errorf("--extra-config: %w", err))
		}
		o.ExtraConfig = string(b)
	}
	root, err := hub.FindRoot()
	if err != nil {
		return err
	}
	o.Root = root
	if o.RunDir == "" {
		o.RunDir = hub.DefaultRunDir(root, o.Release)
	}
	if o.RunDir, err = filepath.Abs(o.RunDir); err != nil {
		return err
	}
	o.Detached = true
	o.Log = stdio.Stderr
	if o.Fresh {
		if s, err := hub.StatusOf(ctx, o.RunDir); err == nil && (s.HubAlive || s.ProxyAlive) {
			return fmt.Errorf("--fresh: a hub still runs from %s; stop it first with hubcap hub down --run-dir %s", o.RunDir, o.RunDir)
		}
		for _, f := range []string{"jupyterhub.sqlite", "jupyterhub_cookie_secret", "fleet-state.jsonl"} {
			if err := os.Remove(filepath.Join(o.RunDir, f)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
		}
	}
	var pg *pglocal.Cluster
	if throwawayPG {
		if pg, o.DBURL, err = startHubPostgres(ctx); err != nil {
			return err
		}
		fmt.Fprintf(stdio.Stderr, "hubcap: PostgreSQL on 127.0.0.1:%d (throwaway cluster in %s; hub down stops and deletes it)\n", pg.Port, pg.Dir)
	}
	var fl *fleetSetup
	if o.Spawner == hub.SpawnerFleet {
		if startFleetForHub == nil {
			return withExitCode(ExitUsage, errors.New("--spawner fleet: this build has no fleet; use --spawner local"))
		}
		if err := os.MkdirAll(o.RunDir, 0o700); err != nil {
			return err
		}
		if fl, err = startFleetForHub(ctx, stdio, o.RunDir); err != nil {
			if pg != nil {
				pg.Stop()
			}
			return err
		}
		o.SpawnerConfig, o.SpawnerFiles, o.Env = fl.SpawnerConfig, fl.Files, fl.Env
	}
	h, err := hub.Start(ctx, o.Options)
	if err != nil {
		if fl != nil && fl.Stop != nil {
			fl.Stop()
		}
		if pg != nil {
			pg.Stop()
		}
		return err
	}
	if pg != nil {
		pid, err := pg.PID()
		if err == nil {
			err = h.AddCompanionDir("postgresql", pid, pg.Dir)
		}
		if err != nil {
			fmt.Fprintf(stdio.Stderr, "hubcap: warning: cannot record the PostgreSQL server for hub down (stop it yourself, then remove %s): %v\n", pg.Dir, err)
		}
	}
	if fl != nil {
		if err := h.AddCompanion("fleet", fl.PID); err != nil {
			fmt.Fprintf(stdio.Stderr, "hubcap: warning: cannot record the fleet (pid %d) for hub down: %v\n", fl.PID, err)
		}
	}
	h.Detach()
	rep := h.StartReport()
	db := redactArg(h.DBURL()) // never the password
	if pg != nil {
		db += " (throwaway: hub down stops it and deletes " + pg.Dir + ")"
	}
	if o.JSON {
		return writeJSON(stdio.Stdout, map[string]any{
			"url": h.URL(), "api_url": h.HubAPIURL(), "token_file": h.TokenFile(), "run_dir": h.RunDir(),
			"log": h.LogFile(), "release": h.Release(), "pid": h.PID(), "proxy_pid": h.ProxyPID(),
			"db": db, "start": rep,
		})
	}
	w := stdio.Stdout
	fmt.Fprintf(w, "JupyterHub %s is up at %s\n", h.Release(), h.URL())
	fmt.Fprintf(w, "  start:      %s\n", rep.Summary())
	fmt.Fprintf(w, "  API:        %s  (token: Authorization: token $(cat %s))\n", h.HubAPIURL(), h.TokenFile())
	fmt.Fprintf(w, "  token file: %s\n", h.TokenFile())
	fmt.Fprintf(w, "  database:   %s\n", db)
	fmt.Fprintf(w, "  log:        %s\n", h.LogFile())
	fmt.Fprintf(w, "  stop:       hubcap hub down --run-dir %s\n", h.RunDir())
	return nil
}

// runDirFlags adds --run-dir and --release to fs for down/restart/status.
func runDirFlags(fs interface {
	StringVar(*string, string, string, string)
}) (dir, release *string) {
	dir, release = new(string), new(string)
	fs.StringVar(dir, "run-dir", "", "run directory of the hub (default: the only one under .hubcap/run, or the --release one)")
	fs.StringVar(release, "release", "", "pick the default run directory of this release")
	return dir, release
}

// resolveRunDirs turns --run-dir/--release into run directories. With
// neither, it returns every run directory under .hubcap/run that has a
// state file; activeOnly keeps the ones not marked stopped.
func resolveRunDirs(dir, release string, activeOnly bool) ([]string, error) {
	if dir != "" {
		return []string{dir}, nil
	}
	root, err := hub.FindRoot()
	if err != nil {
		return nil, err
	}
	if release != "" {
		return []string{hub.DefaultRunDir(root, release)}, nil
	}
	var out []string
	for _, d := range hub.RunDirs(root) {
		if st, err := hub.ReadState(d); err == nil && (!activeOnly || !st.Stopped) {
			out = append(out, d)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no hub recorded under %s; start one with hubcap hub up, or pass --run-dir",
			hub.ErrNoState, filepath.Join(root, ".hubcap", "run"))
	}
	return out, nil
}

// oneRunDir picks the single hub a command acts on: --run-dir, the
// --release default, or the only running one. With none running it wraps
// hub.ErrStopped.
func oneRunDir(dir, release string) (string, error) {
	if dir != "" || release != "" {
		dirs, err := resolveRunDirs(dir, release, false)
		if err != nil {
			return "", err
		}
		return dirs[0], nil
	}
	all, err := resolveRunDirs("", "", false)
	if err != nil {
		return "", err
	}
	var active []string
	for _, d := range all {
		if st, err := hub.ReadState(d); err == nil && !st.Stopped {
			active = append(active, d)
		}
	}
	switch len(active) {
	case 0:
		return "", fmt.Errorf("%w: no running hub (stopped: %s); start one with hubcap hub up", hub.ErrStopped, strings.Join(all, ", "))
	case 1:
		return active[0], nil
	}
	return "", withExitCode(ExitUsage, fmt.Errorf("several hubs are running; pick one with --run-dir:\n  %s", strings.Join(active, "\n  ")))
}

func hubDown(ctx context.Context, stdio IO, args []string) error {
	fs := newFlags("hub down", stdio, "hub down [--run-dir DIR | --release R]")
	dir, release := runDirFlags(fs)
	if err := parseFlags(fs, args, false); err != nil {
		return err
	}
	d, err := oneRunDir(*dir, *release)
	if errors.Is(err, hub.ErrStopped) {
		fmt.Fprintln(stdio.Stdout, "nothing to stop: no hub is running")
		return nil
	}
	if err != nil {
		return err
	}
	h, err := hub.Attach(d, stdio.Stderr)
	if errors.Is(err, hub.ErrStopped) {
		fmt.Fprintf(stdio.Stdout, "hub in %s is already stopped\n", d)
		return nil
	}
	if err != nil {
		return err
	}
	// Stopping must not be cut short by a second Ctrl-C halfway.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	if err := h.Stop(sctx); err != nil {
		return err
	}
	fmt.Fprintf(stdio.Stdout, "stopped jupyterhub %s (run dir %s kept)\n", h.Release(), d)
	return nil
}

func hubRestart(ctx context.Context, stdio IO, args []string) error {
	fs := newFlags("hub restart", stdio, "hub restart [--run-dir DIR | --release R] [--json]")
	dir, release := runDirFlags(fs)
	asJSON := fs.Bool("json", false, "print the start report as JSON (with RSS samples)")
	if err := parseFlags(fs, args, false); err != nil {
		return err
	}
	d, err := oneRunDir(*dir, *release)
	if err != nil {
		return err
	}
	h, err := hub.Attach(d, stdio.Stderr)
	if err != nil {
		return err
	}
	rep, err := h.Restart(ctx)
	h.Detach()
	if *asJSON {
		if jerr := writeJSON(stdio.Stdout, rep); jerr != nil {
			return jerr
		}
	} else {
		printReport(stdio.Stdout, "restart", rep)
	}
	if err != nil {
		var se *hub.StartError
		if errors.As(err, &se) && !*asJSON {
			// The report is printed; say what failed and where the log is.
			return fmt.Errorf("%w (hub stopped; proxy still up: try hubcap hub restart again or hubcap hub down)", se.Err)
		}
		return err
	}
	return nil
}

func printReport(w io.Writer, what string, r hub.StartReport) {
	fmt.Fprintf(w, "jupyterhub %s %s: %s\n", r.Release, what, r.Outcome)
	fmt.Fprintf(w, "  seconds to healthy: %.2f\n", r.SecondsToHealthy)
	fmt.Fprintf(w, "  peak RSS (VmHWM):   %s (%d bytes)\n", bytesize.Format(r.PeakRSS), r.PeakRSS)
	if n := len(r.Samples); n > 0 {
		s := proc.Summarize(r.Samples)
		fmt.Fprintf(w, "  RSS samples:        %d over %.1fs, mean %s, last %s\n", n, s.Duration.Seconds(),
			bytesize.Format(int64(s.MeanRSS)), bytesize.Format(s.Last.RSS))
	}
	if r.Limit > 0 {
		fmt.Fprintf(w, "  memory limit:       %s (cgroup peak %s)\n", bytesize.Format(r.Limit), bytesize.Format(r.CgroupPeak))
	}
	fmt.Fprintf(w, "  pid:                %d\n", r.PID)
	if r.LogTail != "" {
		fmt.Fprintf(w, "  last lines of the hub log:\n")
		for _, l := range strings.Split(r.LogTail, "\n") {
			fmt.Fprintf(w, "    %s\n", l)
		}
	}
}

func hubStatus(ctx context.Context, stdio IO, args []string) error {
	fs := newFlags("hub status", stdio, "hub status [--run-dir DIR | --release R] [--json]")
	dir, release := runDirFlags(fs)
	asJSON := fs.Bool("json", false, "print as JSON")
	if err := parseFlags(fs, args, false); err != nil {
		return err
	}
	dirs, err := resolveRunDirs(*dir, *release, false)
	if err != nil {
		return err
	}
	var all []hub.Status
	running := true
	for _, d := range dirs {
		s, err := hub.StatusOf(ctx, d)
		if err != nil {
			return err
		}
		all = append(all, s)
		running = running && s.Running() && s.Healthy
	}
	if *asJSON {
		if err := writeJSON(stdio.Stdout, all); err != nil {
			return err
		}
	} else {
		for _, s := range all {
			printStatus(stdio.Stdout, s)
		}
	}
	if !running {
		return withExitCode(ExitNotRunning, errSilentWrap(errors.New("not running")))
	}
	return nil
}

func printStatus(w io.Writer, s hub.Status) {
	st := s.State
	state := "stopped"
	switch {
	case s.Running() && s.Healthy:
		state = "running, healthy"
	case s.Running():
		state = "running, NOT healthy"
	case s.HubAlive || s.ProxyAlive:
		state = fmt.Sprintf("partly running (hub alive: %v, proxy alive: %v)", s.HubAlive, s.ProxyAlive)
	}
	fmt.Fprintf(w, "%s: %s (jupyterhub %s, %s spawner)\n", st.RunDir, state, st.Release, st.Spawner)
	if s.HubAlive || s.ProxyAlive {
		fmt.Fprintf(w, "  url:    %s\n", st.URL)
		fmt.Fprintf(w, "  token:  %s\n", filepath.Join(st.RunDir, hub.ServiceTokenFile))
	}
	if s.HubAlive {
		fmt.Fprintf(w, "  hub:    pid %d, RSS %s, peak %s\n", st.Hub.PID, bytesize.Format(s.Mem.RSS), bytesize.Format(s.Mem.HWM))
	}
	if s.ProxyAlive {
		fmt.Fprintf(w, "  proxy:  pid %d\n", st.Proxy.PID)
	}
	for _, c := range st.Companions {
		fmt.Fprintf(w, "  %s: pid %d, alive %v\n", c.Name, c.Proc.PID, proc.Alive(c.Proc))
	}
	if st.MemoryLimit > 0 {
		fmt.Fprintf(w, "  limit:  %s", bytesize.Format(st.MemoryLimit))
		if s.Cgroup != nil {
			fmt.Fprintf(w, " (cgroup usage %s, peak %s, OOM kills %d)", bytesize.Format(s.Cgroup.Usage), bytesize.Format(s.Cgroup.Peak), s.Cgroup.OOMKills)
		}
		fmt.Fprintln(w)
	}
	if st.LastStart != nil {
		fmt.Fprintf(w, "  last start (#%d): %s\n", st.Starts, st.LastStart.Summary())
	}
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
