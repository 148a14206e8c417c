// Package check is `hubcap check`, the pre-workshop sign-off: it reads the
// shape of a hub's database (U users, S spawner rows, R running servers, J =
// Σ R_u·S_u joined rows) either from the database itself, read-only, or
// from the hub's REST API, works out which JupyterHub release runs it,
// predicts the peak memory and time of the hub's next start-up with a
// calibration, and signs off: PASS, WARN or FAIL against the hub's memory
// limit, with what to do about it.
//
// Run does the I/O (package hubdb for databases, hubapi for hubs); the
// decisions are pure functions: ResolveRelease, SelectCalibration, Decide and
// Evaluate. Report.Text and Report.JSON are the reporters.
//
// Release policy: --release wins, then the version the hub's API reports.
// A database only knows its alembic revision, and every 5.x release shares
// one, straddling the start-up fix of 5.4.3. Without --release check then
// assumes the worst case, the quadratic 5.3.0, and the verdict is at least
// WARN, saying to pass --release.
package check

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/hubcap-dev/hubcap/internal/hubdb"
	"github.com/hubcap-dev/hubcap/models"
	"github.com/hubcap-dev/hubcap/shape"
	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/hubapi"
)

// Options are the inputs of Run. Exactly one of DB and Hub is set.
type Options struct {
	// DB is a database location as hubdb.ParseDSN accepts: a SQLite path or
	// sqlite: URL, or a postgresql:// URL.
	DB string
	// Hub is the hub's public URL; Token is an API token with list:users and
	// read:servers (admin:users and admin:servers include them). Token is
	// never printed.
	Hub   string
	Token string
	// Release overrides the release read from the hub or the database.
	Release string
	// MemoryLimit is the hub's memory limit in bytes (0: unknown).
	MemoryLimit int64
	// Headroom is the safety fraction above the prediction's upper bound
	// (the CLI's default is DefaultHeadroom; 0 here means none).
	Headroom float64
	// Calibration is a calibration file; "" picks the shipped calibration
	// closest to the release from CalibrationsDir.
	Calibration string
	// CalibrationsDir holds the shipped calibrations; "" means
	// FindCalibrationsDir().
	CalibrationsDir string
	// Top is how many users to list (default DefaultTop).
	Top int
	// StartupBudget is the start-up time the deployment allows, seconds
	// (0: not checked; the CLI's default is DefaultStartupBudget).
	StartupBudget float64
	// HTTPClient is used for Hub (nil: hubapi's default client).
	HTTPClient *http.Client
	// Timeout bounds each API request (default 60 s).
	Timeout time.Duration
}

// String describes the options without the token.
func (o Options) String() string {
	tok := ""
	if o.Token != "" {
		tok = "<redacted>"
	}
	return fmt.Sprintf("check.Options{DB:%q Hub:%q Token:%s Release:%q MemoryLimit:%d Headroom:%g Calibration:%q Top:%d}",
		hubdb.Redact(o.DB), o.Hub, tok, o.Release, o.MemoryLimit, o.Headroom, o.Calibration, o.Top)
}

// GoString is String, so %#v never shows the token.
func (o Options) GoString() string { return o.String() }

// Format prints String for every verb.
func (o Options) Format(f fmt.State, _ rune) { fmt.Fprint(f, o.String()) }

// Validate reports every problem of o at once, each wrapping ErrBadOptions
// (or ErrNoToken).
func (o Options) Validate() []error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrBadOptions}, args...)...))
	}
	switch {
	case o.DB == "" && o.Hub == "":
		bad("give the hub's database (--db PATH or URL) or its URL (--hub URL)")
	case o.DB != "" && o.Hub != "":
		bad("give either --db or --hub, not both")
	case o.Hub != "" && o.Token == "":
		errs = append(errs, fmt.Errorf("%w: --hub needs an API token with scopes list:users and read:servers: set HUBCAP_TOKEN or pass --token-file FILE (never on the command line)", ErrNoToken))
	}
	if o.Release != "" {
		if _, err := ParseVersion(o.Release); err != nil {
			errs = append(errs, err)
		}
	}
	if o.MemoryLimit < 0 {
		bad("memory limit %d < 0", o.MemoryLimit)
	}
	if o.Headroom < 0 || o.Headroom != o.Headroom || o.Headroom > 100 {
		bad("headroom %v: give a fraction ≥ 0, e.g. 0.2 for 20%%", o.Headroom)
	}
	if o.Top < 0 {
		bad("top %d < 0", o.Top)
	}
	return errs
}

