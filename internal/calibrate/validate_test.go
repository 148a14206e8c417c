package calibrate

import (
	"errors"
	"testing"

	"github.com/hubcap-dev/hubcap/models"
)

func TestParseFamily(t *testing.T) {
	for _, c := range []struct {
		in    string
		users int
		ok    bool
	}{
		{"one-user", 1, true},
		{"even:10", 10, true},
		{"even:1", 1, true},
		{"even:0", 0, false},
		{"even:x", 0, false},
		{"even:", 0, false},
		{"one-user:5", 0, false}, // a fixed shape, not a family
		{"", 0, false},
	} {
		f, err := ParseFamily(c.in)
		if (err == nil) != c.ok || (c.ok && f.Users != c.users) {
			t.Errorf("ParseFamily(%q) = %+v, %v", c.in, f, err)
		}
		if err != nil && !errors.Is(err, ErrFamily) {
			t.Errorf("ParseFamily(%q): error %v does not wrap ErrFamily", c.in, err)
		}
		if c.ok {
			back, err := ParseFamily(f.String())
			if err != nil || back != f {
				t.Errorf("%q does not round-trip through String: %q", c.in, f.String())
			}
		}
	}
}

func TestFamilyShapeIsWhatItSeeds(t *testing.T) {
	for _, f := range []Family{{Users: 1}, {Users: 7}} {
		for _, k := range []int{0, 1, 25} {
			if got, want := f.Shape(k), planShape(f.Plan(k)); got != want {
				t.Errorf("%s k=%d: Shape %+v, seeded plan loads %+v", f, k, got, want)
			}
		}
	}
	if (Family{Users: 1}).Shape(40) != models.OneUser(40) {
		t.Error("one-user is models.OneUser")
	}
}

func TestSpread(t *testing.T) {
	const r, s = 736, 1746
	for _, c := range []struct {
		h    float64
		want models.Shape
	}{
		// everything on one user: J = R·S
		{1, models.Shape{U: 1, S: s, R: r, J: r * s}},
		// even: 736 users with one server each sharing the rows: J = S
		{0, models.Shape{U: r, S: s, R: r, J: s}},
		// half: heavy 368 running of 873 rows; 368 others share 873 rows
		{0.5, models.Shape{U: 1 + 368, S: s, R: r, J: 368*873 + 873}},
	} {
		got := Spread(r, s, c.h)
		if got != c.want {
			t.Errorf("Spread(%d, %d, %v) = %+v, want %+v", r, s, c.h, got, c.want)
		}
	}
	// totals are kept and J falls as the heavy user holds less
	prev := Spread(r, s, 1).J
	for _, h := range []float64{0.9, 0.75, 0.5, 0.25, 0.1, 0} {
		sh := Spread(r, s, h)
		if sh.R != r || sh.S != s || len(sh.Validate()) > 0 {
			t.Errorf("h=%v: %+v (%v)", h, sh, sh.Validate())
		}
		if sh.J >= prev {
			t.Errorf("h=%v: J=%v not below %v", h, sh.J, prev)
		}
		prev = sh.J
	}
	// stopped rows only, nobody running
	if sh := Spread(0, 5, 0.5); sh.R != 0 || sh.S != 5 || sh.J != 0 {
		t.Errorf("no running servers: %+v", sh)
	}
}

func TestPredictOneUser(t *testing.T) {
	// A made-up linear calibration: peak = 100 MiB + 7 KiB per joined row
	// (J only). The threshold under 1 GiB solves 100 MiB + 7 KiB·k(k+1)
	// ≤ 1 GiB: k(k+1) ≤ 924·1024/7 = 135,168 → k = 367 (367·368 = 135,056;
	// 368·369 = 135,792).
	var samples []models.Sample
	for _, k := range []int{0, 50, 100, 200, 300, 400, 500} {
		sh := models.OneUser(k)
		samples = append(samples, models.Sample{Shape: sh, PeakRSS: 100*(1<<20) + 7*1024*sh.J,
			SecondsToHealthy: 2, InitSpawnersSeconds: 0.1, SteadyRSS: 1 << 20})
	}
	for _, n := range []int{8, 16, 32} {
		sh := models.Even(n, 2)
		samples = append(samples, models.Sample{Shape: sh, PeakRSS: 100*(1<<20) + 7*1024*sh.J,
			SecondsToHealthy: 2, InitSpawnersSeconds: 0.1, SteadyRSS: 1 << 20})
	}
	cal, err := models.FitCalibration(samples)
	if err != nil {
		t.Fatal(err)
	}
	point, upper, err := Predict(cal, Family{Users: 1}, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	if point != 367 {
		t.Errorf("point threshold %d, want 367", point)
	}
	if upper > point {
		t.Errorf("upper-bound threshold %d above the point one %d", upper, point)
	}
}
