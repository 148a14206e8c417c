package hub

import (
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
)

// The hub's database. By default it is SQLite in the run directory; with
// Options.DBURL it is an external database (PostgreSQL), whose URL holds a
// password and so reaches the hub through the environment (DBURLEnv, kept
// in the run directory's 0600 environment file for restarts), never the
// config file, the state file or a log line.

// DBURLEnv carries Options.DBURL to the hub process; the generated config
// reads c.JupyterHub.db_url from it.
const DBURLEnv = "HUBCAP_DB_URL"

// SQLiteFile is the hub's SQLite database in its run directory.
const SQLiteFile = "jupyterhub.sqlite"

// validateDBURL checks Options.DBURL: empty, or a postgresql:// URL with a
// host and a database (psycopg2, installed in every venv by setup, is the
// driver).
func validateDBURL(s string) error {
	if s == "" {
		return nil
	}
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("database URL: not a URL (%s)", redactURLError(err, s))
	}
	switch u.Scheme {
	case "postgresql", "postgres":
	default:
		return fmt.Errorf("database URL: scheme %q: want postgresql://user:password@host:port/db (leave it empty for SQLite in the run directory)", u.Scheme)
	}
	if u.Host == "" || strings.Trim(u.Path, "/") == "" {
		return fmt.Errorf("database URL %s: name the host and the database, as in postgresql://user:password@127.0.0.1:5432/jupyterhub", redactURL(u))
	}
	return nil
}

// redactURL is u without its password.
func redactURL(u *url.URL) string {
	if _, has := u.User.Password(); has {
		c := *u
		c.User = url.UserPassword(u.User.Username(), "xxxxx")
		return c.String()
	}
	return u.String()
}

func redactURLError(err error, s string) string {
	msg := err.Error()
	if u, perr := url.Parse(s); perr == nil && u.User != nil {
		if pw, ok := u.User.Password(); ok && pw != "" {
			msg = strings.ReplaceAll(msg, pw, "xxxxx")
		}
	}
	return strings.ReplaceAll(msg, s, "…")
}

// DBURL is the hub's database URL: the external one given in
// Options.DBURL (with its password), or sqlite:///RUNDIR/jupyterhub.sqlite.
// hubcap check --db takes it as it is.
func (h *Hub) DBURL() string {
	if u := h.env[DBURLEnv]; u != "" {
		return u
	}
	return "sqlite:///" + filepath.Join(h.st.RunDir, SQLiteFile)
}
