package models

import (
	"math"
	"math/rand/v2"
	"testing"
)

// synthContent is a 5.3-like hub whose joined rows cost 2.5 KiB each plus
// the JSON they carry: 0.8 byte per byte of text and 1.2 per byte of parsed
// objects (the shape of what calibrations of 5.3.0 measure), 1% noise.
func synthContent(sh Shape, rnd *rand.Rand) float64 {
	return (110<<20 + 20e3*sh.U + 2.5*1024*sh.J + 0.8*sh.JB + 1.2*sh.JP) * (1 + 0.01*rnd.NormFloat64())
}

// contents: per running row (bytes, parsed) and per stopped row.
var testContents = map[string]RowContent{
	"lean":     {RunBytes: 150, RunPy: 600, StoppedBytes: 2, StoppedPy: 64},
	"kube":     {RunBytes: 800, RunPy: 1500, StoppedBytes: 300, StoppedPy: 900},
	"fields":   {RunBytes: 3000, RunPy: 8500, StoppedBytes: 1000, StoppedPy: 3000},
	"string":   {RunBytes: 8200, RunPy: 8400, StoppedBytes: 2, StoppedPy: 64},
	"string2k": {RunBytes: 2100, RunPy: 2300, StoppedBytes: 300, StoppedPy: 900},
}

func contentSamples(rnd *rand.Rand) []Sample {
	var out []Sample
	add := func(sh Shape, class string) {
		out = append(out, Sample{Shape: sh, PeakRSS: synthContent(sh, rnd), SecondsToHealthy: math.NaN(),
			InitSpawnersSeconds: math.NaN(), SteadyRSS: math.NaN(), Tags: map[string]string{TagContent: class}})
	}
	for _, k := range []int{0, 10, 50, 100, 200, 300} {
		add(OneUserWith(k, testContents["kube"]), "kube")
	}
	for _, n := range []int{10, 100, 500, 1000} {
		add(EvenWith(n, 2, testContents["kube"]), "kube")
	}
	for _, n := range []int{5, 10, 20} {
		add(EvenWith(n, n, testContents["kube"]), "kube")
	}
	for _, c := range []string{"lean", "fields", "string", "string2k"} {
		for _, k := range []int{50, 100} {
			add(OneUserWith(k, testContents[c]), c)
		}
	}
	return out
}

// The fit takes the content terms the data asks for, and predicts a
// content class it never saw within a few percent.
func TestContentTermsSelectedAndHeldOutClassPredicted(t *testing.T) {
	rnd := rand.New(rand.NewPCG(7, 0))
	cal, err := FitCalibration(contentSamples(rnd))
	if err != nil {
		t.Fatal(err)
	}
	f := cal.Fits.PeakRSS
	if !f.HasTerm("J") || !f.HasTerm("JP") {
		t.Fatalf("terms %v: want J and JP (the data is J + JB + JP)", f.Terms)
	}
	m, err := cal.PeakModel()
	if err != nil {
		t.Fatal(err)
	}
	// a class between the calibrated ones, on shapes of other families
	unseen := RowContent{RunBytes: 1200, RunPy: 4000, StoppedBytes: 400, StoppedPy: 1200}
	for _, sh := range []Shape{OneUserWith(400, unseen), EvenWith(8, 60, unseen), EvenWith(40, 12, unseen)} {
		want := synthContent(sh, rand.New(rand.NewPCG(1, 1))) // noise-free enough at 1%
		p := m.Predict(sh)
		if e := math.Abs(p.Point-want) / want; e > 0.05 {
			t.Errorf("J=%.0f JP=%.3g: predicted %.4g, true %.4g (%.1f%%)", sh.J, sh.JP, p.Point, want, 100*e)
		}
		if want < p.Lower*0.98 || want > p.Upper*1.02 {
			t.Errorf("J=%.0f: interval [%.4g, %.4g] misses %.4g", sh.J, p.Lower, p.Upper, want)
		}
	}
	// The count-only model would be far off on the heavy class: the reason
	// content terms exist.
	counts, err := FitTarget(TargetPeakRSS, "bytes", shapesOf(contentSamples(rand.New(rand.NewPCG(7, 0)))), peaksOf(contentSamples(rand.New(rand.NewPCG(7, 0)))),
		FitOptions{Candidates: CountTerms})
	if err != nil {
		t.Fatal(err)
	}
	cm, _ := NewModel(counts)
	heavy := OneUserWith(300, testContents["fields"])
	if e := math.Abs(cm.Predict(heavy).Point-synthContent(heavy, rnd)) / synthContent(heavy, rnd); e < 0.2 {
		t.Errorf("a counts-only model is within %.0f%% on heavy rows; the test data does not exercise content", 100*e)
	}
}

func shapesOf(s []Sample) []Shape {
	out := make([]Shape, len(s))
	for i := range s {
		out[i] = s[i].Shape
	}
	return out
}

func peaksOf(s []Sample) []float64 {
	out := make([]float64, len(s))
	for i := range s {
		out[i] = s[i].PeakRSS
	}
	return out
}

// Held-out groups leave the main class in (it carries the count families)
// and hold out the largest shapes.
func TestHoldOutGroups(t *testing.T) {
	s := contentSamples(rand.New(rand.NewPCG(3, 0)))
	groups := HoldOutGroups(s)
	for _, g := range groups[:len(groups)-1] {
		if s[g[0]].Tags[TagContent] == "kube" {
			t.Errorf("the main class kube is held out")
		}
	}
	if len(groups) != 5 {
		t.Fatalf("%d groups, want 4 classes + the largest shapes", len(groups))
	}
	big := groups[len(groups)-1]
	for _, i := range big {
		if s[i].Shape.J <= 300*301/2 {
			t.Errorf("sample %d (J %.0f) among the largest", i, s[i].Shape.J)
		}
	}
}

// Beyond the calibrated range the interval widens with the distance.
func TestExtrapolationWidens(t *testing.T) {
	cal, err := FitCalibration(contentSamples(rand.New(rand.NewPCG(5, 0))))
	if err != nil {
		t.Fatal(err)
	}
	m, _ := cal.PeakModel()
	in, far := OneUserWith(250, testContents["kube"]), OneUserWith(900, testContents["kube"])
	if x := m.Extrapolation(in); x > 1 {
		t.Errorf("a calibrated shape extrapolates %.2f", x)
	}
	if x := m.Extrapolation(far); x < 8 {
		t.Errorf("900 servers vs 300 calibrated: extrapolation %.2f, want ≈ 9", x)
	}
	pin, pfar := m.Predict(in), m.Predict(far)
	if (pfar.Upper-pfar.Point)/pfar.Point <= (pin.Upper-pin.Point)/pin.Point {
		t.Errorf("relative half-width %.3f far vs %.3f inside: want wider", (pfar.Upper-pfar.Point)/pfar.Point, (pin.Upper-pin.Point)/pin.Point)
	}
}

func TestPlusFamilyWithContent(t *testing.T) {
	c := testContents["kube"]
	base := []UserShape{c.User("alice", 5, 2), c.User("bob", 3, 3)}
	f, err := PlusFamilyWith(base, "alice", c)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := ShapeOf([]UserShape{c.User("alice", 9, 6), c.User("bob", 3, 3)})
	if got := f(4); math.Abs(got.JP-want.JP) > 1e-6*want.JP || got.J != want.J || math.Abs(got.JB-want.JB) > 1e-6*want.JB || math.Abs(got.LP-want.LP) > 1e-6*want.LP {
		t.Errorf("Plus(alice, 4) = %+v, want %+v", got, want)
	}
}
