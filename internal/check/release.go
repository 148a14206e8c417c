package check

import (
	"cmp"
	"fmt"
	"strconv"
	"strings"

	"github.com/hubcap-dev/hubcap/internal/hubdb"
)

// Query is how a JupyterHub release loads spawners at start-up
// (JupyterHub.init_spawners), which decides whether its memory grows with
// J = Σ R_u·S_u or linearly.
type Query string

// Start-up query classes, from the facts note and upstream PRs #5109, #5236.
const (
	// QueryLinearN1: 3.x–4.1.x loop over servers with lazy loads (N+1
	// queries), linear in R.
	QueryLinearN1 Query = "linear-n+1"
	// QueryQuadratic: 5.0.0b1–5.3.0 join users, spawners and servers and
	// materialise J = Σ_u R_u·S_u rows.
	QueryQuadratic Query = "quadratic"
	// QueryLinearBuggy: 5.4.0–5.4.2 are linear but lose the stopped named
	// servers of users with a running one (upstream issue #5211).
	QueryLinearBuggy Query = "linear-buggy"
	// QueryLinear: ≥ 5.4.3 (hubdb.FixRelease), 6.x: linear,
	// Σ R_u + Σ_{u:R_u>0} S_u rows.
	QueryLinear Query = "linear"
)

// Quadratic reports whether the start-up cost grows with J.
func (q Query) Quadratic() bool { return q == QueryQuadratic }

// Describe is a short phrase for people.
func (q Query) Describe() string {
	switch q {
	case QueryQuadratic:
		return "quadratic: start-up loads J = Σ R_u·S_u joined rows"
	case QueryLinearBuggy:
		return "linear, but stopped named servers of users with a running one vanish (upstream issue #5211)"
	case QueryLinearN1:
		return "linear (N+1 queries)"
	case QueryLinear:
		return "linear: start-up loads Σ R_u + Σ S_u of users with a running server"
	}
	return string(q)
}

// LastQuadraticRelease is the newest release with the quadratic start-up
// query: the worst case assumed when a database cannot tell the release.
const LastQuadraticRelease = "5.3.0"

// Version is a parsed JupyterHub version: MAJOR.MINOR[.PATCH] and an
// optional pre-release (dev < a < b < rc < final) with its number.
type Version struct {
	Major, Minor, Patch int
	// Stage orders pre-releases: 0 dev, 1 a, 2 b, 3 rc, 4 final.
	Stage, N int
	// Raw is the text parsed (without a leading "v").
	Raw string
}

// ParseVersion parses "5.3.0", "6.0.0b2", "5.4.3rc1", "6.0.0.dev", "5.5"
// (patch 0) or "v5.3.0". Local suffixes ("+abc") are ignored.
func ParseVersion(s string) (Version, error) {
	v := Version{Raw: strings.TrimPrefix(strings.TrimSpace(s), "v")}
	bad := fmt.Errorf("%w: release %q: write it as 5.3.0 or 6.0.0b1", ErrBadOptions, s)
	t, _, _ := strings.Cut(v.Raw, "+")
	end := 0
	for end < len(t) && (t[end] == '.' || (t[end] >= '0' && t[end] <= '9')) {
		end++
	}
	nums, suffix := strings.TrimSuffix(t[:end], "."), t[end:]
	parts := strings.Split(nums, ".")
	if len(parts) < 2 || len(parts) > 3 {
		return Version{}, bad
	}
	var n [3]int
	for i, p := range parts {
		x, err := strconv.Atoi(p)
		if err != nil || x < 0 || len(p) > 6 {
			return Version{}, bad
		}
		n[i] = x
	}
	v.Major, v.Minor, v.Patch, v.Stage = n[0], n[1], n[2], 4
	if suffix == "" {
		return v, nil
	}
	for _, st := range []struct {
		p     string
		stage int
	}{{"dev", 0}, {"rc", 3}, {"a", 1}, {"b", 2}} {
		num, ok := strings.CutPrefix(suffix, st.p)
		if !ok {
			continue
		}
		v.Stage = st.stage
		if num == "" {
			return v, nil
		}
		x, err := strconv.Atoi(num)
		if err != nil || x < 0 || len(num) > 6 {
			return Version{}, bad
		}
		v.N = x
		return v, nil
	}
	return Version{}, bad
}

// Compare orders versions: -1, 0 or +1.
func (v Version) Compare(o Version) int {
	return cmp.Or(cmp.Compare(v.Major, o.Major), cmp.Compare(v.Minor, o.Minor),
		cmp.Compare(v.Patch, o.Patch), cmp.Compare(v.Stage, o.Stage), cmp.Compare(v.N, o.N))
}

// String is the version as given.
func (v Version) String() string { return v.Raw }

