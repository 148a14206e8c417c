package capreport

import (
	"bytes"
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

// parseDeclared reads the Metric lines of any stream without panicking;
// what it returns names its metrics.
func FuzzParseDeclared(f *testing.F) {
	b, err := os.ReadFile(runFixture)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b[:4000])
	f.Add([]byte(`{"type":"Metric","data":{"name":"x","type":"trend","thresholds":["p(95)<1"]}}` + "\n"))
	f.Add([]byte{0x1f, 0x8b, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		d, _ := parseDeclared(bytes.NewReader(b))
		for name := range d {
			if name == "" {
				t.Fatal("a metric without a name")
			}
		}
	})
}
