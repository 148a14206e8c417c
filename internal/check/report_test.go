package check

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hubcap-dev/hubcap/internal/testkit"
	"github.com/hubcap-dev/hubcap/models"
)

// fixedFit is a hand-written fit (not fitted, so the golden files do not
// move when the fitter does): coefficients near the facts note's 5.3.0 and
// 5.5.1 figures, 3% relative noise, 16 samples.
func fixedFit(target string, terms []string, coef, sd []float64) models.Fit {
	cov := make([][]float64, len(terms))
	for i := range cov {
		cov[i] = make([]float64, len(terms))
		cov[i][i] = sd[i] * sd[i]
	}
	return models.Fit{Target: target, Weighting: "relative", Terms: terms, Coef: coef, StdErr: sd,
		Sigma: 0.03, DoF: 16 - len(terms), CovUnscaled: cov, Level: 0.95, N: 16}
}

func fixedModel(t *testing.T, release string) Model {
	t.Helper()
	v, _ := ParseVersion(release)
	m := Model{Calib: Calib{Path: "jupyterhub-" + release + ".json", Version: v}}
	m.Calib.Cal.Release = release
	peak, secs := fixedFit("peak_rss", []string{"1", "R"}, []float64{70 << 20, 40 << 10}, []float64{2 << 20, 2 << 10}),
		fixedFit("seconds", []string{"1", "R"}, []float64{1.5, 2e-4}, []float64{0.05, 1e-5})
	if QueryOf(v).Quadratic() {
		peak, secs = fixedFit("peak_rss", []string{"1", "J"}, []float64{70 << 20, 2355}, []float64{2 << 20, 50}),
			fixedFit("seconds", []string{"1", "J"}, []float64{1.5, 35e-6}, []float64{0.05, 1e-6})
	}
	var err error
	if m.Peak, err = models.NewModel(peak); err != nil {
		t.Fatal(err)
	}
	if m.Seconds, err = models.NewModel(secs); err != nil {
		t.Fatal(err)
	}
	return m
}

// goldenReport evaluates a fixed input with the fixed models.
func goldenReport(t *testing.T, in Input, flag, cal string, s Settings) *Report {
	t.Helper()
	rel, _, err := ResolveRelease(flag, in.HubVersion, in.Range, in.RangeErr)
	if err != nil {
		t.Fatal(err)
	}
	m, lin := fixedModel(t, cal), fixedModel(t, "5.5.1")
	tv, _ := ParseVersion(rel.Version)
	_, match, _ := SelectCalibration([]Calib{m.Calib}, tv)
	r, err := Evaluate(in, rel, m, match, &lin, s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestReportGolden(t *testing.T) {
	small := []dbUser{
		{Name: "ada", Default: true, Running: 30, Stopped: 25},
		{Name: "bob's", Default: true, Running: 2, Stopped: 1}, // a name the shell must quote
		{Name: "cy", Default: true, Running: 0, Stopped: 4},    // nothing running: not joined
		{Name: "dee", Default: true, Running: 1},
	}
	cases := []struct {
		name  string
		in    Input
		flag  string
		cal   string
		s     Settings
		check func(*testing.T, *Report)
	}{
		{"incident-db", inputOf(incidentUsers(), false), "", "5.3.0", Settings{MemoryLimit: 3 << 30, Headroom: 0.2, Top: 5}, nil},
		{"small-hub-fail", inputOf(small, true), "", "5.3.0", Settings{MemoryLimit: 64 << 20, Headroom: 0.2}, func(t *testing.T, r *Report) {
			if r.Verdict != Fail {
				t.Errorf("64 MiB limit: %s", r.Verdict)
			}
		}},
		{"small-db-linear-pass", inputOf(small, false), "5.5.1", "5.5.1", Settings{MemoryLimit: 2 << 30, Headroom: 0.2}, func(t *testing.T, r *Report) {
			if r.Verdict != Pass {
				t.Errorf("2 GiB limit: %s %q", r.Verdict, r.Reasons)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := goldenReport(t, c.in, c.flag, c.cal, c.s)
			if c.check != nil {
				c.check(t, r)
			}
			var text, js bytes.Buffer
			if err := r.Text(&text); err != nil {
				t.Fatal(err)
			}
			if err := r.JSON(&js); err != nil {
				t.Fatal(err)
			}
			testkit.Golden(t, filepath.Join("testdata", c.name+".txt"), text.Bytes())
			testkit.Golden(t, filepath.Join("testdata", c.name+".json"), js.Bytes())
			// The JSON round-trips into the same verdict and shape.
			var back Report
			if err := json.Unmarshal(js.Bytes(), &back); err != nil {
				t.Fatal(err)
			}
			if back.Verdict != r.Verdict || back.Shape.J != r.Shape.J || back.RequiredLimit != r.RequiredLimit {
				t.Errorf("JSON round trip: %+v", back)
			}
			if !strings.HasPrefix(text.String(), "hubcap check: "+string(r.Verdict)) {
				t.Errorf("text does not start with the verdict:\n%s", text.String())
			}
		})
	}
}

func TestShellQuote(t *testing.T) {
	cases := []struct{ s, keep, want string }{
		{"s0001", "", "s0001"},
		{"bob's", "", `'bob'\''s'`},
		{"$HUB/hub/api/users/ada/servers", "$HUB", `"$HUB"/hub/api/users/ada/servers`},
		{"$HUB/hub/api/users/a b", "$HUB", `"$HUB"'/hub/api/users/a b'`},
		{"https://hub.example.org/hub/api/users/ada/servers", "https://hub.example.org", "https://hub.example.org/hub/api/users/ada/servers"},
		{"x;rm -rf /", "", `'x;rm -rf /'`},
	}
	for _, c := range cases {
		if got := shellQuote(c.s, c.keep); got != c.want {
			t.Errorf("shellQuote(%q, %q) = %s, want %s", c.s, c.keep, got, c.want)
		}
	}
}
