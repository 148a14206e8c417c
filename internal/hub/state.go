package hub

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/hubcap-dev/hubcap/internal/proc"
)

// File names inside a run directory.
const (
	StateFile        = "hubcap-state.json"
	ConfigFile       = "jupyterhub_config.py"
	LogFile          = "jupyterhub.log"
	ProxyLogFile     = "proxy.log"
	ServiceTokenFile = "service-token"
	proxyTokenFile   = "proxy-token"
	hubEnvFile       = "hub-env.json"
)

// stateVersion is bumped when State changes incompatibly.
const stateVersion = 1

// Ports are the loopback ports of one hub.
type Ports struct {
	// Proxy is the public port: users and load go to http://127.0.0.1:Proxy.
	Proxy int `json:"proxy"`
	// ProxyAPI is configurable-http-proxy's REST API port.
	ProxyAPI int `json:"proxy_api"`
	// Hub is the hub's own port (the proxy's default target).
	Hub int `json:"hub"`
}

// Companion is a process that belongs to the hub setup and is stopped
// with it (for example the fleet that stands in for single-user servers).
type Companion struct {
	Name string    `json:"name"`
	Proc proc.Proc `json:"proc"`
	// RemoveDir is a directory removed once the process is stopped (that of
	// a throwaway PostgreSQL cluster started for the hub).
	RemoveDir string `json:"remove_dir,omitempty"`
}

// State is what a run directory's hubcap-state.json records, so that a
// later hubcap command can find, restart and stop a hub it did not start.
// It holds no secrets: tokens live in 0600 files beside it.
type State struct {
	Version int    `json:"version"`
	Release string `json:"release"`
	Root    string `json:"root"`
	// InstallDir is the install run when it is not Root's venv of
	// Release (Options.JupyterHub).
	InstallDir string      `json:"install_dir,omitempty"`
	RunDir     string      `json:"run_dir"`
	Spawner    SpawnerKind `json:"spawner"`
	Detached   bool        `json:"detached"`
	Ports      Ports       `json:"ports"`
	URL        string      `json:"url"`
	Proxy      proc.Proc   `json:"proxy"`
	Hub        proc.Proc   `json:"hub"`
	// Tracked are other processes seen in the hub's tree (single-user
	// servers, kernels) that Stop must end even after they are orphaned.
	Tracked    []proc.Proc `json:"tracked,omitempty"`
	Companions []Companion `json:"companions,omitempty"`
	// MemoryLimit in bytes (0: none); Cgroup is the current hub cgroup and
	// ServersCgroup the unlimited one for local single-user servers.
	MemoryLimit   int64  `json:"memory_limit,omitempty"`
	CgroupPrefix  string `json:"cgroup_prefix,omitempty"`
	Cgroup        string `json:"cgroup,omitempty"`
	ServersCgroup string `json:"servers_cgroup,omitempty"`
	// Starts counts hub starts (1 after the first).
	Starts int `json:"starts"`
	// EnvKeys names the extra environment variables of the hub; their
	// values are in the 0600 file hub-env.json.
	EnvKeys      []string      `json:"env_keys,omitempty"`
	StartTimeout time.Duration `json:"start_timeout_ns"`
	StopGrace    time.Duration `json:"stop_grace_ns"`
	StartedAt    time.Time     `json:"started_at"`
	UpdatedAt    time.Time     `json:"updated_at"`
	Stopped      bool          `json:"stopped"`
	// LastStart is the report of the latest start, without samples.
	LastStart *StartReport `json:"last_start,omitempty"`
}

// WriteState writes s to dir/hubcap-state.json atomically (0644).
func WriteState(dir string, s State) error {
	s.Version = stateVersion
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".state-*")
	if err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	_, werr := tmp.Write(append(b, '\n'))
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr, os.Chmod(tmp.Name(), 0o644)); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write state: %w", err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, StateFile)); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write state: %w", err)
	}
	return nil
}

// ReadState reads dir/hubcap-state.json. A missing file wraps ErrNoState.
func ReadState(dir string) (State, error) {
	b, err := os.ReadFile(filepath.Join(dir, StateFile))
	if errors.Is(err, os.ErrNotExist) {
		return State{}, fmt.Errorf("%w %s: start a hub there with hubcap hub up", ErrNoState, dir)
	}
	if err != nil {
		return State{}, err
	}
	return ParseState(b)
}

// ParseState decodes a state file.
func ParseState(b []byte) (State, error) {
	var s State
	if err := json.Unmarshal(b, &s); err != nil {
		return State{}, fmt.Errorf("%w: corrupt %s: %v", ErrNoState, StateFile, err)
	}
	if s.Version != stateVersion {
		return State{}, fmt.Errorf("%w: %s has version %d, this hubcap reads %d", ErrNoState, StateFile, s.Version, stateVersion)
	}
	if s.RunDir == "" || s.Release == "" {
		return State{}, fmt.Errorf("%w: %s lacks run_dir or release", ErrNoState, StateFile)
	}
	return s, nil
}

// RunDirs lists the run directories under root/.hubcap/run that hold a
// state file (for commands given no --run-dir).
func RunDirs(root string) []string {
	m, _ := filepath.Glob(filepath.Join(root, ".hubcap", "run", "*", StateFile))
	out := make([]string, len(m))
	for i, p := range m {
		out[i] = filepath.Dir(p)
	}
	return out
}

// DefaultRunDir is the run directory used when Options.RunDir is empty.
func DefaultRunDir(root, release string) string {
	return filepath.Join(root, ".hubcap", "run", "jupyterhub-"+release)
}

func writeSecret(path string, b []byte) error {
	// Remove first: an existing file could have looser permissions.
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, werr := f.Write(b)
	return errors.Join(werr, f.Close())
}
