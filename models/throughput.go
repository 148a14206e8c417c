package models

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

// ErrNoSaturation: the model predicts the hub never reaches the target
// utilisation (every cost of the mix is zero) or is above it already at
// zero arrivals.
var ErrNoSaturation = errors.New("models: no saturation rate")

// ThroughputWindow is one time window of a run: the hub process's CPU time
// spent in it and the operations that happened in it.
type ThroughputWindow struct {
	// Seconds is how long the window is (the time its CPU was measured over).
	Seconds float64
	// CPU is the hub's CPU-seconds (user + system) in the window.
	CPU float64
	// Counts are the operations in the window, one per operation of the
	// model (e.g. logins completed; for a per-server cost, running
	// server-seconds).
	Counts []float64
}

// ThroughputOptions configures FitThroughput. The zero value is usable.
type ThroughputOptions struct {
	// HuberK is the Huber constant (default DefaultHuberK).
	HuberK float64
	// Bootstrap is the number of resamples for intervals (default
	// DefaultBootstrap; negative: no intervals).
	Bootstrap int
	// Block is the bootstrap's block length in windows (default n^(1/3)).
	Block int
	// Level is the coverage of intervals (default 0.9).
	Level float64
	// Rand draws the resamples, e.g. rand.NewPCG(1, 2) of math/rand/v2
	// (default a SplitMix64 seeded with 1, so fits are reproducible).
	Rand Source
}

// Throughput is the hub's CPU model: a base load plus a CPU cost per
// operation,
//
//	CPU_w = Base·Seconds_w + Σ_j Cost_j·Counts_wj
//
// for every window w, fitted by HuberNNLS. Non-negative least squares
// because a CPU cost cannot be negative, and operations that happen
// together (every arrival logs in, spawns, follows OAuth within seconds)
// make the unconstrained least squares trade large positive and negative
// costs; NNLS keeps the fit physical and sends an operation that does not
// touch the hub (a kernel message through the proxy) to zero. Huber's
// loss because windows with the hub's own periodic work (the proxy route
// check, the activity flush, garbage collection) are outliers unrelated to
// the operations, which plain squares would chase.
//
// Individual costs of operations that always happen together are poorly
// separated (wide intervals); the cost of a whole arrival, Σ_j Cost_j·m_j
// for a mix m, is not, and it is what SaturationRate uses. Intervals are
// percentile intervals of a moving-block bootstrap over windows.
type Throughput struct {
	// Ops names the operations, in Counts order.
	Ops []string
	// Base is the idle CPU in cores (CPU-seconds per second).
	Base float64
	// Cost is the CPU-seconds of one operation.
	Cost []float64
	// BaseCI and CostCI are the intervals at Level.
	BaseCI [2]float64
	CostCI [][2]float64
	Level  float64
	// R2 is the coefficient of determination of the fit on CPU per
	// window; RMSE its root mean square error in CPU-seconds per window.
	R2, RMSE float64
	// Windows is how many windows were fitted; Downweighted how many had a
	// Huber weight below 1/2.
	Windows, Downweighted int

	draws [][]float64 // bootstrap coefficients: [Base, Cost...]
}

