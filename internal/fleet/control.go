package fleet

import (
	"bufio"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Registration is what FleetSpawner.start() sends with
// PUT /_fleet/servers/{user}/{server}: the environment the hub gives a
// single-user server.
type Registration struct {
	User             string   `json:"user"`
	ServerName       string   `json:"server_name"`
	BaseURL          string   `json:"base_url"`  // JUPYTERHUB_SERVICE_PREFIX, e.g. /user/alice/s1/
	APIToken         string   `json:"api_token"` // JUPYTERHUB_API_TOKEN, also the OAuth client secret
	OAuthClientID    string   `json:"oauth_client_id"`
	OAuthCallbackURL string   `json:"oauth_callback_url"` // "" = BaseURL + "oauth_callback"
	HubAPIURL        string   `json:"hub_api_url"`        // e.g. http://127.0.0.1:8081/hub/api
	HubHost          string   `json:"hub_host"`           // "" unless the hub uses subdomains
	HubPrefix        string   `json:"hub_prefix"`         // "" = /hub/
	HubVersion       string   `json:"hub_version,omitempty"`
	AccessScopes     []string `json:"access_scopes,omitempty"` // "" = access:servers!server=u/s, access:servers!user=u
	ActivityURL      string   `json:"activity_url,omitempty"`
}

// ServerInfo is one entry of GET /_fleet/servers (no secrets).
type ServerInfo struct {
	User       string    `json:"user"`
	ServerName string    `json:"server_name"`
	BaseURL    string    `json:"base_url"`
	Registered time.Time `json:"registered"`
	Kernels    int       `json:"kernels"`
}

// defaultServerSegment stands for the default server ("") in control URLs.
const defaultServerSegment = "_default"

const (
	maxNameBytes      = 255
	maxURLBytes       = 2048
	maxTokenBytes     = 1024
	maxScopes         = 64
	maxControlBody    = 16 << 20 // PUT bodies carry user_options, which may be padded
	maxJournalLineLen = 1 << 20
)

func serverKey(user, server string) string { return user + "\x00" + server }

// normalize validates r and fills defaults.
func (r *Registration) normalize() error {
	var problems []string
	if r.User == "" || len(r.User) > maxNameBytes {
		problems = append(problems, "user must be 1-255 bytes")
	}
	if len(r.ServerName) > maxNameBytes {
		problems = append(problems, "server_name is over 255 bytes")
	}
	if !strings.HasPrefix(r.BaseURL, "/") || !strings.HasSuffix(r.BaseURL, "/") || len(r.BaseURL) > maxURLBytes || r.BaseURL == "/" {
		problems = append(problems, "base_url must start and end with / (e.g. /user/alice/s1/)")
	} else if strings.HasPrefix(r.BaseURL, "/_fleet/") || strings.Contains(r.BaseURL, "/../") || strings.Contains(r.BaseURL, "//") {
		problems = append(problems, "base_url must be a clean path outside /_fleet/")
	}
	if r.APIToken == "" || len(r.APIToken) > maxTokenBytes {
		problems = append(problems, "api_token must be 1-1024 bytes")
	}
	if r.OAuthClientID == "" || len(r.OAuthClientID) > maxURLBytes {
		problems = append(problems, "oauth_client_id is required")
	}
	if u, err := url.Parse(r.HubAPIURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(r.HubAPIURL) > maxURLBytes {
		problems = append(problems, "hub_api_url must be an http(s) URL such as http://127.0.0.1:8081/hub/api")
	}
	if r.HubPrefix == "" {
		r.HubPrefix = "/hub/"
	}
	if !strings.HasPrefix(r.HubPrefix, "/") || !strings.HasSuffix(r.HubPrefix, "/") || len(r.HubPrefix) > maxURLBytes {
		problems = append(problems, "hub_prefix must start and end with /")
	}
	if len(r.HubHost) > maxURLBytes || len(r.OAuthCallbackURL) > maxURLBytes || len(r.ActivityURL) > maxURLBytes || len(r.HubVersion) > 64 {
		problems = append(problems, "hub_host, oauth_callback_url, activity_url or hub_version too long")
	}
	if len(r.AccessScopes) > maxScopes {
		problems = append(problems, "too many access_scopes")
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: %s", ErrRegistration, strings.Join(problems, "; "))
	}
	r.HubAPIURL = strings.TrimRight(r.HubAPIURL, "/")
	if r.OAuthCallbackURL == "" {
		r.OAuthCallbackURL = r.BaseURL + "oauth_callback"
	}
	if len(r.AccessScopes) == 0 {
		r.AccessScopes = []string{
			"access:servers!server=" + r.User + "/" + r.ServerName,
			"access:servers!user=" + r.User,
		}
	}
	return nil
}

// instance is one registered single-user server. Its kernels, sessions and
// files exist only once used.
type instance struct {
	reg        Registration
	gen        uint64 // unique per registration: keys its auth cache entries
	registered time.Time

	lastActivity atomic.Int64 // unix nanoseconds of the last API or kernel activity

	mu       sync.Mutex
	gone     bool
	kernels  map[string]*kernelState
	sessions map[string]*session
	fs       *contentsFS
	conns    map[*wsConn]struct{}
}

// touch records activity now (API requests, kernel messages).
func (inst *instance) touch(now time.Time) { inst.lastActivity.Store(now.UnixNano()) }

// lastActive is jupyter_server's last_activity(): the latest of the start
// and of any activity.
func (inst *instance) lastActive() time.Time {
	t := inst.registered
	if n := inst.lastActivity.Load(); n != 0 && time.Unix(0, n).After(t) {
		t = time.Unix(0, n).UTC()
	}
	return t
}

func (s *Server) serveControl(w http.ResponseWriter, r *http.Request, p string) {
	if p == "/_fleet/health" {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			writeJSONError(w, http.StatusMethodNotAllowed, "use GET")
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
		return
	}
	if s.cfg.Secret == "" {
		writeJSONError(w, http.StatusServiceUnavailable, "fleet has no secret configured; set Config.Secret")
		return
	}
	const bearer = "Bearer "
	h := r.Header.Get("Authorization")
	if len(h) <= len(bearer) || !strings.EqualFold(h[:len(bearer)], bearer) ||
		subtle.ConstantTimeCompare([]byte(h[len(bearer):]), []byte(s.cfg.Secret)) != 1 {
		w.Header().Set("WWW-Authenticate", `Bearer realm="hubcap-fleet"`)
		writeJSONError(w, http.StatusUnauthorized, "missing or wrong fleet secret; send Authorization: Bearer $"+EnvFleetSecret)
		return
	}
	if p == "/_fleet/servers" || p == "/_fleet/servers/" {
		if r.Method != http.MethodGet {
			writeJSONError(w, http.StatusMethodNotAllowed, "use GET")
			return
		}
		writeJSON(w, http.StatusOK, s.List())
		return
	}
	rest, ok := strings.CutPrefix(p, "/_fleet/servers/")
	segs := strings.Split(rest, "/")
	if !ok || len(segs) != 2 || segs[0] == "" || segs[1] == "" {
		writeJSONError(w, http.StatusNotFound, "unknown fleet endpoint; use /_fleet/servers/{user}/{server}")
		return
	}
	user, err1 := url.PathUnescape(segs[0])
	server, err2 := url.PathUnescape(segs[1])
	if err1 != nil || err2 != nil {
		writeJSONError(w, http.StatusBadRequest, "bad percent-encoding in user or server")
		return
	}
	if server == defaultServerSegment {
		server = ""
	}
	switch r.Method {
	case http.MethodPut:
		s.controlPut(w, r, user, server)
	case http.MethodGet:
		s.mu.RLock()
		inst := s.servers[serverKey(user, server)]
		s.mu.RUnlock()
		if inst == nil {
			writeJSONError(w, http.StatusNotFound, "not registered")
			return
		}
		writeJSON(w, http.StatusOK, inst.info())
	case http.MethodDelete:
		s.Unregister(user, server)
		w.WriteHeader(http.StatusNoContent)
	default:
		writeJSONError(w, http.StatusMethodNotAllowed, "use PUT, GET or DELETE")
	}
}

func (s *Server) controlPut(w http.ResponseWriter, r *http.Request, user, server string) {
	var body struct {
		Registration
		UserOptions json.RawMessage `json:"user_options"` // accepted, not kept
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxControlBody))
	if err := dec.Decode(&body); err != nil {
		writeJSONError(w, http.StatusBadRequest, "body must be a JSON registration: "+err.Error())
		return
	}
	reg := body.Registration
	if reg.User != user || reg.ServerName != server {
		writeJSONError(w, http.StatusBadRequest, "user and server_name in the body must match the URL")
		return
	}
	if err := s.Register(reg); err != nil {
		code := http.StatusBadRequest
		if errors.Is(err, ErrFleetFull) {
			code = http.StatusServiceUnavailable
		}
		writeJSONError(w, code, err.Error())
		return
	}
	u := s.cfg.URL
	if u == "" {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		u = scheme + "://" + r.Host
	}
	writeJSON(w, http.StatusOK, map[string]string{"url": u})
}

// Register adds or replaces a server, as PUT /_fleet/servers/... does.
// A replaced server loses its kernels and websockets.
func (s *Server) Register(reg Registration) error {
	if err := reg.normalize(); err != nil {
		return err
	}
	key := serverKey(reg.User, reg.ServerName)
	inst := &instance{reg: reg, gen: s.gen.Add(1), registered: s.now().UTC()}
	s.mu.Lock()
	old := s.servers[key]
	if old == nil && len(s.servers) >= s.cfg.MaxServers {
		s.mu.Unlock()
		return fmt.Errorf("%w (%d servers); stop some or raise Config.MaxServers", ErrFleetFull, s.cfg.MaxServers)
	}
	var displaced *instance
	if other := s.prefixes[reg.BaseURL]; other != nil && other != old {
		// another key claimed this base URL: the newest registration wins
		displaced = other
		delete(s.servers, serverKey(other.reg.User, other.reg.ServerName))
	}
	if old != nil {
		delete(s.prefixes, old.reg.BaseURL)
	}
	s.servers[key] = inst
	s.prefixes[reg.BaseURL] = inst
	var jerr error
	if s.journal != nil {
		jerr = s.journal.put(reg)
		if displaced != nil && jerr == nil {
			jerr = s.journal.del(displaced.reg.User, displaced.reg.ServerName)
		}
		if jerr == nil {
			jerr = s.journal.maybeCompact(s.servers)
		}
	}
	s.mu.Unlock()
	if jerr != nil {
		s.log.Error("fleet: state file write failed", "err", jerr)
	}
	if s.activity != nil {
		s.activity.schedule(inst, inst.registered)
	}
	for _, o := range []*instance{old, displaced} {
		if o != nil {
			o.shutdown()
		}
	}
	s.log.Debug("fleet: registered", "user", reg.User, "server", reg.ServerName, "base_url", reg.BaseURL)
	return nil
}

// Unregister removes a server, closing its websockets. Unknown servers are
// ignored.
func (s *Server) Unregister(user, server string) {
	key := serverKey(user, server)
	s.mu.Lock()
	inst := s.servers[key]
	var jerr error
	if inst != nil {
		delete(s.servers, key)
		if s.prefixes[inst.reg.BaseURL] == inst {
			delete(s.prefixes, inst.reg.BaseURL)
		}
		if s.journal != nil {
			jerr = s.journal.del(user, server)
			if jerr == nil {
				jerr = s.journal.maybeCompact(s.servers)
			}
		}
	}
	s.mu.Unlock()
	if jerr != nil {
		s.log.Error("fleet: state file write failed", "err", jerr)
	}
	if inst != nil {
		inst.shutdown()
		s.log.Debug("fleet: unregistered", "user", user, "server", server)
	}
}

// List returns the registered servers sorted by user and server name.
func (s *Server) List() []ServerInfo {
	s.mu.RLock()
	out := make([]ServerInfo, 0, len(s.servers))
	for _, inst := range s.servers {
		out = append(out, inst.info())
	}
	s.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].User != out[j].User {
			return out[i].User < out[j].User
		}
		return out[i].ServerName < out[j].ServerName
	})
	return out
}

