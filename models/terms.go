package models

import (
	"fmt"
	"strings"
)

// Term is one candidate regressor of the linear model: the constant or one
// of the Shape features.
type Term int

// The candidate terms, in their canonical order. Their String forms ("1",
// "U", "S", "R", "J", "JB", "JP", "LP") are the names used in calibration
// files. The content terms JB, JP and LP are derived in the package
// documentation ("Row content").
const (
	TermConst Term = iota // 1: memory of an empty hub (interpreter, imports)
	TermU                 // U: users (User rows and UserDict wrappers)
	TermS                 // S: spawner rows
	TermR                 // R: running servers (Spawner objects, poll callbacks, routes)
	TermJ                 // J: Σ R_u·S_u joined rows (5.0–5.3 init_spawners)
	TermJB                // JB: JSON text bytes carried by the joined rows (5.0–5.3)
	TermJP                // JP: Python object bytes of the JSON parsed for the joined rows (5.0–5.3)
	TermLP                // LP: Python object bytes of the JSON the linear query parses (3.x–4.x, ≥ 5.4.3)
	numTerms
)

// AllTerms lists every term in canonical order.
var AllTerms = []Term{TermConst, TermU, TermS, TermR, TermJ, TermJB, TermJP, TermLP}

// CountTerms are the terms of the row counts alone, the candidates of a
// calibration whose rows all carry the same content.
var CountTerms = []Term{TermU, TermS, TermR, TermJ}

var termNames = [numTerms]string{"1", "U", "S", "R", "J", "JB", "JP", "LP"}

// String returns the term's name in calibration files.
func (t Term) String() string {
	if t < 0 || int(t) >= len(termNames) {
		return fmt.Sprintf("Term(%d)", int(t))
	}
	return termNames[t]
}

// ParseTerm is the inverse of Term.String.
func ParseTerm(s string) (Term, error) {
	for i, n := range termNames {
		if s == n {
			return Term(i), nil
		}
	}
	return 0, fmt.Errorf("models: unknown term %q; want one of %s", s, strings.Join(termNames[:], ", "))
}

// Weighting chooses the least squares weights.
type Weighting int

const (
	// WeightRelative models noise proportional to the value,
	// Var(y_i) = σ²·μ_i², so that relative errors count equally whether the
	// hub peaked at 60 MiB or 3 GiB (σ is then a relative error). It
	// minimises Σ ((y_i − ŷ_i)/μ_i)² by iteratively reweighted NNLS: weights
	// 1/y_i² first, then twice 1/ŷ_i² from the previous fit (weighting by
	// the noisy y_i alone biases the fit towards low draws). It needs every
	// y_i > 0. The zero value.
	WeightRelative Weighting = iota
	// WeightNone is ordinary least squares, Var(y_i) = σ².
	WeightNone
)

// String returns "relative" or "none", the names in calibration files.
func (w Weighting) String() string {
	switch w {
	case WeightRelative:
		return "relative"
	case WeightNone:
		return "none"
	}
	return fmt.Sprintf("Weighting(%d)", int(w))
}

// ParseWeighting is the inverse of Weighting.String.
func ParseWeighting(s string) (Weighting, error) {
	switch s {
	case "relative":
		return WeightRelative, nil
	case "none":
		return WeightNone, nil
	}
	return 0, fmt.Errorf("models: unknown weighting %q; want relative or none", s)
}

func termStrings(ts []Term) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.String()
	}
	return out
}
