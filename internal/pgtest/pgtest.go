// Package pgtest gives tests a throwaway PostgreSQL server: one cluster per
// test binary, made by initdb in a temporary directory and run by pg_ctl on
// a free loopback port (and a unix socket in that directory), as the
// postgres system user when the tests run as root (initdb refuses root).
// Each test gets its own database, dropped in its cleanup. The cluster
// stops when TestMain calls Stop, and a watchdog stops it and removes its
// directory if the test binary dies first. A missing PostgreSQL goes
// through testenv.Missing (a failure under HUBCAP_REQUIRE_HUBS=1).
package pgtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hubcap-dev/hubcap/internal/testenv"
	"github.com/jackc/pgx/v5"
)

// InstallHint installs the server binaries.
const InstallHint = "HUBCAP_SETUP_POSTGRES=1 make setup (Debian: apt-get install postgresql)"

// Superuser is the cluster's superuser role.
const Superuser = "hubadmin"

// Cluster is a running throwaway PostgreSQL server.
type Cluster struct {
	// Port is its TCP port on 127.0.0.1.
	Port int
	// Dir holds the data directory, the log and the unix socket.
	Dir      string
	password string
	pgctl    string
	asUser   string
	data     string
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
		shared, starErr = start()
	}
	if starErr != nil {
		var m *missingError
		if errors.As(starErr, &m) {
			testenv.Missing(t, m.what, m.hint)
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
		shared.stop()
		shared = nil
	}
}

type missingError struct{ what, hint string }

func (e *missingError) Error() string { return "missing " + e.what + "; install with: " + e.hint }

// serverBin finds a PostgreSQL server binary (Debian keeps them out of PATH).
func serverBin(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	m, _ := filepath.Glob("/usr/lib/postgresql/*/bin/" + name)
	if len(m) > 0 {
		return m[len(m)-1]
	}
	return ""
}

func (c *Cluster) command(name string, args ...string) *exec.Cmd {
	var cmd *exec.Cmd
	if c.asUser != "" {
		cmd = exec.Command("runuser", append([]string{"-u", c.asUser, "--", name}, args...)...)
	} else {
		cmd = exec.Command(name, args...)
	}
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

func run(cmd *exec.Cmd) error {
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, out.String())
	}
	return nil
}

func start() (_ *Cluster, err error) {
	initdb, pgctl := serverBin("initdb"), serverBin("pg_ctl")
	if initdb == "" || pgctl == "" {
		return nil, &missingError{"the PostgreSQL server (no initdb or pg_ctl)", InstallHint}
	}
	c := &Cluster{pgctl: pgctl}
	uid, gid := -1, -1
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, &missingError{"the postgres system user (initdb refuses root)", InstallHint}
		}
		if _, err := exec.LookPath("runuser"); err != nil {
			return nil, &missingError{"runuser (to run initdb as postgres)", "apt-get install util-linux"}
		}
		c.asUser = u.Username
		uid, _ = strconv.Atoi(u.Uid)
		gid, _ = strconv.Atoi(u.Gid)
	}
	if c.Dir, err = os.MkdirTemp("", "hubcap-pg-*"); err != nil {
		return nil, err
	}
	c.watchdog() // from here on: a dying test binary leaves nothing behind
	defer func() {
		if err != nil {
			c.stop()
		}
	}()
	pw := make([]byte, 16)
	_, _ = rand.Read(pw)
	c.password = hex.EncodeToString(pw)
	pwFile := filepath.Join(c.Dir, "pw")
	if err := os.WriteFile(pwFile, []byte(c.password+"\n"), 0o600); err != nil {
		return nil, err
	}
	if uid >= 0 {
		for _, p := range []string{c.Dir, pwFile} {
			if err := os.Chown(p, uid, gid); err != nil {
				return nil, err
			}
		}
	}
	c.data = filepath.Join(c.Dir, "data")
	if err := run(c.command(initdb, "-D", c.data, "-U", Superuser, "--pwfile", pwFile,
		"--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--no-sync")); err != nil {
		return nil, err
	}
	os.Remove(pwFile)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	c.Port = l.Addr().(*net.TCPAddr).Port
	l.Close()
	opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=50 -c shared_buffers=32MB",
		c.Port, c.Dir)
	if err := run(c.command(pgctl, "-D", c.data, "-l", filepath.Join(c.Dir, "log"), "-w", "-t", "60", "-o", opts, "start")); err != nil {
		return nil, err
	}
	return c, nil
}

// watchdog stops the server and removes its directory once this process
// is gone, in case Stop is never called (a killed or timed-out test binary).
func (c *Cluster) watchdog() {
	script := `while kill -0 "$1" 2>/dev/null; do sleep 1; done
if [ -f "$2/data/postmaster.pid" ]; then kill -QUIT "$(head -1 "$2/data/postmaster.pid")" 2>/dev/null; sleep 2; fi
rm -rf "$2"`
	cmd := exec.Command("sh", "-c", script, "pgtest-watchdog", strconv.Itoa(os.Getpid()), c.Dir)
	cmd.SysProcAttr = detached()
	if cmd.Start() == nil {
		go func() { _ = cmd.Wait() }()
	}
}

func (c *Cluster) stop() {
	if c.data != "" {
		if _, err := os.Stat(filepath.Join(c.data, "postmaster.pid")); err == nil {
			_ = run(c.command(c.pgctl, "-D", c.data, "-m", "immediate", "-w", "-t", "30", "stop"))
		}
	}
	if c.Dir != "" {
		os.RemoveAll(c.Dir)
	}
}

// Password is the superuser's password (tests grep outputs for it).
func (c *Cluster) Password() string { return c.password }

// URL is a postgresql:// URL of database db as the superuser, over TCP
// with the password.
func (c *Cluster) URL(db string) string {
	return fmt.Sprintf("postgresql://%s:%s@127.0.0.1:%d/%s?sslmode=disable", Superuser, c.password, c.Port, db)
}

// Exec runs SQL statements in database db as the superuser.
func (c *Cluster) Exec(ctx context.Context, db string, sql ...string) error {
	conn, err := pgx.Connect(ctx, c.URL(db))
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	for _, s := range sql {
		if _, err := conn.Exec(ctx, s); err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
	}
	return nil
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
