package fleet

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Authentication follows JupyterHub's single-user extension
// (jupyterhub/services/auth.py HubOAuth, jupyterhub/singleuser/extension.py
// and jupyterhub/_xsrf_utils.py, 5.x):
//
//   - A token in "Authorization: token|bearer T" (or ?token=T on websocket
//     requests carrying Sec-Fetch-Mode: websocket) is checked with
//     GET {hub_api_url}/user using T itself; the answer (user model or
//     "nobody", from a 403) is cached for Config.AuthCacheTTL per server,
//     keyed by the jupyterhub-session-id cookie and sha256(T).
//   - Otherwise the OAuth cookie (named after the OAuth client id, path =
//     base URL) holds the access token from the OAuth exchange; it is
//     accepted for unsafe requests only with a matching X-XSRFToken.
//   - An identified user must hold one of the server's access scopes
//     (access:servers!server=u/s or access:servers!user=u, or an
//     unfiltered access:servers); others get 403.
//   - Unauthenticated API requests get 403; page GETs are redirected to the
//     hub's /hub/api/oauth2/authorize with a state cookie.

const (
	oauthStateTTL   = 600 * time.Second
	maxOAuthStates  = 100000
	cookieMaxAge    = 31 * 24 * time.Hour // tornado's max_age_days for secure cookies
	sessionCookie   = "jupyterhub-session-id"
	xsrfCookie      = "_xsrf"
	maxHubReplySize = 4 << 20
)

// errHub is an answer we could not get from the hub: status is what
// jupyter_server would return (500 or 502).
type errHub struct {
	status int
	msg    string
}

func (e *errHub) Error() string { return e.msg }

// identity is a cached hub answer: who the token belongs to and whether
// that user may use this server.
type identity struct {
	name    string
	kind    string
	allowed bool
}

type oauthState struct {
	next       string
	cookieName string
	verifier   string // PKCE code_verifier (6.x hubs)
	gen        uint64
}

// cookiePath is where the server's cookies live (HubAuth.cookie_path
// without cookie_host_prefix_enabled).
func (inst *instance) cookiePath() string { return inst.reg.BaseURL }

func (inst *instance) cookieName() string      { return inst.reg.OAuthClientID }
func (inst *instance) stateCookieName() string { return inst.reg.OAuthClientID + "-oauth-state" }

// hubMajor is the hub's major version, 0 when unknown.
func (inst *instance) hubMajor() int {
	v, _, _ := strings.Cut(inst.reg.HubVersion, ".")
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0
	}
	return n
}

// tokenFromRequest returns the token of the Authorization header, or of
// ?token= on websocket requests (HubAuth.get_token with in_cookie=False and
// allow_token_in_url off).
func tokenFromRequest(r *http.Request) string {
	if r.Header.Get("Sec-Fetch-Mode") == "websocket" {
		if t := r.URL.Query().Get("token"); t != "" {
			return t
		}
	}
	h := strings.TrimLeft(r.Header.Get("Authorization"), " ")
	for _, scheme := range []string{"token", "bearer"} {
		if len(h) > len(scheme) && strings.EqualFold(h[:len(scheme)], scheme) && (h[len(scheme)] == ' ' || h[len(scheme)] == '\t') {
			return strings.TrimSpace(h[len(scheme)+1:])
		}
	}
	return ""
}

func sessionID(r *http.Request) string {
	if c, err := r.Cookie(sessionCookie); err == nil {
		return c.Value
	}
	return ""
}

// authCacheKey keys the cache per registration (each real server has its
// own cache), per hub session and per token.
func authCacheKey(gen uint64, session, token string) string {
	h := sha256.New()
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], gen)
	h.Write(b[:])
	h.Write([]byte(session))
	h.Write([]byte{0})
	h.Write([]byte(token))
	return string(h.Sum(nil))
}

