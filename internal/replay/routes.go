package replay

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/hubcap-dev/hubcap/internal/localhub"
)

// proxyTokenFile is where the hub harness keeps configurable-http-proxy's
// API token in the run directory (as internal/calibrate reads it).
const proxyTokenFile = "proxy-token"

// route is what JupyterHub stores in configurable-http-proxy for a user's
// server (Proxy.add_user): CHP path = the server's base URL without its
// trailing slash.
type route struct {
	Target     string `json:"target"`
	JupyterHub bool   `json:"jupyterhub"`
	User       string `json:"user"`
	ServerName string `json:"server_name"`
}

// syncRoutes adds the route of every server to the proxy, pointing at the
// fleet, as a production proxy still holds them when its hub restarts (z2jh
// runs it in its own pod). Without them the restart would spend its first
// seconds, and memory, adding them. The proxy is the fresh one of an empty
// hub: it has no user routes to delete.
func syncRoutes(ctx context.Context, l *localhub.Local, servers []server) error {
	tok, err := os.ReadFile(filepath.Join(l.Hub.RunDir(), proxyTokenFile))
	if err != nil {
		return fmt.Errorf("%w: proxy API token: %w", ErrPrepare, err)
	}
	api := fmt.Sprintf("http://127.0.0.1:%d/api/routes", l.Hub.Ports().ProxyAPI)
	return postRoutes(ctx, http.DefaultClient, api, strings.TrimSpace(string(tok)), l.FleetURL, servers)
}

// postRoutes POSTs one route per server to CHP's API at api, 16 at a time.
func postRoutes(ctx context.Context, c *http.Client, api, token, target string, servers []server) error {
	post := func(s server) error {
		body, err := json.Marshal(route{Target: target, JupyterHub: true, User: s.User, ServerName: s.Server})
		if err != nil {
			return err
		}
		rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		path := strings.TrimSuffix(s.BaseURL, "/")
		req, err := http.NewRequestWithContext(rctx, http.MethodPost, api+path, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "token "+token)
		resp, err := c.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		if resp.StatusCode/100 != 2 {
			return fmt.Errorf("POST %s: HTTP %d", path, resp.StatusCode)
		}
		return nil
	}
	jobs := make(chan server)
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
			for s := range jobs {
				if err := post(s); err != nil {
					mu.Lock()
					if nerrs++; nerrs <= 3 {
						errs = append(errs, err)
					}
					mu.Unlock()
				}
			}
		}()
	}
	for _, s := range servers {
		if ctx.Err() != nil {
			break
		}
		jobs <- s
	}
	close(jobs)
	wg.Wait()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if nerrs > 0 {
		return fmt.Errorf("%w: add proxy routes: %d of %d requests failed: %w", ErrPrepare, nerrs, len(servers), errors.Join(errs...))
	}
	return nil
}
