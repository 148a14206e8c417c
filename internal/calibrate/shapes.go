package calibrate

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/hubcap-dev/hubcap/models"
)

// NamedShape is a database shape with a label for reports.
type NamedShape struct {
	Label string       `json:"label"`
	Shape models.Shape `json:"shape"`
}

// Incident is the field incident's database: 736 running servers and
// 1,746 spawner rows (see the facts note).
const (
	IncidentRunning = 736
	IncidentRows    = 1746
)

// IncidentSpreads are the fractions of the incident's servers and rows
// held by one heavy user that the "incident" shape spec covers, from all
// on one user to an even spread.
var IncidentSpreads = []float64{1, 0.9, 0.75, 0.5, 0.25, 0.1, 0}

// ParseShapes reads a fixed-shape spec for predictions:
//
//	one-user:K       one user with K running named servers (models.OneUser)
//	even:N:K         N users, each with K running named servers
//	spread:R:S:H     R running servers, S spawner rows, one user holding the
//	                 fraction H of both, the rest one running server per user (Spread)
//	incident         spread:736:1746:H for every H of IncidentSpreads
//	U,S,R,J          the four features given directly (checked for consistency)
func ParseShapes(spec string) ([]NamedShape, error) {
	return ParseShapesWith(spec, models.RowContent{})
}

// ParseShapesWith is ParseShapes with every row of the families carrying c
// (a U,S,R,J spec has no content).
func ParseShapesWith(spec string, c models.RowContent) ([]NamedShape, error) {
	bad := func(why string) ([]NamedShape, error) {
		return nil, fmt.Errorf("%w: %q: %s", ErrFamily, spec, why)
	}
	atoi := func(s string, lo, hi int) (int, bool) {
		n, err := strconv.Atoi(s)
		return n, err == nil && n >= lo && n <= hi
	}
	parts := strings.Split(spec, ":")
	switch parts[0] {
	case "incident":
		if len(parts) != 1 {
			return bad("incident takes no arguments")
		}
		var out []NamedShape
		for _, h := range IncidentSpreads {
			out = append(out, NamedShape{Label: spreadLabel(h), Shape: SpreadWith(IncidentRunning, IncidentRows, h, c)})
		}
		return out, nil
	case "one-user":
		if len(parts) != 2 {
			return bad("want one-user:K")
		}
		k, ok := atoi(parts[1], 0, 10_000_000)
		if !ok {
			return bad("K must be an integer in 0..10,000,000")
		}
		return []NamedShape{{Label: spec, Shape: models.OneUserWith(k, c)}}, nil
	case "even":
		if len(parts) != 3 {
			return bad("want even:N:K (N users with K servers each)")
		}
		n, ok1 := atoi(parts[1], 1, 10_000_000)
		k, ok2 := atoi(parts[2], 0, 10_000_000)
		if !ok1 || !ok2 {
			return bad("N must be 1..10,000,000 and K 0..10,000,000")
		}
		return []NamedShape{{Label: spec, Shape: Family{Users: n, Content: c}.Shape(k)}}, nil
	case "spread":
		if len(parts) != 4 {
			return bad("want spread:R:S:H (running, rows, heavy user's fraction)")
		}
		r, ok1 := atoi(parts[1], 0, 10_000_000)
		s, ok2 := atoi(parts[2], 0, 10_000_000)
		h, err := strconv.ParseFloat(parts[3], 64)
		if !ok1 || !ok2 || s < r || err != nil || !(h >= 0 && h <= 1) {
			return bad("want 0 ≤ R ≤ S ≤ 10,000,000 and 0 ≤ H ≤ 1")
		}
		return []NamedShape{{Label: spec, Shape: SpreadWith(r, s, h, c)}}, nil
	}
	if f := strings.Split(spec, ","); len(f) == 4 {
		var v [4]float64
		for i, x := range f {
			n, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
			if err != nil || n < 0 || n > 1e15 {
				return bad("U,S,R,J must be four numbers ≥ 0")
			}
			v[i] = n
		}
		sh := models.Shape{U: v[0], S: v[1], R: v[2], J: v[3]}
		if errs := sh.Validate(); len(errs) > 0 {
			return bad(fmt.Sprint(errs[0]))
		}
		return []NamedShape{{Label: spec, Shape: sh}}, nil
	}
	return bad("want one-user:K, even:N:K, spread:R:S:H, incident or U,S,R,J")
}

func spreadLabel(h float64) string {
	switch h {
	case 1:
		return "all on one user"
	case 0:
		return "even (1 server/user)"
	}
	return fmt.Sprintf("heavy user %.0f%%", 100*h)
}
