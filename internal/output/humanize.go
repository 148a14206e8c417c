package output

import (
	"math"
	"strconv"
	"strings"

	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/samples"
)

// HumanizeValue formats a metric value the way k6's summary does: rates as
// percentages, time in ms as a duration (or in a fixed unit "s", "ms",
// "us" when timeUnit is set), data as bytes, other values with up to 6
// decimals.
func HumanizeValue(v float64, m samples.Metric, timeUnit string) string {
	if m.Kind == samples.Rate {
		return toFixed(math.Trunc(v*100*100)/100, 2) + "%"
	}
	switch m.Contains {
	case samples.Data:
		return humanizeBytes(v)
	case samples.Time:
		return humanizeDuration(v, timeUnit)
	}
	return fixedNoTrailingZeros(v, 6)
}

// fixedNoTrailingZeros rounds to prec decimals and drops trailing zeros
// (JavaScript's parseFloat(v.toFixed(prec)).toString()).
func fixedNoTrailingZeros(v float64, prec int) string {
	f, _ := strconv.ParseFloat(toFixed(v, prec), 64)
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// toFixed is JavaScript's Number.prototype.toFixed: halves round away from
// zero (Go's formatting rounds them to even).
func toFixed(v float64, prec int) string {
	m := math.Pow(10, float64(prec))
	if r := math.Round(v*m) / m; !math.IsInf(r, 0) && !math.IsNaN(r) {
		v = r
	}
	return strconv.FormatFloat(v, 'f', prec, 64)
}

func fixedNoTrailingZerosTrunc(v float64, prec int) string {
	mult := math.Pow(10, float64(prec))
	return fixedNoTrailingZeros(math.Trunc(mult*v)/mult, prec)
}

func humanizeBytes(b float64) string {
	units := []string{"B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"}
	if b < 10 {
		return strconv.FormatFloat(b, 'f', -1, 64) + " B"
	}
	e := math.Floor(math.Log(b) / math.Log(1000))
	e = math.Min(e, float64(len(units)-1))
	val := math.Floor(b/math.Pow(1000, e)*10+0.5) / 10
	prec := 0
	if val < 10 {
		prec = 1
	}
	return toFixed(val, prec) + " " + units[int(e)]
}

// humanizeDuration formats a duration given in milliseconds.
func humanizeDuration(ms float64, timeUnit string) string {
	switch timeUnit {
	case "s":
		return toFixed(ms*0.001, 2) + "s"
	case "ms":
		return toFixed(ms, 2) + "ms"
	case "us":
		return toFixed(ms*1000, 2) + "µs"
	}
	switch {
	case ms == 0:
		return "0s"
	case math.Abs(ms) < 0.001:
		return strconv.FormatInt(int64(ms*1e6), 10) + "ns"
	case math.Abs(ms) < 1:
		return fixedNoTrailingZerosTrunc(ms*1000, 2) + "µs"
	case math.Abs(ms) < 1000:
		return fixedNoTrailingZerosTrunc(ms, 2) + "ms"
	}
	prec := 2
	if ms > 60000 {
		prec = 0
	}
	res := fixedNoTrailingZerosTrunc(math.Mod(ms, 60000)/1000, prec) + "s"
	rem := math.Trunc(ms / 60000)
	if rem < 1 {
		return res
	}
	res = strconv.FormatInt(int64(rem)%60, 10) + "m" + res
	rem = math.Trunc(rem / 60)
	if rem < 1 {
		return res
	}
	return strconv.FormatInt(int64(rem), 10) + "h" + res
}

// strWidth is the display width of s ignoring ANSI escapes (each rune one
// column).
func strWidth(s string) int {
	w := 0
	inEsc := false
	for _, r := range s {
		switch {
		case r == '\x1b':
			inEsc = true
		case inEsc:
			if r >= 0x40 && r <= 0x7e && r != '[' {
				inEsc = false
			}
		default:
			w++
		}
	}
	return w
}

func pad(s string, width int) string {
	if n := width - strWidth(s); n > 0 {
		return s + strings.Repeat(" ", n)
	}
	return s
}