// Run reads the shape, resolves the release, picks the calibration and
// evaluates. It never writes to the database: hubdb opens it read-only (and
// the hub API is only listed).
func Run(ctx context.Context, o Options) (*Report, error) {
	if errs := o.Validate(); len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	var (
		in  Input
		err error
	)
	if o.DB != "" {
		in, err = ReadDB(ctx, o.DB)
	} else {
		in, err = ReadHub(ctx, o.Hub, o.Token, o.HTTPClient, o.Timeout)
	}
	if err != nil {
		return nil, err
	}
	rel, notes, err := ResolveRelease(o.Release, in.HubVersion, in.Range, in.RangeErr)
	if err != nil {
		return nil, err
	}
	target, err := ParseVersion(rel.Version)
	if err != nil {
		return nil, err
	}

	dir := o.CalibrationsDir
	if dir == "" {
		dir = FindCalibrationsDir()
	}
	var shipped []Calib
	if dir != "" {
		var problems []string
		shipped, problems = LoadCalibrationsDir(dir)
		notes = append(notes, problems...)
	}
	var (
		cal   Calib
		match Match
	)
	if o.Calibration != "" {
		if cal, err = LoadCalibrationFile(o.Calibration); err != nil {
			return nil, err
		}
		_, match, _ = SelectCalibration([]Calib{cal}, target)
	} else {
		var ok bool
		if cal, match, ok = SelectCalibration(shipped, target); !ok {
			where := "no models/calibrations directory was found (set HUBCAP_HOME to the hubcap checkout)"
			if dir != "" {
				where = "none in " + dir
			}
			return nil, fmt.Errorf("%w for JupyterHub %s: %s; pass --calibration FILE (make calibrate writes models/calibrations/jupyterhub-<release>.json)",
				ErrNoCalibration, rel.Version, where)
		}
	}
	m, err := NewModel(cal)
	if err != nil {
		return nil, err
	}
	var linear *Model
	if lc, ok := selectLinear(append(slices.Clip(shipped), cal)); ok {
		if lm, err := NewModel(lc); err == nil {
			linear = &lm
		}
	}
	r, err := Evaluate(in, rel, m, match, linear, Settings{MemoryLimit: o.MemoryLimit, Headroom: o.Headroom, Top: o.Top, StartupBudget: o.StartupBudget})
	if err != nil {
		return nil, err
	}
	if match != MatchExact {
		r.Notes = append(r.Notes, fmt.Sprintf("no calibration of JupyterHub %s; used the closest, %s", rel.Version, describeCalib(cal)))
	}
	r.Notes = append(r.Notes, notes...)
	if in.Source.Kind == KindHub {
		r.Notes = append(r.Notes, "read through the hub's API: JupyterHub itself adds the default '' server row of users that had none when it lists them")
	}
	return r, nil
}

// ReadDB reads a hub database read-only (see package hubdb).
func ReadDB(ctx context.Context, dsn string) (Input, error) {
	db, err := hubdb.Open(ctx, dsn)
	if err != nil {
		return Input{}, err
	}
	defer db.Close()
	in := Input{Source: Source{Kind: KindDatabase, Location: db.DSN().String(), Revision: db.Revision()}}
	if p := db.Path(); p != "" {
		in.Source.Location = p
	}
	rr, rrErr := db.Release()
	in.Range, in.RangeErr = &rr, rrErr
	sh, err := db.Shape(ctx)
	if err != nil {
		return Input{}, err
	}
	in.Shape = Shape{Shape: sh.Shape, State: &sh.State, NamesKnown: true, ContentKnown: true}
	names := make([]string, len(sh.Users))
	for i, u := range sh.Users {
		names[i] = u.Name
	}
	if in.Shape.StoppedServers, err = db.StoppedServers(ctx, names); err != nil {
		return Input{}, err
	}
	return in, nil
}

