package hub

import (
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// Defaults of Options.
const (
	DefaultStartTimeout   = 2 * time.Minute
	DefaultStopGrace      = 5 * time.Second
	DefaultSampleInterval = 100 * time.Millisecond
)

// Options configure Start.
type Options struct {
	// Release is the JupyterHub release to run, e.g. "5.5.1"; it must be
	// installed under Root/.hubcap/venvs.
	Release string
	// Root is the install root (the directory holding .hubcap/); default
	// FindRoot().
	Root string
	// JupyterHub, when set, is the install to run (a venv or install
	// prefix with bin/jupyterhub and bin/python, see InstallAt) instead of
	// Root/.hubcap/venvs/jupyterhub-<Release>; Release must be its version
	// (ResolveInstall reads it). Root still provides the proxy.
	JupyterHub string
	// RunDir holds config, database, logs, tokens and state; it is created
	// when missing and kept afterwards. Default DefaultRunDir(Root, Release).
	RunDir string
	// MemoryLimit in bytes puts the hub process (not the proxy) in a
	// memory cgroup with that limit; 0 means no limit and no cgroup.
	MemoryLimit int64
	// Spawner selects the spawner; empty means SpawnerLocal.
	Spawner SpawnerKind
	// SpawnerConfig is python config appended for SpawnerFleet (e.g. from
	// fleet.SpawnerConfig).
	SpawnerConfig string
	// SpawnerFiles are written into RunDir (which is on the hub's sys.path),
	// e.g. the fleet's spawner module. Names must be plain file names.
	SpawnerFiles map[string][]byte
	// Env is extra environment for the hub process (e.g. HUBCAP_FLEET_URL and
	// HUBCAP_FLEET_SECRET). Values are never logged; they are kept in a 0600
	// file in RunDir so a later `hubcap hub restart` can pass them again.
	Env map[string]string
	// ExtraConfig is python appended to the generated config.
	ExtraConfig string
	// ConcurrentSpawnLimit sets c.JupyterHub.concurrent_spawn_limit when > 0.
	ConcurrentSpawnLimit int
	// DBURL is the hub's db_url when not SQLite in RunDir: a
	// postgresql://user:password@host:port/db URL (see db.go; the password
	// never reaches the config file or the logs).
	DBURL string
	// Ports asked for explicitly; 0 picks a free port. A busy explicit port
	// fails Start with ErrPortBusy.
	Ports Ports
	// StartTimeout bounds the wait for /hub/health (default 2 min).
	StartTimeout time.Duration
	// StopGrace is the time between SIGTERM and SIGKILL (default 5 s).
	StopGrace time.Duration
	// SampleInterval is the RSS sampling period during start-up (default 100 ms).
	SampleInterval time.Duration
	// Detached starts the proxy and hub in their own sessions so they
	// outlive the calling process (hubcap hub up). Otherwise they get
	// Pdeathsig=SIGKILL and die with the caller, and the caller becomes a
	// child subreaper so orphaned single-user servers can be found and reaped.
	Detached bool
	// Log receives the harness's progress lines (never secrets); nil discards.
	Log io.Writer
}

var releasePattern = regexp.MustCompile(`^[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}$`)

// Validate reports every problem with o at once.
func (o Options) Validate() []error {
	var errs []error
	if o.Release == "" {
		errs = append(errs, fmt.Errorf("release is empty: pass e.g. 5.5.1"))
	} else if !releasePattern.MatchString(o.Release) {
		errs = append(errs, fmt.Errorf("release %q is not a release number", o.Release))
	}
	if o.MemoryLimit < 0 {
		errs = append(errs, fmt.Errorf("memory limit %d is negative", o.MemoryLimit))
	} else if o.MemoryLimit > 0 && o.MemoryLimit < 8<<20 {
		errs = append(errs, fmt.Errorf("memory limit %d bytes is below 8Mi; did you mean %dMi?", o.MemoryLimit, o.MemoryLimit))
	}
	switch o.Spawner {
	case "", SpawnerLocal:
		if o.SpawnerConfig != "" {
			errs = append(errs, fmt.Errorf("SpawnerConfig is only used with the fleet spawner"))
		}
	case SpawnerFleet:
		if strings.TrimSpace(o.SpawnerConfig) == "" {
			errs = append(errs, fmt.Errorf("the fleet spawner needs SpawnerConfig (from fleet.SpawnerConfig)"))
		}
	default:
		errs = append(errs, fmt.Errorf("spawner %q: use %q or %q", o.Spawner, SpawnerLocal, SpawnerFleet))
	}
	for name := range o.SpawnerFiles {
		if name == "" || name != filepath.Base(name) || strings.HasPrefix(name, ".") {
			errs = append(errs, fmt.Errorf("spawner file name %q must be a plain file name", name))
		}
		switch name {
		case ConfigFile, StateFile, LogFile, ProxyLogFile, ServiceTokenFile, proxyTokenFile, hubEnvFile:
			errs = append(errs, fmt.Errorf("spawner file %q would overwrite hubcap's own file", name))
		}
	}
	for k := range o.Env {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			errs = append(errs, fmt.Errorf("environment variable name %q is invalid", k))
		}
		if k == ServiceTokenEnv || k == ProxyTokenEnv || k == DBURLEnv {
			errs = append(errs, fmt.Errorf("environment variable %s is set by hubcap", k))
		}
	}
	if err := validateDBURL(o.DBURL); err != nil {
		errs = append(errs, err)
	}
	if o.ConcurrentSpawnLimit < 0 {
		errs = append(errs, fmt.Errorf("concurrent spawn limit %d is negative", o.ConcurrentSpawnLimit))
	}
	for _, p := range []int{o.Ports.Proxy, o.Ports.ProxyAPI, o.Ports.Hub} {
		if p < 0 || p > 65535 {
			errs = append(errs, fmt.Errorf("port %d out of range", p))
		}
	}
	if p := o.Ports; (p.Proxy != 0 && (p.Proxy == p.ProxyAPI || p.Proxy == p.Hub)) || (p.Hub != 0 && p.Hub == p.ProxyAPI) {
		errs = append(errs, fmt.Errorf("ports %+v must differ", p))
	}
	if o.StartTimeout < 0 || o.StopGrace < 0 || o.SampleInterval < 0 {
		errs = append(errs, fmt.Errorf("negative timeout, grace or interval"))
	}
	return errs
}

func (o *Options) setDefaults() {
	if o.Spawner == "" {
		o.Spawner = SpawnerLocal
	}
	if o.StartTimeout == 0 {
		o.StartTimeout = DefaultStartTimeout
	}
	if o.StopGrace == 0 {
		o.StopGrace = DefaultStopGrace
	}
	if o.SampleInterval == 0 {
		o.SampleInterval = DefaultSampleInterval
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
}
