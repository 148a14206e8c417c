package hubdb

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzParseDSN: ParseDSN never panics, accepted DSNs are usable, and the
// password of a PostgreSQL URL never shows in String, Redact or errors.
func FuzzParseDSN(f *testing.F) {
	for _, s := range []string{
		"/srv/jupyterhub/jupyterhub.sqlite",
		"sqlite:///jupyterhub.sqlite",
		"sqlite:////abs/x.sqlite?timeout=5",
		"sqlite:rel.sqlite",
		"file:///a%20b.sqlite",
		"postgresql://hub:p%40ss-w0rd@db:5432/jupyterhub?sslmode=require",
		"postgres://hub:pa@ss-w0rd@db/jh",
		"postgresql+psycopg2://u:secret-pw@[::1]:5432/d?password=other-pw",
		"postgresql://u:p#ss-word@h/d",
		"mysql://u:secret-pw@h/d",
		"sqlite://",
		"c:\\x.sqlite",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDSN(s)
		outputs := []string{Redact(s)}
		if err != nil {
			outputs = append(outputs, err.Error())
		} else {
			outputs = append(outputs, d.String(), d.GoString())
			switch d.Kind {
			case SQLite:
				if d.Path == "" {
					t.Errorf("%q: SQLite DSN without a path", s)
				}
			case Postgres:
				if !strings.HasPrefix(d.url, "postgres://") {
					t.Errorf("%q: url %q not normalised", s, d.url)
				}
			default:
				t.Errorf("%q: kind %q", s, d.Kind)
			}
		}
		for _, pw := range passwords(s) {
			for _, out := range outputs {
				if strings.Contains(out, pw) {
					t.Errorf("%q: output %q shows the password %q", s, out, pw)
				}
			}
		}
	})
}

// passwords returns the distinctive passwords in URL s: the userinfo
// password (everything between the first ':' after "scheme://" and the last '@') and
// values of query keys containing "password", raw and decoded, when they are
// long enough not to occur by chance elsewhere in s.
func passwords(s string) []string {
	var out []string
	add := func(p string) {
		for _, v := range []string{p, unescape(p)} {
			rest := strings.Replace(s, v, "", 1)
			if len(v) >= 6 && !strings.Contains(rest, v) && !strings.Contains("xxxxx", v) {
				out = append(out, v)
			}
		}
	}
	// Only URLs have passwords: a bare path is a file name, shown as is.
	_, rest, ok := splitScheme(s)
	if !ok {
		return nil
	}
	rest, ok = strings.CutPrefix(rest, "//")
	if !ok {
		return nil
	}
	if at := strings.LastIndexByte(rest, '@'); at >= 0 {
		if _, pw, ok := strings.Cut(rest[:at], ":"); ok {
			add(pw)
		}
	}
	if q := strings.IndexByte(rest, '?'); q >= 0 {
		for _, p := range strings.Split(rest[q+1:], "&") {
			if k, v, ok := strings.Cut(p, "="); ok && strings.Contains(strings.ToLower(k), "password") {
				add(v)
			}
		}
	}
	return out
}

func unescape(s string) string {
	if u, err := url.PathUnescape(s); err == nil {
		return u
	}
	return s
}
