package check

import (
	"errors"
	"testing"

	"github.com/hubcap-dev/hubcap/internal/hubdb"
)

func TestParseVersion(t *testing.T) {
	cases := []struct {
		in                string
		maj, min, pat, st int
		n                 int
		ok                bool
	}{
		{"5.3.0", 5, 3, 0, 4, 0, true},
		{"v5.5.1", 5, 5, 1, 4, 0, true},     // a tag name
		{"5.5", 5, 5, 0, 4, 0, true},        // patch omitted
		{"6.0.0b2", 6, 0, 0, 2, 2, true},    // beta
		{"5.4.3rc1", 5, 4, 3, 3, 1, true},   // release candidate
		{"6.0.0.dev", 6, 0, 0, 0, 0, true},  // hubdb's main-branch range
		{"6.0.0.dev0", 6, 0, 0, 0, 0, true}, // PEP 440 dev
		{"5.3.0+local", 5, 3, 0, 4, 0, true},
		{" 5.3.0\n", 5, 3, 0, 4, 0, true}, // pasted from jupyterhub --version
		{"5", 0, 0, 0, 0, 0, false},
		{"5.3.0.1", 0, 0, 0, 0, 0, false},
		{"latest", 0, 0, 0, 0, 0, false},
		{"5.3.0x", 0, 0, 0, 0, 0, false},
		{"", 0, 0, 0, 0, 0, false},
	}
	for _, c := range cases {
		v, err := ParseVersion(c.in)
		if (err == nil) != c.ok {
			t.Errorf("ParseVersion(%q) error %v, want ok=%v", c.in, err, c.ok)
			continue
		}
		if !c.ok {
			if !errors.Is(err, ErrBadOptions) {
				t.Errorf("ParseVersion(%q) error %v does not wrap ErrBadOptions", c.in, err)
			}
			continue
		}
		if v.Major != c.maj || v.Minor != c.min || v.Patch != c.pat || v.Stage != c.st || v.N != c.n {
			t.Errorf("ParseVersion(%q) = %+v", c.in, v)
		}
	}
}

func TestVersionOrder(t *testing.T) {
	// Each is older than the next.
	order := []string{"4.1.6", "5.0.0.dev", "5.0.0a1", "5.0.0b1", "5.0.0rc1", "5.0.0", "5.3.0", "5.4.3", "5.5.1", "6.0.0b1", "6.0.0b2", "6.0.0"}
	for i := 1; i < len(order); i++ {
		a, _ := ParseVersion(order[i-1])
		b, _ := ParseVersion(order[i])
		if a.Compare(b) >= 0 || b.Compare(a) <= 0 {
			t.Errorf("%s should be older than %s", order[i-1], order[i])
		}
	}
}

func TestQueryOf(t *testing.T) {
	cases := []struct {
		release string
		want    Query
	}{
		{"3.0.0", QueryLinearN1},
		{"4.1.6", QueryLinearN1},        // N+1 lazy loads
		{"5.0.0b1", QueryQuadratic},     // the joinedload query arrived in 5.0.0b1
		{"5.0.0", QueryQuadratic},       //
		{"5.3.0", QueryQuadratic},       // the incident's release
		{"5.4.0", QueryLinearBuggy},     // PR #5109
		{"5.4.2", QueryLinearBuggy},     // issue #5211
		{"5.4.3", QueryLinear},          // PR #5236 = hubdb.FixRelease
		{"5.5.1", QueryLinear},          //
		{"6.0.0b2", QueryLinear},        //
		{"6.0.0.dev", QueryLinear},      // main after the fix
		{hubdb.FixRelease, QueryLinear}, // the constant agrees
	}
	for _, c := range cases {
		v, err := ParseVersion(c.release)
		if err != nil {
			t.Fatal(err)
		}
		if got := QueryOf(v); got != c.want {
			t.Errorf("QueryOf(%s) = %s, want %s", c.release, got, c.want)
		}
	}
}

