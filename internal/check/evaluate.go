package check

import (
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strings"

	"github.com/hubcap-dev/hubcap/internal/hubdb"
	"github.com/hubcap-dev/hubcap/models"
	"github.com/hubcap-dev/hubcap/shape"
)

// Source says where the shape was read.
type Source struct {
	// Kind is "database" or "hub".
	Kind string `json:"kind"`
	// Location is the SQLite path, the PostgreSQL URL without password, or
	// the hub's URL.
	Location string `json:"location"`
	// Revision is the database's alembic revision ("" for a hub).
	Revision string `json:"revision,omitempty"`
}

// Source kinds.
const (
	KindDatabase = "database"
	KindHub      = "hub"
)

// Shape is the hub's database shape as check reads it: the shape (package
// shape; Users sorted by J descending, then S descending, then name) and
// what check knows besides.
type Shape struct {
	shape.Shape
	// StoppedServers are the names of each user's stopped named servers,
	// when the source knows them (NamesKnown).
	StoppedServers map[string][]string `json:"-"`
	// NamesKnown: StoppedServers lists every stopped named server (from
	// the hub API, or from the database by name).
	NamesKnown bool `json:"-"`
	// State are the sizes of the JSON columns (databases only).
	State *hubdb.StateStats `json:"state,omitempty"`
	// ContentKnown: the rows' state and user_options were read (a database,
	// or a hub token with admin:server_state); otherwise the content is
	// assumed (Report.ContentAssumed) and JB, JP, LP are 0.
	ContentKnown bool `json:"content_known"`
}

// MarshalJSON writes the shape without its users: a report lists the top
// ones (Report.TopUsers).
func (s Shape) MarshalJSON() ([]byte, error) {
	type plain Shape // the fields without this method
	p := plain(s)
	p.Users = nil
	return json.Marshal(p)
}

// Model returns the shape's features for package models.
func (s Shape) Model() models.Shape { return models.FromShape(s.Shape) }

// finish computes the totals from Users and sorts them.
func (s *Shape) finish() { s.Shape = shape.New(s.Users) }

// Input is what a source read: the shape and what it says of the release.
type Input struct {
	Source Source
	Shape  Shape
	// HubVersion is the version the hub's API answered ("" for a database).
	HubVersion string
	// Range and RangeErr are hubdb.DB.Release's answer (databases only).
	Range    *hubdb.ReleaseRange
	RangeErr error
}

// Settings are the thresholds of an evaluation.
type Settings struct {
	// MemoryLimit of the hub in bytes; 0 means unknown.
	MemoryLimit int64
	// Headroom is the safety fraction above the upper bound (0.2 = 20%).
	Headroom float64
	// Top is how many users to list (default DefaultTop).
	Top int
	// StartupBudget is how long the deployment lets the hub take to start
	// before it is restarted (its liveness or startup probe: initialDelay +
	// period × failureThreshold), seconds; 0: not checked.
	StartupBudget float64
}

// Defaults of Settings and Options.
const (
	DefaultTop      = 10
	DefaultHeadroom = 0.2
	// DefaultStartupBudget is check's start-up budget when none is given:
	// five minutes, a common liveness-probe initial delay. Set yours with
	// --startup-budget (z2jh: hub.livenessProbe and hub.startupProbe).
	DefaultStartupBudget = 300.0
	// ReplayBeyond is how far beyond the calibrated range (in J, JB, JP or
	// LP, as a multiple of the largest calibrated value) a prediction may
	// go and still PASS: further out, check says WARN and asks for hubcap
	// replay, a measurement of the database itself.
	ReplayBeyond = 1.5
)

