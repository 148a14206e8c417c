package hubdb

import (
	"fmt"
	"strconv"
	"strings"
)

// FixRelease is the first JupyterHub release whose start-up
// (JupyterHub.init_spawners) loads spawners in linear time without the
// 5.4.0–5.4.2 regression (upstream PR #5236, issue #5211). Releases
// 5.0.0b1 … 5.3.0 run the quadratic J = Σ R_u·S_u join.
const FixRelease = "5.4.3"

// ReleaseRange is what a database's alembic revision says about the hub that
// wrote it. Several releases share a schema head, so the answer is a range.
type ReleaseRange struct {
	// Revision is the alembic_version.version_num found in the database.
	Revision string `json:"revision"`
	// MinRelease is the oldest release whose migration head is Revision
	// ("6.0.0.dev" for revisions that were only ever the head of the main
	// branch between releases).
	MinRelease string `json:"min_release"`
	// MaxRelease is the newest release known to this package whose head is
	// Revision. Releases newer than the table may share the revision.
	MaxRelease string `json:"max_release"`
	// StraddlesFix is true when the range contains releases on both sides of
	// FixRelease: the database alone cannot tell whether the hub's start-up
	// is quadratic, so the caller must ask the user for --release.
	StraddlesFix bool `json:"straddles_fix"`
	// Note is a one-line remark on the range for people.
	Note string `json:"note,omitempty"`
}

// String is "5.0.0b1 … 5.5.1 (alembic 4621fec11365)".
func (r ReleaseRange) String() string {
	rel := r.MinRelease
	if r.MaxRelease != r.MinRelease {
		rel += " … " + r.MaxRelease
	}
	return fmt.Sprintf("%s (alembic %s)", rel, r.Revision)
}

// Contains reports whether release (e.g. "5.3.0", "6.0.0b1") lies in
// [MinRelease, MaxRelease]. Unparsable releases are not contained.
func (r ReleaseRange) Contains(release string) bool {
	v, err := parseRelease(release)
	if err != nil {
		return false
	}
	lo, err1 := parseRelease(r.MinRelease)
	hi, err2 := parseRelease(r.MaxRelease)
	if err1 != nil || err2 != nil {
		return false
	}
	return lo.compare(v) <= 0 && v.compare(hi) <= 0
}

// revisions maps each alembic head revision to the JupyterHub releases that
// ship it as head.
//
// Source: upstream github.com/jupyterhub/jupyterhub, the files
// jupyterhub/alembic/versions/*.py at every release tag (0.7.0 … 6.0.0b2,
// mirror HEAD 2841153d of 2026-08-20): for each tag, the head is the one
// revision that no other file names as down_revision. Heads by tag:
//
//	af4cbdb2d13c  0.7.0 – 0.7.2
//	3ec6993fe20c  0.8.0b1 – 0.8.1
//	896818069c98  0.9.0b2 – 0.9.6   (0.9.0b1: d68c98b66cd4)
//	4dc2d5a8c53c  1.0.0b1 – 1.5.1
//	833da8570507  2.0.0b1 – 2.3.1
//	651f5419b74d  3.0.0b1 – 3.1.1
//	0eee8c825d24  4.0.0b1 – 4.1.6
//	4621fec11365  5.0.0b1 – 5.5.1   (every 5.x: quadratic 5.0–5.3, 5.4.0–5.4.2 buggy, fixed from 5.4.3)
//	f460b0348206  6.0.0b1 – 6.1.1
//
// The mirror ends at 6.0.0b2; 6.1.1's head, read from the installed
// jupyterhub==6.1.1 (its alembic/versions), is f460b0348206 again. Alembic
// heads only move forward along one chain, so every release between them
// (6.0.0, 6.0.x, 6.1.0) has that head too. TestInstalledHeads checks the
// table against every release setup installs.
//
// Between 5.x and 6.0.0b1 the main branch had three more heads, never
// released: be8ecf03ddac (service timeout, PR #5207 merged 2025-12-02),
// afd65840b69e (PKCE, PR #4936, 2026-03-17), ff1860e38070 (user info,
// PR #5317, 2026-04-30). The init_spawners fix reached main with PR #5236 on
// 2025-12-11 (#5109's linear query already on 2025-07-28), so only
// be8ecf03ddac builds can predate it.
var revisions = map[string]ReleaseRange{
	"af4cbdb2d13c": {MinRelease: "0.7.0", MaxRelease: "0.7.2"},
	"3ec6993fe20c": {MinRelease: "0.8.0b1", MaxRelease: "0.8.1"},
	"d68c98b66cd4": {MinRelease: "0.9.0b1", MaxRelease: "0.9.0b1"},
	"896818069c98": {MinRelease: "0.9.0b2", MaxRelease: "0.9.6"},
	"4dc2d5a8c53c": {MinRelease: "1.0.0b1", MaxRelease: "1.5.1"},
	"833da8570507": {MinRelease: "2.0.0b1", MaxRelease: "2.3.1"},
	"651f5419b74d": {MinRelease: "3.0.0b1", MaxRelease: "3.1.1"},
	"0eee8c825d24": {MinRelease: "4.0.0b1", MaxRelease: "4.1.6",
		Note: "start-up loads spawners with N+1 queries: linear"},
	"4621fec11365": {MinRelease: "5.0.0b1", MaxRelease: "5.5.1", StraddlesFix: true,
		Note: "every 5.x release: 5.0.0b1–5.3.0 load J = Σ R_u·S_u rows at start-up, 5.4.0–5.4.2 are linear but drop stopped named servers, 5.4.3+ are fixed"},
	"be8ecf03ddac": {MinRelease: "6.0.0.dev", MaxRelease: "6.0.0.dev", StraddlesFix: true,
		Note: "a main-branch build of December 2025, before or after the start-up fix (PR #5236)"},
	"afd65840b69e": {MinRelease: "6.0.0.dev", MaxRelease: "6.0.0.dev",
		Note: "a main-branch build between March and April 2026"},
	"ff1860e38070": {MinRelease: "6.0.0.dev", MaxRelease: "6.0.0.dev",
		Note: "a main-branch build between April and August 2026"},
	"f460b0348206": {MinRelease: "6.0.0b1", MaxRelease: "6.1.1"},
}

