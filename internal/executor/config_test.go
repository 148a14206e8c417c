package executor

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func parseJSON(t *testing.T, name, js string) (Config, []error) {
	t.Helper()
	var raw map[string]any
	if err := json.Unmarshal([]byte(js), &raw); err != nil {
		t.Fatal(err)
	}
	return ParseConfig(name, raw)
}

func TestParseDuration(t *testing.T) {
	cases := []struct {
		in   any
		want time.Duration
		ok   bool
	}{
		{"90s", 90 * time.Second, true},
		{"1h30m", 90 * time.Minute, true},
		{"500ms", 500 * time.Millisecond, true},
		{"2d", 48 * time.Hour, true},
		{"1d12h", 36 * time.Hour, true},
		{float64(1500), 1500 * time.Millisecond, true}, // JSON numbers are milliseconds
		{"250", 250 * time.Millisecond, true},          // so are numeric strings
		{"ten seconds", 0, false},
		{"", 0, false},
		{true, 0, false},
	}
	for _, c := range cases {
		got, err := ParseDuration(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("ParseDuration(%#v) = %v, %v", c.in, got, err)
		}
	}
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{90 * time.Second: "1m30s", time.Minute: "1m", time.Hour: "1h", 500 * time.Millisecond: "500ms", 0: "0s"} {
		if got := FormatDuration(d); got != want {
			t.Errorf("%v → %q, want %q", d, got, want)
		}
	}
}

func TestParseConfigDefaults(t *testing.T) {
	c, errs := parseJSON(t, "login", `{"executor":"shared-iterations"}`)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	si := c.(*SharedIterationsConfig)
	if si.VUs != 1 || si.Iterations != 1 || si.MaxDuration != 10*time.Minute || si.GracefulStop != 30*time.Second || si.ExecName() != "default" {
		t.Errorf("defaults = %+v", si)
	}
	c, errs = parseJSON(t, "arr", `{"executor":"constant-arrival-rate","rate":5,"duration":"1m","preAllocatedVUs":3,
		"startTime":"10s","gracefulStop":"5s","exec":"spawn","env":{"A":"1","N":2},"tags":{"kind":"x"}}`)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	ca := c.(*ConstantArrivalRateConfig)
	if ca.MaxVUs != 3 || ca.TimeUnit != time.Second || ca.StartTime != 10*time.Second || ca.GracefulStop != 5*time.Second ||
		ca.Exec != "spawn" || ca.Env["N"] != "2" || ca.Tags["kind"] != "x" {
		t.Errorf("parsed = %+v", ca)
	}
}

// A bad scenario reports every problem at once, each naming the scenario
// and the field.
func TestParseConfigReportsEverything(t *testing.T) {
	_, errs := parseJSON(t, "spawn", `{"executor":"ramping-vus","startVUs":-1,"stages":[{"duration":"10x","target":5},{"target":1.5}],
		"gracefulRampDown":"-1s","startTime":"later","vu":3}`)
	want := []string{
		"startTime: invalid duration",
		"stages[0].duration: invalid duration",
		"stages[1].duration: missing",
		"stages[1].target: want an integer",
		`vu: unknown field (did you mean "startVUs"?)`,
		"startVUs: can't be negative",
		"gracefulRampDown: can't be negative",
	}
	all := ""
	for _, err := range errs {
		if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), "scenarios.spawn: ") {
			t.Errorf("error lacks ErrInvalidConfig or the scenario name: %v", err)
		}
		all += err.Error() + "\n"
	}
	for _, w := range want {
		if !strings.Contains(all, w) {
			t.Errorf("missing %q in:\n%s", w, all)
		}
	}
	if len(errs) != len(want) {
		t.Errorf("got %d errors, want %d:\n%s", len(errs), len(want), all)
	}
}

func TestParseConfigUnknownExecutor(t *testing.T) {
	_, errs := parseJSON(t, "x", `{"executor":"constant-vu"}`)
	if len(errs) != 1 || !errors.Is(errs[0], ErrUnknownExecutor) || !strings.Contains(errs[0].Error(), "constant-vus") {
		t.Errorf("got %v", errs)
	}
	_, errs = parseJSON(t, "x", `{"vus":1}`)
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "executor: missing") {
		t.Errorf("got %v", errs)
	}
}

func TestValidatePerExecutor(t *testing.T) {
	cases := []struct {
		js   string
		want []string
	}{
		{`{"executor":"shared-iterations","vus":5,"iterations":2,"maxDuration":"0s"}`,
			[]string{"iterations: the number of iterations (2) can't be less than the number of VUs (5)", "maxDuration: must be at least 1s"}},
		{`{"executor":"per-vu-iterations","vus":0,"iterations":0}`,
			[]string{"vus: must be more than 0", "iterations: must be more than 0"}},
		{`{"executor":"constant-vus","vus":2}`, []string{"duration: missing"}},
		{`{"executor":"constant-arrival-rate","rate":0,"timeUnit":"0s","duration":"1m","preAllocatedVUs":5,"maxVUs":2}`,
			[]string{"rate: must be more than 0", "timeUnit: must be more than 0", "maxVUs: can't be less than preAllocatedVUs"}},
		{`{"executor":"ramping-arrival-rate","stages":[],"preAllocatedVUs":1}`,
			[]string{"stages: at least one stage"}},
		{`{"executor":"ramping-arrival-rate","stages":[{"duration":"1m","target":5}]}`,
			[]string{"preAllocatedVUs: missing"}},
		{`{"executor":"ramping-vus","stages":[{"duration":"10s","target":0}],"startVUs":0}`,
			[]string{"no VU would run"}},
	}
	for _, c := range cases {
		_, errs := parseJSON(t, "s", c.js)
		all := ""
		for _, e := range errs {
			all += e.Error() + "\n"
		}
		for _, w := range c.want {
			if !strings.Contains(all, w) {
				t.Errorf("%s: missing %q in:\n%s", c.js, w, all)
			}
		}
		if len(errs) != len(c.want) {
			t.Errorf("%s: got %d errors, want %d:\n%s", c.js, len(errs), len(c.want), all)
		}
	}
}

func TestRequirementsOverlap(t *testing.T) {
	et, _ := NewTuple(nil, nil)
	a := NewConstantVUsConfig("a")
	a.VUs, a.Duration, a.GracefulStop = 10, time.Minute, 0
	b := NewConstantVUsConfig("b") // starts when a ends: a's VUs are reused
	b.VUs, b.Duration, b.StartTime, b.GracefulStop = 4, time.Minute, time.Minute, 0
	c := NewConstantArrivalRateConfig("c") // overlaps both
	c.Rate, c.Duration, c.PreAllocatedVUs, c.MaxVUs, c.GracefulStop = 1, 90*time.Second, 2, 5, 0
	planned, maxVUs, dur := requirements([]Config{&a, &b, &c}, et)
	if planned != 12 || maxVUs != 15 || dur != 2*time.Minute {
		t.Errorf("planned %d max %d dur %v; want 12, 15, 2m", planned, maxVUs, dur)
	}
}