// userForToken asks the hub who owns token (GET {hub_api_url}/user), with
// the cache. A nil identity means the hub does not know the token.
func (s *Server) userForToken(ctx context.Context, inst *instance, token, session string) (*identity, error) {
	key := authCacheKey(inst.gen, session, token)
	if id, ok := s.auth.get(key, s.now()); ok {
		return id, nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, inst.reg.HubAPIURL+"/user", nil)
	if err != nil {
		return nil, &errHub{http.StatusInternalServerError, "bad hub API URL"}
	}
	req.Header.Set("Authorization", "token "+token)
	req.Header.Set("Accept", "application/json")
	resp, err := s.hub.Do(req)
	if err != nil {
		s.log.Warn("fleet: hub API unreachable", "url", inst.reg.HubAPIURL, "err", scrub(err, token))
		return nil, &errHub{http.StatusInternalServerError, "Failed to connect to Hub API at " + inst.reg.HubAPIURL}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxHubReplySize))
	if err != nil {
		return nil, &errHub{http.StatusBadGateway, "Failed to check authorization (upstream problem)"}
	}
	var id *identity
	switch {
	case resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusUnauthorized:
		// nobody: cached like a user (HubAuth caches None)
	case resp.StatusCode >= 500:
		return nil, &errHub{http.StatusBadGateway, "Failed to check authorization (upstream problem)"}
	case resp.StatusCode >= 400:
		return nil, &errHub{http.StatusInternalServerError, "Failed to check authorization"}
	default:
		var model struct {
			Name   string   `json:"name"`
			Kind   string   `json:"kind"`
			Scopes []string `json:"scopes"`
		}
		if err := json.Unmarshal(body, &model); err != nil || model.Name == "" {
			return nil, &errHub{http.StatusInternalServerError, "Failed to check authorization: bad user model from the hub"}
		}
		if model.Kind == "" {
			model.Kind = "user"
		}
		id = &identity{name: model.Name, kind: model.Kind, allowed: scopesAllow(inst.reg.AccessScopes, model.Scopes)}
	}
	s.auth.put(key, id, s.now())
	return id, nil
}

// scrub removes a secret from an error's text before it is logged.
func scrub(err error, secret string) string {
	msg := err.Error()
	if secret != "" {
		msg = strings.ReplaceAll(msg, secret, "[secret]")
		msg = strings.ReplaceAll(msg, url.QueryEscape(secret), "[secret]")
	}
	return msg
}

// scopesAllow reports whether held scopes grant any of the required ones,
// resolving filters as jupyterhub.scopes._intersect_expanded_scopes does
// without a database (group filters never match): an unfiltered scope
// grants every filter of its base; user=u grants server=u/<any>.
func scopesAllow(required, held []string) bool {
	for _, req := range required {
		rbase, rfilter, _ := strings.Cut(req, "!")
		for _, h := range held {
			hbase, hfilter, hasFilter := strings.Cut(h, "!")
			if hbase != rbase {
				continue
			}
			if !hasFilter || hfilter == rfilter {
				return true
			}
			if u, ok := strings.CutPrefix(hfilter, "user="); ok {
				if srv, ok := strings.CutPrefix(rfilter, "server="); ok && strings.HasPrefix(srv, u+"/") {
					return true
				}
			}
		}
	}
	return false
}

// sign returns a signed cookie value for name: base64url(value) "|"
// unix time "|" base64url(HMAC-SHA256(key, name|value|time)).
func (s *Server) sign(name, value string) string {
	ts := strconv.FormatInt(s.now().Unix(), 10)
	v := base64.RawURLEncoding.EncodeToString([]byte(value))
	return v + "|" + ts + "|" + s.mac(name+"|"+v+"|"+ts)
}

