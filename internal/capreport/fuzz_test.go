package capreport

import (
	"errors"
	"os"
	"testing"
)

// ParseSummary reads files people hand over: it never panics, and either
// fails with ErrSummary or returns thresholds that name a metric and an
// expression.
func FuzzParseSummary(f *testing.F) {
	for _, p := range []string{"testdata/summary-export.json", "testdata/summary-data.json"} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"metrics":{"m{a:b}":{"values":{"p(95)":1e308},"thresholds":{"p(95)<1":{"ok":true}}}}}`))
	f.Add([]byte(`{"metrics":{"m":{"thresholds":{"bogus":false}}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		ths, err := ParseSummary(b, nil)
		if err != nil {
			if !errors.Is(err, ErrSummary) {
				t.Fatalf("error %v does not wrap ErrSummary", err)
			}
			return
		}
		for _, th := range ths {
			if th.Metric == "" || th.Expr == "" {
				t.Fatalf("empty threshold from %q", b)
			}
		}
	})
}
