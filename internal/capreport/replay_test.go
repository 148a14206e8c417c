package capreport

import (
	"strings"
	"testing"

	"github.com/hubcap-dev/hubcap/internal/check"
)

// A check that carries a replay shows the measured restart beside the
// prediction in the report's environment table.
func TestReplayBesidePrediction(t *testing.T) {
	in := fixtureInputs(t)
	c := *in.Check
	c.AttachReplay(&check.Replay{Release: "5.3.0", U: c.Shape.U, S: c.Shape.S, R: c.Shape.R, J: c.Shape.J,
		Healthy: true, PeakRSS: int64(c.Peak.Point / 1.1), Seconds: 42})
	in.Check = &c
	r, err := Build(in)
	if err != nil {
		t.Fatal(err)
	}
	got := r.Input.Env.Params["hubcap replay"]
	if !strings.Contains(got, "measured peak") || !strings.Contains(got, "10% above it") {
		t.Errorf("replay line %q: want the measured peak and the prediction's error", got)
	}
	in.Check = nil
	if r, err = Build(in); err != nil {
		t.Fatal(err)
	}
	if _, ok := r.Input.Env.Params["hubcap replay"]; ok {
		t.Error("a replay line without a replay")
	}
}