func (s *Server) mac(msg string) string {
	m := hmac.New(sha256.New, s.cookieKey)
	m.Write([]byte(msg))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// verify returns the value of a cookie made by sign for name, or "".
func (s *Server) verify(name, cookie string) string {
	v, rest, ok := strings.Cut(cookie, "|")
	if !ok {
		return ""
	}
	ts, sig, ok := strings.Cut(rest, "|")
	if !ok {
		return ""
	}
	if !hmac.Equal([]byte(sig), []byte(s.mac(name+"|"+v+"|"+ts))) {
		return ""
	}
	t, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || s.now().Sub(time.Unix(t, 0)) > cookieMaxAge {
		return ""
	}
	b, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil {
		return ""
	}
	return string(b)
}

// signedCookie returns the first cookie named name whose signature is
// valid (browsers may send several, for several paths).
func (s *Server) signedCookie(r *http.Request, name string) string {
	for _, c := range r.Cookies() {
		if c.Name == name {
			if v := s.verify(name, c.Value); v != "" {
				return v
			}
		}
	}
	return ""
}

// tokenCookie returns the access token in the OAuth cookie.
func (s *Server) tokenCookie(inst *instance, r *http.Request) string {
	return s.signedCookie(r, inst.cookieName())
}

// remoteIP is tornado's remote_ip with xheaders: the last X-Forwarded-For
// hop, else X-Real-Ip, else the peer address.
func remoteIP(r *http.Request) string {
	if xff := r.Header.Get("X-Forwarded-For"); xff != "" {
		parts := strings.Split(xff, ",")
		if ip := strings.TrimSpace(parts[len(parts)-1]); ip != "" {
			return ip
		}
	}
	if ip := strings.TrimSpace(r.Header.Get("X-Real-Ip")); ip != "" {
		return ip
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// anonymousXSRFID hashes the client IP and User-Agent
// (_xsrf_utils._anonymous_xsrf_id).
func anonymousXSRFID(r *http.Request) string {
	h := sha256.New()
	h.Write([]byte(remoteIP(r)))
	h.Write([]byte(r.Header.Get("User-Agent")))
	h.Write([]byte{0xff})
	return base64.URLEncoding.EncodeToString(h.Sum(nil))
}

// xsrfID is HubOAuth._get_xsrf_token_id: session and token hash, or the
// anonymous id.
func xsrfID(r *http.Request, cookieToken string) string {
	session := sessionID(r)
	var tokenHash string
	if cookieToken != "" {
		sum := sha256.Sum256([]byte(cookieToken))
		tokenHash = hex.EncodeToString(sum[:])
		if session == "" {
			session = anonymousXSRFID(r)
		}
	} else {
		tokenHash = anonymousXSRFID(r)
	}
	return session + ":" + tokenHash
}

// xsrfToken is the token a client must echo for id. Unlike tornado's it is
// deterministic, so "the header equals the token of a valid cookie for the
// current id" (what upstream checks) is "both equal xsrfToken(id)".
func (s *Server) xsrfToken(inst *instance, id string) string {
	return s.mac("_xsrf|" + inst.reg.BaseURL + "|" + id)
}

// needsXSRF is _xsrf_utils._needs_check_xsrf for a cookie-authenticated
// request.
func needsXSRF(r *http.Request) bool {
	mode := r.Header.Get("Sec-Fetch-Mode")
	if mode == "" {
		mode = "unspecified"
	}
	site := r.Header.Get("Sec-Fetch-Site")
	readOnly := r.Method == http.MethodGet || r.Method == http.MethodHead || r.Method == http.MethodOptions
	if mode == "websocket" || ((mode == "navigate" || mode == "unspecified") && readOnly) ||
		(mode == "no-cors" && site == "same-origin" && readOnly) {
		return false
	}
	return true
}

// checkXSRF verifies the _xsrf argument or X-XSRFToken/X-CSRFToken header
// against the _xsrf cookie and the current xsrf id.
func (s *Server) checkXSRF(inst *instance, r *http.Request, cookieToken string) bool {
	want := s.xsrfToken(inst, xsrfID(r, cookieToken))
	got := r.URL.Query().Get("_xsrf")
	if got == "" {
		got = r.Header.Get("X-Xsrftoken")
	}
	if got == "" {
		got = r.Header.Get("X-Csrftoken")
	}
	if got == "" || !hmac.Equal([]byte(got), []byte(want)) {
		return false
	}
	for _, c := range r.Cookies() {
		if c.Name == xsrfCookie && hmac.Equal([]byte(c.Value), []byte(want)) {
			return true
		}
	}
	return false
}

// authResult is the outcome of authenticate.
type authResult struct {
	id        *identity // nil: nobody
	viaToken  bool      // token-authenticated (no xsrf, no cookies)
	cookieTok string    // access token from the OAuth cookie, when used
}

// authenticate identifies the request's user the way HubAuth._get_user
// does. Hub failures are returned as *errHub.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request, inst *instance) (authResult, error) {
	var res authResult
	session := sessionID(r)
	if tok := tokenFromRequest(r); tok != "" {
		id, err := s.userForToken(r.Context(), inst, tok, session)
		if err != nil {
			return res, err
		}
		if id != nil {
			res.id, res.viaToken = id, true
			return res, nil
		}
	}
	tok := s.tokenCookie(inst, r)
	if tok == "" {
		return res, nil
	}
	if needsXSRF(r) && !s.checkXSRF(inst, r, tok) {
		s.log.Debug("fleet: not accepting cookie auth without a matching xsrf token", "method", r.Method, "path", r.URL.Path)
		return res, nil
	}
	id, err := s.userForToken(r.Context(), inst, tok, session)
	if err != nil {
		return res, err
	}
	if id == nil {
		clearCookie(w, inst.cookieName(), inst.cookiePath())
		return res, nil
	}
	res.id, res.cookieTok = id, tok
	return res, nil
}

// apiUser authenticates an API request, writing the error reply (403 JSON
// as jupyter_server's APIHandler) when there is no allowed user.
func (s *Server) apiUser(w http.ResponseWriter, r *http.Request, inst *instance) (authResult, bool) {
	res, err := s.authenticate(w, r, inst)
	if err != nil {
		var he *errHub
		if errors.As(err, &he) {
			writeJSONError(w, he.status, he.msg)
		} else {
			writeJSONError(w, http.StatusInternalServerError, "authentication failed")
		}
		return res, false
	}
	if res.id == nil {
		writeJSONError(w, http.StatusForbidden, "Forbidden")
		return res, false
	}
	if !res.id.allowed {
		writeJSONError(w, http.StatusForbidden, fmt.Sprintf("%s %s is not allowed.", res.id.kind, res.id.name))
		return res, false
	}
	return res, true
}

// pageUser authenticates a page request: nobody is redirected to the hub's
// OAuth authorize URL (GET/HEAD) or refused.
func (s *Server) pageUser(w http.ResponseWriter, r *http.Request, inst *instance) (authResult, bool) {
	res, err := s.authenticate(w, r, inst)
	if err != nil {
		var he *errHub
		code := http.StatusInternalServerError
		if errors.As(err, &he) {
			code = he.status
		}
		http.Error(w, http.StatusText(code)+": "+err.Error(), code)
		return res, false
	}
	if res.id == nil {
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			s.redirectToLogin(w, r, inst)
		} else {
			http.Error(w, "403: Forbidden", http.StatusForbidden)
		}
		return res, false
	}
	if !res.id.allowed {
		http.Error(w, fmt.Sprintf("403: Forbidden (%s %s is not allowed.)", res.id.kind, res.id.name), http.StatusForbidden)
		return res, false
	}
	return res, true
}

func randomToken(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func randomLetters(n int) string {
	const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	b := make([]byte, n)
	rand.Read(b)
	for i := range b {
		b[i] = letters[int(b[i])%len(letters)]
	}
	return string(b)
}

// isHTTPS is jupyterhub.utils.get_browser_protocol == "https".
func isHTTPS(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	for _, h := range []string{"X-Scheme", "X-Forwarded-Proto"} {
		if v := r.Header.Get(h); v != "" {
			first, _, _ := strings.Cut(v, ",")
			return strings.EqualFold(strings.TrimSpace(first), "https")
		}
	}
	return false
}

// redirectToLogin starts the OAuth flow: a state (kept here with the
// requested URL) in a state cookie, and a 302 to the hub's authorize URL.
func (s *Server) redirectToLogin(w http.ResponseWriter, r *http.Request, inst *instance) {
	st := oauthState{next: r.URL.RequestURI(), cookieName: inst.stateCookieName(), gen: inst.gen}
	if _, err := r.Cookie(st.cookieName); err == nil {
		// an unused state cookie: concurrent logins get their own cookie
		st.cookieName += "-" + randomLetters(8)
	}
	q := []string{
		"client_id=" + url.QueryEscape(inst.reg.OAuthClientID),
		"redirect_uri=" + url.QueryEscape(inst.reg.OAuthCallbackURL),
		"response_type=code",
	}
	if inst.hubMajor() >= 6 {
		st.verifier = randomToken(32)
		sum := sha256.Sum256([]byte(st.verifier))
		q = append(q, "code_challenge="+base64.RawURLEncoding.EncodeToString(sum[:]), "code_challenge_method=S256")
	}
	stateID := randomToken(16)
	s.states.put(stateID, st, s.now())
	q = append(q, "state="+url.QueryEscape(stateID))
	http.SetCookie(w, &http.Cookie{
		Name: st.cookieName, Value: s.sign(st.cookieName, stateID), Path: inst.cookiePath(),
		HttpOnly: true, MaxAge: int(oauthStateTTL / time.Second), Secure: isHTTPS(r),
	})
	loc := inst.reg.HubHost + inst.reg.HubPrefix + "api/oauth2/authorize?" + strings.Join(q, "&")
	w.Header().Set("Location", loc)
	w.WriteHeader(http.StatusFound)
}

func clearCookie(w http.ResponseWriter, name, path string) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: path, MaxAge: -1, Expires: time.Unix(0, 0)})
}

