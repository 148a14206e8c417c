package hub

import (
	"strings"
	"testing"
)

func TestValidateDBURL(t *testing.T) {
	for _, c := range []struct {
		url  string
		want string // "" = accepted; else a part of the error
	}{
		{"", ""}, // SQLite in the run directory
		{"postgresql://hub:s3cret@127.0.0.1:5432/jupyterhub", ""},
		{"postgres://hub@db.example.org/jupyterhub?sslmode=require", ""},
		{"mysql://hub:s3cret@127.0.0.1/jupyterhub", `scheme "mysql"`},
		{"sqlite:////tmp/x.sqlite", `scheme "sqlite"`}, // SQLite is the default; a path elsewhere is not supported
		{"postgresql://hub:s3cret@127.0.0.1:5432/", "name the host and the database"},
		{"postgresql:///jupyterhub", "name the host and the database"},
		{"postgresql://hub:s3cret@127.0.0.1:99999999/x%zz", "not a URL"},
	} {
		err := validateDBURL(c.url)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%q: %v", c.url, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%q: %v, want an error with %q", c.url, err, c.want)
		case err != nil && strings.Contains(err.Error(), "s3cret"):
			t.Errorf("%q: the error shows the password: %v", c.url, err)
		}
	}
	o := Options{Release: "5.5.1", Env: map[string]string{DBURLEnv: "postgresql://a:b@h/d"}}
	if errs := o.Validate(); !strings.Contains(joinErrs(errs), DBURLEnv+" is set by hubcap") {
		t.Errorf("Env may not set %s (use DBURL): %v", DBURLEnv, errs)
	}
}

// The generated config of a hub on an external database reads db_url from
// the environment: the URL (and its password) is never in the file.
func TestConfigExternalDB(t *testing.T) {
	p := ConfigParams{Release: "5.3.0", RunDir: "/r", VenvBin: "/v/bin", ProxyPort: 1, ProxyAPIPort: 2, HubPort: 3, Spawner: SpawnerLocal}
	sqlite := GenerateConfig(p)
	if !strings.Contains(sqlite, `c.JupyterHub.db_url = "sqlite:////r/jupyterhub.sqlite"`) {
		t.Errorf("default config has no SQLite db_url:\n%s", sqlite)
	}
	p.ExternalDB = true
	ext := GenerateConfig(p)
	if !strings.Contains(ext, `c.JupyterHub.db_url = os.environ["`+DBURLEnv+`"]`) || strings.Contains(ext, "sqlite") {
		t.Errorf("external-database config:\n%s", ext)
	}
}

func joinErrs(errs []error) string {
	var b strings.Builder
	for _, e := range errs {
		b.WriteString(e.Error() + "\n")
	}
	return b.String()
}
