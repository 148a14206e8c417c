package bytesize

import (
	"errors"
	"strconv"
	"testing"
)

func TestParseSize(t *testing.T) {
	cases := []struct {
		in   string
		want int64
	}{
		{"2Gi", 2 << 30},
		{"512Mi", 512 << 20},
		{"3G", 3e9},
		{"1500000000", 1500000000},
		{"1.5Gi", 3 << 29},
		{"1e9", 1e9},
		{"1E3", 1000},
		{"64Ki", 65536},
		{"100k", 100000},
		{"2GiB", 2 << 30}, // tolerated trailing B
		{"100B", 100},
		{" 7Mi ", 7 << 20},
		{"0", 0},
		{"0.5", 1}, // fractions of a byte round up, as Kubernetes does
		{"1.0000001k", 1001},
		{"4Ei", 4 << 60},
	}
	for _, c := range cases {
		got, err := Parse(c.in)
		if err != nil || got != c.want {
			t.Errorf("Parse(%q) = %d, %v; want %d", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"", "-1Gi", "Gi", "1.2.3", "12Q", "512m", "1e999", "8Ei", "1 Gi x", ".", "+1"} {
		if v, err := Parse(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("Parse(%q) = %d, %v; want ErrInvalid", bad, v, err)
		}
	}
}

func TestFormatBytes(t *testing.T) {
	cases := map[int64]string{0: "0 B", 1023: "1023 B", 1536: "1.50 KiB", 271 << 20: "271 MiB",
		2566914048: "2.39 GiB", 10 << 30: "10.0 GiB", -2048: "-2.00 KiB"}
	for n, want := range cases {
		if got := Format(n); got != want {
			t.Errorf("Format(%d) = %q, want %q", n, got, want)
		}
	}
}

func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"2Gi", "512Mi", "3G", "1500000000", "1.5e3Ki", "0.1", "9Ei", "1e18"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := Parse(s)
		if err != nil {
			return
		}
		if v < 0 {
			t.Fatalf("Parse(%q) = %d < 0", s, v)
		}
		// A plain byte count of the result parses back to itself.
		if w, err := Parse(strconv.FormatInt(v, 10)); err != nil || w != v {
			t.Fatalf("round trip of %d: %d, %v", v, w, err)
		}
		_ = Format(v)
	})
}