// Report is the result of a check: what the text and JSON reporters print.
type Report struct {
	Verdict Verdict  `json:"verdict"`
	Reasons []string `json:"reasons"`

	Source  Source  `json:"source"`
	Release Release `json:"release"`
	Shape   Shape   `json:"shape"`
	// TopUsers are the users with the largest share of J.
	TopUsers []TopUser `json:"top_users"`

	Calibration CalibrationInfo `json:"calibration"`
	// Peak is the predicted start-up peak RSS, bytes, with its interval.
	Peak models.Prediction `json:"peak_rss_bytes"`
	// Seconds is the predicted time to healthy, when calibrated.
	Seconds *models.Prediction `json:"seconds_to_healthy,omitempty"`
	// StartupBudget is the start-up time allowed, seconds (0: not checked).
	StartupBudget float64 `json:"startup_budget_seconds,omitempty"`
	// Extrapolation is how far the shape lies beyond the calibrated range
	// on the model's terms (≤ 1 inside it).
	Extrapolation float64 `json:"extrapolation"`
	// ContentAssumed says what row content was assumed when the source
	// could not read it ("" when it was read).
	ContentAssumed string `json:"content_assumed,omitempty"`

	MemoryLimit int64   `json:"memory_limit_bytes"`
	Headroom    float64 `json:"headroom"`
	// RequiredLimit = Peak.Upper·(1+Headroom), the limit this shape needs.
	RequiredLimit int64 `json:"required_limit_bytes"`

	Actions []Action `json:"actions"`
	Notes   []string `json:"notes,omitempty"`

	// Replay is a measured restart of the database (hubcap replay
	// --json), shown beside the prediction (AttachReplay); nil if none.
	Replay *Replay `json:"replay,omitempty"`
}

// TopUser is one line of the top-users table.
type TopUser struct {
	shape.User
	// StoppedServers are the names of the user's stopped named servers, when
	// the source knows them (the hub API does; hubdb reports counts only).
	StoppedServers []string `json:"stopped_servers,omitempty"`
	// Share = J_u / J (0 when J = 0).
	Share float64 `json:"share"`
	// Stopped = S_u − R_u: rows without a server (the default row included).
	Stopped int64 `json:"stopped"`
}

// CalibrationInfo describes the calibration used.
type CalibrationInfo struct {
	File    string   `json:"file"`
	Release string   `json:"release"`
	Match   Match    `json:"match"`
	Terms   []string `json:"terms"`
	Level   float64  `json:"level"`
	Samples int      `json:"samples"`
}

// Action kinds.
const (
	ActionUpgrade = "upgrade"
	ActionRemove  = "remove-stopped-servers"
	ActionLimit   = "memory-limit"
	ActionFreshDB = "fresh-database"
	ActionReplay  = "replay"
)

// Action is one thing to do, with its predicted effect.
type Action struct {
	Kind string `json:"kind"`
	Text string `json:"text"`
	// Peak is the predicted start-up peak after the action, bytes.
	Peak *models.Prediction `json:"predicted_peak_rss_bytes,omitempty"`
	// ShapeAfter is the shape after the action (removals).
	ShapeAfter *models.Shape `json:"shape_after,omitempty"`
	// Removals are the servers to remove, per user.
	Removals []Removal `json:"removals,omitempty"`
	// Limit is the memory limit to set, bytes (ActionLimit), and Quantity
	// the same as a Kubernetes quantity rounded up.
	Limit    int64  `json:"limit_bytes,omitempty"`
	Quantity string `json:"quantity,omitempty"`
}

// Removal is the stopped named servers of one user to remove.
type Removal struct {
	User string `json:"user"`
	// Count is how many rows go: exact when Servers is set, else the user's
	// rows without a server minus the default row (which cannot be removed).
	Count int64 `json:"count"`
	// Servers are the names, when known.
	Servers []string `json:"servers,omitempty"`
	// Requests are the exact API calls (one per server) when names are
	// known; otherwise the call that lists them and a template with
	// {server}.
	Requests []APICall `json:"requests"`
	// JoinedRowsSaved = R_u·Count (in the 5.0–5.3 start-up join).
	JoinedRowsSaved int64 `json:"joined_rows_saved"`
}

// APICall is one JupyterHub REST call.
type APICall struct {
	Method string `json:"method"`
	Path   string `json:"path"`
	Body   string `json:"body,omitempty"`
}

