package fleet

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
)

// kernelState is one simulated ipykernel.
type kernelState struct {
	id, name string
	session  string // the kernel's session id in message headers
	started  time.Time

	// execMu serialises shell messages across the kernel's connections,
	// as the kernel's shell channel does.
	execMu sync.Mutex

	mu           sync.Mutex
	state        string // "idle", "busy"
	lastActivity time.Time
	execCount    int
	conns        map[*wsConn]struct{}
	cancel       context.CancelFunc // of the running execution
	dead         bool
}

// session is a jupyter_server session: a path bound to a kernel.
type session struct {
	id, path, name, typ, kernelID string
}

const maxSessionsPerServer = 64

var (
	errNoSuchKernel = errors.New("no such kernel")
	errKernelLimit  = errors.New("kernel limit reached")
	errServerGone   = errors.New("server stopped")
)

func (k *kernelState) model() map[string]any {
	k.mu.Lock()
	defer k.mu.Unlock()
	return map[string]any{
		"id":              k.id,
		"name":            k.name,
		"last_activity":   isoTime(k.lastActivity),
		"execution_state": k.state,
		"connections":     len(k.conns),
	}
}

func (k *kernelState) connections() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.conns)
}

// interrupt cancels the running execution (KeyboardInterrupt).
func (k *kernelState) interrupt() {
	k.mu.Lock()
	c := k.cancel
	k.mu.Unlock()
	if c != nil {
		c()
	}
}

// kill marks the kernel dead, interrupts it and closes its websockets.
func (k *kernelState) kill() {
	k.mu.Lock()
	k.dead = true
	c := k.cancel
	conns := make([]*wsConn, 0, len(k.conns))
	for wc := range k.conns {
		conns = append(conns, wc)
	}
	k.mu.Unlock()
	if c != nil {
		c()
	}
	for _, wc := range conns {
		wc.close()
	}
}

// startKernel creates a kernel after Config.KernelStartTime.
func (s *Server) startKernel(ctx context.Context, inst *instance, name string) (*kernelState, error) {
	if name == "" {
		name = "python3"
	}
	if name != "python3" {
		return nil, fmt.Errorf("%w named %s", errNoSuchKernel, name)
	}
	inst.mu.Lock()
	full := len(inst.kernels) >= s.cfg.MaxKernelsPerServer
	inst.mu.Unlock()
	if full {
		return nil, errKernelLimit
	}
	if d := s.sample(s.cfg.KernelStartTime); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		}
	}
	now := s.now()
	k := &kernelState{id: uuid.NewString(), name: name, session: uuid.NewString(), started: now, state: "idle", lastActivity: now}
	inst.mu.Lock()
	defer inst.mu.Unlock()
	if inst.gone {
		return nil, errServerGone
	}
	if len(inst.kernels) >= s.cfg.MaxKernelsPerServer {
		return nil, errKernelLimit
	}
	if inst.kernels == nil {
		inst.kernels = make(map[string]*kernelState)
	}
	inst.kernels[k.id] = k
	return k, nil
}

func (inst *instance) kernel(id string) *kernelState {
	inst.mu.Lock()
	defer inst.mu.Unlock()
	return inst.kernels[id]
}

// deleteKernel removes a kernel and the sessions bound to it.
func (inst *instance) deleteKernel(id string) bool {
	inst.mu.Lock()
	k := inst.kernels[id]
	if k != nil {
		delete(inst.kernels, id)
		for sid, se := range inst.sessions {
			if se.kernelID == id {
				delete(inst.sessions, sid)
			}
		}
	}
	inst.mu.Unlock()
	if k == nil {
		return false
	}
	k.kill()
	return true
}

func (s *Server) kernelStartError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, errKernelLimit):
		writeJSONError(w, http.StatusServiceUnavailable, fmt.Sprintf("hubcap fleet: this server already runs %d kernels; shut one down", s.cfg.MaxKernelsPerServer))
	case errors.Is(err, errNoSuchKernel):
		writeJSONError(w, http.StatusInternalServerError, err.Error())
	case errors.Is(err, errServerGone):
		writeJSONError(w, http.StatusServiceUnavailable, "server stopped")
	default:
		writeJSONError(w, http.StatusServiceUnavailable, err.Error())
	}
}