// FitThroughput fits the CPU model to windows. Preconditions: every window
// has len(ops) counts, Seconds > 0, finite values; more windows than
// len(ops)+1.
func FitThroughput(ops []string, ws []ThroughputWindow, o ThroughputOptions) (*Throughput, error) {
	p := len(ops) + 1
	if len(ws) <= p {
		return nil, fmt.Errorf("%w: %d windows for %d unknowns; run longer or use shorter windows", ErrTooFewSamples, len(ws), p)
	}
	for i, w := range ws {
		if len(w.Counts) != len(ops) {
			return nil, fmt.Errorf("%w: window %d has %d counts for %d operations", ErrBadOptions, i, len(w.Counts), len(ops))
		}
		ok := w.Seconds > 0 && finite(w.CPU) && w.CPU >= 0
		for _, c := range w.Counts {
			ok = ok && finite(c) && c >= 0
		}
		if !ok {
			return nil, fmt.Errorf("%w: window %d has a non-finite, negative or empty value", ErrBadTarget, i)
		}
	}
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	f, err := fitHuberBootstrap(len(ws), p, func(i int, a []float64) float64 {
		a[0] = ws[i].Seconds
		copy(a[1:], ws[i].Counts)
		return ws[i].CPU
	}, o)
	if err != nil {
		return nil, err
	}
	t := &Throughput{Ops: append([]string(nil), ops...), Base: f.x[0], Cost: f.x[1:], Level: o.Level, Windows: len(ws),
		R2: f.r2, RMSE: f.rmse, BaseCI: f.ci[0], CostCI: f.ci[1:], draws: f.draws}
	for _, wi := range f.w {
		if wi < 0.5 {
			t.Downweighted++
		}
	}
	return t, nil
}

// fitQuality returns R² = 1 − SS_res/SS_tot and the RMSE of A·x against b.
func fitQuality(a mat.Matrix, b, x []float64) (r2, rmse float64) {
	m, n := a.Dims()
	mean := 0.0
	for _, v := range b {
		mean += v
	}
	mean /= float64(m)
	var ssr, sst float64
	for i := range m {
		y := 0.0
		for j := range n {
			y += a.At(i, j) * x[j]
		}
		ssr += (b[i] - y) * (b[i] - y)
		sst += (b[i] - mean) * (b[i] - mean)
	}
	r2 = math.NaN()
	if sst > 0 {
		r2 = 1 - ssr/sst
	}
	return r2, math.Sqrt(ssr / float64(m))
}

// Estimate is a prediction with its interval at the model's level.
type Estimate struct {
	Value, Lower, Upper float64
}

// ArrivalCost returns the CPU-seconds one arrival of mix costs,
// Σ_j Cost_j·mix_j, where mix_j is how many operations j one arrival
// brings (for a per-server term, the server-seconds an arrival adds).
func (t *Throughput) ArrivalCost(mix []float64) Estimate {
	f := func(x []float64) float64 { return dot(x[1:], mix) }
	return t.estimate(f)
}

// SaturationRate returns the arrival rate λ* (arrivals per second) at
// which the hub's CPU reaches target cores, for arrivals of mix with the
// background operation rates fixed (per second, e.g. running servers for a
// per-server-second term) added on top:
//
//	target = Base + Σ_j Cost_j·fixed_j + λ*·Σ_j Cost_j·mix_j
//
// the utilisation law U = X·S of operational analysis (P. J. Denning,
// J. P. Buzen, "The Operational Analysis of Queueing Network Models",
// ACM Computing Surveys 10(3), 1978) for a hub that runs on one core. The
// interval is the bootstrap's. It returns ErrNoSaturation when the mix
// costs nothing or the background alone reaches target. fixed may be nil.
func (t *Throughput) SaturationRate(mix, fixed []float64, target float64) (Estimate, error) {
	if len(mix) != len(t.Ops) || (fixed != nil && len(fixed) != len(t.Ops)) {
		return Estimate{}, fmt.Errorf("%w: mix of %d, fixed of %d for %d operations", ErrBadOptions, len(mix), len(fixed), len(t.Ops))
	}
	if fixed == nil {
		fixed = make([]float64, len(mix))
	}
	f := func(x []float64) float64 {
		c := dot(x[1:], mix)
		room := target - x[0] - dot(x[1:], fixed)
		if c <= 0 || room <= 0 {
			return math.NaN()
		}
		return room / c
	}
	e := t.estimate(f)
	if math.IsNaN(e.Value) {
		return e, fmt.Errorf("%w: the mix costs %.3g CPU-s per arrival and the background %.3g cores (target %.3g)",
			ErrNoSaturation, dot(t.Cost, mix), t.Base+dot(t.Cost, fixed), target)
	}
	return e, nil
}