// ReadHub reads the shape from a hub's REST API: GET /hub/api/ for the
// version (no token sent), then every user with include_stopped_servers.
func ReadHub(ctx context.Context, baseURL, token string, hc *http.Client, timeout time.Duration) (Input, error) {
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	c, err := hubapi.New(hubapi.Config{BaseURL: baseURL, Token: token, HTTPClient: hc, Timeout: timeout, MaxRetries: 1})
	if err != nil {
		return Input{}, fmt.Errorf("%w: --hub %s: %w", ErrBadOptions, baseURL, err)
	}
	v, err := c.Version(ctx)
	if err != nil {
		if errors.Is(err, hubapi.ErrNotJupyterHub) || ctx.Err() != nil {
			return Input{}, err
		}
		return Input{}, fmt.Errorf("%w: %w", ErrHubUnreachable, err)
	}
	if err := checkScopes(ctx, c, token); err != nil {
		return Input{}, err
	}
	users, err := c.ListUsers(ctx, hubapi.ListOptions{IncludeStoppedServers: true})
	if err != nil {
		return Input{}, tokenError(c.BaseURL(), err)
	}
	for _, u := range users {
		if u.Servers == nil {
			return Input{}, fmt.Errorf("%w: user %q came back without servers: the token lacks scope read:servers; %s",
				ErrTokenScopes, u.Name, tokenHint)
		}
	}
	in := Input{Source: Source{Kind: KindHub, Location: c.BaseURL()}, HubVersion: v.Raw}
	in.Shape.NamesKnown = true
	content := hubContent(users)
	in.Shape.ContentKnown = content != nil
	per := hubapi.ShapeFromUsers(users).Users
	for i := range per {
		if c, ok := content[per[i].Name]; ok {
			per[i].Bytes, per[i].RunBytes, per[i].Py, per[i].RunPy = c.Bytes, c.RunBytes, c.Py, c.RunPy
		}
	}
	in.Shape.Shape = shape.New(per)
	in.Shape.StoppedServers = map[string][]string{}
	for _, u := range users {
		for name, s := range u.Servers {
			if name != "" && !s.Active() {
				in.Shape.StoppedServers[u.Name] = append(in.Shape.StoppedServers[u.Name], name)
			}
		}
	}
	for _, names := range in.Shape.StoppedServers {
		slices.Sort(names)
	}
	return in, nil
}

// tokenHint says how to make a token check can use.
const tokenHint = "use an admin token, or a service token whose role has scopes list:users and read:servers " +
	"(z2jh: hub.services.hubcap-check: {} and hub.loadRoles.hubcap-check: {scopes: [list:users, read:servers], services: [hubcap-check]}; " +
	"or POST /hub/api/users/<admin>/tokens with {\"scopes\": [\"list:users\", \"read:servers\"]})"

// RequiredScopes are the scopes check's token needs, unfiltered, each with
// the broader scopes that include it.
var RequiredScopes = []struct {
	Scope   string
	Implied []string
}{
	{"list:users", []string{"admin:users"}},     // to list every user
	{"read:servers", []string{"admin:servers"}}, // to see their servers, stopped ones included
}

// MissingScopes returns the RequiredScopes that the token's scopes (as
// GET /hub/api/user reports them) do not grant for every user. A filtered
// scope such as list:users!group=staff does not count: the listing would
// be partial. It is a pure function.
func MissingScopes(have []string) []string {
	set := map[string]bool{}
	for _, s := range have {
		set[s] = true
	}
	var missing []string
	for _, r := range RequiredScopes {
		ok := set[r.Scope]
		for _, i := range r.Implied {
			ok = ok || set[i]
		}
		if !ok {
			missing = append(missing, r.Scope)
		}
	}
	return missing
}

