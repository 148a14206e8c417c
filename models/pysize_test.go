package models

import (
	"errors"
	"strings"
	"testing"
)

// Reference values: sys.getsizeof in the JupyterHub 5.3.0 venv's CPython
// 3.11.7 (64-bit), objects made by json.loads:
//
//	{k: "v" for n keys}: n=0 64, 1–5 184, 6–10 272, 11–21 464, 22–42 832, 43–85 1584, 86–170 3328
//	list of n ints ≥ 1000: n=0 56, 1 88, 5 120, 9 184, 17 248, 100 920
//	"" 49, "a" 50, "é" 74, "€" 76, 1000 28, 2**40 32, 1.5 24
func TestPyContainerSizes(t *testing.T) {
	dicts := map[int64]int64{0: 64, 1: 184, 5: 184, 6: 272, 10: 272, 11: 464, 21: 464, 22: 832, 42: 832, 43: 1584, 85: 1584, 86: 3328, 170: 3328}
	for n, want := range dicts {
		if got := PyDictSize(n); got != want {
			t.Errorf("PyDictSize(%d) = %d, want %d", n, got, want)
		}
	}
	lists := map[int64]int64{0: 56, 1: 88, 5: 120, 9: 184, 17: 248, 100: 920}
	for n, want := range lists {
		if got := PyListSize(n); got != want {
			t.Errorf("PyListSize(%d) = %d, want %d", n, got, want)
		}
	}
	strs := map[string]int64{"": 49, "a": 50, "é": 74, "€": 76}
	for s, want := range strs {
		if got := PyStrSize(s); got != want {
			t.Errorf("PyStrSize(%q) = %d, want %d", s, got, want)
		}
	}
}

func TestPyJSONSize(t *testing.T) {
	cases := []struct {
		intent string
		text   string
		want   int64
	}{
		{"NULL column is None", "", 0},
		{"JSON null", "null", 0},
		{"empty dict (a stopped spawner's state)", "{}", 64},
		// Deep sizes from the same interpreter: sum of getsizeof over the
		// parsed objects.
		{"one long string: dict + key + 2000-char value", `{"a":"` + strings.Repeat("x", 2000) + `"}`, 184 + 50 + 2049},
		{"numbers: cached small int, int, big int, float, bool, null", `[1, 1000, 1099511627776, 1.5, true, null]`, 120 + 0 + 28 + 32 + 24},
		{"a key repeated in nested dicts is one str", `{"k":{"k":1}}`, 184 + 50 + 184},
	}
	for _, c := range cases {
		got, err := PyJSONSize([]byte(c.text))
		if err != nil {
			t.Errorf("%s: %v", c.intent, err)
			continue
		}
		if got != c.want {
			t.Errorf("%s: PyJSONSize(%.40q) = %d, want %d", c.intent, c.text, got, c.want)
		}
	}
	for _, bad := range []string{"{", `{"a":}`, `{"a":1} x`, `{1:2}`} {
		if _, err := PyJSONSize([]byte(bad)); !errors.Is(err, ErrBadJSON) {
			t.Errorf("PyJSONSize(%q) error = %v, want ErrBadJSON", bad, err)
		}
	}
}

func FuzzPyJSONSize(f *testing.F) {
	for _, s := range []string{"{}", `{"a":[1,2,{"b":"é"}]}`, "null", "[", `"x"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := PyJSONSize(b)
		if err == nil && n < 0 {
			t.Fatalf("negative size %d", n)
		}
	})
}
