package pgtest

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) {
	code := m.Run()
	Stop()
	os.Exit(code)
}

// TestCluster: the cluster answers over TCP with the password (and not
// without it), a test database is usable and dropped afterwards, and the
// server does not run as root.
func TestCluster(t *testing.T) {
	c := Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var name string
	t.Run("database", func(t *testing.T) {
		url := c.CreateDB(t)
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		if err := conn.QueryRow(ctx, "SELECT current_database()").Scan(&name); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Exec(ctx, "CREATE TABLE x (y int); INSERT INTO x VALUES (1)"); err != nil {
			t.Fatal(err)
		}
	})
	if c2 := Start(t); c2 != c {
		t.Error("a second Start made a second cluster")
	}
	var n int
	if err := pgxQuery(ctx, c.URL("postgres"), "SELECT count(*) FROM pg_database WHERE datname = $1", &n, name); err != nil || n != 0 {
		t.Errorf("database %s still there after its test (%d, %v)", name, n, err)
	}
	bad := strings.Replace(c.URL("postgres"), c.Password(), "wrong", 1)
	if conn, err := pgx.Connect(ctx, bad); err == nil {
		conn.Close(ctx)
		t.Error("a wrong password was accepted over TCP")
	}
	if b, err := os.ReadFile(c.Dir + "/data/postmaster.pid"); err != nil {
		t.Error(err)
	} else if fi, err := os.Stat(c.Dir + "/data"); err != nil || (os.Geteuid() == 0 && ownerUID(fi) == 0) {
		t.Errorf("data directory owned by root (pid %s)", strings.SplitN(string(b), "\n", 2)[0])
	}
}

func pgxQuery(ctx context.Context, url, q string, dst any, args ...any) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	return conn.QueryRow(ctx, q, args...).Scan(dst)
}