// checkScopes asks the hub who the token is (GET /hub/api/user, which
// every valid token may call) and fails with ErrTokenScopes naming the
// scopes it lacks. Hubs that do not report scopes are left to the listing.
func checkScopes(ctx context.Context, c *hubapi.Client, token string) error {
	resp, err := c.Transport().Do(ctx, &hubapi.Request{
		Method: http.MethodGet, URL: c.BaseURL() + "/hub/api/user", Endpoint: "/hub/api/user", Phase: "whoami",
		Header: http.Header{"Authorization": {"token " + token}, "Accept": {"application/json"}},
	})
	if err != nil {
		return tokenError(c.BaseURL(), err)
	}
	var who struct {
		Kind   string    `json:"kind"`
		Name   string    `json:"name"`
		Scopes *[]string `json:"scopes"`
	}
	if json.Unmarshal(resp.Body, &who) != nil || who.Scopes == nil {
		return nil
	}
	missing := MissingScopes(*who.Scopes)
	if len(missing) == 0 {
		return nil
	}
	var filtered []string
	for _, s := range *who.Scopes {
		for _, m := range missing {
			if strings.HasPrefix(s, m+"!") {
				filtered = append(filtered, s)
			}
		}
	}
	owner := who.Name
	if who.Kind != "" {
		owner = who.Kind + " " + who.Name
	}
	msg := fmt.Sprintf("the token (of %s) lacks scope %s", owner, strings.Join(missing, " and "))
	if len(filtered) > 0 {
		msg += fmt.Sprintf(" for all users (it has only %s, so the listing would be partial)", strings.Join(filtered, ", "))
	}
	return fmt.Errorf("%w: %s; check needs list:users and read:servers (admin:users and admin:servers include them); %s", ErrTokenScopes, msg, tokenHint)
}

// tokenError classifies a failed user listing.
func tokenError(base string, err error) error {
	var ae *hubapi.APIError
	if errors.As(err, &ae) {
		switch ae.Status {
		case http.StatusUnauthorized:
			return fmt.Errorf("%w: %s did not accept the token (401: unknown, expired or revoked); check HUBCAP_TOKEN or --token-file: %w", ErrTokenRejected, base, err)
		case http.StatusForbidden:
			need := []string{"list:users", "read:servers"}
			missing := "list:users (admin:users includes it)"
			if len(ae.Scopes) > 0 {
				missing = strings.Join(ae.Scopes, " or ")
			}
			return fmt.Errorf("%w: listing users needs %s, and the token lacks %s; %s: %w",
				ErrTokenScopes, strings.Join(need, " and "), missing, tokenHint, err)
		}
	}
	return err
}

// hubContent sizes every server's state and user_options as the hub's API
// sent them, per user; nil when no server came with its state (the token
// lacks admin:server_state), as then the content is not known. The API
// sends the spawner's get_state(), which for most spawners is what the
// database holds.
func hubContent(users []hubapi.User) map[string]shape.User {
	seen := false
	out := map[string]shape.User{}
	for _, u := range users {
		var c shape.User
		for _, s := range u.Servers {
			if s.State != nil {
				seen = true
			}
			var b, py int64
			for _, col := range [][]byte{s.State, jsonOf(s.UserOptions)} {
				b += int64(len(col))
				if n, err := models.PyJSONSize(col); err == nil {
					py += n
				}
			}
			c.Bytes += b
			c.Py += py
			if s.Active() {
				c.RunBytes += b
				c.RunPy += py
			}
		}
		out[u.Name] = c
	}
	if !seen {
		return nil
	}
	return out
}

// jsonOf encodes v as the hub stores it (nil for a nil map: NULL).
func jsonOf(v map[string]any) []byte {
	if v == nil {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	return b
}
