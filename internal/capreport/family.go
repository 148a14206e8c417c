package capreport

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/hubcap-dev/hubcap/models"
	"github.com/hubcap-dev/hubcap/reports"
)

// Size families.
const (
	// FamilyAttendees: k attendees, each costing the same database shape
	// (a named server, its spawner row and the default one, a second server
	// for some).
	FamilyAttendees = "attendees"
	// FamilyServers: n users holding k running named servers each (and
	// their stopped default rows), the shape that preceded the incident.
	FamilyServers = "servers"
)

// Family is a one-parameter family of database shapes k ↦ Shape(k), the x
// axis of the capacity model: the restart's predicted peak is drawn against
// k, and the predicted threshold is the largest k under the limit.
type Family struct {
	Name string
	// Unit names k in the verdict ("attendees", "named servers per user").
	Unit string
	// Axis labels the model chart's x axis.
	Axis string
	// Describe says what one unit costs and where that came from.
	Describe string
	// DefaultPlanned is the scenario's own size (ATTENDEES or
	// SERVERS_PER_USER), 0 when unknown.
	DefaultPlanned float64

	per   models.Shape // attendees: the features of one attendee
	users float64      // servers: n
	// content is what each row carries (the calibration's, WithContent).
	content models.RowContent
}

// WithContent is f with every row carrying c (models.Calibration.Content),
// so that models with row-content terms see the rows' cost.
func (f Family) WithContent(c models.RowContent) Family {
	f.content = c
	return f
}

// Shape returns the family's database shape at size k ≥ 0:
//
//	attendees: U = k·U₁, S = k·S₁, R = k·R₁, J = k·J₁  (U₁ … J₁ one attendee's)
//	servers:   U = n, S = n·(k+1), R = n·k, J = n·k·(k+1)
func (f Family) Shape(k float64) models.Shape {
	if f.Name == FamilyServers {
		return f.content.Users(f.users, k+1, k)
	}
	sh := models.Shape{U: k * f.per.U, S: k * f.per.S, R: k * f.per.R, J: k * f.per.J}
	if !f.content.IsZero() && f.per.U > 0 {
		one := f.content.Users(1, f.per.S/f.per.U, f.per.R/f.per.U)
		sh.JB, sh.JP, sh.LP = k*f.per.U*one.JB, k*f.per.U*one.JP, k*f.per.U*one.LP
	}
	return sh
}

// intShape is Shape for models.Threshold.
func (f Family) intShape(k int) models.Shape { return f.Shape(float64(k)) }

// FamilyOf builds the named family for a run:
//
//   - attendees: one attendee's shape is the scenario's plan when it
//     recorded one (a named server each and the default row, S₁ = 2 + f,
//     R₁ = 1 + f, J₁ = 2 + 4f for a fraction f opening a second server),
//     else the hub database's shape per user at the run's peak of running
//     servers (hub_db_* telemetry), else one named server each (f = 0);
//   - servers: n is the scenario's USERS, else the peak of hub_users,
//     else 1.
//
// It is a pure function.
func FamilyOf(name string, res *reports.Results, params map[string]string) (Family, error) {
	num := func(key string) (float64, bool) {
		v, err := strconv.ParseFloat(params[key], 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			return 0, false
		}
		return v, true
	}
	switch name {
	case FamilyAttendees:
		f := Family{Name: name, Unit: "attendees",
			Axis: "workshop size (attendees); calibration restarts placed at the size of equal predicted load"}
		f.DefaultPlanned, _ = num(ParamAttendees)
		frac, hasFrac := num(ParamSecondServerFraction)
		if hasFrac && frac > 1 {
			frac, hasFrac = 1, true
		}
		_, hasAttendees := num(ParamAttendees)
		planShape := func(frac float64) models.Shape {
			return models.Shape{U: 1, S: 2 + frac, R: 1 + frac, J: 2 + 4*frac}
		}
		switch {
		case hasFrac || hasAttendees:
			f.per = planShape(frac)
			f.Describe = fmt.Sprintf("%s; the scenario's plan: a named server each, %s of attendees open a second",
				perText(f.per), fmtPct(frac))
		default:
			if s, at, ok := dbPerUser(res); ok {
				f.per = s
				f.Describe = fmt.Sprintf("%s; the hub database per user at t+%s, the peak of running servers",
					perText(f.per), at.Sub(res.Start).Round(time.Second))
			} else {
				f.per = planShape(0)
				f.Describe = perText(f.per) + "; assumed: one named server each (no scenario parameters, no DB telemetry)"
			}
		}
		return f, nil
	case FamilyServers:
		f := Family{Name: name, Unit: "named servers per user", Axis: "running named servers per user"}
		f.DefaultPlanned, _ = num(ParamServersPerUser)
		n, ok := num(ParamUsers)
		src := "the scenario's " + ParamUsers
		if !ok || n < 1 {
			n, src = 0, ""
			if res != nil {
				if peak, ok := peakGauge(res, reports.MetricHubUsers); ok && peak >= 1 {
					n, src = math.Round(peak), "the hub's users at their peak"
				}
			}
			if n < 1 {
				n, src = 1, "assumed"
			}
		}
		f.users = math.Round(n)
		f.Describe = fmt.Sprintf("%s users (%s), each with k running named servers and a stopped default row: J = n·k·(k+1)",
			fmtNum(f.users), src)
		return f, nil
	}
	return Family{}, fmt.Errorf("%w: family %q: use %s or %s", ErrBadInputs, name, FamilyAttendees, FamilyServers)
}

func perText(s models.Shape) string {
	return fmt.Sprintf("per attendee S_u %s, R_u %s, J_u %s", sig3(s.S), sig3(s.R), sig3(s.J))
}

func fmtPct(f float64) string { return sig3(100*f) + "%" }

// dbPerUser is the database shape per user at the sample of hub_db_running
// with the most running servers: S/U, R/U, J/U from the hub_db_* and
// hub_users gauges read closest to it.
func dbPerUser(res *reports.Results) (models.Shape, time.Time, bool) {
	if res == nil {
		return models.Shape{}, time.Time{}, false
	}
	var best reports.Point
	found := false
	for _, s := range res.SeriesOf(reports.MetricDBRunning) {
		for _, p := range s.Points {
			if !found || p.Value > best.Value {
				best, found = p, true
			}
		}
	}
	if !found || best.Value <= 0 {
		return models.Shape{}, time.Time{}, false
	}
	at := best.Time
	u, okU := nearest(res, reports.MetricHubUsers, at)
	s, okS := nearest(res, reports.MetricDBSpawners, at)
	j, okJ := nearest(res, reports.MetricDBJoinedRows, at)
	if !okU || !okS || !okJ || u < 1 {
		return models.Shape{}, time.Time{}, false
	}
	if len((models.Shape{U: u, S: s, R: best.Value, J: j}).Validate()) > 0 {
		return models.Shape{}, time.Time{}, false // readings from different moments
	}
	return models.Shape{U: 1, S: s / u, R: best.Value / u, J: j / u}, at, true
}

// nearest is the value of metric closest in time to at.
func nearest(res *reports.Results, metric string, at time.Time) (float64, bool) {
	var v float64
	best := time.Duration(math.MaxInt64)
	for _, s := range res.SeriesOf(metric) {
		for _, p := range s.Points {
			d := p.Time.Sub(at)
			if d < 0 {
				d = -d
			}
			if d < best {
				best, v = d, p.Value
			}
		}
	}
	return v, best != time.Duration(math.MaxInt64)
}
