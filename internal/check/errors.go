package check

import "errors"

// Sentinel errors of check. Database problems wrap the sentinels of
// package hubdb (ErrNotFound, ErrNotSQLite, ErrNotJupyterHub,
// ErrUnknownRevision, ErrConnect, ErrRead, ErrBadDSN) and a URL that is not
// a hub wraps hubapi.ErrNotJupyterHub; the ones below cover the rest. Every
// error says what to do.
var (
	// ErrBadOptions: the options are inconsistent (both or neither of DB and
	// Hub, a negative headroom, an unreadable --release).
	ErrBadOptions = errors.New("check: bad options")
	// ErrNoToken: --hub without a token (HUBCAP_TOKEN or --token-file).
	ErrNoToken = errors.New("check: no API token")
	// ErrHubUnreachable: nothing answered at the hub URL.
	ErrHubUnreachable = errors.New("check: hub unreachable")
	// ErrTokenRejected: the hub answered 401 (unknown or expired token).
	ErrTokenRejected = errors.New("check: token rejected")
	// ErrTokenScopes: the token lacks list:users or read:servers, so the
	// user listing is refused (403) or comes back without servers.
	ErrTokenScopes = errors.New("check: token lacks scopes")
	// ErrNoCalibration: no calibration to predict with (none shipped, none
	// given, or the given file does not load).
	ErrNoCalibration = errors.New("check: no calibration")
)
