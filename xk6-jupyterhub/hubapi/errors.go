package hubapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
)

// Sentinel errors. A *APIError matches the one for its HTTP status with
// errors.Is, so callers can write errors.Is(err, hubapi.ErrNotFound).
var (
	// ErrNotJupyterHub: the base URL does not answer GET /hub/api/ with {"version": …}.
	ErrNotJupyterHub = errors.New("not a JupyterHub")
	// ErrUnauthorized: 401, the credentials were not accepted.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrForbidden: 403, usually a missing scope (see APIError.Scopes).
	ErrForbidden = errors.New("forbidden")
	// ErrNotFound: 404.
	ErrNotFound = errors.New("not found")
	// ErrConflict: 409, e.g. all users to create already exist.
	ErrConflict = errors.New("conflict")
	// ErrThrottled: 429 still answered when the request stopped waiting (its
	// ThrottleBudget or deadline would pass, or 429s are not waited out).
	ErrThrottled = errors.New("throttled by the hub")
	// ErrServer: a 5xx answer still returned after the allowed retries.
	ErrServer = errors.New("hub server error")
	// ErrBadRequest: 400 and other 4xx not listed above.
	ErrBadRequest = errors.New("request refused")
	// ErrSpawnFailed: the progress stream or the server model says the spawn failed.
	ErrSpawnFailed = errors.New("spawn failed")
	// ErrGuard: a removal was refused because the name does not carry Config.NamePrefix.
	ErrGuard = errors.New("refused by the name-prefix guard")
	// ErrMissingServers: user models came back without "servers" (the token lacks read:servers).
	ErrMissingServers = errors.New("user models have no servers field")
	// ErrBadResponse: the hub answered with a body hubcap cannot decode.
	ErrBadResponse = errors.New("unexpected response body")
)

// APIError is an HTTP answer outside the expected statuses.
type APIError struct {
	Method string // HTTP method
	// Path is the request path without query string (queries may carry tokens).
	Path string
	// Endpoint is the path template used as sample tag, e.g. /hub/api/users/:name.
	Endpoint string
	Status   int    // HTTP status code
	Message  string // the hub's JSON "message", or a short text drawn from the body
	// Scopes lists the scopes the hub said are required (from 403 messages such as
	// "Action is not authorized with current scopes; requires any of [admin:users]").
	Scopes []string
	// Hint says what to do about it.
	Hint string
}

// Error formats "GET /hub/api/users: 403 Forbidden: message (hint)".
func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: %d %s", e.Method, e.Path, e.Status, http.StatusText(e.Status))
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.Hint != "" {
		b.WriteString(" (")
		b.WriteString(e.Hint)
		b.WriteString(")")
	}
	return b.String()
}

// Is maps the status to the package's sentinel errors.
func (e *APIError) Is(target error) bool {
	return target == sentinelFor(e.Status)
}

func sentinelFor(status int) error {
	switch {
	case status == http.StatusUnauthorized:
		return ErrUnauthorized
	case status == http.StatusForbidden:
		return ErrForbidden
	case status == http.StatusNotFound:
		return ErrNotFound
	case status == http.StatusConflict:
		return ErrConflict
	case status == http.StatusTooManyRequests:
		return ErrThrottled
	case status >= 500:
		return ErrServer
	case status >= 400:
		return ErrBadRequest
	}
	return nil
}

// scope message patterns, from jupyterhub/scopes.py (needs_scope, 4.1 … 6.x):
//
//	"Action is not authorized with current scopes; requires any of [a, b]"
//
// utils.py metrics_authentication: "Access to metrics requires scope 'read:metrics'";
// apihandlers/shares.py: "Need scope 'read:users:name' to share with users by name".
var (
	reRequiresAnyOf = regexp.MustCompile(`requires any of \[([^\]]*)\]`)
	reQuotedScope   = regexp.MustCompile(`(?:requires|[Nn]eed) scopes? '([^']+)'`)
	scopeToken      = regexp.MustCompile(`^[A-Za-z0-9_:!=./@+-]+$`)
)