// apiKernels serves /api/kernels[/{id}[/interrupt|/restart|/channels]].
func (s *Server) apiKernels(w http.ResponseWriter, r *http.Request, inst *instance, tail string) {
	tail = strings.TrimSuffix(tail, "/")
	if tail == "" {
		switch r.Method {
		case http.MethodGet:
			inst.mu.Lock()
			ks := make([]*kernelState, 0, len(inst.kernels))
			for _, k := range inst.kernels {
				ks = append(ks, k)
			}
			inst.mu.Unlock()
			sort.Slice(ks, func(i, j int) bool { return ks[i].started.Before(ks[j].started) })
			out := make([]map[string]any, 0, len(ks))
			for _, k := range ks {
				out = append(out, k.model())
			}
			writeJSON(w, http.StatusOK, out)
		case http.MethodPost:
			var body struct {
				Name string `json:"name"`
			}
			if _, ok := s.readJSONBody(w, r, &body); !ok {
				return
			}
			k, err := s.startKernel(r.Context(), inst, body.Name)
			if err != nil {
				s.kernelStartError(w, err)
				return
			}
			w.Header().Set("Location", inst.reg.BaseURL+"api/kernels/"+k.id)
			writeJSON(w, http.StatusCreated, k.model())
		default:
			allowMethods(w, r, http.MethodGet, http.MethodPost)
		}
		return
	}
	id, action, _ := strings.Cut(tail, "/")
	k := inst.kernel(id)
	if k == nil {
		writeJSONError(w, http.StatusNotFound, "Kernel does not exist: "+id)
		return
	}
	switch action {
	case "":
		switch r.Method {
		case http.MethodGet:
			writeJSON(w, http.StatusOK, k.model())
		case http.MethodDelete:
			inst.deleteKernel(id)
			w.WriteHeader(http.StatusNoContent)
		default:
			allowMethods(w, r, http.MethodGet, http.MethodDelete)
		}
	case "interrupt":
		if !allowMethods(w, r, http.MethodPost) {
			return
		}
		k.interrupt()
		w.WriteHeader(http.StatusNoContent)
	case "restart":
		if !allowMethods(w, r, http.MethodPost) {
			return
		}
		k.interrupt()
		k.mu.Lock()
		k.execCount = 0
		k.state = "idle"
		k.lastActivity = s.now()
		k.mu.Unlock()
		writeJSON(w, http.StatusOK, k.model())
	case "channels":
		s.serveChannels(w, r, inst, k)
	default:
		writeJSONError(w, http.StatusNotFound, "Not Found")
	}
}

func (inst *instance) sessionModel(se *session) map[string]any {
	m := map[string]any{
		"id":   se.id,
		"path": se.path,
		"name": se.name,
		"type": se.typ,
	}
	if k := inst.kernels[se.kernelID]; k != nil {
		m["kernel"] = k.model()
	} else {
		m["kernel"] = nil
	}
	if se.typ == "notebook" {
		m["notebook"] = map[string]string{"path": se.path, "name": se.name}
	}
	return m
}

// apiSessions serves /api/sessions[/{id}].
func (s *Server) apiSessions(w http.ResponseWriter, r *http.Request, inst *instance, tail string) {
	tail = strings.TrimSuffix(tail, "/")
	if tail == "" {
		switch r.Method {
		case http.MethodGet:
			inst.mu.Lock()
			out := make([]map[string]any, 0, len(inst.sessions))
			ids := make([]string, 0, len(inst.sessions))
			for id := range inst.sessions {
				ids = append(ids, id)
			}
			sort.Strings(ids)
			for _, id := range ids {
				out = append(out, inst.sessionModel(inst.sessions[id]))
			}
			inst.mu.Unlock()
			writeJSON(w, http.StatusOK, out)
		case http.MethodPost:
			s.createSession(w, r, inst)
		default:
			allowMethods(w, r, http.MethodGet, http.MethodPost)
		}
		return
	}
	id := tail
	inst.mu.Lock()
	se := inst.sessions[id]
	inst.mu.Unlock()
	if se == nil {
		writeJSONError(w, http.StatusNotFound, "Session not found: session_id="+id)
		return
	}
	switch r.Method {
	case http.MethodGet:
		inst.mu.Lock()
		m := inst.sessionModel(se)
		inst.mu.Unlock()
		writeJSON(w, http.StatusOK, m)
	case http.MethodPatch:
		s.patchSession(w, r, inst, se)
	case http.MethodDelete:
		inst.mu.Lock()
		delete(inst.sessions, id)
		inst.mu.Unlock()
		inst.deleteKernel(se.kernelID)
		w.WriteHeader(http.StatusNoContent)
	default:
		allowMethods(w, r, http.MethodGet, http.MethodPatch, http.MethodDelete)
	}
}

