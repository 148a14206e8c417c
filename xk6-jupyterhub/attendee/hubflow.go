package attendee

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/hubapi"
)

const maxHops = 20

func isRedirect(status int) bool {
	return status == http.StatusMovedPermanently || status == http.StatusFound || status == http.StatusSeeOther ||
		status == http.StatusTemporaryRedirect || status == http.StatusPermanentRedirect
}

// location resolves a redirect's Location and keeps it on the hub's host.
func (s *Session) location(resp *hubapi.Response, from *url.URL) (*url.URL, error) {
	loc := resp.Location()
	if loc == nil {
		return nil, fmt.Errorf("%w: %d from %s without Location", ErrRedirect, resp.Status, redactedPath(from))
	}
	if !s.sameHost(loc) {
		return nil, fmt.Errorf("%w: %s redirected off the hub to %s://%s%s (pass the public URL browsers use as HubURL)",
			ErrRedirect, redactedPath(from), loc.Scheme, loc.Host, redactedPath(loc))
	}
	return loc, nil
}

// Login logs in through the hub's login form: GET /hub/login (the _xsrf
// cookie and hidden field, since 4.1), POST the form with _xsrf, username
// and password (without _xsrf for older hubs that give none), and expect a
// redirect with the hub's login cookies. The next URL asked for is the
// spawn URL of the attendee's server, as if they had followed a link to it.
func (s *Session) Login(ctx context.Context) error { return s.phase(ctx, PhaseLogin, s.login) }

func (s *Session) spawnURL() *url.URL {
	p := "spawn/" + s.userEsc
	if s.cfg.Server != "" {
		p += "/" + s.serverEsc
	}
	return s.hubURL(p, nil)
}

func (s *Session) login(ctx context.Context) error {
	next := s.spawnURL().EscapedPath()
	loginURL := s.hubURL("login", url.Values{"next": {next}})
	resp, req, err := s.send(ctx, call{method: http.MethodGet, u: loginURL, kind: kindPage, expect: browserExpect, phase: PhaseLogin})
	if err != nil {
		return err
	}
	if isRedirect(resp.Status) {
		loc, err := s.location(resp, loginURL)
		if err != nil {
			return err
		}
		if s.loggedIn() {
			s.next = loc // already logged in: the hub forwards to next
			return nil
		}
		return fmt.Errorf("%w: GET /hub/login redirected to %s: the hub uses an external authenticator (auto_login); hubcap's browser login needs a form", ErrLoginFailed, redactedPath(loc))
	}
	if resp.Status != http.StatusOK {
		return s.t.ErrorFor(req, resp)
	}
	form, ok := LoginForm(string(resp.Body))
	action := loginURL
	if ok && form.Action != "" {
		a, err := url.Parse(form.Action)
		if err != nil {
			return fmt.Errorf("%w: login form action unparsable", ErrLoginFailed)
		}
		action = loginURL.ResolveReference(a)
		if !s.sameHost(action) {
			return fmt.Errorf("%w: the login form posts to another host", ErrLoginFailed)
		}
		if action.Query().Get("next") == "" {
			q := action.Query()
			q.Set("next", next)
			action.RawQuery = q.Encode()
		}
	}
	values := url.Values{"username": {s.cfg.Username}, "password": {s.cfg.Password}}
	xsrf := form.Fields.Get("_xsrf")
	if xsrf == "" {
		xsrf = s.hubXSRF() // the cookie carries the same token
	}
	if xsrf != "" {
		values.Set("_xsrf", xsrf)
	}
	// else: a hub before 4.1 renders no xsrf field and checks none on login
	resp, req, err = s.send(ctx, call{method: http.MethodPost, u: action, kind: kindPage, body: []byte(values.Encode()),
		ctype: "application/x-www-form-urlencoded", expect: browserExpect, retry: hubapi.RetryNever, phase: PhaseLogin})
	if err != nil {
		return err
	}
	switch {
	case isRedirect(resp.Status):
		loc, err := s.location(resp, action)
		if err != nil {
			return err
		}
		if !s.loggedIn() {
			return fmt.Errorf("%w: the hub redirected to %s but set no login cookie", ErrLoginFailed, redactedPath(loc))
		}
		s.next = loc
		return nil
	case resp.Status == http.StatusForbidden && isXSRFMessage(string(resp.Body)):
		e := s.t.ErrorFor(req, resp)
		e.Hint = ""
		return fmt.Errorf("%w: the hub rejected the login form's _xsrf (keep IP and User-Agent stable between GET and POST /hub/login): %w", ErrXSRF, e)
	case resp.Status == http.StatusForbidden || resp.Status == http.StatusOK:
		e := s.t.ErrorFor(req, resp)
		e.Hint, e.Message = "", ""
		return fmt.Errorf("%w: the hub showed the login form again (wrong password, or user not allowed): %w", ErrLoginFailed, e)
	}
	return s.t.ErrorFor(req, resp)
}