// Len returns the number of registered servers.
func (s *Server) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.servers)
}

func (inst *instance) info() ServerInfo {
	inst.mu.Lock()
	n := len(inst.kernels)
	inst.mu.Unlock()
	return ServerInfo{User: inst.reg.User, ServerName: inst.reg.ServerName, BaseURL: inst.reg.BaseURL, Registered: inst.registered, Kernels: n}
}

// shutdown marks inst gone and closes its websockets and kernels.
func (inst *instance) shutdown() {
	inst.mu.Lock()
	inst.gone = true
	conns := make([]*wsConn, 0, len(inst.conns))
	for c := range inst.conns {
		conns = append(conns, c)
	}
	kernels := inst.kernels
	inst.kernels, inst.sessions, inst.fs = nil, nil, nil
	inst.mu.Unlock()
	for _, k := range kernels {
		k.interrupt()
	}
	for _, c := range conns {
		c.close()
	}
}

// journal is the append-only state file: one JSON record per line,
// {"put": Registration} or {"del": {"user", "server_name"}}.
type journal struct {
	path    string
	f       *os.File
	records int
}

type journalRecord struct {
	Put *Registration `json:"put,omitempty"`
	Del *struct {
		User       string `json:"user"`
		ServerName string `json:"server_name"`
	} `json:"del,omitempty"`
}

