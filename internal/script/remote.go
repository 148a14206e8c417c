package script

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// EnvModulesDir names a directory of vendored remote modules, laid out by
// URL: https://jslib.k6.io/k6-utils/1.4.0/index.js is
// $HUBCAP_MODULES_DIR/jslib.k6.io/k6-utils/1.4.0/index.js (for jslib.k6.io
// the host directory may be left out: k6-utils/1.4.0/index.js).
const EnvModulesDir = "HUBCAP_MODULES_DIR"

// remoteTimeout bounds the download of one remote module.
const remoteTimeout = 15 * time.Second

// cacheDir is where fetched modules are kept for the next runs (and
// offline ones): $XDG_CACHE_HOME/hubcap/modules or ~/.cache/hubcap/modules.
func cacheDir() string {
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "hubcap", "modules")
	}
	return ""
}

// localCandidates are the files that may hold the module at u.
func localCandidates(u *url.URL) []string {
	rel := filepath.FromSlash(strings.TrimPrefix(u.Path, "/"))
	if rel == "" || strings.Contains(rel, "..") {
		return nil
	}
	var out []string
	if d := os.Getenv(EnvModulesDir); d != "" {
		out = append(out, filepath.Join(d, u.Host, rel))
		if u.Host == "jslib.k6.io" {
			out = append(out, filepath.Join(d, rel))
		}
	}
	if d := cacheDir(); d != "" {
		out = append(out, filepath.Join(d, u.Host, rel))
	}
	return out
}

// fetchRemote returns the source of the module at rawURL: from the vendored
// directory ($HUBCAP_MODULES_DIR), else the cache of earlier downloads,
// else downloaded (and cached) when the host is reachable.
func fetchRemote(rawURL string) ([]byte, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("bad module URL %q", rawURL)
	}
	cands := localCandidates(u)
	for _, c := range cands {
		if b, err := os.ReadFile(c); err == nil {
			return b, nil
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), remoteTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, err
	}
	res, err := http.DefaultClient.Do(req)
	hint := fmt.Sprintf("vendor it: save the file as %s/%s%s (or run once with network access to cache it)", "$"+EnvModulesDir, u.Host, u.Path)
	if err != nil {
		return nil, fmt.Errorf("not vendored and not reachable (%v); %s", err, hint)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("the server answered %s; %s", res.Status, hint)
	}
	b, err := io.ReadAll(io.LimitReader(res.Body, 32<<20))
	if err != nil {
		return nil, err
	}
	if d := cacheDir(); d != "" {
		dst := filepath.Join(d, u.Host, filepath.FromSlash(strings.TrimPrefix(u.Path, "/")))
		if !strings.Contains(u.Path, "..") && os.MkdirAll(filepath.Dir(dst), 0o755) == nil {
			tmp := dst + ".tmp"
			if os.WriteFile(tmp, b, 0o644) == nil {
				_ = os.Rename(tmp, dst)
			}
		}
	}
	return b, nil
}

func urlJoin(base, ref string) (string, error) {
	b, err := url.Parse(base)
	if err != nil {
		return "", err
	}
	r, err := url.Parse(ref)
	if err != nil {
		return "", err
	}
	return b.ResolveReference(r).String(), nil
}