// isXSRFMessage recognises the hub's xsrf refusals (_xsrf_utils.py,
// login.py): not the login page itself, which holds an _xsrf field.
func isXSRFMessage(s string) bool {
	return strings.Contains(s, "Login form invalid or expired") || strings.Contains(s, "XSRF cookie does not match") ||
		strings.Contains(s, "'_xsrf' argument")
}

// loggedIn reports whether the jar holds the hub's login cookie.
func (s *Session) loggedIn() bool {
	return s.cookie(s.hubURL("", nil), "jupyterhub-hub-login") != ""
}

// Spawn starts the attendee's server the browser way (GET /hub/spawn/…,
// the spawn-pending page and its progress stream, until the hub redirects
// to /user/…) or, with SpawnAPI, through the REST API with a user token.
func (s *Session) Spawn(ctx context.Context) error {
	if s.cfg.Spawn == SpawnAPI {
		return s.phase(ctx, PhaseSpawn, s.spawnAPI)
	}
	return s.phase(ctx, PhaseSpawn, s.spawnBrowser)
}

func (s *Session) isServerURL(u *url.URL) bool {
	p := u.EscapedPath()
	prefix := strings.TrimRight(s.base.EscapedPath(), "/") + s.serverPrefix()
	return p == strings.TrimSuffix(prefix, "/") || strings.HasPrefix(p, prefix)
}

