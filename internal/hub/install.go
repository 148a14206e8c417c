// Package hub runs real JupyterHub releases locally for load tests: it finds
// the installed releases, writes a jupyterhub_config.py, runs
// configurable-http-proxy as its own process (as z2jh runs it in its own
// pod), starts, restarts and stops the hub (optionally under a cgroup
// memory limit) and reports how long the hub took to become healthy and how
// much memory it needed on the way.
package hub

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// HomeEnv names the environment variable that, when set, is the install
// root: the directory that holds .hubcap/.
const HomeEnv = "HUBCAP_HOME"

// SetupCommand is what users run to install the pinned releases.
const SetupCommand = "make setup (or scripts/setup.sh <release>)"

// Errors about installs. Each is wrapped with details and a hint.
var (
	// ErrNoRoot: no directory with .hubcap/ was found.
	ErrNoRoot = errors.New("hubcap install root not found")
	// ErrNotInstalled: the requested release has no venv.
	ErrNotInstalled = errors.New("jupyterhub release not installed")
	// ErrPythonMissing: a venv lacks its python or jupyterhub executables.
	ErrPythonMissing = errors.New("python environment incomplete")
	// ErrProxyMissing: configurable-http-proxy is not installed.
	ErrProxyMissing = errors.New("configurable-http-proxy not installed")
	// ErrNodeMissing: node, which runs configurable-http-proxy, is not on PATH.
	ErrNodeMissing = errors.New("node not found")
)

// Install is one JupyterHub release installed under <root>/.hubcap/venvs.
type Install struct {
	Release string
	// Dir is the virtualenv directory.
	Dir string
}

// Bin returns the path of an executable in the venv's bin directory.
func (in Install) Bin(name string) string { return filepath.Join(in.Dir, "bin", name) }

// Check verifies that the venv has python, jupyterhub and jupyterhub-singleuser.
func (in Install) Check() error {
	for _, b := range []string{"python", "jupyterhub", "jupyterhub-singleuser"} {
		if !isExecutable(in.Bin(b)) {
			return fmt.Errorf("%w: %s missing in %s; reinstall with %s", ErrPythonMissing, b, in.Dir, SetupCommand)
		}
	}
	return nil
}

// FindRoot returns the install root: $HUBCAP_HOME if set, else the nearest
// directory at or above the working directory that contains .hubcap/.
func FindRoot() (string, error) {
	if h := os.Getenv(HomeEnv); h != "" {
		if !isDir(filepath.Join(h, ".hubcap")) {
			return "", fmt.Errorf("%w: $%s=%s has no .hubcap directory; run %s there", ErrNoRoot, HomeEnv, h, SetupCommand)
		}
		return filepath.Abs(h)
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrNoRoot, err)
	}
	for dir := wd; ; {
		if isDir(filepath.Join(dir, ".hubcap")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	return "", fmt.Errorf("%w: no .hubcap directory in %s or above; run %s in the hubcap checkout, or set $%s",
		ErrNoRoot, wd, SetupCommand, HomeEnv)
}

// Installs lists the releases installed under root, sorted by release.
func Installs(root string) []Install {
	ents, err := os.ReadDir(filepath.Join(root, ".hubcap", "venvs"))
	if err != nil {
		return nil
	}
	var out []Install
	for _, e := range ents {
		rel, ok := strings.CutPrefix(e.Name(), "jupyterhub-")
		if !ok || rel == "" || !e.IsDir() {
			continue
		}
		out = append(out, Install{Release: rel, Dir: filepath.Join(root, ".hubcap", "venvs", e.Name())})
	}
	slices.SortFunc(out, func(a, b Install) int { return compareReleases(a.Release, b.Release) })
	return out
}

// FindInstall returns the install of release under root, or an error
// wrapping ErrNotInstalled that lists what is installed and how to add it.
func FindInstall(root, release string) (Install, error) {
	ins := Installs(root)
	for _, in := range ins {
		if in.Release == release {
			return in, in.Check()
		}
	}
	have := make([]string, len(ins))
	for i, in := range ins {
		have[i] = in.Release
	}
	list := "none"
	if len(have) > 0 {
		list = strings.Join(have, ", ")
	}
	return Install{}, fmt.Errorf("%w: %s (installed in %s: %s); install it with scripts/setup.sh %s, or the defaults with make setup",
		ErrNotInstalled, release, filepath.Join(root, ".hubcap", "venvs"), list, release)
}

// ProxyCommand returns the argv prefix that runs configurable-http-proxy
// installed under root: node and the script, since the script's
// "#!/usr/bin/env node" needs node on PATH anyway.
func ProxyCommand(root string) ([]string, error) {
	chp := filepath.Join(root, ".hubcap", "node", "node_modules", ".bin", "configurable-http-proxy")
	if !isExecutable(chp) {
		return nil, fmt.Errorf("%w: %s missing; run %s", ErrProxyMissing, chp, SetupCommand)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, fmt.Errorf("%w on PATH (configurable-http-proxy needs it): install Node.js (Debian: apt-get install nodejs npm), then %s",
			ErrNodeMissing, SetupCommand)
	}
	return []string{node, chp}, nil
}

// compareReleases orders dotted release numbers numerically where both
// parts are numbers ("5.10.0" after "5.9.1"), else by string.
func compareReleases(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) && i < len(bs); i++ {
		x, ex := strconv.Atoi(as[i])
		y, ey := strconv.Atoi(bs[i])
		c := strings.Compare(as[i], bs[i])
		if ex == nil && ey == nil {
			c = cmp.Compare(x, y)
		}
		if c != 0 {
			return c
		}
	}
	return cmp.Compare(len(as), len(bs))
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

func isExecutable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}