// RemoveBody is the body that makes DELETE …/servers/:name delete the row.
const RemoveBody = `{"remove": true}`

// RemoveCall is the API call that deletes a user's named server and its
// spawner row.
func RemoveCall(user, server string) APICall {
	return APICall{Method: "DELETE", Path: "/hub/api/users/" + url.PathEscape(user) + "/servers/" + url.PathEscape(server), Body: RemoveBody}
}

// ListCall lists every server of a user, stopped ones included.
func ListCall(user string) APICall {
	return APICall{Method: "GET", Path: "/hub/api/users/" + url.PathEscape(user) + "?include_stopped_servers=1"}
}

// Model is a calibration ready to predict.
type Model struct {
	Calib   Calib
	Peak    *models.Model
	Seconds *models.Model // nil when not calibrated
}

// NewModel builds the models of a calibration.
func NewModel(c Calib) (Model, error) {
	pm, err := c.Cal.PeakModel()
	if err != nil {
		return Model{}, fmt.Errorf("%w: %s: %w", ErrNoCalibration, c.Path, err)
	}
	m := Model{Calib: c, Peak: pm}
	if c.Cal.Fits.Seconds != nil {
		if sm, err := c.Cal.SecondsModel(); err == nil {
			m.Seconds = sm
		}
	}
	return m, nil
}

// Evaluate turns a read shape, the resolved release and the chosen
// calibration (with how well it matches) into a report. linear, if not nil,
// is a calibration of a fixed release, used to predict the effect of an
// upgrade. It is a pure function.
func Evaluate(in Input, rel Release, m Model, match Match, linear *Model, s Settings) (*Report, error) {
	if s.Top <= 0 {
		s.Top = DefaultTop
	}
	if s.Headroom < 0 || math.IsNaN(s.Headroom) || math.IsInf(s.Headroom, 0) {
		return nil, fmt.Errorf("%w: headroom %v: give a fraction ≥ 0, e.g. 0.2", ErrBadOptions, s.Headroom)
	}
	if s.MemoryLimit < 0 {
		return nil, fmt.Errorf("%w: memory limit %d < 0", ErrBadOptions, s.MemoryLimit)
	}
	shape := in.Shape.Model()
	if errs := shape.Validate(); len(errs) > 0 {
		return nil, fmt.Errorf("inconsistent shape read from %s: %v", in.Source.Location, errs[0])
	}
	r := &Report{
		Source:        in.Source,
		Release:       rel,
		Shape:         in.Shape,
		MemoryLimit:   s.MemoryLimit,
		Headroom:      s.Headroom,
		StartupBudget: s.StartupBudget,
	}
	var assumed *contentAssumption
	if !in.Shape.ContentKnown && usesContent(m.Peak) {
		a := assumeContent(m.Calib.Cal, shape)
		assumed = &a
		shape = a.mid
		r.ContentAssumed = a.text
	}
	fit := m.Peak.Fit()
	terms := make([]string, 0, len(m.Peak.Terms()))
	for _, t := range m.Peak.Terms() {
		terms = append(terms, t.String())
	}
	r.Calibration = CalibrationInfo{File: m.Calib.Path, Release: m.Calib.Cal.Release, Match: match,
		Terms: terms, Level: fit.Level, Samples: fit.N}
	r.Peak = m.Peak.Predict(shape)
	if assumed != nil {
		r.Peak = widen(m.Peak, r.Peak, assumed)
	}
	if m.Seconds != nil {
		p := m.Seconds.Predict(shape)
		if assumed != nil && usesContent(m.Seconds) {
			p = widen(m.Seconds, p, assumed)
		}
		r.Seconds = &p
	}
	r.Extrapolation = max(m.Peak.Extrapolation(shape), 0)
	req, err := models.RequiredLimit(m.Peak, shape, s.Headroom)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadOptions, err)
	}
	r.RequiredLimit = int64(math.Ceil(req))

	for i, u := range in.Shape.Users {
		if i >= s.Top {
			break
		}
		t := TopUser{User: u, StoppedServers: in.Shape.StoppedServers[u.Name], Stopped: u.S - u.R}
		if in.Shape.J > 0 {
			t.Share = float64(u.J) / float64(in.Shape.J)
		}
		r.TopUsers = append(r.TopUsers, t)
	}

	if m.Calib.Cal.Partial {
		r.Notes = append(r.Notes, fmt.Sprintf("the calibration %s is partial (its sweep was interrupted): calibrate again for a complete one", describeCalib(m.Calib)))
	}
	if n := extrapolation(m, shape); n != "" {
		r.Notes = append(r.Notes, n)
	}
	if r.ContentAssumed != "" {
		r.Notes = append(r.Notes, r.ContentAssumed)
	}
	r.Verdict, r.Reasons = Decide(Criteria{
		Peak: r.Peak, Limit: float64(s.MemoryLimit), Headroom: s.Headroom,
		Match: match, CalibrationRelease: m.Calib.Cal.Release,
		Release: rel.Version, Assumed: rel.Assumed,
		Seconds: r.Seconds, StartupBudget: s.StartupBudget,
		Extrapolation: r.Extrapolation,
	})
	r.Actions = actions(r, in.Shape, m, linear)
	return r, nil
}

