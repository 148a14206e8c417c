// Package pglocal starts a throwaway PostgreSQL server: a cluster made by
// initdb in a new temporary directory and run by pg_ctl on a free 127.0.0.1
// port (and a unix socket in that directory), with a random superuser
// password over TCP (scram-sha-256). When the caller is root it runs as the
// postgres system user (initdb refuses root). Tests get one through
// internal/pgtest; hubcap hub up --db postgresql starts one for a local hub
// and hub down stops it and removes its directory.
package pglocal

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
	"time"

	"github.com/jackc/pgx/v5"
)

// InstallHint installs the server binaries.
const InstallHint = "HUBCAP_SETUP_POSTGRES=1 make setup (Debian: apt-get install postgresql)"

// Superuser is the cluster's superuser role.
const Superuser = "hubadmin"

// ErrMissing: a piece PostgreSQL needs is not installed (see *MissingError).
var ErrMissing = errors.New("PostgreSQL is not installed")

// MissingError names what is missing and how to install it.
type MissingError struct{ What, Hint string }

func (e *MissingError) Error() string { return "missing " + e.What + "; install with: " + e.Hint }

// Is makes errors.Is(err, ErrMissing) true.
func (e *MissingError) Is(target error) bool { return target == ErrMissing }

// Options configures Start.
type Options struct {
	// OnDir, if set, is called with the cluster's directory as soon as it
	// exists, before initdb (a test's watchdog that removes it if the
	// process dies).
	OnDir func(dir string)
}

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

// ServerBin finds a PostgreSQL server binary (Debian keeps them out of
// PATH, under /usr/lib/postgresql/VERSION/bin); "" when there is none.
func ServerBin(name string) string {
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

// Installed says whether Start can run here: nil, or a *MissingError naming
// what to install (the server binaries; as root also the postgres system
// user and runuser).
func Installed() error {
	if ServerBin("initdb") == "" || ServerBin("pg_ctl") == "" {
		return &MissingError{"the PostgreSQL server (no initdb or pg_ctl)", InstallHint}
	}
	if os.Geteuid() == 0 {
		if _, err := user.Lookup("postgres"); err != nil {
			return &MissingError{"the postgres system user (initdb refuses root)", InstallHint}
		}
		if _, err := exec.LookPath("runuser"); err != nil {
			return &MissingError{"runuser (to run initdb as postgres)", "apt-get install util-linux"}
		}
	}
	return nil
}

// Start makes and starts a cluster. It returns a *MissingError (errors.Is
// ErrMissing) when PostgreSQL's server binaries, or as root the postgres
// user or runuser, are not installed. On error nothing is left behind.
func Start(o Options) (_ *Cluster, err error) {
	if err := Installed(); err != nil {
		return nil, err
	}
	initdb, pgctl := ServerBin("initdb"), ServerBin("pg_ctl")
	c := &Cluster{pgctl: pgctl}
	uid, gid := -1, -1
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, err
		}
		c.asUser = u.Username
		uid, _ = strconv.Atoi(u.Uid)
		gid, _ = strconv.Atoi(u.Gid)
	}
	if c.Dir, err = os.MkdirTemp("", "hubcap-pg-*"); err != nil {
		return nil, err
	}
	if o.OnDir != nil {
		o.OnDir(c.Dir)
	}
	defer func() {
		if err != nil {
			c.Stop()
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

// Stop stops the server (immediate shutdown: the data is throwaway) and
// removes its directory. It is idempotent.
func (c *Cluster) Stop() {
	if c.data != "" {
		if _, err := os.Stat(filepath.Join(c.data, "postmaster.pid")); err == nil {
			_ = run(c.command(c.pgctl, "-D", c.data, "-m", "immediate", "-w", "-t", "30", "stop"))
		}
	}
	if c.Dir != "" {
		os.RemoveAll(c.Dir)
	}
}

// PID is the server's (postmaster's) process id, from postmaster.pid.
func (c *Cluster) PID() (int, error) {
	b, err := os.ReadFile(filepath.Join(c.data, "postmaster.pid"))
	if err != nil {
		return 0, fmt.Errorf("PostgreSQL server pid: %w", err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("PostgreSQL server pid: postmaster.pid starts with %q", line)
	}
	return pid, nil
}

// Password is the superuser's password.
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
