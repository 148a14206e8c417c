package hubdb

import (
	"errors"
	"strings"
	"testing"
)

// TestRevisionTable checks the table is consistent with itself: ranges are
// ordered, and StraddlesFix is exactly "the range has releases before and
// from FixRelease" for released ranges (dev-only ranges are set by hand from
// the merge dates in the table's comment).
func TestRevisionTable(t *testing.T) {
	fix, err := parseRelease(FixRelease)
	if err != nil {
		t.Fatal(err)
	}
	for rev, r := range revisions {
		if len(rev) != 12 || strings.Trim(rev, "0123456789abcdef") != "" {
			t.Errorf("revision %q is not a 12-digit hex alembic id", rev)
		}
		lo, err1 := parseRelease(r.MinRelease)
		hi, err2 := parseRelease(r.MaxRelease)
		if err1 != nil || err2 != nil {
			t.Errorf("%s: %v %v", rev, err1, err2)
			continue
		}
		if lo.compare(hi) > 0 {
			t.Errorf("%s: MinRelease %s > MaxRelease %s", rev, r.MinRelease, r.MaxRelease)
		}
		if lo.stage == 0 { // dev builds
			continue
		}
		straddles := lo.compare(fix) < 0 && fix.compare(hi) <= 0
		if straddles != r.StraddlesFix {
			t.Errorf("%s: StraddlesFix = %v, but [%s, %s] vs %s says %v", rev, r.StraddlesFix, r.MinRelease, r.MaxRelease, FixRelease, straddles)
		}
	}
	// Released ranges do not overlap: one release, one head.
	for a, ra := range revisions {
		for b, rb := range revisions {
			if a < b && (ra.Contains(rb.MinRelease) || rb.Contains(ra.MinRelease)) && !strings.Contains(ra.MinRelease, "dev") {
				t.Errorf("ranges of %s %v and %s %v overlap", a, ra, b, rb)
			}
		}
	}
}

// TestLookupRevision: the releases users ask about map to the right head.
func TestLookupRevision(t *testing.T) {
	for _, c := range []struct {
		release, rev string
		straddles    bool
	}{
		{"4.1.6", "0eee8c825d24", false}, // linear N+1 start-up
		{"5.3.0", "4621fec11365", true},  // quadratic, same head as the fixed 5.5.1
		{"5.5.1", "4621fec11365", true},
		{"6.0.0b2", "f460b0348206", false},
		{"6.0.0", "f460b0348206", false},
		{"6.1.1", "f460b0348206", false}, // current release (Oct 2026)
	} {
		r, err := LookupRevision(c.rev)
		if err != nil {
			t.Fatal(err)
		}
		if !r.Contains(c.release) || r.StraddlesFix != c.straddles || r.Revision != c.rev {
			t.Errorf("%s → %+v; want it to contain %s, straddles %v", c.rev, r, c.release, c.straddles)
		}
	}
	_, err := LookupRevision("abcdef012345")
	if !errors.Is(err, ErrUnknownRevision) || !strings.Contains(err.Error(), "abcdef012345") || !strings.Contains(err.Error(), "--release") {
		t.Errorf("unknown revision: %v", err)
	}
}

func TestParseRelease(t *testing.T) {
	ordered := []string{"4.1.6", "5.0.0.dev", "5.0.0a1", "5.0.0b1", "5.0.0b2", "5.0.0rc1", "5.0.0", "5.3.0", "5.4.3", "5.10.0", "6.0.0b1"}
	for i := range ordered {
		for j := range ordered {
			a, err1 := parseRelease(ordered[i])
			b, err2 := parseRelease(ordered[j])
			if err1 != nil || err2 != nil {
				t.Fatalf("%v %v", err1, err2)
			}
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			if got := a.compare(b); got != want {
				t.Errorf("compare(%s, %s) = %d, want %d", ordered[i], ordered[j], got, want)
			}
		}
	}
	for _, bad := range []string{"", "5", "five", "5.x.0", "5.0.0-beta", "1.2.3.4", "5.0.0b1x"} {
		if _, err := parseRelease(bad); err == nil {
			t.Errorf("parseRelease(%q) accepted", bad)
		}
	}
}

func FuzzParseRelease(f *testing.F) {
	for _, s := range []string{"5.3.0", "6.0.0b1", "5.0.0.dev", "v4.1.6", "5.4", "1.2.3rc10"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := parseRelease(s)
		if err != nil {
			return
		}
		if r.compare(r) != 0 {
			t.Errorf("%q does not equal itself", s)
		}
		rr := ReleaseRange{MinRelease: s, MaxRelease: s}
		if !rr.Contains(s) {
			t.Errorf("[%q, %q] does not contain %q", s, s, s)
		}
	})
}
