package check

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/hubcap-dev/hubcap/internal/hubdb"
	"github.com/hubcap-dev/hubcap/shape"
)

// incidentUsers is the field incident's scale: 736 running servers and
// 1,746 spawner rows, one user holding 600 running of 1,400 rows (the
// default row and 799 named servers stopped), and 136 users with one
// running server and one or two stopped rows.
func incidentUsers() []dbUser {
	users := []dbUser{{Name: "heavy", Default: true, Running: 600, Stopped: 799}}
	for i := range 136 {
		stopped := 1 // + the default row: 3 rows
		if i >= 74 {
			stopped = 0 // 2 rows
		}
		users = append(users, dbUser{Name: fmt.Sprintf("attendee-%03d", i), Default: true, Running: 1, Stopped: stopped})
	}
	return users
}

// inputOf builds the Input a source would read for users; withNames
// makes it a hub (stopped server names known), else a 5.x database.
func inputOf(users []dbUser, withNames bool) Input {
	var in Input
	for _, u := range users {
		s := int64(u.Running + u.Stopped)
		if u.Default {
			s++
		}
		us := shape.User{Name: u.Name, S: s, R: int64(u.Running)}
		if withNames {
			if in.Shape.StoppedServers == nil {
				in.Shape.StoppedServers = map[string][]string{}
			}
			for i := range u.Stopped {
				in.Shape.StoppedServers[u.Name] = append(in.Shape.StoppedServers[u.Name], fmt.Sprintf("s%04d", i))
			}
		}
		in.Shape.Users = append(in.Shape.Users, us)
	}
	in.Shape.NamesKnown = withNames
	in.Shape.finish()
	if withNames {
		in.Source = Source{Kind: KindHub, Location: "https://hub.example.org"}
		in.HubVersion = "5.3.0"
	} else {
		rr, _ := hubdb.LookupRevision("4621fec11365")
		in.Source = Source{Kind: KindDatabase, Location: "/srv/jupyterhub/jupyterhub.sqlite", Revision: rr.Revision}
		in.Range = &rr
	}
	return in
}

