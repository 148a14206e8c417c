package capreport

import (
	"math"
	"strconv"
	"strings"
)

// fmtBytes prints bytes with a binary unit and three significant digits
// ("2.39 GiB", "612 MiB").
func fmtBytes(b float64) string {
	if math.IsNaN(b) || math.IsInf(b, 0) {
		return "–"
	}
	units := []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB"}
	neg := b < 0
	b = math.Abs(b)
	i := 0
	for b >= 1024 && i < len(units)-1 {
		b /= 1024
		i++
	}
	s := sig3(b) + " " + units[i]
	if i == 0 {
		s = strconv.FormatFloat(b, 'f', 0, 64) + " B"
	}
	if neg {
		s = "-" + s
	}
	return s
}

// sig3 prints v with about three significant digits.
func sig3(v float64) string {
	switch a := math.Abs(v); {
	case a >= 100 || a == 0:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case a >= 1:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}

// fmtNum prints a count with thousands separators, or a fraction with three
// significant digits.
func fmtNum(v float64) string {
	switch {
	case math.IsNaN(v):
		return "–"
	case math.IsInf(v, 1):
		return "∞"
	case math.IsInf(v, -1):
		return "-∞"
	case v != math.Trunc(v) && math.Abs(v) < 1000:
		return sig3(v)
	}
	s := strconv.FormatFloat(math.Round(v), 'f', 0, 64)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// fmtMs prints milliseconds ("850 ms", "12.3 s", "4.20 min").
func fmtMs(ms float64) string {
	switch {
	case math.IsNaN(ms) || math.IsInf(ms, 0):
		return "–"
	case math.Abs(ms) < 1000:
		return sig3(ms) + " ms"
	case math.Abs(ms) < 120_000:
		return sig3(ms/1000) + " s"
	}
	return sig3(ms/60_000) + " min"
}