// LookupRevision returns the release range of an alembic revision. It fails
// with ErrUnknownRevision for revisions not in the table.
func LookupRevision(rev string) (ReleaseRange, error) {
	r, ok := revisions[rev]
	if !ok {
		return ReleaseRange{Revision: rev}, fmt.Errorf(
			"%w: alembic revision %q is not one this hubcap knows (its table ends at JupyterHub 6.1.1); pass --release explicitly (the hub's version: jupyterhub --version in the hub pod, or GET /hub/api/)",
			ErrUnknownRevision, rev)
	}
	r.Revision = rev
	return r, nil
}

// release is a parsed version: major.minor.patch plus a pre-release stage
// (dev < a < b < rc < final) and number.
type release struct {
	major, minor, patch int
	stage               int // 0 dev, 1 a, 2 b, 3 rc, 4 final
	n                   int
}

func parseRelease(s string) (release, error) {
	var r release
	bad := fmt.Errorf("release %q: write it as 5.3.0 or 6.0.0b1", s)
	s = strings.TrimPrefix(s, "v")
	nums, suffix := s, ""
	for i, c := range s {
		if c != '.' && (c < '0' || c > '9') {
			nums, suffix = s[:i], s[i:]
			break
		}
	}
	nums = strings.TrimSuffix(nums, ".")
	parts := strings.Split(nums, ".")
	if len(parts) < 2 || len(parts) > 3 {
		return r, bad
	}
	v := [3]int{}
	for i, p := range parts {
		x, err := strconv.Atoi(p)
		if err != nil || x < 0 || len(p) > 6 {
			return r, bad
		}
		v[i] = x
	}
	r.major, r.minor, r.patch = v[0], v[1], v[2]
	r.stage = 4
	if suffix == "" {
		return r, nil
	}
	for _, st := range []struct {
		p     string
		stage int
	}{{"dev", 0}, {"rc", 3}, {"a", 1}, {"b", 2}} {
		if num, ok := strings.CutPrefix(suffix, st.p); ok {
			r.stage = st.stage
			if num == "" {
				return r, nil
			}
			x, err := strconv.Atoi(num)
			if err != nil || x < 0 || len(num) > 6 {
				return r, bad
			}
			r.n = x
			return r, nil
		}
	}
	return r, bad
}

func (r release) compare(o release) int {
	for _, d := range [...]int{r.major - o.major, r.minor - o.minor, r.patch - o.patch, r.stage - o.stage, r.n - o.n} {
		if d != 0 {
			if d < 0 {
				return -1
			}
			return 1
		}
	}
	return 0
}
