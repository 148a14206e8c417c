package hub

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// Route is what JupyterHub stores in configurable-http-proxy for a user's
// server (Proxy.add_user, ConfigurableHTTPProxy.add_route): the target and
// the data it attaches. Its CHP path is the server's base URL without the
// trailing slash (/user/<u>/<s>).
type Route struct {
	Target     string `json:"target"`
	JupyterHub bool   `json:"jupyterhub"`
	User       string `json:"user"`
	ServerName string `json:"server_name"`
}

// SyncUserRoutes makes the proxy's user routes (CHP path → Route) exactly
// want, as they are after a production hub restarts (the proxy keeps its
// routes; z2jh runs it in its own pod): without them a restart spends its
// first seconds, and memory, deleting stale routes and adding its own.
// Routes without a user (the hub's, services') are left alone. Call it
// with the hub process stopped (StopProcess), so that the hub does not
// change the routes meanwhile.
func (h *Hub) SyncUserRoutes(ctx context.Context, want map[string]Route) error {
	h.mu.Lock()
	api := fmt.Sprintf("http://127.0.0.1:%d/api/routes", h.st.Ports.ProxyAPI)
	token := h.proxyToken
	h.mu.Unlock()
	return SyncRoutes(ctx, http.DefaultClient, api, token, want)
}

// SyncRoutes is SyncUserRoutes against the CHP API at api (its
// /api/routes URL) with token: it lists the routes, deletes the user routes
// not in want, and adds (or replaces) those missing or pointing elsewhere,
// 16 requests in flight. A route already gone (DELETE 404) is fine.
func SyncRoutes(ctx context.Context, c *http.Client, api, token string, want map[string]Route) error {
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
		return fmt.Errorf("hub: list proxy routes: %w", err)
	}
	var have map[string]map[string]any
	if err := json.Unmarshal(b, &have); err != nil {
		return fmt.Errorf("hub: proxy routes: %w", err)
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
		return fmt.Errorf("hub: sync proxy routes: %d of %d requests failed: %w", nerrs, len(ops), errors.Join(errs...))
	}
	return nil
}
