package attendee

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strings"

	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/hubapi"
	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/kernel"
)

// OAuth opens the server URL and follows the redirect chain a browser
// follows the first time: /user/:name/:server/ → the server's default page
// → /hub/api/oauth2/authorize → /user/…/oauth_callback?code&state, whose
// answer sets the jupyterhub-user-… cookie. It records the number of
// redirects (MetricOAuthRedirects). With the cookie already set, the chain
// ends at the server's page with no OAuth hop.
func (s *Session) OAuth(ctx context.Context) error { return s.phase(ctx, PhaseOAuth, s.oauth) }

func (s *Session) oauth(ctx context.Context) error {
	u := s.serverURL("", nil)
	hops := 0
	sawAuthorize := false
	for {
		resp, req, err := s.send(ctx, call{method: http.MethodGet, u: u, kind: kindPage, expect: browserExpect, phase: PhaseOAuth})
		if err != nil {
			return err
		}
		callback := strings.HasSuffix(u.EscapedPath(), "/oauth_callback")
		if isRedirect(resp.Status) {
			loc, err := s.location(resp, u)
			if err != nil {
				return err
			}
			hops++
			if strings.Contains(loc.EscapedPath(), "/hub/api/oauth2/authorize") {
				sawAuthorize = true
			}
			if strings.Contains(loc.EscapedPath(), "/hub/login") {
				return fmt.Errorf("%w: the OAuth chain went to the hub's login page (log in first)", ErrNotLoggedIn)
			}
			if callback {
				break // the callback's answer carries the cookie; its target is the lab page
			}
			if hops >= maxHops {
				return fmt.Errorf("%w: more than %d redirects from %s", ErrRedirect, maxHops, redactedPath(s.serverURL("", nil)))
			}
			u = loc
			continue
		}
		if resp.Status/100 != 2 {
			e := s.t.ErrorFor(req, resp)
			if sawAuthorize {
				return fmt.Errorf("%w: %w", ErrOAuth, e)
			}
			return e
		}
		if strings.Contains(u.EscapedPath(), "/hub/api/oauth2/authorize") {
			return fmt.Errorf("%w: the hub asks the attendee to authorize the server (a consent page); only own servers are supported", ErrOAuth)
		}
		break // a page of the server: already authenticated
	}
	s.t.Emit(MetricOAuthRedirects, float64(hops), nil)
	if !s.hasServerCookie() {
		return fmt.Errorf("%w: no jupyterhub-user-… cookie for %s after %d redirects", ErrOAuth, redactedPath(s.serverURL("", nil)), hops)
	}
	return nil
}

func (s *Session) hasServerCookie() bool {
	for _, c := range s.jar.Cookies(s.serverURL("", nil)) {
		if strings.HasPrefix(c.Name, "jupyterhub-user-") {
			return true
		}
	}
	return false
}

// LabLoad loads the server's lab page (Config.LabPath) and records its size
// (MetricLabBytes). The page sets the server's _xsrf cookie.
func (s *Session) LabLoad(ctx context.Context) (bytes int64, err error) {
	err = s.phase(ctx, PhaseLabLoad, func(ctx context.Context) error {
		u := s.serverURL(escapeRelPath(s.cfg.LabPath), nil)
		resp, req, err := s.send(ctx, call{method: http.MethodGet, u: u, kind: kindPage, expect: browserExpect, phase: PhaseLabLoad})
		if err != nil {
			return err
		}
		if isRedirect(resp.Status) {
			loc, _ := s.location(resp, u)
			if loc != nil && strings.Contains(loc.EscapedPath(), "/hub/api/oauth2/authorize") {
				return fmt.Errorf("%w: the lab page sent the attendee back to OAuth (run the OAuth phase first)", ErrOAuth)
			}
		}
		if resp.Status != http.StatusOK {
			return s.t.ErrorFor(req, resp)
		}
		bytes = int64(len(resp.Body))
		s.t.Emit(MetricLabBytes, float64(bytes), nil)
		return nil
	})
	return bytes, err
}

