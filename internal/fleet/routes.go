package fleet

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// jupyterServerVersion is the version GET api reports (what the installed
// venvs carry).
const jupyterServerVersion = "2.17.0"

// isoTime formats t as jupyter_server's isoformat: UTC, microseconds, Z.
func isoTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000Z") }

// serveInstance serves one single-user server; rest is the escaped path
// after its base URL.
func (s *Server) serveInstance(w http.ResponseWriter, r *http.Request, inst *instance, rest string) {
	if v := inst.reg.HubVersion; v != "" {
		w.Header().Set("X-JupyterHub-Version", v)
	}
	switch {
	case rest == "":
		// jupyter_server redirects the base URL to default_url, unauthenticated
		http.Redirect(w, r, withQuery(inst.reg.BaseURL+"lab", r.URL.RawQuery), http.StatusFound)
	case rest == "api" || rest == "api/":
		if !allowMethods(w, r, http.MethodGet, http.MethodHead) {
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"version": jupyterServerVersion})
	case rest == "oauth_callback":
		s.oauthCallback(w, r, inst)
	case rest == "logout":
		s.logout(w, r, inst)
	case strings.HasPrefix(rest, "lab/api/"):
		s.labAPI(w, r, inst, rest[len("lab/api/"):])
	case rest == "lab" || strings.HasPrefix(rest, "lab/") || rest == "tree" || strings.HasPrefix(rest, "tree/"):
		s.servePage(w, r, inst, rest)
	case strings.HasPrefix(rest, "api/"):
		if rest != "api/status" { // jupyter_server does not count status polls as activity
			inst.touch(s.now())
		}
		s.serveAPI(w, r, inst, rest[len("api/"):])
	case strings.HasPrefix(rest, "files/"):
		s.serveFile(w, r, inst, rest[len("files/"):])
	default:
		http.Error(w, "404: Not Found", http.StatusNotFound)
	}
}

// allowMethods writes 405 unless r uses one of methods.
func allowMethods(w http.ResponseWriter, r *http.Request, methods ...string) bool {
	for _, m := range methods {
		if r.Method == m {
			return true
		}
	}
	w.Header().Set("Allow", strings.Join(methods, ", "))
	writeJSONError(w, http.StatusMethodNotAllowed, "Method Not Allowed")
	return false
}

func (s *Server) servePage(w http.ResponseWriter, r *http.Request, inst *instance, rest string) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "405: Method Not Allowed", http.StatusMethodNotAllowed)
		return
	}
	res, ok := s.pageUser(w, r, inst)
	if !ok {
		return
	}
	// get_xsrf_token: set the cookie on navigations when it does not match
	id := xsrfID(r, res.cookieTok)
	if want := s.xsrfToken(inst, id); r.Header.Get("Sec-Fetch-Mode") == "" || r.Header.Get("Sec-Fetch-Mode") == "navigate" {
		have := ""
		if c, err := r.Cookie(xsrfCookie); err == nil {
			have = c.Value
		}
		if have != want {
			s.setXSRFCookie(w, inst, id, true)
		}
	}
	token := res.cookieTok
	if res.viaToken {
		token = tokenFromRequest(r)
	}
	_, tree, _ := strings.Cut(rest, "/")
	if t, err := url.PathUnescape(tree); err == nil {
		tree = t
	}
	if strings.HasPrefix(tree, "tree/") {
		tree = strings.TrimPrefix(tree, "tree/")
	}
	s.page.render(w, inst, res.id.name, token, tree)
}

