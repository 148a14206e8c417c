package telemetry

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"

	"github.com/hubcap-dev/hubcap/internal/proc"
	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/hubapi"
)

// classify names the kind of a scrape failure (the tag "kind" of
// hub_scrape_errors) and says whether it means the hub is down: no answer
// (connection refused or reset, timeout) or an answer from a proxy in front
// of a hub that is gone (502, 503, 504: configurable-http-proxy answers 503
// when the hub does not). Any other answer comes from a hub that is up.
func classify(err error) (kind string, down bool) {
	var ae *hubapi.APIError
	switch {
	case errors.As(err, &ae):
		switch s := ae.Status; {
		case s == http.StatusBadGateway || s == http.StatusServiceUnavailable || s == http.StatusGatewayTimeout:
			return "down", true
		case s == http.StatusUnauthorized:
			return "unauthorized", false
		case s == http.StatusForbidden:
			return "forbidden", false
		case s == http.StatusNotFound:
			return "not_found", false
		case s >= 300 && s < 400:
			return "redirect", false
		}
		return "http", false
	case errors.Is(err, hubapi.ErrMissingServers):
		return "missing_servers", false
	case errors.Is(err, hubapi.ErrMetricsSyntax) || errors.Is(err, hubapi.ErrBadResponse):
		return "parse", false
	case errors.Is(err, proc.ErrNoProcess):
		return "gone", true
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout", true
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timeout", true
	}
	return "down", true
}

// failureMessage is the log line for the first failure of a kind: what it
// means for the run and what to do.
func failureMessage(source, kind string, err error) string {
	var ae *hubapi.APIError
	errors.As(err, &ae)
	switch source {
	case SourceMetrics:
		switch kind {
		case "forbidden":
			return "hub telemetry: the hub refuses /hub/metrics: the token lacks scope read:metrics, " +
				"so hub RSS, CPU, running servers and request metrics are missing from this run; " +
				"grant read:metrics to the token's service or user (a role in c.JupyterHub.load_roles) " +
				"or set c.JupyterHub.authenticate_prometheus = False"
		case "unauthorized":
			return "hub telemetry: the hub does not accept the token for /hub/metrics; pass a valid API token with scope read:metrics"
		case "not_found":
			return "hub telemetry: the hub has no /hub/metrics here; check the hub URL (it must include the hub's base_url)"
		case "redirect":
			return "hub telemetry: /hub/metrics redirects; pass the hub's public URL that the redirect points to"
		case "parse":
			return "hub telemetry: /hub/metrics answered something that is not the Prometheus text format; is the URL a JupyterHub?"
		case "timeout":
			return "hub telemetry: /hub/metrics did not answer in time (the hub's event loop may be blocked); counted as down"
		}
		return "hub telemetry: scraping /hub/metrics failed; it is retried every interval"
	case SourceAPI:
		switch {
		case kind == "missing_servers":
			return "hub telemetry: the DB shape (S, R, J) is missing: user models come without servers, the token lacks scope read:servers"
		case kind == "forbidden" && ae != nil && len(ae.Scopes) > 0:
			return "hub telemetry: the DB shape (U, S, R, J) is missing: the token lacks scope " +
				strings.Join(ae.Scopes, " or ") + " (it needs list:users and read:servers)"
		case kind == "forbidden" || kind == "unauthorized":
			return "hub telemetry: the DB shape (U, S, R, J) is missing: the token may not list users; it needs scopes list:users and read:servers"
		}
		return "hub telemetry: listing users for the DB shape failed; it is retried every interval"
	case SourceProc:
		if kind == "gone" {
			return "hub telemetry: the local hub process is gone; /proc readings resume when it runs again"
		}
		return "hub telemetry: cannot read the local hub process in /proc; hub RSS from /proc is missing"
	}
	return "hub telemetry: " + source + " failed"
}
