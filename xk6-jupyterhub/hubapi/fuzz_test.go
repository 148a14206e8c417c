package hubapi

import (
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
)

func FuzzSSEReader(f *testing.F) {
	f.Add("data: {\"progress\": 100, \"ready\": true}\n\n")
	f.Add("\n\n: keepalive\ndata: a\ndata: b\r\n\r\n")
	f.Add("event: x\rid: 1\rretry: 10\rdata\r\r")
	f.Add("\uFEFFdata: x")
	f.Fuzz(func(t *testing.T, in string) {
		r := NewSSEReader(strings.NewReader(in), 256)
		blank := strings.Count(in, "\n") + strings.Count(in, "\r")
		n := 0
		for {
			ev, err := r.Next()
			if err != nil {
				if err != io.EOF && err != ErrSSELineTooLong {
					t.Fatalf("unexpected error %v", err)
				}
				break
			}
			n++
			if strings.ContainsAny(ev.Data, "\r") || strings.ContainsAny(ev.Type, "\r\n") {
				t.Fatalf("line terminator inside event %+v", ev)
			}
			if n > blank {
				t.Fatalf("%d events from %d line ends", n, blank)
			}
		}
	})
}

func FuzzFollowProgress(f *testing.F) {
	f.Add("data: {\"progress\": 100, \"failed\": true, \"message\": \"x\"}\n\n")
	f.Add("data: {\"ready\": true, \"url\": \"/user/a/\"}\n\n")
	f.Add("data: [1,2]\n\ndata: {\n\n")
	f.Fuzz(func(t *testing.T, in string) {
		ev, done, err := FollowProgress(strings.NewReader(in))
		if done && !ev.Ready && !ev.Failed {
			t.Fatalf("done without ready/failed: %+v", ev)
		}
		if ev.Failed && err == nil {
			t.Fatalf("failed event without error")
		}
	})
}

func FuzzParseMetricsText(f *testing.F) {
	f.Add("# TYPE a histogram\na_bucket{le=\"+Inf\"} 1\na_count 1\na_sum 2\n")
	f.Add("x{a=\"\\\"\\\\\\n\",} NaN 123\n# HELP x a\\nb\n")
	f.Add("process_resident_memory_bytes 1e9\njupyterhub_active_users{period=\"24h\"} 3\n")
	f.Add("# TYPE s summary\ns{quantile=\"0.5\"} 1\ns_sum 2\ns_count 3\n{\"utf8.name\",a=\"b\"} 1")
	f.Fuzz(func(t *testing.T, in string) {
		fams, err := ParseMetricsText(strings.NewReader(in))
		if err != nil {
			if !errors.Is(err, ErrMetricsSyntax) {
				t.Fatalf("error %v does not wrap ErrMetricsSyntax", err)
			}
			return
		}
		for i, fam := range fams {
			if !model.UTF8Validation.IsValidMetricName(fam.Name) {
				t.Fatalf("bad family name %q", fam.Name)
			}
			if i > 0 && fams[i-1].Name >= fam.Name {
				t.Fatalf("families not sorted and unique: %q then %q", fams[i-1].Name, fam.Name)
			}
			if len(fam.Samples) == 0 {
				t.Fatalf("family %q without samples", fam.Name)
			}
			for _, s := range fam.Samples {
				if !strings.HasPrefix(s.Name, fam.Name) {
					t.Fatalf("sample %q outside family %q", s.Name, fam.Name)
				}
				if strings.HasSuffix(s.Name, "_bucket") && (fam.Type == "histogram" || fam.Type == "gaugehistogram") {
					if _, err := strconv.ParseFloat(s.Labels["le"], 64); err != nil {
						t.Fatalf("bucket without a numeric le: %+v", s)
					}
				}
			}
			h := HistogramOf(fam, nil)
			for i := 1; i < len(h.Buckets); i++ {
				if h.Buckets[i].UpperBound < h.Buckets[i-1].UpperBound {
					t.Fatalf("buckets unsorted")
				}
			}
			_ = h.Quantile(0.5)
		}
		_ = HubMetricsFrom(fams)
	})
}

func FuzzParseScopeMessage(f *testing.F) {
	f.Add("Action is not authorized with current scopes; requires any of [admin:users, servers]")
	f.Add("Access to metrics requires scope 'read:metrics'")
	f.Add("requires any of [")
	f.Fuzz(func(t *testing.T, msg string) {
		scopes, ok := ParseScopeMessage(msg)
		if ok != (len(scopes) > 0) {
			t.Fatalf("ok=%v with %q", ok, scopes)
		}
		for _, s := range scopes {
			if !scopeToken.MatchString(s) {
				t.Fatalf("scope %q has characters a scope cannot have", s)
			}
		}
		_ = hintFor(403, msg, scopes)
	})
}

func FuzzParseRetryAfter(f *testing.F) {
	f.Add("120")
	f.Add("Wed, 21 Oct 2015 07:28:00 GMT")
	f.Add("1e400")
	f.Add("-0")
	now := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, v string) {
		d, ok := ParseRetryAfter(v, now)
		if d < 0 {
			t.Fatalf("negative wait %v for %q", d, v)
		}
		if !ok && d != 0 {
			t.Fatalf("wait %v without ok", d)
		}
		w := ThrottleWait(d, ok, 0, RetryPolicy{}, 0.99)
		if w < 0 || w > 60*time.Second {
			t.Fatalf("throttle wait %v out of bounds", w)
		}
	})
}