// openJournal loads registrations from path (skipping damaged lines, such
// as a last line cut by a crash), rewrites it compacted and keeps it open
// for appending.
func (s *Server) openJournal(path string) error {
	regs := make(map[string]Registration)
	var order []string
	f, err := os.Open(path)
	switch {
	case err == nil:
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64<<10), maxJournalLineLen)
		bad := 0
		for sc.Scan() {
			var rec journalRecord
			if json.Unmarshal(sc.Bytes(), &rec) != nil {
				bad++
				continue
			}
			switch {
			case rec.Put != nil:
				k := serverKey(rec.Put.User, rec.Put.ServerName)
				if _, ok := regs[k]; !ok {
					order = append(order, k)
				}
				regs[k] = *rec.Put
			case rec.Del != nil:
				delete(regs, serverKey(rec.Del.User, rec.Del.ServerName))
			}
		}
		serr := sc.Err()
		f.Close()
		if serr != nil {
			return fmt.Errorf("%w: read %s: %v; move it away to start empty", ErrStateFile, path, serr)
		}
		if bad > 0 {
			s.log.Warn("fleet: skipped damaged state file lines", "path", path, "lines", bad)
		}
	case os.IsNotExist(err):
	default:
		return fmt.Errorf("%w: open %s: %v", ErrStateFile, path, err)
	}
	for _, k := range order {
		reg, ok := regs[k]
		if !ok {
			continue
		}
		if err := reg.normalize(); err != nil {
			s.log.Warn("fleet: dropped invalid saved registration", "user", reg.User, "err", err)
			continue
		}
		if len(s.servers) >= s.cfg.MaxServers {
			break
		}
		inst := &instance{reg: reg, gen: s.gen.Add(1), registered: s.now().UTC()}
		if old := s.prefixes[reg.BaseURL]; old != nil {
			delete(s.servers, serverKey(old.reg.User, old.reg.ServerName))
		}
		s.servers[k] = inst
		s.prefixes[reg.BaseURL] = inst
	}
	if s.activity != nil {
		for _, inst := range s.servers {
			s.activity.schedule(inst, inst.registered)
		}
	}
	j := &journal{path: path}
	if err := j.rewrite(s.servers); err != nil {
		return err
	}
	s.journal = j
	if len(s.servers) > 0 {
		s.log.Info("fleet: restored registrations", "path", path, "servers", len(s.servers))
	}
	return nil
}