// labAPI answers JupyterLab's own server API with minimal bodies.
func (s *Server) labAPI(w http.ResponseWriter, r *http.Request, inst *instance, rest string) {
	if _, ok := s.apiUser(w, r, inst); !ok {
		return
	}
	if r.Body != nil {
		io.Copy(io.Discard, http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	}
	switch {
	case strings.HasPrefix(rest, "settings"):
		writeJSON(w, http.StatusOK, map[string]any{"settings": []any{}})
	case strings.HasPrefix(rest, "workspaces"):
		writeJSON(w, http.StatusOK, map[string]any{"data": map[string]any{}, "metadata": map[string]string{"id": "default"}})
	case strings.HasPrefix(rest, "translations"):
		writeJSON(w, http.StatusOK, map[string]any{"data": map[string]any{}, "message": ""})
	default:
		writeJSON(w, http.StatusOK, map[string]any{})
	}
}

// serveAPI dispatches /api/... (rest excludes "api/").
func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request, inst *instance, rest string) {
	head, tail, _ := strings.Cut(rest, "/")
	// the kernel websocket authenticates itself (it may use ?token=)
	res, ok := s.apiUser(w, r, inst)
	if !ok {
		return
	}
	switch head {
	case "status":
		if !allowMethods(w, r, http.MethodGet) {
			return
		}
		s.apiStatus(w, inst)
	case "me":
		if !allowMethods(w, r, http.MethodGet) {
			return
		}
		name := res.id.name
		initials := ""
		if name != "" {
			initials = strings.ToUpper(name[:1])
		}
		writeJSON(w, http.StatusOK, map[string]any{
			"identity": map[string]any{
				"username": name, "name": name, "display_name": name, "initials": initials,
				"avatar_url": nil, "color": nil,
			},
			"permissions": map[string]any{},
		})
	case "kernelspecs":
		s.apiKernelspecs(w, r, inst, tail)
	case "contents":
		s.apiContents(w, r, inst, tail)
	case "sessions":
		s.apiSessions(w, r, inst, tail)
	case "kernels":
		s.apiKernels(w, r, inst, tail)
	case "terminals":
		if !allowMethods(w, r, http.MethodGet) {
			return
		}
		writeJSON(w, http.StatusOK, []any{})
	case "config":
		if r.Method == http.MethodGet {
			writeJSON(w, http.StatusOK, map[string]any{})
			return
		}
		io.Copy(io.Discard, http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
		writeJSON(w, http.StatusOK, map[string]any{})
	default:
		writeJSONError(w, http.StatusNotFound, "Not Found")
	}
}

func (s *Server) apiStatus(w http.ResponseWriter, inst *instance) {
	inst.mu.Lock()
	kernels, conns := len(inst.kernels), 0
	for _, k := range inst.kernels {
		conns += k.connections()
	}
	inst.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"connections":   conns,
		"kernels":       kernels,
		"last_activity": isoTime(inst.lastActive()),
		"started":       isoTime(inst.registered),
	})
}

// kernelspecModel is ipykernel's python3 spec as jupyter_server lists it.
func kernelspecModel(base string) map[string]any {
	res := base + "kernelspecs/python3/"
	return map[string]any{
		"name": "python3",
		"spec": map[string]any{
			"argv":           []string{"python", "-m", "ipykernel_launcher", "-f", "{connection_file}"},
			"env":            map[string]any{},
			"display_name":   "Python 3 (ipykernel)",
			"language":       "python",
			"interrupt_mode": "signal",
			"metadata":       map[string]any{"debugger": true},
		},
		"resources": map[string]string{
			"logo-32x32":  res + "logo-32x32.png",
			"logo-64x64":  res + "logo-64x64.png",
			"logo-svg":    res + "logo-svg.svg",
			"kernel.js":   res + "kernel.js",
			"kernel.json": res + "kernel.json",
		},
	}
}

func (s *Server) apiKernelspecs(w http.ResponseWriter, r *http.Request, inst *instance, tail string) {
	if !allowMethods(w, r, http.MethodGet) {
		return
	}
	switch strings.TrimSuffix(tail, "/") {
	case "":
		writeJSON(w, http.StatusOK, map[string]any{
			"default":     "python3",
			"kernelspecs": map[string]any{"python3": kernelspecModel(inst.reg.BaseURL)},
		})
	case "python3":
		writeJSON(w, http.StatusOK, kernelspecModel(inst.reg.BaseURL))
	default:
		writeJSONError(w, http.StatusNotFound, "Kernel spec "+tail+" not found")
	}
}

// readJSONBody decodes a bounded JSON body into v; empty bodies leave v
// untouched and return false.
func (s *Server) readJSONBody(w http.ResponseWriter, r *http.Request, v any) (present bool, ok bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	if err != nil {
		writeJSONError(w, http.StatusRequestEntityTooLarge, "request body too large")
		return false, false
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return false, true
	}
	if err := json.Unmarshal(body, v); err != nil {
		writeJSONError(w, http.StatusBadRequest, "Invalid JSON in body of request")
		return true, false
	}
	return true, true
}
