package check

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/hubcap-dev/hubcap/models"
	"github.com/hubcap-dev/hubcap/shape"
	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/hubapi"
)

// contentModel is a 5.3-like calibration whose joined rows cost 2.8 KB
// plus 1.2 bytes per parsed byte they carry, fitted on two row contents.
func contentModel(t *testing.T) Model {
	t.Helper()
	rnd := rand.New(rand.NewPCG(11, 0))
	var samples []models.Sample
	for _, c := range []struct {
		name string
		rc   models.RowContent
	}{{"kube", models.RowContent{RunBytes: 600, RunPy: 1500, StoppedBytes: 150, StoppedPy: 400}},
		{"heavy", models.RowContent{RunBytes: 4000, RunPy: 12000, StoppedBytes: 900, StoppedPy: 2500}}} {
		for _, k := range []int{10, 50, 100, 200, 300} {
			for _, sh := range []models.Shape{models.OneUserWith(k, c.rc), models.EvenWith(k, 2, c.rc)} {
				samples = append(samples, models.Sample{Shape: sh,
					PeakRSS:          (110<<20 + 2800*sh.J + 1.2*sh.JP + 20e3*sh.U) * (1 + 0.005*rnd.NormFloat64()),
					SecondsToHealthy: math.NaN(), InitSpawnersSeconds: math.NaN(), SteadyRSS: math.NaN(),
					Tags: map[string]string{models.TagContent: c.name}})
			}
		}
	}
	cal, err := models.FitCalibration(samples)
	if err != nil {
		t.Fatal(err)
	}
	cal.Release = "5.3.0"
	pm, err := cal.PeakModel()
	if err != nil {
		t.Fatal(err)
	}
	if !usesContent(pm) {
		t.Fatalf("terms %v: the test calibration should use row content", cal.Fits.PeakRSS.Terms)
	}
	return Model{Calib: Calib{Cal: cal, Path: "content.json"}, Peak: pm}
}

// A source that could not read the rows gets the calibration's content,
// says so, and an interval that spans a quarter to four times that content.
func TestEvaluateAssumesContent(t *testing.T) {
	m := contentModel(t)
	rel := Release{Version: "5.3.0", Query: QueryQuadratic}
	known := Input{Source: Source{Kind: KindDatabase, Location: "db"}, Shape: Shape{ContentKnown: true,
		Shape: shape.Shape{Users: []shape.User{{Name: "heavy", S: 301, R: 300, Bytes: 300 * 600, RunBytes: 300 * 600, Py: 300 * 1500, RunPy: 300 * 1500}}}}}
	known.Shape.finish()
	unknown := known
	unknown.Source.Kind = KindHub
	unknown.Shape = Shape{Shape: shape.Shape{Users: []shape.User{{Name: "heavy", S: 301, R: 300}}}}
	unknown.Shape.finish()
	rk, err := Evaluate(known, rel, m, MatchExact, nil, Settings{MemoryLimit: 3 << 30, Headroom: 0.2})
	if err != nil {
		t.Fatal(err)
	}
	ru, err := Evaluate(unknown, rel, m, MatchExact, nil, Settings{MemoryLimit: 3 << 30, Headroom: 0.2})
	if err != nil {
		t.Fatal(err)
	}
	if rk.ContentAssumed != "" || ru.ContentAssumed == "" || !strings.Contains(ru.ContentAssumed, "admin:server_state") {
		t.Errorf("content assumed: known %q, unknown %q", rk.ContentAssumed, ru.ContentAssumed)
	}
	if math.Abs(ru.Peak.Point-rk.Peak.Point) > 0.05*rk.Peak.Point {
		t.Errorf("assumed kube-like content predicts %v, the same rows read %v", ru.Peak.Point, rk.Peak.Point)
	}
	if ru.Peak.Upper-ru.Peak.Lower < 2*(rk.Peak.Upper-rk.Peak.Lower) {
		t.Errorf("interval with assumed content [%v, %v] not wider than with read content [%v, %v]",
			ru.Peak.Lower, ru.Peak.Upper, rk.Peak.Lower, rk.Peak.Upper)
	}
}

// Heavier rows predict a heavier restart: the content is not decoration.
func TestEvaluateContentMatters(t *testing.T) {
	m := contentModel(t)
	rel := Release{Version: "5.3.0", Query: QueryQuadratic}
	mk := func(py int64) *Report {
		in := Input{Source: Source{Kind: KindDatabase}, Shape: Shape{ContentKnown: true,
			Shape: shape.Shape{Users: []shape.User{{Name: "u", S: 301, R: 300, Bytes: py / 3 * 300, RunBytes: py / 3 * 300, Py: py * 300, RunPy: py * 300}}}}}
		in.Shape.finish()
		r, err := Evaluate(in, rel, m, MatchExact, nil, Settings{MemoryLimit: 3 << 30, Headroom: 0.2})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	lean, heavy := mk(1000), mk(10000)
	if heavy.Peak.Point < 2*lean.Peak.Point {
		t.Errorf("10 KB of parsed state per row predicts %v, 1 KB %v: want far more", heavy.Peak.Point, lean.Peak.Point)
	}
}

// hubContent sizes what the API sent; without any state the content is
// unknown (the token lacks admin:server_state).
func TestHubContent(t *testing.T) {
	stopped, running := true, false
	state := json.RawMessage(`{"pod_name": "jupyter-ada--s1", "namespace": "jhub"}`)
	users := []hubapi.User{{Name: "ada", Servers: map[string]hubapi.Server{
		"":   {Stopped: &stopped},
		"s1": {Stopped: &running, State: state, UserOptions: map[string]any{"profile": "gpu"}},
	}}}
	c := hubContent(users)
	if c == nil {
		t.Fatal("content unknown although the API sent a state")
	}
	st, _ := models.PyJSONSize(state)
	uo, _ := models.PyJSONSize([]byte(`{"profile":"gpu"}`))
	if got := c["ada"]; got.RunPy != st+uo || got.Py != got.RunPy || got.RunBytes != int64(len(state)+len(`{"profile":"gpu"}`)) {
		t.Errorf("ada's content %+v, want running parsed %d", got, st+uo)
	}
	users[0].Servers["s1"] = hubapi.Server{Stopped: &running}
	if c := hubContent(users); c != nil {
		t.Errorf("no state sent, content %+v; want unknown", c)
	}
}
