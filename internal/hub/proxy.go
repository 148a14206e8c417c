package hub

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"time"
)

func (h *Hub) startProxy(ctx context.Context, argv []string) error {
	p := h.st.Ports
	argv = append(slices.Clone(argv),
		"--ip", "127.0.0.1", "--port", strconv.Itoa(p.Proxy),
		"--api-ip", "127.0.0.1", "--api-port", strconv.Itoa(p.ProxyAPI),
		"--default-target", fmt.Sprintf("http://127.0.0.1:%d", p.Hub),
		"--error-target", fmt.Sprintf("http://127.0.0.1:%d/hub/error", p.Hub),
	)
	logf, err := os.OpenFile(filepath.Join(h.st.RunDir, ProxyLogFile), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = h.st.RunDir
	cmd.Env = append(cleanEnv(), ProxyTokenEnv+"="+h.proxyToken)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = h.sysProcAttr()
	c, err := startChild(cmd)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrProxy, err)
	}
	h.mu.Lock()
	h.proxy = c
	h.ownPIDs[c.p.PID] = true
	h.st.Proxy = c.p
	h.mu.Unlock()
	fmt.Fprintf(h.log, "hubcap: configurable-http-proxy pid %d on %s (API port %d)\n", c.p.PID, h.st.URL, p.ProxyAPI)

	// Ready when its API answers with our token.
	deadline := time.Now().Add(30 * time.Second)
	client := httpClient()
	for {
		req, _ := http.NewRequestWithContext(ctx, "GET", fmt.Sprintf("http://127.0.0.1:%d/api/routes", p.ProxyAPI), nil)
		req.Header.Set("Authorization", "token "+h.proxyToken)
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return h.saveState()
			}
		}
		if c.exited() {
			return fmt.Errorf("%w: it exited (%v); see %s:\n%s", ErrProxy, c.ps,
				filepath.Join(h.st.RunDir, ProxyLogFile), h.redact(tailFile(filepath.Join(h.st.RunDir, ProxyLogFile), 0, 20)))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: API on port %d not ready after 30s; see %s", ErrProxy, p.ProxyAPI, filepath.Join(h.st.RunDir, ProxyLogFile))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
