package calibrate

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/hubcap-dev/hubcap/internal/hub"
	"github.com/hubcap-dev/hubcap/models"
)

// versionsPy prints the venv's Python and SQLAlchemy versions.
const versionsPy = `import platform, sqlalchemy; print(platform.python_version()); print(sqlalchemy.__version__)`

// environment describes where a calibration of release runs: the
// release's Python and SQLAlchemy (from its venv) and the machine (CPU
// model, cores, memory, GOOS/GOARCH). No host name or user data.
func environment(ctx context.Context, root, release, jupyterhub string) (models.Environment, error) {
	env := models.Environment{
		Release: release, Database: "sqlite",
		GOOS: runtime.GOOS, GOARCH: runtime.GOARCH, Cores: runtime.NumCPU(),
	}
	if root == "" {
		var err error
		if root, err = hub.FindRoot(); err != nil {
			return env, err
		}
	}
	in, err := installOf(root, release, jupyterhub)
	if err != nil {
		return env, err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, in.Bin("python"), "-c", versionsPy).Output()
	if err != nil {
		return env, fmt.Errorf("calibrate: ask %s for its versions: %w", in.Bin("python"), err)
	}
	if lines := strings.Fields(string(out)); len(lines) == 2 {
		env.Python, env.SQLAlchemy = lines[0], lines[1]
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		env.CPUModel = cpuModel(b)
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		env.MemTotal = memTotal(b)
	}
	return env, nil
}

// installOf is the install a calibration runs: the one at jupyterhub when
// set (its release already read by the caller), else release's venv.
func installOf(root, release, jupyterhub string) (hub.Install, error) {
	if jupyterhub != "" {
		in, err := hub.InstallAt(jupyterhub)
		in.Release = release
		return in, err
	}
	return hub.FindInstall(root, release)
}

// cpuModel is the first "model name" of /proc/cpuinfo ("" if none).
func cpuModel(cpuinfo []byte) string {
	sc := bufio.NewScanner(bytes.NewReader(cpuinfo))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == "model name" {
			return strings.Join(strings.Fields(v), " ")
		}
	}
	return ""
}

// memTotal is MemTotal of /proc/meminfo in bytes (0 if absent).
func memTotal(meminfo []byte) uint64 {
	sc := bufio.NewScanner(bytes.NewReader(meminfo))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "MemTotal:" {
			n, err := strconv.ParseUint(f[1], 10, 64)
			if err != nil {
				return 0
			}
			if len(f) >= 3 && f[2] == "kB" {
				n *= 1024
			}
			return n
		}
	}
	return 0
}
