package reports

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/hubcap-dev/hubcap/internal/bytesize"
)

// fmtBytes prints bytes with binary units and three significant digits
// ("2.39 GiB", bytesize.Format) and the report's typography: "−" for a
// negative value, "–" when not finite.
func fmtBytes(b float64) string {
	if !finite(b) {
		return "–"
	}
	s := bytesize.Format(int64(math.Round(math.Abs(b))))
	if b < 0 {
		s = "−" + s
	}
	return s
}

// sig3 prints v with three significant digits, without exponent for v < 1e6.
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

// fmtMs prints a duration given in milliseconds ("850 ms", "12.3 s", "4.2 min").
func fmtMs(ms float64) string {
	switch {
	case !finite(ms):
		return "–"
	case math.Abs(ms) < 1000:
		return sig3(ms) + " ms"
	case math.Abs(ms) < 120000:
		return sig3(ms/1000) + " s"
	}
	return sig3(ms/60000) + " min"
}

// fmtCount prints a count with thousands separators; fractions keep 3 significant digits.
func fmtCount(v float64) string {
	if !finite(v) {
		return "–"
	}
	if v != math.Trunc(v) && math.Abs(v) < 1000 {
		return sig3(v)
	}
	s := strconv.FormatFloat(math.Round(v), 'f', 0, 64)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "−" + b.String()
	}
	return b.String()
}

// fmtDuration prints a run length ("1h02m05s", "12m30s", "45s").
func fmtDuration(d time.Duration) string {
	d = d.Round(time.Second)
	h, m, s := int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60
	switch {
	case h > 0:
		return strconv.Itoa(h) + "h" + pad2(m) + "m" + pad2(s) + "s"
	case m > 0:
		return strconv.Itoa(m) + "m" + pad2(s) + "s"
	}
	return strconv.Itoa(s) + "s"
}

func pad2(v int) string {
	if v < 10 {
		return "0" + strconv.Itoa(v)
	}
	return strconv.Itoa(v)
}

// fmtPct prints a fraction as a percentage with one decimal.
func fmtPct(f float64) string {
	if !finite(f) {
		return "–"
	}
	return strconv.FormatFloat(100*f, 'f', 1, 64) + "%"
}

// round returns v rounded to sig significant digits (for compact, stable chart data).
func round(v float64, sig int) float64 {
	if v == 0 || !finite(v) {
		return v
	}
	f, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'g', sig, 64), 64)
	return f
}