func (s *Session) spawnBrowser(ctx context.Context) error {
	u := s.spawnURL()
	if s.next != nil && strings.Contains(s.next.EscapedPath(), "/hub/spawn") {
		u = s.next
	}
	notStarting := 0
	interval := s.cfg.PollInterval
	for hop := 0; hop < 200; hop++ {
		retry := hubapi.RetryDefault
		if strings.Contains(u.EscapedPath(), "/hub/spawn/") || strings.Contains(u.EscapedPath(), "/hub/spawn-pending/") {
			retry = hubapi.RetryNever // a GET that starts a spawn or reports its failure: surface it
		}
		resp, req, err := s.send(ctx, call{method: http.MethodGet, u: u, kind: kindPage, expect: browserExpect, retry: retry, phase: PhaseSpawn})
		if err != nil {
			var ae *hubapi.APIError
			if errors.As(err, &ae) && ae.Status >= 500 {
				return fmt.Errorf("%w: %w", ErrSpawnFailed, err)
			}
			return err
		}
		if isRedirect(resp.Status) {
			loc, err := s.location(resp, u)
			if err != nil {
				return err
			}
			switch {
			case s.isServerURL(loc):
				return nil // the hub sends the browser to the running server
			case strings.Contains(loc.EscapedPath(), "/hub/login"):
				return fmt.Errorf("%w: %s redirected to the login page", ErrNotLoggedIn, redactedPath(u))
			}
			u = loc
			continue
		}
		pending := strings.Contains(u.EscapedPath(), "/hub/spawn-pending/")
		switch {
		case resp.Status == http.StatusOK && pending:
			// the progress page: follow its event stream, then ask again
			ready, failed, err := s.followProgress(ctx, string(resp.Body), false)
			if failed != nil {
				return failed
			}
			if err != nil && ctx.Err() != nil {
				return err
			}
			if !ready {
				notStarting++
				if notStarting > 3 && err != nil {
					return fmt.Errorf("%w: %s shows the server neither ready nor starting: %w", ErrSpawnFailed, redactedPath(u), err)
				}
				if serr := s.sleep(ctx, interval); serr != nil {
					return serr
				}
				interval = min(interval*3/2, 3*time.Second)
			}
		case resp.Status == http.StatusOK:
			// an options form: submit it with its defaults, as a user clicking Start
			form, ok := SpawnForm(string(resp.Body))
			if !ok {
				return fmt.Errorf("%w: %s answered a page without spawn form or redirect", ErrSpawnFailed, redactedPath(u))
			}
			action := u
			if form.Action != "" {
				a, err := url.Parse(form.Action)
				if err != nil {
					return fmt.Errorf("%w: spawn form action unparsable", ErrSpawnFailed)
				}
				action = u.ResolveReference(a)
			}
			if !s.sameHost(action) {
				return fmt.Errorf("%w: the spawn form posts to another host", ErrSpawnFailed)
			}
			if form.Fields.Get("_xsrf") == "" && action.Query().Get("_xsrf") == "" {
				if x := s.hubXSRF(); x != "" {
					form.Fields.Set("_xsrf", x)
				}
			}
			resp, req, err = s.send(ctx, call{method: http.MethodPost, u: action, kind: kindPage, body: []byte(form.Fields.Encode()),
				ctype: "application/x-www-form-urlencoded", expect: browserExpect, retry: hubapi.RetryNever, phase: PhaseSpawn})
			if err != nil {
				return err
			}
			if !isRedirect(resp.Status) {
				return fmt.Errorf("%w: submitting the spawn form: %w", ErrSpawnFailed, s.t.ErrorFor(req, resp))
			}
			loc, err := s.location(resp, action)
			if err != nil {
				return err
			}
			if s.isServerURL(loc) {
				return nil
			}
			u = loc
		default:
			e := s.t.ErrorFor(req, resp)
			if pending || resp.Status >= 500 {
				return fmt.Errorf("%w: %w", ErrSpawnFailed, e)
			}
			return e
		}
	}
	return fmt.Errorf("%w: spawn did not settle after 200 pages", ErrRedirect)
}

// followProgress reads the spawn's progress event stream: the URL the
// pending page gives (with its _xsrf), else the API URL. ready is true on the
// ready event; failed is set on a failed event.
func (s *Session) followProgress(ctx context.Context, page string, withToken bool) (ready bool, failed error, err error) {
	u := s.hubURL(s.serverAPIPath("/progress"), nil)
	if raw, ok := ProgressURL(page); ok && !withToken {
		if pu, perr := url.Parse(raw); perr == nil {
			if pu = s.base.ResolveReference(pu); s.sameHost(pu) {
				u = pu
			}
		}
	}
	if !withToken && u.Query().Get("_xsrf") == "" {
		if x := s.hubXSRF(); x != "" {
			q := u.Query()
			q.Set("_xsrf", x)
			u.RawQuery = q.Encode()
		}
	}
	resp, _, err := s.send(ctx, call{method: http.MethodGet, u: u, kind: kindStream, token: withToken, stream: true,
		timeout: -1, retry: hubapi.RetryNever, phase: PhaseSpawn})
	if err != nil {
		return false, nil, err
	}
	defer resp.Stream.Close()
	ev, done, err := hubapi.FollowProgress(resp.Stream)
	if done && ev.Failed {
		return false, err, nil
	}
	return done && ev.Ready, nil, err
}