type sessionBody struct {
	Path     *string `json:"path"`
	Name     *string `json:"name"`
	Type     *string `json:"type"`
	Notebook *struct {
		Path string `json:"path"`
		Name string `json:"name"`
	} `json:"notebook"`
	Kernel *struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"kernel"`
}

func (s *Server) createSession(w http.ResponseWriter, r *http.Request, inst *instance) {
	var b sessionBody
	present, ok := s.readJSONBody(w, r, &b)
	if !ok {
		return
	}
	if !present {
		writeJSONError(w, http.StatusBadRequest, "No JSON data provided")
		return
	}
	if b.Notebook != nil { // the deprecated API
		t := "notebook"
		b.Type = &t
		p := b.Notebook.Path
		if b.Notebook.Name != "" {
			p = b.Notebook.Name
		}
		b.Path = &p
	}
	if b.Path == nil {
		writeJSONError(w, http.StatusBadRequest, "Missing field in JSON data: path")
		return
	}
	if b.Type == nil {
		writeJSONError(w, http.StatusBadRequest, "Missing field in JSON data: type")
		return
	}
	if len(*b.Path) > 4096 {
		writeJSONError(w, http.StatusBadRequest, "path too long")
		return
	}
	name := ""
	if b.Name != nil {
		name = *b.Name
	}
	inst.mu.Lock()
	for _, se := range inst.sessions {
		if se.path == *b.Path {
			m := inst.sessionModel(se)
			inst.mu.Unlock()
			w.Header().Set("Location", inst.reg.BaseURL+"api/sessions/"+se.id)
			writeJSON(w, http.StatusCreated, m)
			return
		}
	}
	full := len(inst.sessions) >= maxSessionsPerServer
	inst.mu.Unlock()
	if full {
		writeJSONError(w, http.StatusServiceUnavailable, "hubcap fleet: too many sessions on this server; delete some")
		return
	}
	var kernelID, kernelName string
	if b.Kernel != nil {
		kernelID, kernelName = b.Kernel.ID, b.Kernel.Name
	}
	if kernelID != "" {
		if inst.kernel(kernelID) == nil {
			writeJSONError(w, http.StatusInternalServerError, "Kernel does not exist: "+kernelID)
			return
		}
	} else {
		k, err := s.startKernel(r.Context(), inst, kernelName)
		if err != nil {
			if errors.Is(err, errNoSuchKernel) {
				writeJSON(w, http.StatusNotImplemented, map[string]string{
					"message":       fmt.Sprintf("The '%s' kernel is not available. Please pick another suitable kernel instead, or install that kernel.", kernelName),
					"short_message": kernelName + " not found",
				})
				return
			}
			s.kernelStartError(w, err)
			return
		}
		kernelID = k.id
	}
	se := &session{id: uuid.NewString(), path: *b.Path, name: name, typ: *b.Type, kernelID: kernelID}
	inst.mu.Lock()
	if inst.gone {
		inst.mu.Unlock()
		writeJSONError(w, http.StatusServiceUnavailable, "server stopped")
		return
	}
	if inst.sessions == nil {
		inst.sessions = make(map[string]*session)
	}
	inst.sessions[se.id] = se
	m := inst.sessionModel(se)
	inst.mu.Unlock()
	w.Header().Set("Location", inst.reg.BaseURL+"api/sessions/"+se.id)
	writeJSON(w, http.StatusCreated, m)
}

func (s *Server) patchSession(w http.ResponseWriter, r *http.Request, inst *instance, se *session) {
	var b sessionBody
	present, ok := s.readJSONBody(w, r, &b)
	if !ok {
		return
	}
	if !present {
		writeJSONError(w, http.StatusBadRequest, "No JSON data provided")
		return
	}
	newKernel := ""
	if b.Kernel != nil {
		switch {
		case b.Kernel.ID != "":
			if inst.kernel(b.Kernel.ID) == nil {
				writeJSONError(w, http.StatusBadRequest, "No such kernel: "+b.Kernel.ID)
				return
			}
			newKernel = b.Kernel.ID
		case b.Kernel.Name != "":
			k, err := s.startKernel(r.Context(), inst, b.Kernel.Name)
			if err != nil {
				s.kernelStartError(w, err)
				return
			}
			newKernel = k.id
		}
	}
	inst.mu.Lock()
	cur := inst.sessions[se.id]
	if cur == nil {
		inst.mu.Unlock()
		writeJSONError(w, http.StatusNotFound, "Session not found: session_id="+se.id)
		return
	}
	next := *cur
	if b.Path != nil {
		next.path = *b.Path
	}
	if b.Name != nil {
		next.name = *b.Name
	}
	if b.Type != nil {
		next.typ = *b.Type
	}
	old := cur.kernelID
	if newKernel != "" {
		next.kernelID = newKernel
	}
	inst.sessions[se.id] = &next
	m := inst.sessionModel(&next)
	inst.mu.Unlock()
	if newKernel != "" && newKernel != old {
		inst.mu.Lock()
		k := inst.kernels[old]
		delete(inst.kernels, old)
		inst.mu.Unlock()
		if k != nil {
			k.kill()
		}
	}
	writeJSON(w, http.StatusOK, m)
}