func TestResolveRelease(t *testing.T) {
	fiveX, _ := hubdb.LookupRevision("4621fec11365")
	fourX, _ := hubdb.LookupRevision("0eee8c825d24")
	_, unknownErr := hubdb.LookupRevision("deadbeefcafe")
	cases := []struct {
		name       string
		flag, hub  string
		rr         *hubdb.ReleaseRange
		rrErr      error
		want       Release
		wantErr    error
		wantNotes  int
		wantQuery  Query
		wantAssume bool
	}{
		// The flag wins over a database's range, and a flag inside it is silent.
		{name: "flag over db", flag: "5.5.1", rr: &fiveX, want: Release{Version: "5.5.1", Source: SourceFlag, Exact: true}, wantQuery: QueryLinear},
		// A flag outside the range is taken but noted.
		{name: "flag outside range", flag: "4.1.6", rr: &fiveX, want: Release{Version: "4.1.6", Source: SourceFlag, Exact: true}, wantQuery: QueryLinearN1, wantNotes: 1},
		// A flag over the hub's own answer is noted.
		{name: "flag over hub", flag: "5.3.0", hub: "5.5.1", want: Release{Version: "5.3.0", Source: SourceFlag, Exact: true}, wantQuery: QueryQuadratic, wantNotes: 1},
		// The hub's version is exact.
		{name: "hub", hub: "5.3.0", want: Release{Version: "5.3.0", Source: SourceHubAPI, Exact: true}, wantQuery: QueryQuadratic},
		// Every 5.x database straddles the fix: the worst case is assumed.
		{name: "5.x db", rr: &fiveX, want: Release{Version: LastQuadraticRelease, Source: SourceRevision, Assumed: true}, wantQuery: QueryQuadratic, wantAssume: true},
		// A 4.x database is linear whichever 4.x wrote it.
		{name: "4.x db", rr: &fourX, want: Release{Version: "4.1.6", Source: SourceRevision}, wantQuery: QueryLinearN1},
		// An unknown revision needs --release.
		{name: "unknown revision", rr: &hubdb.ReleaseRange{Revision: "deadbeefcafe"}, rrErr: unknownErr, wantErr: hubdb.ErrUnknownRevision},
		// ... which then settles it.
		{name: "unknown revision + flag", flag: "5.3.0", rr: &hubdb.ReleaseRange{Revision: "deadbeefcafe"}, rrErr: unknownErr, want: Release{Version: "5.3.0", Source: SourceFlag, Exact: true}, wantQuery: QueryQuadratic},
		// A bad flag is a usage error.
		{name: "bad flag", flag: "five", rr: &fiveX, wantErr: ErrBadOptions},
		// A hub answering a version check cannot read asks for --release.
		{name: "odd hub version", hub: "unreleased", wantErr: ErrBadOptions},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, notes, err := ResolveRelease(c.flag, c.hub, c.rr, c.rrErr)
			if c.wantErr != nil {
				if !errors.Is(err, c.wantErr) {
					t.Fatalf("error %v, want %v", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Version != c.want.Version || got.Source != c.want.Source || got.Exact != c.want.Exact || got.Assumed != c.wantAssume || got.Query != c.wantQuery {
				t.Errorf("got %+v, want %+v query %s assumed %v", got, c.want, c.wantQuery, c.wantAssume)
			}
			if len(notes) != c.wantNotes {
				t.Errorf("notes %q, want %d", notes, c.wantNotes)
			}
		})
	}
}

// FuzzParseVersion: --release and the hub's /hub/api/ answer are outside
// input. Parsing never panics, and an accepted version compares equal to
// itself and keeps its parts in range.
func FuzzParseVersion(f *testing.F) {
	for _, s := range []string{"5.3.0", "6.0.0b2", "6.0.0.dev", "v5.4.3rc1", "5.5", "", "..", "5.3.0+x", "1.2.3a999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseVersion(s)
		if err != nil {
			return
		}
		if v.Compare(v) != 0 || v.Major < 0 || v.Minor < 0 || v.Patch < 0 || v.Stage < 0 || v.Stage > 4 || v.N < 0 {
			t.Fatalf("ParseVersion(%q) = %+v", s, v)
		}
		_ = QueryOf(v)
	})
}
