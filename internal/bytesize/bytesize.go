// Package bytesize is the one home for memory sizes in bytes: Parse reads
// them as Kubernetes quantities ("2Gi", "512Mi", "3G"), Format prints them
// for people with binary units and three significant digits ("2.39 GiB").
// The CLI, the check, the hub harness and the reports all print bytes
// through Format, so a size reads the same everywhere.
package bytesize

import (
	"errors"
	"fmt"
	"math/big"
	"strings"
)

// ErrInvalid reports a memory size that Parse does not accept.
var ErrInvalid = errors.New("invalid memory size")

var sizeSuffixes = map[string]int64{
	"":   1,
	"k":  1e3,
	"K":  1e3, // not Kubernetes syntax, but unambiguous
	"M":  1e6,
	"G":  1e9,
	"T":  1e12,
	"P":  1e15,
	"E":  1e18,
	"Ki": 1 << 10,
	"Mi": 1 << 20,
	"Gi": 1 << 30,
	"Ti": 1 << 40,
	"Pi": 1 << 50,
	"Ei": 1 << 60,
}

// Parse parses a memory size in bytes written as a Kubernetes quantity:
// a non-negative decimal number with an optional fraction or exponent and an
// optional suffix, binary (Ki Mi Gi Ti Pi Ei, powers of 1024) or decimal
// (k M G T P E, powers of 1000). Examples: "2Gi", "512Mi", "3G", "1.5Gi",
// "1500000000", "1e9". A trailing "B" is tolerated ("2GiB"). Fractions of a
// byte round up, as Kubernetes does. "m" (milli) is refused with a hint,
// since "512m" almost always means 512Mi.
func Parse(s string) (int64, error) {
	in := s
	s = strings.TrimSpace(s)
	bad := func(why string) (int64, error) {
		return 0, fmt.Errorf("%w %q: %s (examples: 2Gi, 512Mi, 3G, 1500000000)", ErrInvalid, in, why)
	}
	if s == "" {
		return bad("empty")
	}
	if len(s) > 64 {
		return bad("too long")
	}
	if s[0] == '-' {
		return bad("negative")
	}
	// Split number and suffix.
	i := 0
	for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
		i++
	}
	num, suf := s[:i], s[i:]
	exp := 0
	if len(suf) > 1 && (suf[0] == 'e' || suf[0] == 'E') && (suf[1] >= '0' && suf[1] <= '9' || suf[1] == '+') {
		j := 1
		if suf[j] == '+' {
			j++
		}
		k := j
		for k < len(suf) && suf[k] >= '0' && suf[k] <= '9' {
			k++
		}
		if k == j || k-j > 2 {
			return bad("bad exponent")
		}
		for _, c := range suf[j:k] {
			exp = exp*10 + int(c-'0')
		}
		suf = suf[k:]
	}
	if num == "" || num == "." || strings.Count(num, ".") > 1 {
		return bad("no number")
	}
	if suf != "B" {
		suf = strings.TrimSuffix(suf, "B")
	} else {
		suf = ""
	}
	if suf == "m" {
		return bad(`"m" means milli (1/1000 byte); write Mi for mebibytes or M for megabytes`)
	}
	mult, ok := sizeSuffixes[suf]
	if !ok {
		return bad(fmt.Sprintf("unknown suffix %q", suf))
	}
	r, ok := new(big.Rat).SetString(num)
	if !ok {
		return bad("no number")
	}
	r.Mul(r, new(big.Rat).SetInt64(mult))
	if exp > 0 {
		r.Mul(r, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(exp)), nil)))
	}
	// Round up to whole bytes.
	q, m := new(big.Int).QuoRem(r.Num(), r.Denom(), new(big.Int))
	if m.Sign() != 0 {
		q.Add(q, big.NewInt(1))
	}
	if !q.IsInt64() || q.Int64() > 1<<62 {
		return bad("too large")
	}
	return q.Int64(), nil
}

// Format renders n bytes for people: "512 B", "1.5 KiB", "2.39 GiB"
// (three significant digits, binary units).
func Format(n int64) string {
	if n < 0 {
		return "-" + Format(-n)
	}
	const units = "KMGTPE"
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	v := float64(n)
	u := -1
	for v >= 1024 && u < len(units)-1 {
		v /= 1024
		u++
	}
	prec := 2
	switch {
	case v >= 100:
		prec = 0
	case v >= 10:
		prec = 1
	}
	return fmt.Sprintf("%.*f %ciB", prec, v, units[u])
}