// clearStateCookies clears every OAuth state cookie of inst.
func clearStateCookies(w http.ResponseWriter, r *http.Request, inst *instance) {
	prefix := inst.stateCookieName()
	seen := map[string]bool{}
	for _, c := range r.Cookies() {
		if strings.HasPrefix(c.Name, prefix) && !seen[c.Name] {
			seen[c.Name] = true
			clearCookie(w, c.Name, inst.cookiePath())
		}
	}
}

// oauthCallback is HubOAuthCallbackHandler.get: check the state, exchange
// the code for a token at the hub, identify the user, set the cookies and
// go back to the page that started the login.
func (s *Server) oauthCallback(w http.ResponseWriter, r *http.Request, inst *instance) {
	if r.Method != http.MethodGet {
		http.Error(w, "405: Method Not Allowed", http.StatusMethodNotAllowed)
		return
	}
	q := r.URL.Query()
	if e := q.Get("error"); e != "" {
		msg := q.Get("error_description")
		if msg == "" {
			msg = e
		}
		http.Error(w, "400: Error in oauth: "+msg, http.StatusBadRequest)
		return
	}
	code := q.Get("code")
	if code == "" {
		http.Error(w, "400: OAuth callback made without a token", http.StatusBadRequest)
		return
	}
	argState, hasState := q["state"]
	if !hasState {
		http.Error(w, "400: OAuth state is missing. Try logging in again.", http.StatusBadRequest)
		return
	}
	stateID := argState[0]
	st, known := s.states.peek(stateID, s.now())
	if !known || st.gen != inst.gen {
		st = oauthState{cookieName: inst.stateCookieName()}
	}
	cookieState := s.signedCookie(r, st.cookieName)
	if cookieState == "" {
		// stale state, but maybe already logged in: go on to the page
		if res, err := s.authenticate(w, r, inst); err == nil && res.id != nil && res.id.allowed {
			clearStateCookies(w, r, inst)
			next := st.next
			if next == "" {
				next = inst.reg.BaseURL
			}
			http.Redirect(w, r, next, http.StatusFound)
			return
		}
	}
	if cookieState != stateID {
		http.Error(w, "403: oauth state does not match. Try logging in again.", http.StatusForbidden)
		return
	}
	s.states.take(stateID, s.now())
	clearStateCookies(w, r, inst)
	next := st.next
	if next == "" {
		next = inst.reg.BaseURL
	}

	token, err := s.tokenForCode(r.Context(), inst, code, st.verifier)
	if err != nil {
		var he *errHub
		status := http.StatusInternalServerError
		if errors.As(err, &he) {
			status = he.status
		}
		http.Error(w, fmt.Sprintf("%d: %v", status, err), status)
		return
	}
	id, err := s.userForToken(r.Context(), inst, token, sessionID(r))
	if err != nil || id == nil {
		http.Error(w, "500: oauth callback failed to identify a user", http.StatusInternalServerError)
		return
	}
	s.log.Debug("fleet: logged in", "user", id.name, "server", inst.reg.BaseURL)
	http.SetCookie(w, &http.Cookie{
		Name: inst.cookieName(), Value: s.sign(inst.cookieName(), token), Path: inst.cookiePath(),
		HttpOnly: true, Secure: isHTTPS(r), Expires: s.now().Add(30 * 24 * time.Hour),
	})
	s.setXSRFCookie(w, inst, xsrfID(r, token), true)
	http.Redirect(w, r, next, http.StatusFound)
}