// ensureToken makes the attendee an API token through the hub with its own
// cookies (POST /hub/api/users/:name/tokens with X-XSRFToken).
func (s *Session) ensureToken(ctx context.Context) error {
	if s.token != "" {
		return nil
	}
	body, _ := json.Marshal(map[string]any{"note": "hubcap attendee", "expires_in": 4 * 3600})
	u := s.hubURL("api/users/"+s.userEsc+"/tokens", nil)
	resp, err := s.xhrWithXSRFRetry(ctx, call{method: http.MethodPost, u: u, kind: kindXHR, body: body,
		expect: hubapi.Statuses(http.StatusCreated, http.StatusOK), retry: hubapi.RetryNever, phase: PhaseSpawn})
	if err != nil {
		return err
	}
	var tok struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(resp.Body, &tok); err != nil || tok.Token == "" {
		return fmt.Errorf("%w: token answer without token", hubapi.ErrBadResponse)
	}
	s.token = tok.Token
	s.t.AddSecret(tok.Token)
	return nil
}

// xhrWithXSRFRetry sends a cookie-authenticated hub API request; on a 403
// about xsrf it loads /hub/home once (which sets a fresh _xsrf cookie, as a
// browser has from the page it is on) and tries again.
func (s *Session) xhrWithXSRFRetry(ctx context.Context, c call) (*hubapi.Response, error) {
	if s.hubXSRF() == "" {
		s.refreshHubXSRF(ctx, c.phase)
	}
	resp, _, err := s.send(ctx, c)
	var ae *hubapi.APIError
	if errors.As(err, &ae) && ae.Status == http.StatusForbidden && isXSRFMessage(ae.Message) {
		s.refreshHubXSRF(ctx, c.phase)
		resp, _, err = s.send(ctx, c)
	}
	return resp, err
}

func (s *Session) refreshHubXSRF(ctx context.Context, p Phase) {
	_, _, _ = s.send(ctx, call{method: http.MethodGet, u: s.hubURL("home", nil), kind: kindPage, expect: browserExpect, phase: p})
}

func (s *Session) hubVersion(ctx context.Context) (hubapi.HubVersion, error) {
	if s.version != nil {
		return *s.version, nil
	}
	resp, req, err := s.send(ctx, call{method: http.MethodGet, u: s.hubURL("api/", nil), kind: kindXHR, phase: PhaseSpawn})
	if err != nil {
		return hubapi.HubVersion{}, err
	}
	var body struct {
		Version string `json:"version"`
	}
	if json.Unmarshal(resp.Body, &body) != nil {
		return hubapi.HubVersion{}, fmt.Errorf("%w: GET /hub/api/ %w", hubapi.ErrNotJupyterHub, s.t.ErrorFor(req, resp))
	}
	v, ok := hubapi.ParseVersion(body.Version)
	if !ok {
		return hubapi.HubVersion{}, fmt.Errorf("%w: version %q", hubapi.ErrNotJupyterHub, body.Version)
	}
	s.version = &v
	return v, nil
}

