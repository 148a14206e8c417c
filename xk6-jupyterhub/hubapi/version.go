package hubapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// HubVersion is a parsed JupyterHub version such as "5.5.1" or "6.0.0b2".
type HubVersion struct {
	Raw                 string
	Major, Minor, Patch int
	Pre                 string // pre-release or local suffix, e.g. "b2", ".dev0"
}

// ParseVersion parses "MAJOR.MINOR[.PATCH][suffix]". ok is false when there is
// no leading MAJOR.MINOR.
func ParseVersion(s string) (v HubVersion, ok bool) {
	v.Raw = s
	s = strings.TrimPrefix(strings.TrimSpace(s), "v")
	nums := make([]int, 0, 3)
	i := 0
	for len(nums) < 3 {
		j := i
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		if j == i || j-i > 6 {
			break
		}
		n, _ := strconv.Atoi(s[i:j])
		nums = append(nums, n)
		i = j
		if len(nums) < 3 && i < len(s) && s[i] == '.' && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9' {
			i++
			continue
		}
		break
	}
	if len(nums) < 2 {
		return HubVersion{Raw: v.Raw}, false
	}
	v.Major, v.Minor = nums[0], nums[1]
	if len(nums) == 3 {
		v.Patch = nums[2]
	}
	v.Pre = s[i:]
	return v, true
}

// AtLeast reports whether v ≥ major.minor.patch (pre-releases of a version
// count as that version: 6.0.0b2 is at least 6.0.0).
func (v HubVersion) AtLeast(major, minor, patch int) bool {
	if v.Major != major {
		return v.Major > major
	}
	if v.Minor != minor {
		return v.Minor > minor
	}
	return v.Patch >= patch
}

// String returns the raw version.
func (v HubVersion) String() string { return v.Raw }

// Version calls GET /hub/api/ (no authentication, and no token is sent, so a
// wrong URL never receives it) and caches the answer. It returns an error
// wrapping ErrNotJupyterHub, saying what answered instead and which URL to
// pass, when the answer is not {"version": "…"}.
func (c *Client) Version(ctx context.Context) (HubVersion, error) {
	req := &Request{Method: http.MethodGet, URL: c.apiURL(nil), Endpoint: "/hub/api/", Phase: "version",
		Header: http.Header{"Accept": {"application/json"}}, Expect: AnyStatus}
	resp, err := c.t.Do(ctx, req)
	if err != nil {
		return HubVersion{}, fmt.Errorf("hubapi: cannot reach %s: %w (is the hub running, and is this its public URL?)", redactURL(c.BaseURL()), err)
	}
	var body struct {
		Version *string `json:"version"`
	}
	if resp.Status == http.StatusOK && json.Unmarshal(resp.Body, &body) == nil && body.Version != nil {
		v, ok := ParseVersion(*body.Version)
		if !ok {
			return HubVersion{}, fmt.Errorf("hubapi: %w: GET %s answered version %q, which is not MAJOR.MINOR.PATCH", ErrNotJupyterHub, resp.URL.Path, truncate(*body.Version, 40))
		}
		c.verMu.Lock()
		c.version = &v
		c.verMu.Unlock()
		return v, nil
	}
	c.t.count(MetricErrors, req, map[string]string{"status": strconv.Itoa(resp.Status)})
	return HubVersion{}, c.notHubError(ctx, resp)
}

// hubVersion returns the cached version, asking the hub once.
func (c *Client) hubVersion(ctx context.Context) (HubVersion, error) {
	c.verMu.Lock()
	v := c.version
	c.verMu.Unlock()
	if v != nil {
		return *v, nil
	}
	return c.Version(ctx)
}

// notHubError describes what answered at /hub/api/ and what URL to pass.
func (c *Client) notHubError(ctx context.Context, resp *Response) error {
	found := describeAnswer(resp)
	advice := "pass the hub's public URL (the proxy, port 8000 by default), e.g. http://127.0.0.1:8000"
	base := *c.base
	if i := strings.Index(base.Path, "/user/"); i >= 0 {
		base.Path = base.Path[:i]
		advice = fmt.Sprintf("this URL is a user's server; pass the hub's public URL, probably %s", base.String())
	} else {
		// a Jupyter server (single-user server, notebook, lab) answers /api with {"version"}
		u := *c.base
		u.Path = strings.TrimRight(u.Path, "/") + "/api"
		r, err := c.t.Do(ctx, &Request{Method: http.MethodGet, URL: u.String(), Endpoint: "/api", Phase: "version",
			Header: http.Header{"Accept": {"application/json"}}, Expect: AnyStatus, Retry: RetryNever, NoThrottleRetry: true})
		var js struct {
			Version *string `json:"version"`
		}
		if err == nil && r.Status == http.StatusOK && json.Unmarshal(r.Body, &js) == nil && js.Version != nil {
			found += fmt.Sprintf("; %s answers {\"version\": %q}: a Jupyter server (single-user server or notebook), not the hub", u.Path, truncate(*js.Version, 40))
		}
	}
	return fmt.Errorf("hubapi: %w: GET %s answered %s; %s", ErrNotJupyterHub, resp.URL.Path, found, advice)
}

func describeAnswer(resp *Response) string {
	parts := []string{fmt.Sprintf("%d %s", resp.Status, http.StatusText(resp.Status))}
	if ct := resp.Header.Get("Content-Type"); ct != "" {
		parts = append(parts, ct)
	} else {
		parts = append(parts, "no Content-Type")
	}
	if s := resp.Header.Get("Server"); s != "" {
		parts = append(parts, "Server: "+truncate(s, 60))
	}
	if resp.Status >= 300 && resp.Status < 400 {
		if loc := resp.Location(); loc != nil {
			loc.RawQuery, loc.User = "", nil
			parts = append(parts, "redirect to "+loc.String())
		}
	} else if m := errorMessage(resp.Header.Get("Content-Type"), resp.Body); m != "" {
		parts = append(parts, strconv.Quote(truncate(m, 80)))
	} else if len(resp.Body) == 0 {
		parts = append(parts, "empty body")
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// ClassInfo is a class and its version, as in /hub/api/info.
type ClassInfo struct {
	Class   string `json:"class"`
	Version string `json:"version"`
}

// Info is GET /hub/api/info (scope read:hub).
type Info struct {
	Version       string         `json:"version"`
	Python        string         `json:"python"`
	SysExecutable string         `json:"sys_executable"`
	Spawner       ClassInfo      `json:"spawner"`
	Authenticator ClassInfo      `json:"authenticator"`
	Raw           map[string]any `json:"-"`
}

// Info calls GET /hub/api/info.
func (c *Client) Info(ctx context.Context) (Info, error) {
	var info Info
	resp, err := c.call(ctx, &Request{Method: http.MethodGet, URL: c.apiURL(nil, "info"), Endpoint: "/hub/api/info", Phase: "info"}, nil, &info)
	if err != nil {
		return Info{}, err
	}
	_ = json.Unmarshal(resp.Body, &info.Raw)
	return info, nil
}

// errorsAsAPI is errors.As for *APIError.
func errorsAsAPI(err error) (*APIError, bool) {
	var ae *APIError
	ok := errors.As(err, &ae)
	return ae, ok
}