// atLeast compares major.minor.patch only, so pre-releases of a version
// count as that version (5.0.0b1 has 5.0.0's query).
func (v Version) atLeast(major, minor, patch int) bool {
	return cmp.Or(cmp.Compare(v.Major, major), cmp.Compare(v.Minor, minor), cmp.Compare(v.Patch, patch)) >= 0
}

// QueryOf returns the start-up query class of a release.
func QueryOf(v Version) Query {
	switch {
	case !v.atLeast(5, 0, 0):
		return QueryLinearN1
	case !v.atLeast(5, 4, 0):
		return QueryQuadratic
	case !v.atLeast(5, 4, 3):
		return QueryLinearBuggy
	}
	return QueryLinear
}

// distance says how far apart two releases are, for picking the closest
// calibration: minor and patch steps weigh less than a major step.
func distance(a, b Version) int {
	abs := func(x int) int { return max(x, -x) }
	return abs(a.Major-b.Major)*1_000_000 + abs(a.Minor-b.Minor)*1_000 + abs(a.Patch-b.Patch)
}

// Release is what check knows about the hub's JupyterHub release.
type Release struct {
	// Version is the release the prediction is for: exact when given or
	// read from the hub, else the one assumed (see Assumed).
	Version string `json:"version"`
	// Source says where it came from: "--release", "hub API" or
	// "database revision".
	Source string `json:"source"`
	// Range is the database's alembic revision range, when read from a DB.
	Range *hubdb.ReleaseRange `json:"range,omitempty"`
	// Exact is true when Version is the hub's actual release.
	Exact bool `json:"exact"`
	// Assumed is true when the database could not tell whether the hub runs
	// the quadratic query and the worst case was assumed.
	Assumed bool `json:"assumed_worst_case"`
	// Query is the start-up query class of Version.
	Query Query `json:"query"`
}

// Release sources.
const (
	SourceFlag     = "--release"
	SourceHubAPI   = "hub API"
	SourceRevision = "database revision"
)

// ResolveRelease decides which release to predict for. flag is --release
// ("" when not given), hubVersion the version the hub's API answered (""
// for a database), rr and rrErr what hubdb.DB.Release returned (nil rr for
// a hub). It is a pure function.
//
// Policy: --release wins. A hub's own version is exact. A database revision
// names a range of releases; when the range straddles the start-up fix
// (every 5.x database does) and no --release is given, check assumes the
// worst case, the quadratic LastQuadraticRelease, and says so (verdict at
// least WARN) rather than refusing: a pre-event check should gate on the
// dangerous reading. An unknown revision without --release is an error
// (ErrUnknownRevision): there is no range to reason about.
func ResolveRelease(flag, hubVersion string, rr *hubdb.ReleaseRange, rrErr error) (Release, []string, error) {
	var notes []string
	if flag != "" {
		v, err := ParseVersion(flag)
		if err != nil {
			return Release{}, nil, err
		}
		r := Release{Version: v.Raw, Source: SourceFlag, Exact: true, Query: QueryOf(v), Range: rr}
		if rr != nil && rrErr == nil && rr.MinRelease != "" && !rr.Contains(v.Raw) {
			notes = append(notes, fmt.Sprintf("--release %s is outside the releases that write this database's schema (%s); check the hub's version (jupyterhub --version)", v.Raw, rr))
		}
		if hubVersion != "" && hubVersion != v.Raw {
			notes = append(notes, fmt.Sprintf("--release %s overrides the version the hub reports (%s)", v.Raw, hubVersion))
		}
		return r, notes, nil
	}
	if hubVersion != "" {
		v, err := ParseVersion(hubVersion)
		if err != nil {
			return Release{}, nil, fmt.Errorf("the hub reports version %q, which hubcap cannot read; pass --release: %w", hubVersion, err)
		}
		return Release{Version: v.Raw, Source: SourceHubAPI, Exact: true, Query: QueryOf(v)}, nil, nil
	}
	if rrErr != nil {
		return Release{}, nil, rrErr
	}
	if rr == nil {
		return Release{}, nil, fmt.Errorf("%w: no release: pass --release", ErrBadOptions)
	}
	r := Release{Source: SourceRevision, Range: rr}
	if rr.StraddlesFix {
		v, _ := ParseVersion(LastQuadraticRelease)
		r.Version, r.Assumed, r.Query = v.Raw, true, QueryOf(v)
		return r, nil, nil
	}
	v, err := ParseVersion(rr.MaxRelease)
	if err != nil {
		return Release{}, nil, fmt.Errorf("%w: database revision %s names no usable release; pass --release", hubdb.ErrUnknownRevision, rr)
	}
	r.Version, r.Query = v.Raw, QueryOf(v)
	if rr.MinRelease == rr.MaxRelease {
		r.Exact = true
	}
	return r, nil, nil
}