func (s *Session) spawnAPI(ctx context.Context) error {
	if err := s.ensureToken(ctx); err != nil {
		return err
	}
	v, err := s.hubVersion(ctx)
	if err != nil {
		return err
	}
	body, _ := json.Marshal(hubapi.StartBody(v, nil))
	u := s.hubURL(s.serverAPIPath(""), nil)
	resp, _, err := s.send(ctx, call{method: http.MethodPost, u: u, kind: kindXHR, token: true, body: body,
		expect: hubapi.Statuses(http.StatusCreated, http.StatusAccepted), phase: PhaseSpawn})
	if err != nil {
		var ae *hubapi.APIError
		if errors.As(err, &ae) && ae.Status == http.StatusBadRequest && strings.Contains(ae.Message, "already running") {
			return nil
		}
		return err
	}
	_ = resp
	for attempt := 0; attempt < 3; attempt++ {
		ready, failed, err := s.followProgress(ctx, "", true)
		if failed != nil {
			return failed
		}
		if ready {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		// the stream ended or was refused (400 when the spawn already
		// finished): ask the user model
		ok, err2 := s.serverState(ctx, true)
		if err2 != nil {
			return err2
		}
		if ok == stateReady {
			return nil
		}
		if ok == stateStopped {
			return fmt.Errorf("%w: the server stopped before it was ready (%v)", ErrSpawnFailed, err)
		}
		if serr := s.sleep(ctx, s.cfg.PollInterval); serr != nil {
			return serr
		}
	}
	return fmt.Errorf("%w: no ready event", ErrSpawnFailed)
}

type serverState int

const (
	stateStopped serverState = iota
	statePending
	stateReady
)

// serverState reads the attendee's own user model (GET /hub/api/users/:name).
func (s *Session) serverState(ctx context.Context, withToken bool) (serverState, error) {
	u := s.hubURL("api/users/"+s.userEsc, nil)
	resp, _, err := s.send(ctx, call{method: http.MethodGet, u: u, kind: kindXHR, token: withToken, phase: PhaseSpawn})
	if err != nil {
		return stateStopped, err
	}
	var m hubapi.User
	if err := json.Unmarshal(resp.Body, &m); err != nil {
		return stateStopped, fmt.Errorf("%w: user model: %v", hubapi.ErrBadResponse, err)
	}
	srv, ok := m.Servers[s.cfg.Server]
	switch {
	case !ok || !srv.Active():
		return stateStopped, nil
	case srv.Ready:
		return stateReady, nil
	}
	return statePending, nil
}

// StopServer stops the attendee's server with its own rights: DELETE
// /hub/api/users/:name/servers/:server with its cookies and X-XSRFToken
// (or its token, after SpawnAPI), {"remove": true} when Config.RemoveServer
// and the server is named, and waits until the hub reports it stopped.
func (s *Session) StopServer(ctx context.Context) error {
	return s.phase(ctx, PhaseStopServer, s.stopServer)
}

func (s *Session) stopServer(ctx context.Context) error {
	var body []byte
	if s.cfg.RemoveServer && s.cfg.Server != "" {
		body = []byte(`{"remove": true}`)
	}
	withToken := s.token != ""
	c := call{method: http.MethodDelete, u: s.hubURL(s.serverAPIPath(""), nil), kind: kindXHR, token: withToken, body: body,
		expect: hubapi.Statuses(http.StatusNoContent, http.StatusAccepted), phase: PhaseStopServer}
	var resp *hubapi.Response
	var err error
	if withToken {
		resp, _, err = s.send(ctx, c)
	} else {
		resp, err = s.xhrWithXSRFRetry(ctx, c)
	}
	if err != nil {
		return err
	}
	if resp.Status == http.StatusNoContent {
		return nil
	}
	interval := s.cfg.PollInterval
	for {
		st, err := s.serverState(ctx, withToken)
		if err != nil {
			return err
		}
		if st == stateStopped {
			return nil
		}
		if err := s.sleep(ctx, interval); err != nil {
			return err
		}
		interval = min(interval*3/2, 3*time.Second)
	}
}

// Logout loads /hub/logout, which clears the hub's login cookies.
func (s *Session) Logout(ctx context.Context) error {
	return s.phase(ctx, PhaseLogout, func(ctx context.Context) error {
		u := s.hubURL("logout", nil)
		resp, req, err := s.send(ctx, call{method: http.MethodGet, u: u, kind: kindPage, expect: browserExpect, phase: PhaseLogout})
		if err != nil {
			return err
		}
		if !isRedirect(resp.Status) && resp.Status != http.StatusOK {
			return s.t.ErrorFor(req, resp)
		}
		if s.loggedIn() {
			return fmt.Errorf("%w: the login cookie is still set after /hub/logout", ErrLoginFailed)
		}
		return nil
	})
}