// extrapolation says how far the shape lies beyond the calibrated samples
// in the model's terms ("" when within them or when the calibration has no
// samples).
func extrapolation(m Model, shape models.Shape) string {
	if len(m.Calib.Cal.Samples) == 0 {
		return ""
	}
	var parts []string
	for _, t := range m.Peak.Terms() {
		if t == models.TermConst {
			continue
		}
		top := 0.0
		for _, s := range m.Calib.Cal.Samples {
			top = max(top, s.Shape.Value(t))
		}
		if v := shape.Value(t); top > 0 && v > top {
			parts = append(parts, fmt.Sprintf("%s = %s is %.1f× the largest calibrated (%s)", t, groupInt(int64(v)), v/top, groupInt(int64(top))))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return "the prediction extrapolates beyond the calibration: " + strings.Join(parts, ", ") + "; the interval widens, but the model form is assumed to hold"
}

// actions lists what to do, most effective first: upgrade (quadratic or
// buggy releases), remove stale named servers (when they cost joined rows
// or the verdict is not PASS), and the memory limit the shape needs.
func actions(r *Report, sh Shape, m Model, linear *Model) []Action {
	var out []Action
	q := r.Release.Query
	if q == QueryQuadratic || q == QueryLinearBuggy {
		a := Action{Kind: ActionUpgrade}
		switch {
		case q == QueryLinearBuggy:
			a.Text = fmt.Sprintf("Upgrade JupyterHub to %s or newer: %s's start-up is linear but drops the stopped named servers of users with a running one (upstream issue #5211).",
				hubdb.FixRelease, r.Release.Version)
		case r.Release.Assumed:
			a.Text = fmt.Sprintf("If the hub runs 5.0.0b1–5.3.0, upgrade JupyterHub to %s or newer: its start-up query is linear (Σ R_u + Σ S_u of users with a running server, here %s rows instead of J = %s).",
				hubdb.FixRelease, groupInt(sh.LinearRows), groupInt(sh.J))
		default:
			a.Text = fmt.Sprintf("Upgrade JupyterHub to %s or newer: its start-up query is linear (Σ R_u + Σ S_u of users with a running server, here %s rows instead of J = %s).",
				hubdb.FixRelease, groupInt(sh.LinearRows), groupInt(sh.J))
		}
		if linear != nil && q == QueryQuadratic {
			p := linear.Peak.Predict(sh.Model())
			a.Peak = &p
			a.Text += fmt.Sprintf(" Predicted peak with the JupyterHub %s calibration: %s (%s – %s).",
				linear.Calib.Cal.Release, fmtBytes(p.Point), fmtBytes(p.Lower), fmtBytes(p.Upper))
		}
		out = append(out, a)
	}
	if q.Quadratic() || r.Verdict != Pass {
		if a, ok := removalAction(r, sh, m); ok {
			out = append(out, a)
		}
	}
	if r.Extrapolation > ReplayBeyond {
		out = append(out, Action{Kind: ActionReplay, Text: fmt.Sprintf(
			"Measure instead of extrapolating (%.1f× beyond the calibrated range): hubcap replay --db %s --release %s --memory-limit %s restarts a local hub of that release on a copy of this database and reports the real start-up peak and time (the original is never written).",
			r.Extrapolation, replayDB(r.Source), r.Release.Version, Quantity(float64(max(r.MemoryLimit, r.RequiredLimit))))})
	}
	if r.Verdict != Pass {
		out = append(out, Action{Kind: ActionFreshDB, Text: "For a workshop hub whose users keep no state in the hub database (no persistent named servers or auth state to keep), start on a fresh database: " +
			"stop the hub, move the database aside, start it again, and stop the old user servers it no longer knows. " +
			"z2jh (hub.db.type sqlite-pvc): kubectl -n NS scale deployment/hub --replicas=0; " +
			"kubectl -n NS delete pvc hub-db-dir; helm upgrade … (recreates the volume); " +
			"kubectl -n NS delete pods -l component=singleuser-server. " +
			"Back the database up first (kubectl cp NS/HUB_POD:/srv/jupyterhub/jupyterhub.sqlite ./jupyterhub.sqlite)."})
	}
	if r.MemoryLimit == 0 || r.RequiredLimit > r.MemoryLimit {
		a := Action{Kind: ActionLimit, Limit: r.RequiredLimit, Quantity: Quantity(float64(r.RequiredLimit))}
		verb := "Give"
		if r.MemoryLimit > 0 {
			verb = fmt.Sprintf("Raise the hub's memory limit from %s, or give", fmtBytes(float64(r.MemoryLimit)))
		}
		a.Text = fmt.Sprintf("%s the hub at least %s (%s) for this shape as it is: the upper bound %s plus %s headroom (z2jh: hub.resources.limits.memory).",
			verb, fmtBytes(float64(r.RequiredLimit)), a.Quantity, fmtBytes(r.Peak.Upper), fmtPct(r.Headroom))
		out = append(out, a)
	}
	return out
}

// MinRemovalShare is the share of J a user's stopped named servers must
// cost (R_u × their number) for check to propose removing them.
const MinRemovalShare = 0.01

// removalAction proposes removing the stopped named servers of the top
// users who have a running server (only those rows are joined at start-up)
// where that saves at least MinRemovalShare of J.
func removalAction(r *Report, sh Shape, m Model) (Action, bool) {
	var rems []Removal
	after := sh.Model()
	for _, u := range r.TopUsers {
		if u.R == 0 {
			continue
		}
		rem := Removal{User: u.Name}
		if sh.NamesKnown {
			rem.Servers = u.StoppedServers
			rem.Count = int64(len(u.StoppedServers))
			for _, s := range u.StoppedServers {
				rem.Requests = append(rem.Requests, RemoveCall(u.Name, s))
			}
		} else {
			// The default "" row cannot be removed; assume it is one of the
			// stopped rows (it exists for every 5.x user).
			rem.Count = max(0, u.S-u.R-1)
			tmpl := RemoveCall(u.Name, "")
			tmpl.Path += "{server}"
			rem.Requests = []APICall{ListCall(u.Name), tmpl}
		}
		rem.JoinedRowsSaved = u.R * rem.Count
		if rem.Count == 0 || float64(rem.JoinedRowsSaved) < MinRemovalShare*float64(sh.J) {
			continue
		}
		after.S -= float64(rem.Count)
		after.J -= float64(rem.JoinedRowsSaved)
		if stopped := u.S - u.R; stopped > 0 {
			// the removed rows carry the user's average stopped-row content
			frac := float64(rem.Count) / float64(stopped)
			b, py := frac*float64(u.Bytes-u.RunBytes), frac*float64(u.Py-u.RunPy)
			after.JB -= float64(u.R) * b
			after.JP -= float64(u.R) * py
			after.LP -= py
		}
		rems = append(rems, rem)
	}
	if len(rems) == 0 {
		return Action{}, false
	}
	p := m.Peak.Predict(after)
	a := Action{Kind: ActionRemove, Removals: rems, ShapeAfter: &after, Peak: &p}
	var n int64
	for _, rm := range rems {
		n += rm.Count
	}
	who := rems[0].User
	if len(rems) > 1 {
		who = fmt.Sprintf("%d users", len(rems))
	}
	a.Text = fmt.Sprintf("Remove the %s of %s (DELETE with body %s; their rows are joined at every start-up): J %s → %s, predicted peak %s (%s – %s).",
		plural(n, "stopped named server"), who, RemoveBody, groupInt(sh.J), groupInt(int64(after.J)), fmtBytes(p.Point), fmtBytes(p.Lower), fmtBytes(p.Upper))
	return a, true
}

// groupInt renders 1746 as "1,746".
func groupInt(n int64) string {
	s := fmt.Sprint(n)
	neg := n < 0
	if neg {
		s = s[1:]
	}
	var b []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			b = append(b, ',')
		}
		b = append(b, s[i])
	}
	if neg {
		return "-" + string(b)
	}
	return string(b)
}