// setXSRFCookie sets the _xsrf cookie for id (path = base URL);
// anonymous ones last an hour, as upstream.
func (s *Server) setXSRFCookie(w http.ResponseWriter, inst *instance, id string, authenticated bool) {
	c := &http.Cookie{Name: xsrfCookie, Value: s.xsrfToken(inst, id), Path: inst.reg.BaseURL}
	if !authenticated {
		c.MaxAge = 3600
	}
	http.SetCookie(w, c)
}

// tokenForCode is HubOAuth._token_for_code: POST {hub_api_url}/oauth2/token.
func (s *Server) tokenForCode(ctx context.Context, inst *instance, code, verifier string) (string, error) {
	form := url.Values{
		"client_id":     {inst.reg.OAuthClientID},
		"client_secret": {inst.reg.APIToken},
		"grant_type":    {"authorization_code"},
		"code":          {code},
		"redirect_uri":  {inst.reg.OAuthCallbackURL},
	}
	if verifier != "" {
		form.Set("code_verifier", verifier)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, inst.reg.HubAPIURL+"/oauth2/token", strings.NewReader(form.Encode()))
	if err != nil {
		return "", &errHub{http.StatusInternalServerError, "bad hub API URL"}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "token "+inst.reg.APIToken)
	resp, err := s.hub.Do(req)
	if err != nil {
		s.log.Warn("fleet: hub API unreachable", "url", inst.reg.HubAPIURL, "err", scrub(scrubErr(err, code), inst.reg.APIToken))
		return "", &errHub{http.StatusInternalServerError, "Failed to connect to Hub API at " + inst.reg.HubAPIURL}
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxHubReplySize))
	switch {
	case resp.StatusCode == http.StatusForbidden:
		return "", &errHub{http.StatusInternalServerError, "Permission failure checking authorization, I may need a new token"}
	case resp.StatusCode >= 500:
		return "", &errHub{http.StatusBadGateway, "Failed to check authorization (upstream problem)"}
	case resp.StatusCode >= 400:
		msg := "Failed to check authorization"
		var e struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		if json.Unmarshal(body, &e) == nil {
			if e.Description != "" {
				msg += ": " + e.Description
			} else if e.Error != "" {
				msg += ": " + e.Error
			}
		}
		return "", &errHub{http.StatusInternalServerError, msg}
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(body, &tok); err != nil || tok.AccessToken == "" {
		return "", &errHub{http.StatusInternalServerError, "the hub's token reply has no access_token"}
	}
	return tok.AccessToken, nil
}

type scrubbedErr struct{ msg string }

func (e scrubbedErr) Error() string { return e.msg }

func scrubErr(err error, secret string) error { return scrubbedErr{scrub(err, secret)} }

// logout is JupyterHubLogoutHandler: clear the cookie, go to the hub's logout.
func (s *Server) logout(w http.ResponseWriter, r *http.Request, inst *instance) {
	clearCookie(w, inst.cookieName(), inst.cookiePath())
	http.Redirect(w, r, inst.reg.HubHost+inst.reg.HubPrefix+"logout", http.StatusFound)
}
