// Package pgtest gives tests a throwaway PostgreSQL server (internal/pglocal):
// one cluster per test binary, made by initdb in a temporary directory and
// run by pg_ctl on a free loopback port (and a unix socket in that
// directory), as the postgres system user when the tests run as root
// (initdb refuses root). Each test gets its own database, dropped in its
// cleanup. The cluster stops when TestMain calls Stop, and a watchdog stops
// it and removes its directory if the test binary dies first. A missing
// PostgreSQL goes through testenv.Missing (a failure under
// HUBCAP_REQUIRE_HUBS=1).
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hubcap-dev/hubcap/internal/pglocal"
	"github.com/hubcap-dev/hubcap/internal/testenv"
)

// InstallHint installs the server binaries.
const InstallHint = pglocal.InstallHint

// Superuser is the cluster's superuser role.
const Superuser = pglocal.Superuser

// Cluster is a running throwaway PostgreSQL server (Port, Dir, Password,
// URL and Exec are pglocal's).
type Cluster struct {
	*pglocal.Cluster
}

var (
	mu      sync.Mutex
	shared  *Cluster
	starErr error
	started bool
)

// Start returns the test binary's cluster, starting it on first use. It
// ends the test through testenv.Missing when PostgreSQL is not installed.
func Start(t testing.TB) *Cluster {
	t.Helper()
	mu.Lock()
	defer mu.Unlock()
	if !started {
		started = true
		var c *pglocal.Cluster
		c, starErr = pglocal.Start(pglocal.Options{OnDir: watchdog})
		if starErr == nil {
			shared = &Cluster{c}
		}
	}
	if starErr != nil {
		var m *pglocal.MissingError
		if errors.As(starErr, &m) {
			testenv.Missing(t, m.What, m.Hint)
		}
		t.Fatalf("PostgreSQL: %v", starErr)
	}
	return shared
}

// Stop stops the cluster if one was started and removes its directory.
// Call it from TestMain after m.Run.
func Stop() {
	mu.Lock()
	defer mu.Unlock()
	if shared != nil {
		shared.Cluster.Stop()
		shared = nil
	}
}

// watchdog stops the server and removes its directory dir once this process
// is gone, in case Stop is never called (a killed or timed-out test binary).
func watchdog(dir string) {
	script := `while kill -0 "$1" 2>/dev/null; do sleep 1; done
if [ -f "$2/data/postmaster.pid" ]; then kill -QUIT "$(head -1 "$2/data/postmaster.pid")" 2>/dev/null; sleep 2; fi
rm -rf "$2"`
	cmd := exec.Command("sh", "-c", script, "pgtest-watchdog", strconv.Itoa(os.Getpid()), dir)
	cmd.SysProcAttr = detached()
	if cmd.Start() == nil {
		go func() { _ = cmd.Wait() }()
	}
}

// CreateDB makes an empty database for the test (named after it) and
// returns its URL; it is dropped in the test's cleanup.
func (c *Cluster) CreateDB(t testing.TB) string {
	t.Helper()
	name := "t_" + strings.ToLower(strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, t.Name()))
	suffix := make([]byte, 3)
	_, _ = rand.Read(suffix)
	if len(name) > 50 {
		name = name[:50]
	}
	name += "_" + hex.EncodeToString(suffix)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Exec(ctx, "postgres", "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := c.Exec(ctx, "postgres", "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop the test database: %v", err)
		}
	})
	return c.URL(name)
}