// SaturationRateKnee is SaturationRate with a target utilisation that is
// uncertain too: target(−1) is the target of the fitted model, target(i)
// the one paired with bootstrap draw i (e.g. the utilisation at which the
// i-th bootstrap fit of a LatencyKnee reaches a latency). The interval is
// the percentile interval over the paired draws.
func (t *Throughput) SaturationRateKnee(mix, fixed []float64, target func(i int) float64) (Estimate, error) {
	e, err := t.SaturationRate(mix, fixed, target(-1))
	if err != nil || len(t.draws) == 0 {
		return e, err
	}
	if fixed == nil {
		fixed = make([]float64, len(mix))
	}
	v := make([]float64, len(t.draws))
	for i, x := range t.draws {
		c := dot(x[1:], mix)
		room := target(i) - x[0] - dot(x[1:], fixed)
		v[i] = math.NaN()
		if c > 0 && room > 0 {
			v[i] = room / c
		}
	}
	e.Lower, e.Upper = percentileInterval(v, t.Level)
	return e, nil
}

// Draws is the number of bootstrap fits behind the intervals.
func (t *Throughput) Draws() int { return len(t.draws) }

// Utilisation returns the predicted CPU in cores at operation rates (per
// second): Base + Σ_j Cost_j·rates_j.
func (t *Throughput) Utilisation(rates []float64) float64 { return t.Base + dot(t.Cost, rates) }

// estimate evaluates f on the fit and on every bootstrap draw.
func (t *Throughput) estimate(f func(x []float64) float64) Estimate {
	return estimateOver(append([]float64{t.Base}, t.Cost...), t.draws, t.Level, f)
}