// ParseScopeMessage extracts the scopes a JupyterHub 403 message says are
// required. It recognises "requires any of [a, b]" (the needs_scope decorator)
// and "requires scope 'x'" / "Need scope 'x'". ok is false when the message
// names no scope (e.g. "Missing or invalid credentials.").
func ParseScopeMessage(msg string) (scopes []string, ok bool) {
	if m := reRequiresAnyOf.FindStringSubmatch(msg); m != nil {
		for _, s := range strings.Split(m[1], ",") {
			s = strings.Trim(strings.TrimSpace(s), `'"`)
			if s != "" && scopeToken.MatchString(s) {
				scopes = append(scopes, s)
			}
		}
		return scopes, len(scopes) > 0
	}
	if m := reQuotedScope.FindStringSubmatch(msg); m != nil {
		s := strings.TrimSpace(m[1])
		if s != "" && scopeToken.MatchString(s) {
			return []string{s}, true
		}
	}
	return nil, false
}

// hintFor builds the user-facing hint for an error status and message.
func hintFor(status int, msg string, scopes []string) string {
	switch status {
	case http.StatusUnauthorized, http.StatusForbidden:
		if len(scopes) > 0 {
			return "the token lacks a scope; create a token with scopes " + strings.Join(scopes, " or ") +
				" (e.g. a service in c.JupyterHub.services with a role in c.JupyterHub.load_roles granting it)"
		}
		if strings.Contains(msg, "Missing or invalid credentials") || status == http.StatusUnauthorized {
			return "the token is missing, invalid or expired; pass a valid API token (never on the command line: use an environment variable)"
		}
		if strings.Contains(strings.ToLower(msg), "xsrf") {
			return "cookie-authenticated non-GET requests need the X-XSRFToken header matching the _xsrf cookie"
		}
		return "the token or user may not do this; check its scopes or the user's roles"
	case http.StatusNotFound:
		if strings.Contains(msg, "No access to resources") {
			return "the resource is missing or outside the token's filtered scopes (e.g. servers!user=…)"
		}
	case http.StatusTooManyRequests:
		return "the hub's concurrent_spawn_limit or active_server_limit is reached; lower the arrival rate or raise the limit"
	case http.StatusBadRequest:
		if strings.Contains(msg, "Named servers are not enabled") {
			return "set c.JupyterHub.allow_named_servers = True on the hub"
		}
		if strings.Contains(msg, "maximum of") {
			return "raise c.JupyterHub.named_server_limit_per_user or remove servers"
		}
	}
	return ""
}

// hubErrorBody is JupyterHub's JSON error: {"status": 403, "message": "…"}.
type hubErrorBody struct {
	Status  int    `json:"status"`
	Message string `json:"message"`
}

var (
	reTitle = regexp.MustCompile(`(?is)<title[^>]*>(.*?)</title>`)
	reTags  = regexp.MustCompile(`(?s)<[^>]*>`)
	reSpace = regexp.MustCompile(`\s+`)
)

// errorMessage draws a short message from an error body: the hub's JSON
// "message" for API handlers, else the scope sentence or the <title> of an HTML
// error page, else the start of a plain-text body. At most 300 bytes.
func errorMessage(contentType string, body []byte) string {
	var hb hubErrorBody
	if json.Unmarshal(body, &hb) == nil && hb.Message != "" {
		return truncate(hb.Message, 300)
	}
	text := string(body)
	if strings.Contains(contentType, "html") || strings.Contains(text, "<html") {
		if m := reRequiresAnyOf.FindString(text); m != "" {
			return "requires any of" + strings.TrimPrefix(m, "requires any of")
		}
		if m := reQuotedScope.FindString(text); m != "" {
			return m
		}
		if m := reTitle.FindStringSubmatch(text); m != nil {
			return truncate(strings.TrimSpace(reSpace.ReplaceAllString(reTags.ReplaceAllString(m[1], ""), " ")), 300)
		}
		return ""
	}
	return truncate(strings.TrimSpace(reSpace.ReplaceAllString(text, " ")), 300)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	// do not cut a UTF-8 sequence
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}