func evaluate(t *testing.T, in Input, flag string, calRelease string, s Settings) *Report {
	t.Helper()
	rel, _, err := ResolveRelease(flag, in.HubVersion, in.Range, in.RangeErr)
	if err != nil {
		t.Fatal(err)
	}
	m := testModel(t, calRelease)
	lin := testModel(t, "5.5.1")
	tv, _ := ParseVersion(rel.Version)
	_, match, _ := SelectCalibration([]Calib{m.Calib}, tv)
	r, err := Evaluate(in, rel, m, match, &lin, s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestEvaluateIncidentFromDB(t *testing.T) {
	in := inputOf(incidentUsers(), false)
	if in.Shape.U != 137 || in.Shape.S != 1746 || in.Shape.R != 736 || in.Shape.J != 600*1400+74*3+62*2 {
		t.Fatalf("incident shape U=%d S=%d R=%d J=%d", in.Shape.U, in.Shape.S, in.Shape.R, in.Shape.J)
	}
	const limit = 3 << 30
	r := evaluate(t, in, "", "5.3.0", Settings{MemoryLimit: limit, Headroom: 0.2, Top: 5})

	// A 5.x database without --release: the quadratic worst case, at least WARN.
	if !r.Release.Assumed || r.Release.Query != QueryQuadratic || r.Verdict == Pass {
		t.Errorf("release %+v verdict %s: want the assumed quadratic worst case, not PASS", r.Release, r.Verdict)
	}
	if len(r.TopUsers) != 5 || r.TopUsers[0].Name != "heavy" {
		t.Fatalf("top users %+v", r.TopUsers)
	}
	heavy := r.TopUsers[0]
	if heavy.S != 1400 || heavy.R != 600 || heavy.Stopped != 800 || math.Abs(heavy.Share-840000.0/float64(in.Shape.J)) > 1e-12 {
		t.Errorf("heavy user %+v", heavy)
	}
	// The required limit is the upper bound plus headroom, rounded up, and
	// checking against exactly that limit passes the memory criterion.
	if want := int64(math.Ceil(r.Peak.Upper * 1.2)); r.RequiredLimit != want {
		t.Errorf("required limit %d, want %d", r.RequiredLimit, want)
	}
	if v, _ := Decide(Criteria{Peak: r.Peak, Limit: float64(r.RequiredLimit), Headroom: 0.2, Match: MatchExact}); v != Pass {
		t.Errorf("the required limit %d does not pass: %s", r.RequiredLimit, v)
	}

	// J = 840,346 lies beyond the sweep's largest shape (J ≤ 250,000): said.
	if len(r.Notes) != 1 || !strings.Contains(r.Notes[0], "extrapolates") || !strings.Contains(r.Notes[0], "J = 840,346") {
		t.Errorf("notes %q: want the extrapolation noted", r.Notes)
	}
	small := evaluate(t, inputOf(incidentUsers()[1:], false), "5.3.0", "5.3.0", Settings{MemoryLimit: limit, Headroom: 0.2})
	if len(small.Notes) != 0 {
		t.Errorf("notes %q for a shape inside the calibration", small.Notes)
	}

	kinds := map[string]Action{}
	for _, a := range r.Actions {
		kinds[a.Kind] = a
	}
	up, ok := kinds[ActionUpgrade]
	if !ok || up.Peak == nil || up.Peak.Point >= r.Peak.Point {
		t.Errorf("upgrade action %+v: want one predicting a lower peak than %v", up, r.Peak.Point)
	}
	rm, ok := kinds[ActionRemove]
	if !ok {
		t.Fatalf("no removal action in %+v", r.Actions)
	}
	// From a database the names are unknown: 800 stopped rows, of which the
	// default row stays; only users with a running server matter.
	if len(rm.Removals) == 0 || rm.Removals[0].User != "heavy" || rm.Removals[0].Count != 799 ||
		rm.Removals[0].JoinedRowsSaved != 600*799 || rm.Removals[0].Servers != nil {
		t.Fatalf("removal %+v", rm.Removals)
	}
	if calls := rm.Removals[0].Requests; len(calls) != 2 || calls[0] != ListCall("heavy") ||
		calls[1] != (APICall{Method: "DELETE", Path: "/hub/api/users/heavy/servers/{server}", Body: `{"remove": true}`}) {
		t.Errorf("requests %+v", calls)
	}
	var saved int64
	for _, x := range rm.Removals {
		saved += x.JoinedRowsSaved
	}
	if rm.ShapeAfter == nil || rm.ShapeAfter.J != float64(in.Shape.J-saved) || len(rm.ShapeAfter.Validate()) > 0 {
		t.Errorf("shape after %+v (saved %d)", rm.ShapeAfter, saved)
	}
	if rm.Peak == nil || rm.Peak.Point >= r.Peak.Point {
		t.Errorf("removal predicts %+v, not below %v", rm.Peak, r.Peak.Point)
	}
	if r.RequiredLimit > limit {
		if _, ok := kinds[ActionLimit]; !ok {
			t.Error("limit too low but no memory-limit action")
		}
	}
}

func TestEvaluateFromHub(t *testing.T) {
	in := inputOf(incidentUsers(), true)
	r := evaluate(t, in, "", "5.3.0", Settings{MemoryLimit: 1 << 30, Headroom: 0.2})
	if r.Release.Assumed || r.Release.Version != "5.3.0" || r.Calibration.Match != MatchExact {
		t.Errorf("release %+v calibration %+v", r.Release, r.Calibration)
	}
	if len(r.TopUsers) != DefaultTop {
		t.Errorf("%d top users, want the default %d", len(r.TopUsers), DefaultTop)
	}
	var rm *Action
	for i := range r.Actions {
		if r.Actions[i].Kind == ActionRemove {
			rm = &r.Actions[i]
		}
	}
	if rm == nil {
		t.Fatal("no removal action")
	}
	h := rm.Removals[0]
	if h.User != "heavy" || h.Count != 799 || len(h.Servers) != 799 || len(h.Requests) != 799 {
		t.Fatalf("removal %+v", h)
	}
	if h.Requests[0] != (APICall{Method: "DELETE", Path: "/hub/api/users/heavy/servers/s0000", Body: RemoveBody}) {
		t.Errorf("first request %+v", h.Requests[0])
	}
	// Light users (one running, one stopped named server) would save one
	// joined row each, far below MinRemovalShare of J: not proposed.
	if len(rm.Removals) != 1 {
		t.Errorf("removals beyond the heavy user: %+v", rm.Removals[1:])
	}
}

func TestEvaluateLinearRelease(t *testing.T) {
	in := inputOf(incidentUsers(), false)
	r := evaluate(t, in, "5.5.1", "5.5.1", Settings{MemoryLimit: 3 << 30, Headroom: 0.2})
	if r.Verdict != Pass || r.Release.Query != QueryLinear {
		t.Errorf("5.5.1 on the incident's shape under 3 GiB: %s %q", r.Verdict, r.Reasons)
	}
	if len(r.Actions) != 0 {
		t.Errorf("a passing linear hub gets actions %+v", r.Actions)
	}
	// The same shape predicted with the quadratic calibration peaks higher.
	q := evaluate(t, in, "5.3.0", "5.3.0", Settings{MemoryLimit: 3 << 30, Headroom: 0.2})
	if q.Peak.Point <= r.Peak.Point {
		t.Errorf("quadratic %v ≤ linear %v", q.Peak.Point, r.Peak.Point)
	}
}

func TestEvaluateBadSettings(t *testing.T) {
	in := inputOf(incidentUsers()[:3], false)
	rel, _, _ := ResolveRelease("5.3.0", "", in.Range, nil)
	m := testModel(t, "5.3.0")
	for _, s := range []Settings{{Headroom: -0.1}, {Headroom: math.NaN()}, {MemoryLimit: -1}} {
		if _, err := Evaluate(in, rel, m, MatchExact, nil, s); !errors.Is(err, ErrBadOptions) {
			t.Errorf("%+v: %v", s, err)
		}
	}
	bad := in
	bad.Shape.Users = append([]shape.User(nil), in.Shape.Users...)
	bad.Shape.R = bad.Shape.S + 1 // no database has more servers than rows
	if _, err := Evaluate(bad, rel, m, MatchExact, nil, Settings{}); err == nil {
		t.Error("inconsistent shape accepted")
	}
}