// escapeRelPath escapes each segment of a relative path.
func escapeRelPath(p string) string {
	segs := strings.Split(strings.TrimPrefix(p, "/"), "/")
	for i, s := range segs {
		segs[i] = escapePath(s)
	}
	return strings.Join(segs, "/")
}

// ContentEntry is one item of a directory listing.
type ContentEntry struct {
	Name string `json:"name"`
	Path string `json:"path"`
	Type string `json:"type"` // directory, notebook, file
	Size *int64 `json:"size"`
}

// ListContents lists a directory (GET api/contents/<dir>?content=1).
func (s *Session) ListContents(ctx context.Context, dir string) (entries []ContentEntry, err error) {
	err = s.phase(ctx, PhaseListContents, func(ctx context.Context) error {
		u := s.serverURL("api/contents/"+escapeRelPath(dir), url.Values{"content": {"1"}})
		resp, _, err := s.send(ctx, call{method: http.MethodGet, u: u, kind: kindXHR, phase: PhaseListContents})
		if err != nil {
			return err
		}
		var model struct {
			Type    string         `json:"type"`
			Content []ContentEntry `json:"content"`
		}
		if err := json.Unmarshal(resp.Body, &model); err != nil || model.Type != "directory" {
			return fmt.Errorf("%w: contents of %q is not a directory model", hubapi.ErrBadResponse, dir)
		}
		entries = model.Content
		return nil
	})
	return entries, err
}

// Notebook returns a minimal nbformat 4.4 notebook with one code cell per
// source, for the kernelspec name.
func Notebook(kernelName string, sources ...string) json.RawMessage {
	cells := make([]map[string]any, 0, len(sources))
	for _, src := range sources {
		cells = append(cells, map[string]any{"cell_type": "code", "source": src, "metadata": map[string]any{},
			"outputs": []any{}, "execution_count": nil})
	}
	nb := map[string]any{
		"cells": cells,
		"metadata": map[string]any{
			"kernelspec":    map[string]any{"name": kernelName, "display_name": kernelName, "language": "python"},
			"language_info": map[string]any{"name": "python"},
		},
		"nbformat": 4, "nbformat_minor": 4,
	}
	b, _ := json.Marshal(nb)
	return b
}

// SaveNotebook saves a notebook (PUT api/contents/<path>) with the
// X-XSRFToken of the server's _xsrf cookie, as JupyterLab does.
func (s *Session) SaveNotebook(ctx context.Context, nbPath string, notebook json.RawMessage) error {
	return s.phase(ctx, PhaseSaveNotebook, func(ctx context.Context) error {
		body, err := json.Marshal(map[string]any{"type": "notebook", "format": "json", "content": notebook})
		if err != nil {
			return err
		}
		u := s.serverURL("api/contents/"+escapeRelPath(nbPath), nil)
		_, _, err = s.send(ctx, call{method: http.MethodPut, u: u, kind: kindXHR, body: body,
			expect: hubapi.Statuses(http.StatusOK, http.StatusCreated), phase: PhaseSaveNotebook})
		return err
	})
}

// OpenNotebook reads a notebook (GET api/contents/<path>?type=notebook&content=1)
// and returns its nbformat content.
func (s *Session) OpenNotebook(ctx context.Context, nbPath string) (content json.RawMessage, err error) {
	err = s.phase(ctx, PhaseOpenNotebook, func(ctx context.Context) error {
		u := s.serverURL("api/contents/"+escapeRelPath(nbPath), url.Values{"type": {"notebook"}, "content": {"1"}})
		resp, _, err := s.send(ctx, call{method: http.MethodGet, u: u, kind: kindXHR, phase: PhaseOpenNotebook})
		if err != nil {
			return err
		}
		var model struct {
			Type    string          `json:"type"`
			Content json.RawMessage `json:"content"`
		}
		if err := json.Unmarshal(resp.Body, &model); err != nil || model.Type != "notebook" {
			return fmt.Errorf("%w: %q is not a notebook model", hubapi.ErrBadResponse, nbPath)
		}
		content = model.Content
		return nil
	})
	return content, err
}

