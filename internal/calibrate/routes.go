package calibrate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/hubcap-dev/hubcap/internal/seed"
)

// proxyTokenFile is where the hub harness keeps configurable-http-proxy's
// API token in the run directory (internal/hub's state files; the same
// secret the hub gets as CONFIGPROXY_AUTH_TOKEN).
const proxyTokenFile = "proxy-token"

// routeTable is the user routes a hub adds to configurable-http-proxy for
// its running servers: CHP path /user/<u>/<s> → target, with the data
// JupyterHub attaches (Proxy.add_user, ConfigurableHTTPProxy.add_route).
type routeTable map[string]routeData

type routeData struct {
	Target     string `json:"target"`
	JupyterHub bool   `json:"jupyterhub"`
	User       string `json:"user"`
	ServerName string `json:"server_name"`
}

// routesFor is the route table of a hub whose database holds exactly p,
// its servers at target.
func routesFor(p seed.Plan, target string) routeTable {
	t := routeTable{}
	for _, u := range p {
		for i := range u.Running {
			name := seed.ServerName(i)
			t["/user/"+url.PathEscape(u.Name)+"/"+url.PathEscape(name)] = routeData{Target: target, JupyterHub: true, User: u.Name, ServerName: name}
		}
	}
	return t
}

// syncRoutes makes the proxy's user routes those of a hub holding exactly
// p, as they are after a production hub restarts (the proxy keeps its
// routes; z2jh runs it in its own pod): without it, a restart onto
// another database spends its first seconds, and tens of MiB, deleting
// the previous database's routes and adding its own. Non-user routes (the
// hub's, services') are left alone. The hub must be stopped.
func (s *session) syncRoutes(ctx context.Context, p seed.Plan) error {
	tok, err := os.ReadFile(filepath.Join(s.l.Hub.RunDir(), proxyTokenFile))
	if err != nil {
		return fmt.Errorf("calibrate: proxy API token: %w", err)
	}
	api := fmt.Sprintf("http://127.0.0.1:%d/api/routes", s.l.Hub.Ports().ProxyAPI)
	return syncRouteTable(ctx, http.DefaultClient, api, strings.TrimSpace(string(tok)), routesFor(p, s.l.FleetURL))
}

// syncRouteTable reads the routes at api (CHP's /api/routes) and deletes
// the user routes not in want and adds (or replaces) those missing or
// pointing elsewhere, with 16 requests in flight.
func syncRouteTable(ctx context.Context, c *http.Client, api, token string, want routeTable) error {
	do := func(method, path string, body any) ([]byte, error) {
		var rd io.Reader
		if body != nil {
			b, err := json.Marshal(body)
			if err != nil {
				return nil, err
			}
			rd = bytes.NewReader(b)
		}
		rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(rctx, method, api+path, rd)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "token "+token)
		resp, err := c.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
		if err != nil {
			return nil, err
		}
		if resp.StatusCode/100 != 2 && !(method == http.MethodDelete && resp.StatusCode == http.StatusNotFound) {
			return nil, fmt.Errorf("%s %s: HTTP %d", method, path, resp.StatusCode)
		}
		return b, nil
	}
	b, err := do(http.MethodGet, "", nil)
	if err != nil {
		return fmt.Errorf("calibrate: list proxy routes: %w", err)
	}
	var have map[string]map[string]any
	if err := json.Unmarshal(b, &have); err != nil {
		return fmt.Errorf("calibrate: proxy routes: %w", err)
	}
	type op struct {
		method, path string
		body         any
	}
	var ops []op
	for path, d := range have {
		if _, user := d["user"]; !user {
			continue
		}
		w, ok := want[path]
		if !ok {
			ops = append(ops, op{http.MethodDelete, path, nil})
		} else if d["target"] != w.Target {
			ops = append(ops, op{http.MethodPost, path, w})
		}
	}
	for path, w := range want {
		if _, ok := have[path]; !ok {
			ops = append(ops, op{http.MethodPost, path, w})
		}
	}
	jobs := make(chan op)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		errs  []error
		nerrs int
	)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for o := range jobs {
				if _, err := do(o.method, o.path, o.body); err != nil {
					mu.Lock()
					if nerrs++; nerrs <= 3 {
						errs = append(errs, err)
					}
					mu.Unlock()
				}
			}
		}()
	}
	for _, o := range ops {
		if ctx.Err() != nil {
			break
		}
		jobs <- o
	}
	close(jobs)
	wg.Wait()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if nerrs > 0 {
		return fmt.Errorf("calibrate: sync proxy routes: %d of %d requests failed: %w", nerrs, len(ops), errors.Join(errs...))
	}
	return nil
}