// ErrVersionMismatch: an install given by path is not the release asked for.
var ErrVersionMismatch = errors.New("jupyterhub install is another release")

// InstallAt returns the JupyterHub install at dir: any virtualenv or install
// prefix with bin/jupyterhub and bin/python (e.g. one pinned to a hub
// image's jupyterhub, SQLAlchemy and Python). Release is left empty; fill it
// with Version, or use ResolveInstall. It fails with ErrPythonMissing when
// dir lacks either executable.
func InstallAt(dir string) (Install, error) {
	if dir == "" {
		return Install{}, fmt.Errorf("%w: no install directory given; pass a venv or prefix holding bin/jupyterhub and bin/python", ErrPythonMissing)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return Install{}, err
	}
	// a path to bin/jupyterhub itself is accepted as its prefix
	if base := filepath.Base(abs); base == "jupyterhub" && filepath.Base(filepath.Dir(abs)) == "bin" && !isDir(abs) {
		abs = filepath.Dir(filepath.Dir(abs))
	}
	if !isDir(abs) {
		return Install{}, fmt.Errorf("%w: %s is not a directory; pass a venv or install prefix holding bin/jupyterhub and bin/python", ErrPythonMissing, dir)
	}
	in := Install{Dir: abs}
	for _, b := range []string{"python", "jupyterhub"} {
		if !isExecutable(in.Bin(b)) {
			return Install{}, fmt.Errorf("%w: %s has no executable bin/%s; pass a venv or install prefix with jupyterhub installed (python -m venv DIR && DIR/bin/pip install jupyterhub==VERSION)", ErrPythonMissing, abs, b)
		}
	}
	return in, nil
}

// Version asks the install's jupyterhub for its version
// (`bin/jupyterhub --version`).
func (in Install) Version(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, in.Bin("jupyterhub"), "--version")
	cmd.Env = cleanEnv()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%w: %s --version: %v: %s", ErrPythonMissing, in.Bin("jupyterhub"), err, lastLines(stderr.String(), 5))
	}
	fields := strings.Fields(string(out))
	if len(fields) == 0 || !releasePattern.MatchString(fields[len(fields)-1]) {
		return "", fmt.Errorf("%w: %s --version printed %q, not a release number", ErrPythonMissing, in.Bin("jupyterhub"), strings.TrimSpace(string(out)))
	}
	return fields[len(fields)-1], nil
}

// ResolveInstall finds the install a command runs: with jupyterhub (a
// path) the install there, its release read from `jupyterhub --version`
// (release, if given too, must match it: ErrVersionMismatch); otherwise
// release's venv under root (FindInstall; root "" = FindRoot()).
func ResolveInstall(ctx context.Context, root, release, jupyterhub string) (Install, error) {
	if jupyterhub == "" {
		if release == "" {
			return Install{}, fmt.Errorf("%w: give a release (e.g. 5.3.0) or an install path", ErrNotInstalled)
		}
		if root == "" {
			var err error
			if root, err = FindRoot(); err != nil {
				return Install{}, err
			}
		}
		return FindInstall(root, release)
	}
	in, err := InstallAt(jupyterhub)
	if err != nil {
		return Install{}, err
	}
	v, err := in.Version(ctx)
	if err != nil {
		return Install{}, err
	}
	if release != "" && release != v {
		return Install{}, fmt.Errorf("%w: %s runs jupyterhub %s, not %s; drop the release to use it, or give a matching one", ErrVersionMismatch, in.Dir, v, release)
	}
	in.Release = v
	return in, nil
}