func dot(a, b []float64) float64 {
	s := 0.0
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

// LatencyKnee is a latency quantile as a function of the hub's CPU
// utilisation ρ (cores):
//
//	q(ρ) = Floor + Scale/(1 − Busy·ρ),  Busy ≥ 1, Busy·ρ < 1
//
// The hub is one Python process whose event loop serves requests one at a
// time: a single-server queue. For M/M/1 the response time is exponential
// with mean S/(1 − u) at utilisation u, so every quantile is proportional
// to 1/(1 − u) (the p95 is ln 20·S/(1 − u)); Kingman's heavy-traffic
// approximation for a G/G/1 queue, W ≈ u/(1 − u)·(c_a² + c_s²)/2·S (J. F. C.
// Kingman, "The single server queue in heavy traffic", Proc. Cambridge
// Phil. Soc. 57(4), 1961), has the same pole. The loop's utilisation u is
// Busy·ρ: the loop is held not only while the hub computes but also while
// it waits synchronously (SQLite commits and their fsync) or, on a shared
// machine, for a CPU; Busy is those seconds per CPU-second, 1 on a hub that
// only computes. Floor is the part that does not queue at the hub
// (network, proxy, the single-user server).
//
// FitLatencyKnee profiles Busy over a grid from 1 up to 0.98/max ρ (steps of
// 2%), fitting Floor and Scale ≥ 0 at each by non-negative least squares,
// and keeps the Busy with the least sum of squared residuals. Plain squares,
// not Huber's loss as for the CPU model: a window's p95 is already a tail
// statistic, and a window with a high one is the queue showing, not
// contamination; down-weighting it would make the knee optimistic.
type LatencyKnee struct {
	Floor, Scale float64 // same unit as the quantile (ms)
	Busy         float64
	// Points is how many windows were fitted.
	Points int
}

// FitLatencyKnee fits q(ρ) to windows' utilisation rho and quantile q
// (same length; pairs with ρ ≥ 0.98 or non-finite values are skipped).
func FitLatencyKnee(rho, q []float64) (*LatencyKnee, error) {
	if len(rho) != len(q) {
		return nil, fmt.Errorf("%w: %d utilisations for %d quantiles", ErrBadOptions, len(rho), len(q))
	}
	var rs, b []float64
	maxRho := 0.0
	for i := range rho {
		if finite(rho[i]) && finite(q[i]) && rho[i] >= 0 && rho[i] < 0.98 && q[i] >= 0 {
			rs, b = append(rs, rho[i]), append(b, q[i])
			maxRho = math.Max(maxRho, rho[i])
		}
	}
	if len(rs) < 3 {
		return nil, fmt.Errorf("%w: %d windows with a latency and a utilisation below 0.98", ErrTooFewSamples, len(rs))
	}
	bestSS := math.Inf(1)
	var best *LatencyKnee
	for busy := 1.0; busy*maxRho < 0.98; busy *= 1.02 {
		f, sc := nnls2(rs, b, busy)
		ss := 0.0
		for i, r := range rs {
			d := b[i] - f - sc/(1-busy*r)
			ss += d * d
		}
		if ss < bestSS*(1-1e-9) {
			bestSS, best = ss, &LatencyKnee{Floor: f, Scale: sc, Busy: busy, Points: len(rs)}
		}
		if maxRho == 0 {
			break
		}
	}
	return best, nil
}

// nnls2 fits y ≈ F + S·x, x = 1/(1 − busy·ρ), with F, S ≥ 0 by least
// squares in closed form: the unconstrained solution when both are ≥ 0,
// else the better of the one-term fits.
func nnls2(rho, y []float64, busy float64) (f, s float64) {
	n := float64(len(rho))
	var sx, sy, sxx, sxy float64
	for i, r := range rho {
		x := 1 / (1 - busy*r)
		sx, sy, sxx, sxy = sx+x, sy+y[i], sxx+x*x, sxy+x*y[i]
	}
	if det := n*sxx - sx*sx; det > 1e-12*n*sxx {
		f, s = (sxx*sy-sx*sxy)/det, (n*sxy-sx*sy)/det
		if f >= 0 && s >= 0 {
			return f, s
		}
	}
	f1, s2 := math.Max(0, sy/n), math.Max(0, sxy/sxx)
	var e1, e2 float64
	for i, r := range rho {
		x := 1 / (1 - busy*r)
		e1 += (y[i] - f1) * (y[i] - f1)
		e2 += (y[i] - s2*x) * (y[i] - s2*x)
	}
	if e1 < e2 {
		return f1, 0
	}
	return 0, s2
}

// BootstrapLatencyKnee refits the knee on reps moving-block bootstrap
// resamples of the windows (in time order; blocks of n^(1/3)) and returns
// the fits that succeeded.
func BootstrapLatencyKnee(rho, q []float64, reps int, src Source) []*LatencyKnee {
	if len(rho) != len(q) || len(rho) < 3 {
		return nil
	}
	if src == nil {
		src = newSplitMix(1)
	}
	var out []*LatencyKnee
	for range reps {
		idx := blockBootstrap(src, len(rho), defaultBlock(len(rho)))
		r, v := make([]float64, len(idx)), make([]float64, len(idx))
		for i, j := range idx {
			r[i], v[i] = rho[j], q[j]
		}
		if k, err := FitLatencyKnee(r, v); err == nil {
			out = append(out, k)
		}
	}
	return out
}

// At returns q(ρ); +Inf at Busy·ρ ≥ 1.
func (k *LatencyKnee) At(rho float64) float64 {
	u := k.busy() * rho
	if u >= 1 {
		return math.Inf(1)
	}
	return k.Floor + k.Scale/(1-u)
}

func (k *LatencyKnee) busy() float64 { return math.Max(1, k.Busy) }

// Utilisation returns the CPU utilisation ρ at which q reaches target,
// (1 − Scale/(target − Floor))/Busy, clamped to [0, 1/Busy]; 1/Busy when
// Scale is 0 (no queueing seen), 0 when q(0) reaches target already.
func (k *LatencyKnee) Utilisation(target float64) float64 {
	switch {
	case target <= k.Floor+k.Scale:
		return 0
	case k.Scale <= 0:
		return 1 / k.busy()
	}
	return (1 - k.Scale/(target-k.Floor)) / k.busy()
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
