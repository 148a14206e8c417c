package executor

import (
	"errors"
	"testing"
)

func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"90s", "1h30m", "500ms", "2d", "1d12h", "250", "-1s", "d", "1.5", "9999999999999999999d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDuration(s)
		if err == nil && d < 0 && s != "" && s[0] != '-' {
			t.Fatalf("%q parsed to negative %v", s, d)
		}
	})
}

func FuzzParseSegment(f *testing.F) {
	for _, s := range []string{"", "1/2", "1/2:1", "0.25:50%", "1:1/2", "a:b", "0:1/3", "2/3:1"} {
		f.Add(s, "0,1/3,2/3,1")
	}
	f.Fuzz(func(t *testing.T, seg, seq string) {
		s, err := ParseSegment(seg)
		if err != nil {
			if !errors.Is(err, ErrSegment) {
				t.Fatalf("error without ErrSegment: %v", err)
			}
			return
		}
		if s.From.Sign() < 0 || s.From.Cmp(s.To) >= 0 || s.To.Cmp(FullSegment().To) > 0 {
			t.Fatalf("accepted bad segment %s from %q", s, seg)
		}
		q, err := ParseSequence(seq)
		if err != nil {
			return
		}
		tu, err := NewTuple(s, q)
		if err != nil || tu.lcd > 1<<20 {
			return
		}
		// Scale never exceeds the value, and Global enumerates ascending.
		if n := tu.Scale(100); n < 0 || n > 100 {
			t.Fatalf("Scale(100) = %d", n)
		}
		prev := int64(-1)
		for k := range tu.Scale(50) {
			g := tu.Global(k)
			if g <= prev || g >= 50 {
				t.Fatalf("Global(%d) = %d after %d", k, g, prev)
			}
			prev = g
		}
	})
}