// StartKernel creates a session for the notebook (POST api/sessions) and
// returns the kernel id.
func (s *Session) StartKernel(ctx context.Context) (kernelID string, err error) {
	err = s.phase(ctx, PhaseStartKernel, func(ctx context.Context) error {
		body, _ := json.Marshal(map[string]any{
			"path": s.nbPath, "name": path.Base(s.nbPath), "type": "notebook",
			"kernel": map[string]any{"name": s.cfg.KernelName},
		})
		u := s.serverURL("api/sessions", nil)
		resp, _, err := s.send(ctx, call{method: http.MethodPost, u: u, kind: kindXHR, body: body,
			expect: hubapi.Statuses(http.StatusCreated, http.StatusOK), phase: PhaseStartKernel})
		if err != nil {
			return err
		}
		var sess struct {
			ID     string `json:"id"`
			Kernel struct {
				ID string `json:"id"`
			} `json:"kernel"`
		}
		if err := json.Unmarshal(resp.Body, &sess); err != nil || sess.Kernel.ID == "" {
			return fmt.Errorf("%w: session model without kernel id", hubapi.ErrBadResponse)
		}
		s.sessionID, s.kernelID = sess.ID, sess.Kernel.ID
		return nil
	})
	return s.kernelID, err
}

// wsURL is the kernel's channels websocket URL.
func (s *Session) wsURL(session string) string {
	u := s.serverURL("api/kernels/"+escapePath(s.kernelID)+"/channels", url.Values{"session_id": {session}})
	if u.Scheme == "https" {
		u.Scheme = "wss"
	} else {
		u.Scheme = "ws"
	}
	return u.String()
}

