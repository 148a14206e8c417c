package hubdb

import (
	"fmt"
	"net/url"
	"strings"
)

// Kind is the database engine behind a DSN.
type Kind string

// The engines hubdb reads.
const (
	SQLite   Kind = "sqlite"
	Postgres Kind = "postgres"
)

// DSN is a parsed database location. Print it freely: String and GoString
// never show a PostgreSQL password.
type DSN struct {
	Kind Kind

	// SQLite: the file to open, as written (may be relative).
	Path string
	// SQLite: a second reading of an ambiguous "sqlite:///x" URL. hubcap's
	// documented form "sqlite:///abs/path" names /abs/path, but SQLAlchemy
	// (and so JupyterHub's c.JupyterHub.db_url, default
	// "sqlite:///jupyterhub.sqlite") reads three slashes as a relative path.
	// Open tries Path first, then AltPath.
	AltPath string

	// PostgreSQL: where the server is and who we are, for messages.
	Host, Port, User, Database string

	url      string // full URL with password, scheme normalised to postgres://
	password string // decoded password, for scrubbing error text
}

// String is the DSN with any password replaced by "xxxxx".
func (d DSN) String() string {
	switch d.Kind {
	case SQLite:
		if d.AltPath != "" {
			return "sqlite:///" + strings.TrimPrefix(d.Path, "/")
		}
		return "sqlite:" + d.Path
	case Postgres:
		return Redact(d.url)
	}
	return ""
}

// GoString keeps %#v from printing the password.
func (d DSN) GoString() string { return fmt.Sprintf("hubdb.DSN(%q)", d.String()) }

// hostPort is "host:port" for messages (port 5432 when not given).
func (d DSN) hostPort() string {
	h, p := d.Host, d.Port
	if h == "" {
		h = "localhost"
	}
	if p == "" {
		p = "5432"
	}
	if strings.Contains(h, ":") && !strings.HasPrefix(h, "[") {
		h = "[" + h + "]"
	}
	return h + ":" + p
}

// scrub removes the password (raw and decoded forms) from s.
func (d DSN) scrub(s string) string {
	for _, p := range []string{d.password, url.PathEscape(d.password), url.QueryEscape(d.password)} {
		if p != "" {
			s = strings.ReplaceAll(s, p, "xxxxx")
		}
	}
	return s
}

// ParseDSN parses a database location as hubcap accepts it:
//
//	sqlite:////abs/path/jupyterhub.sqlite   absolute (SQLAlchemy form)
//	sqlite:///abs/path/jupyterhub.sqlite    /abs/path/…, else the relative abs/path/… (see DSN.AltPath)
//	sqlite:relative/jupyterhub.sqlite       relative to the working directory
//	/abs/path/jupyterhub.sqlite, ./x.sqlite a bare path
//	file:/abs/path/jupyterhub.sqlite        a file URL
//	postgresql://user:pass@host:5432/db?sslmode=require
//	postgres://…, postgresql+psycopg2://…   (SQLAlchemy's +driver is ignored)
//
// A query string on a sqlite: URL (SQLAlchemy options) is ignored. ParseDSN
// does no I/O. Errors wrap ErrBadDSN and never contain the password.
func ParseDSN(s string) (DSN, error) {
	if s == "" {
		return DSN{}, fmt.Errorf("%w: empty; give a path to jupyterhub.sqlite or a postgresql:// URL", ErrBadDSN)
	}
	scheme, rest, hasScheme := splitScheme(s)
	if !hasScheme {
		return sqlitePath(s, "")
	}
	base, _, _ := strings.Cut(scheme, "+") // postgresql+psycopg2 → postgresql
	switch base {
	case "sqlite":
		if q := strings.IndexByte(rest, '?'); q >= 0 {
			rest = rest[:q]
		}
		if after, ok := strings.CutPrefix(rest, "//"); ok {
			switch {
			case after == "" || after == "/":
				return DSN{}, fmt.Errorf("%w: %q names an in-memory database; give the path of the hub's jupyterhub.sqlite", ErrBadDSN, Redact(s))
			case strings.HasPrefix(after, "//"):
				return sqlitePath(after[1:], "") // sqlite:////abs
			case strings.HasPrefix(after, "/"):
				return sqlitePath(after, after[1:]) // sqlite:///x: /x, else x
			default:
				return DSN{}, fmt.Errorf("%w: %q has a host part; write sqlite:///abs/path or sqlite:relative/path", ErrBadDSN, Redact(s))
			}
		}
		return sqlitePath(rest, "")
	case "file":
		if after, ok := strings.CutPrefix(rest, "//"); ok {
			if !strings.HasPrefix(after, "/") {
				return DSN{}, fmt.Errorf("%w: %q has a host part; write file:///abs/path", ErrBadDSN, Redact(s))
			}
			rest = after
		}
		if q := strings.IndexByte(rest, '?'); q >= 0 {
			rest = rest[:q]
		}
		p, err := url.PathUnescape(rest)
		if err != nil {
			return DSN{}, fmt.Errorf("%w: %q: bad %%-escape in the path", ErrBadDSN, Redact(s))
		}
		return sqlitePath(p, "")
	case "postgres", "postgresql":
		return parsePostgres(s, rest)
	}
	if strings.HasPrefix(rest, "//") {
		return DSN{}, fmt.Errorf("%w: unsupported database %q in %q; hubcap reads SQLite (a path or sqlite:///…) and PostgreSQL (postgresql://…)", ErrBadDSN, scheme, Redact(s))
	}
	// "c:..." or "name:with:colons" without // is a file name.
	return sqlitePath(s, "")
}