// rewrite replaces the file with one put per live server (atomically) and
// reopens it for appending.
func (j *journal) rewrite(servers map[string]*instance) error {
	dir := filepath.Dir(j.path)
	tmp, err := os.CreateTemp(dir, ".fleet-state-*")
	if err != nil {
		return fmt.Errorf("%w: create in %s: %v", ErrStateFile, dir, err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("%w: chmod: %v", ErrStateFile, err)
	}
	bw := bufio.NewWriter(tmp)
	keys := make([]string, 0, len(servers))
	for k := range servers {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		reg := servers[k].reg
		b, _ := json.Marshal(journalRecord{Put: &reg})
		bw.Write(b)
		bw.WriteByte('\n')
	}
	if err := bw.Flush(); err != nil {
		tmp.Close()
		return fmt.Errorf("%w: write %s: %v", ErrStateFile, tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("%w: write %s: %v", ErrStateFile, tmp.Name(), err)
	}
	if j.f != nil {
		j.f.Close()
		j.f = nil
	}
	if err := os.Rename(tmp.Name(), j.path); err != nil {
		return fmt.Errorf("%w: rename to %s: %v", ErrStateFile, j.path, err)
	}
	f, err := os.OpenFile(j.path, os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("%w: reopen %s: %v", ErrStateFile, j.path, err)
	}
	j.f = f
	j.records = len(servers)
	return nil
}

func (j *journal) append(rec journalRecord) error {
	if j.f == nil {
		return fmt.Errorf("%w: %s is not open", ErrStateFile, j.path)
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("%w: encode: %v", ErrStateFile, err)
	}
	b = append(b, '\n')
	if _, err := j.f.Write(b); err != nil {
		return fmt.Errorf("%w: append to %s: %v", ErrStateFile, j.path, err)
	}
	j.records++
	return nil
}

func (j *journal) put(reg Registration) error { return j.append(journalRecord{Put: &reg}) }

func (j *journal) del(user, server string) error {
	rec := journalRecord{Del: &struct {
		User       string `json:"user"`
		ServerName string `json:"server_name"`
	}{user, server}}
	return j.append(rec)
}

// maybeCompact rewrites the journal when dead records outnumber live ones
// (amortised O(1) per operation).
func (j *journal) maybeCompact(servers map[string]*instance) error {
	if j.records <= 2*len(servers)+1024 {
		return nil
	}
	return j.rewrite(servers)
}

func (j *journal) close() error {
	if j.f == nil {
		return nil
	}
	err := j.f.Close()
	j.f = nil
	return err
}

// writeJSON writes v as JSON with status code.
func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeJSONError(w, http.StatusInternalServerError, "cannot encode reply")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	w.Write(b)
}

// writeJSONError writes jupyter_server's APIHandler error body
// {"message": ..., "reason": null}.
func writeJSONError(w http.ResponseWriter, code int, msg string) {
	b, _ := json.Marshal(struct {
		Message string  `json:"message"`
		Reason  *string `json:"reason"`
	}{msg, nil})
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Del("Content-Length")
	w.WriteHeader(code)
	w.Write(b)
}