// replayDB is the --db argument of a replay of the source: the database
// itself, or a placeholder for a hub read through its API.
func replayDB(src Source) string {
	if src.Kind == KindDatabase && src.Location != "" {
		return src.Location
	}
	return "PATH/TO/jupyterhub.sqlite"
}

// usesContent reports whether a model has a row-content term.
func usesContent(m *models.Model) bool {
	for _, t := range m.Terms() {
		if t == models.TermJB || t == models.TermJP || t == models.TermLP {
			return true
		}
	}
	return false
}

// contentAssumption is the row content assumed when the source could not
// read it: per-row ratios of the calibration's main content, and the shape
// with ¼× and 4× of them for the interval.
type contentAssumption struct {
	lo, mid, hi models.Shape
	text        string
}

// assumeContent fills the content features of sh from the calibration's
// main-content samples (the median JB/J, JP/J and LP/R ratios of the
// samples tagged with the first content), and brackets them by 4× either
// way: an unknown spawner may store far less or far more than ours.
func assumeContent(cal models.Calibration, sh models.Shape) contentAssumption {
	var main string
	var jb, jp, lp []float64
	for _, smp := range cal.Samples {
		c := smp.Tags[models.TagContent]
		if main == "" && c != "" {
			main = c
		}
		if c != main || smp.Shape.J == 0 || smp.Shape.R == 0 {
			continue
		}
		jb = append(jb, smp.Shape.JB/smp.Shape.J)
		jp = append(jp, smp.Shape.JP/smp.Shape.J)
		lp = append(lp, smp.Shape.LP/smp.Shape.R)
	}
	at := func(f float64) models.Shape {
		out := sh
		out.JB, out.JP, out.LP = f*sh.J*median(jb), f*sh.J*median(jp), f*sh.R*median(lp)
		return out
	}
	return contentAssumption{lo: at(0.25), mid: at(1), hi: at(4),
		text: fmt.Sprintf("row content not read (spawner state needs a token with admin:server_state, or use --db): assumed %s of parsed state and user_options per joined row (the calibration's %q rows), interval widened to ¼×–4× of that",
			fmtBytes(median(jp)), main)}
}

// widen stretches p over the predictions for the bracketing contents.
func widen(m *models.Model, p models.Prediction, a *contentAssumption) models.Prediction {
	lo, hi := m.Predict(a.lo), m.Predict(a.hi)
	p.Lower = min(p.Lower, lo.Lower)
	p.Upper = max(p.Upper, hi.Upper)
	return p
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