// splitScheme splits "scheme:rest" when s starts with a URL scheme
// (letters, digits, + - .) of at least two characters; the scheme is lower-cased.
func splitScheme(s string) (scheme, rest string, ok bool) {
	i := strings.IndexByte(s, ':')
	if i < 2 {
		return "", s, false
	}
	for j := 0; j < i; j++ {
		c := s[j]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case j > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'):
		default:
			return "", s, false
		}
	}
	return strings.ToLower(s[:i]), s[i+1:], true
}

func sqlitePath(p, alt string) (DSN, error) {
	if p == "" {
		return DSN{}, fmt.Errorf("%w: no file name; give the path of the hub's jupyterhub.sqlite", ErrBadDSN)
	}
	if p == ":memory:" || strings.HasPrefix(p, ":memory:") || alt == ":memory:" {
		return DSN{}, fmt.Errorf("%w: an in-memory database has no hub in it; give the path of the hub's jupyterhub.sqlite", ErrBadDSN)
	}
	if strings.IndexByte(p, 0) >= 0 {
		return DSN{}, fmt.Errorf("%w: the path contains a NUL byte", ErrBadDSN)
	}
	return DSN{Kind: SQLite, Path: p, AltPath: alt}, nil
}

func parsePostgres(s, rest string) (DSN, error) {
	if !strings.HasPrefix(rest, "//") {
		return DSN{}, fmt.Errorf("%w: %q: write postgresql://user:password@host:5432/database", ErrBadDSN, Redact(s))
	}
	norm := "postgres:" + rest
	u, err := url.Parse(norm)
	if err != nil {
		// url.Error repeats the URL, password included: do not wrap it.
		return DSN{}, fmt.Errorf("%w: %q is not a valid URL (percent-encode special characters in the password, e.g. @ as %%40)", ErrBadDSN, Redact(s))
	}
	d := DSN{
		Kind:     Postgres,
		url:      norm,
		Host:     u.Hostname(),
		Port:     u.Port(),
		Database: strings.TrimPrefix(u.Path, "/"),
	}
	if u.User != nil {
		d.User = u.User.Username()
		d.password, _ = u.User.Password()
	}
	if strings.Contains(u.Host, ",") {
		// libpq multi-host lists: url.Hostname cannot split them.
		d.Host, d.Port = u.Host, ""
	}
	return d, nil
}

// Redact returns a database URL with the password of its userinfo and any
// query parameter whose name contains "password" replaced by "xxxxx". It does
// not need a valid URL: the userinfo is everything up to the last '@' after
// "://", so an unescaped '@' in a password is still hidden.
func Redact(dsn string) string {
	i := strings.Index(dsn, "://")
	if i < 0 {
		return dsn
	}
	head, rest := dsn[:i+3], dsn[i+3:]
	if at := strings.LastIndexByte(rest, '@'); at >= 0 {
		userinfo, after := rest[:at], rest[at+1:]
		if user, _, ok := strings.Cut(userinfo, ":"); ok {
			rest = user + ":xxxxx@" + after
		}
	}
	if q := strings.IndexByte(rest, '?'); q >= 0 {
		params := strings.Split(rest[q+1:], "&")
		for k, p := range params {
			key, _, _ := strings.Cut(p, "=")
			if strings.Contains(strings.ToLower(key), "password") {
				params[k] = key + "=xxxxx"
			}
		}
		rest = rest[:q+1] + strings.Join(params, "&")
	}
	return head + rest
}
