package script

import (
	"encoding/json"
	"errors"
	"testing"
)

// FuzzParseOptions feeds arbitrary options objects (as a script's options
// block decodes from JSON): parsing must not panic, every error must be an
// ErrInvalidOptions, and success must yield at least one scenario.
func FuzzParseOptions(f *testing.F) {
	for _, s := range []string{
		`{}`,
		`{"vus":10,"duration":"30s","thresholds":{"checks":["rate>0.9"]}}`,
		`{"iterations":5,"stages":[{"duration":"1s","target":1}]}`,
		`{"scenarios":{"a":{"executor":"ramping-arrival-rate","startRate":1,"stages":[{"duration":"10s","target":5}],"preAllocatedVUs":2}}}`,
		`{"scenarios":{"b":{"executor":"constant-vus","vus":"x"}},"thresholds":{"t{a:b}":[{"threshold":"p(99)<1","abortOnFail":true,"delayAbortEval":"1m"}]}}`,
		`{"summaryTrendStats":["avg","p(99.9)"],"tags":{"a":1},"setupTimeout":1000}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, js string) {
		var raw map[string]any
		if json.Unmarshal([]byte(js), &raw) != nil {
			return
		}
		o, errs := ParseOptions(raw, nil, Overrides{})
		for _, err := range errs {
			if !errors.Is(err, ErrInvalidOptions) {
				t.Fatalf("error without ErrInvalidOptions: %v", err)
			}
		}
		if len(errs) == 0 && len(o.Scenarios) == 0 {
			t.Fatalf("no scenario and no error for %s", js)
		}
	})
}