// newUUID returns a version-4 UUID from the session's rand source.
func (s *Session) newUUID() string {
	var b [16]byte
	for i := 0; i < 16; i += 8 {
		v := s.rnd.Uint64()
		for j := 0; j < 8; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// ConnectKernel opens the kernel's websocket with the session's cookies, its
// User-Agent, Origin and X-XSRFToken, and waits for kernel_info_reply. A
// websocket that later ends without Close counts in MetricWSDrops.
func (s *Session) ConnectKernel(ctx context.Context) error {
	return s.phase(ctx, PhaseConnectKernel, func(ctx context.Context) error {
		if s.kernelID == "" {
			return fmt.Errorf("%w: call StartKernel first", ErrNoKernel)
		}
		if old := s.takeConn(); old != nil {
			old.Close()
		}
		h := http.Header{}
		h.Set("User-Agent", s.cfg.UserAgent)
		h.Set("Origin", s.base.Scheme+"://"+s.base.Host)
		h.Set("Sec-Fetch-Mode", "websocket")
		if x := s.serverXSRF(); x != "" {
			h.Set("X-XSRFToken", x)
		}
		session := s.newUUID()
		conn, err := kernel.Dial(ctx, s.wsURL(session), kernel.DialOptions{
			Header: h, Jar: s.jar, Protocol: s.cfg.KernelProtocol, InsecureSkipVerify: s.cfg.InsecureSkipVerify,
			Username: s.cfg.Username, Session: session,
		})
		if err != nil {
			return err
		}
		if _, err := conn.KernelInfo(ctx); err != nil {
			conn.Close()
			return err
		}
		s.connMu.Lock()
		s.conn = conn
		s.connMu.Unlock()
		conn.AfterDone(func() { s.watch(conn) })
		return nil
	})
}

// watch counts a websocket that ends while the session did not close it,
// and reports its wire bytes (handshake and framing included) as
// data_sent/data_received when it ends.
func (s *Session) watch(c *kernel.Conn) {
	st := c.Stats()
	s.t.Emit(MetricDataSent, float64(st.BytesSent), map[string]string{"endpoint": "/user/:name/:server/api/kernels/:id/channels"})
	s.t.Emit(MetricDataReceived, float64(st.BytesReceived), map[string]string{"endpoint": "/user/:name/:server/api/kernels/:id/channels"})
	s.connMu.Lock()
	if s.conn == c {
		s.conn = nil
	}
	s.connMu.Unlock()
	// Lost unless this side closed it (kernel.ErrClosed). Not decided by
	// the session's state: an attendee that reconnects at once, as soon as
	// its execute failed, may already have replaced the connection.
	if err := c.Err(); err != nil && !errors.Is(err, kernel.ErrClosed) {
		reason := "lost"
		if err := c.Err(); err != nil && errors.Is(err, kernel.ErrKernelRestarted) {
			reason = "kernel_restarted"
		}
		s.t.Emit(MetricWSDrops, 1, map[string]string{"reason": reason})
	}
}

func (s *Session) takeConn() *kernel.Conn {
	s.connMu.Lock()
	defer s.connMu.Unlock()
	c := s.conn
	s.conn = nil
	return c
}

func (s *Session) currentConn() *kernel.Conn {
	s.connMu.Lock()
	defer s.connMu.Unlock()
	return s.conn
}

// Execute runs code on the connected kernel and returns what it produced;
// the phase fails when the code raised (kernel.ErrExecution).
func (s *Session) Execute(ctx context.Context, code string) (res kernel.ExecResult, err error) {
	err = s.phase(ctx, PhaseExecute, func(ctx context.Context) error {
		c := s.currentConn()
		if c == nil {
			return fmt.Errorf("%w: call ConnectKernel first (or the websocket dropped)", ErrNoKernel)
		}
		res, err = c.Execute(ctx, code)
		if err != nil {
			return err
		}
		return res.Err()
	})
	return res, err
}

// ExecuteExpect is Execute that also fails with ErrCheck unless the trimmed
// stdout (else the result) equals want.
func (s *Session) ExecuteExpect(ctx context.Context, code, want string) (res kernel.ExecResult, err error) {
	err = s.phase(ctx, PhaseExecute, func(ctx context.Context) error {
		c := s.currentConn()
		if c == nil {
			return fmt.Errorf("%w: call ConnectKernel first (or the websocket dropped)", ErrNoKernel)
		}
		res, err = c.Execute(ctx, code)
		if err != nil {
			return err
		}
		if err := res.Err(); err != nil {
			return err
		}
		got := strings.TrimSpace(res.Stdout)
		if got == "" {
			got = strings.TrimSpace(res.Result)
		}
		if got != want {
			return fmt.Errorf("%w: got %q, want %q", ErrCheck, truncate(got, 80), truncate(want, 80))
		}
		return nil
	})
	return res, err
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// ShutdownKernel closes the websocket and deletes the session (which shuts
// its kernel down), or the kernel when there is no session.
func (s *Session) ShutdownKernel(ctx context.Context) error {
	return s.phase(ctx, PhaseShutdownKernel, func(ctx context.Context) error {
		if c := s.takeConn(); c != nil {
			c.Close()
		}
		var u *url.URL
		switch {
		case s.sessionID != "":
			u = s.serverURL("api/sessions/"+escapePath(s.sessionID), nil)
		case s.kernelID != "":
			u = s.serverURL("api/kernels/"+escapePath(s.kernelID), nil)
		default:
			return nil
		}
		_, _, err := s.send(ctx, call{method: http.MethodDelete, u: u, kind: kindXHR,
			expect: hubapi.Statuses(http.StatusNoContent, http.StatusOK), phase: PhaseShutdownKernel})
		if err != nil {
			return err
		}
		s.sessionID, s.kernelID = "", ""
		return nil
	})
}
