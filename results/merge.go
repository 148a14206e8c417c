package results

import (
	"errors"
	"fmt"
	"math/big"
	"regexp"
	"sort"
	"strings"
	"time"
)

// ErrDifferentRuns: the files given to [Merge] are not the instances of one
// run (different run ids, or one instance twice).
var ErrDifferentRuns = errors.New("results: the files are not the instances of one run")

// Part is one instance's results, named (by its file) for messages.
type Part struct {
	Name    string
	Results *Results
}

// Instance describes one merged part, from its [MetricRunInfo] point.
type Instance struct {
	Name      string // the part's name (its file)
	ID        string // the instance id; the part's name when it recorded none
	RunID     string
	Segment   string // "" the whole test
	Telemetry bool   // the hub telemetry of the merged results is this instance's
	Start     time.Time
	End       time.Time
	Points    int
	Status    string
	// TruncatedTail: the part's last line was incomplete.
	TruncatedTail bool
}

// RunInfo is what the last [MetricRunInfo] point of res says (all empty
// when res has none).
func RunInfo(res *Results) map[string]string {
	var tags map[string]string
	var at time.Time
	for _, s := range res.SeriesOf(MetricRunInfo) {
		for _, p := range s.Points {
			if tags == nil || !p.Time.Before(at) {
				tags, at = s.Tags, p.Time
			}
		}
	}
	if tags == nil {
		return map[string]string{}
	}
	return tags
}

// IsHubTelemetry reports whether metric is read from the hub rather than
// made by the traffic: the hub_* gauges and counters of the collector.
func IsHubTelemetry(metric string) bool { return strings.HasPrefix(metric, "hub_") }

// statusRank orders statuses from worst: what the merged run's status is.
func statusRank(s string) int {
	switch s {
	case StatusHubDied:
		return 0
	case StatusAborted:
		return 1
	case StatusInterrupted:
		return 2
	case "":
		return 3 // no marker: cut short
	case StatusCompleted:
		return 5
	}
	return 4
}

// Merge combines the results of the instances of one run split by
// execution segments into the results of the whole run:
//
//   - every series of a part keeps its points (so trends are merged from raw
//     points and counters add up) and gets the tag [TagInstance] (the
//     part's instance id), so gauges such as active attendees are per
//     instance and add up too;
//   - hub telemetry (hub_* metrics) is taken once, from the instance that
//     recorded hub_telemetry=true (else the first part that has any); other
//     parts' hub_* series are dropped;
//   - the status is the worst of the parts' (hub died, aborted, interrupted,
//     cut short, completed), at the latest status time; a truncated tail in
//     any part is one of the whole;
//   - Start and End span every part: one time axis, absolute times.
//
// It refuses (ErrDifferentRuns) parts whose [MetricRunInfo] names different
// run ids, parts of which only some name a run id, and one instance given
// twice. notes say what was dropped or looks wrong (segments that overlap or
// leave a gap, starts far apart). One part is returned as is. It is a pure
// function; the parts are not modified.
func Merge(parts []Part) (merged *Results, instances []Instance, notes []string, err error) {
	if len(parts) == 0 {
		return nil, nil, nil, errors.New("results: nothing to merge")
	}
	runIDs := map[string][]string{}
	seen := map[string]string{}
	var without []string
	telemetryFrom := -1
	for i, p := range parts {
		info := RunInfo(p.Results)
		inst := Instance{Name: p.Name, ID: info[TagInstance], RunID: info[TagRunID], Segment: info[TagSegment],
			Start: p.Results.Start, End: p.Results.End, Points: p.Results.PointCount, Status: p.Results.Status,
			TruncatedTail: p.Results.TruncatedTail}
		if inst.ID == "" {
			inst.ID = p.Name
		}
		if prev, dup := seen[inst.ID]; dup {
			return nil, nil, nil, fmt.Errorf("%w: instance %s is in both %s and %s; give each instance's file once", ErrDifferentRuns, inst.ID, prev, p.Name)
		}
		seen[inst.ID] = p.Name
		if inst.RunID == "" {
			without = append(without, p.Name)
		} else {
			runIDs[inst.RunID] = append(runIDs[inst.RunID], p.Name)
		}
		if info[TagHubTelemetry] == "true" && telemetryFrom < 0 {
			telemetryFrom = i
		}
		instances = append(instances, inst)
	}
	if len(runIDs) > 1 {
		var desc []string
		for id, names := range runIDs {
			desc = append(desc, fmt.Sprintf("run %s: %s", id, strings.Join(names, ", ")))
		}
		sort.Strings(desc)
		return nil, nil, nil, fmt.Errorf("%w (%s); report each run on its own, or give every instance of one run the same --run-id", ErrDifferentRuns, strings.Join(desc, "; "))
	}
	if len(runIDs) == 1 && len(without) > 0 {
		return nil, nil, nil, fmt.Errorf("%w: %s record no run id (not written by hubcap run, or by an older one) while the others do", ErrDifferentRuns, strings.Join(without, ", "))
	}
	if len(parts) == 1 {
		instances[0].Telemetry = parts[0].Results.hasTelemetry()
		return parts[0].Results, instances, nil, nil
	}
	if telemetryFrom < 0 {
		for i, p := range parts {
			if p.Results.hasTelemetry() {
				telemetryFrom = i
				break
			}
		}
	}
	out := &Results{Metrics: map[string]Metric{}, index: map[string]*Series{}}
	var dropped []string
	worst := -1
	for i, p := range parts {
		r := p.Results
		for name, m := range r.Metrics {
			if _, ok := out.Metrics[name]; !ok {
				out.Metrics[name] = m
			}
		}
		droppedHere := false
		for _, s := range r.Series {
			if s.Metric == MetricRunStatus {
				continue
			}
			if IsHubTelemetry(s.Metric) && i != telemetryFrom {
				droppedHere = true
				continue
			}
			tags := make(map[string]string, len(s.Tags)+1)
			for k, v := range s.Tags {
				tags[k] = v
			}
			if _, ok := tags[TagInstance]; !ok {
				tags[TagInstance] = instances[i].ID
			}
			for _, pt := range s.Points {
				out.addPoint(s.Metric, tags, pt)
			}
		}
		if droppedHere {
			dropped = append(dropped, instances[i].ID)
		}
		instances[i].Telemetry = i == telemetryFrom
		out.Lines += r.Lines
		out.TruncatedTail = out.TruncatedTail || r.TruncatedTail
		out.MalformedCount += r.MalformedCount // line numbers are the part's own
		out.Malformed = append(out.Malformed, r.Malformed...)
		if worst < 0 || statusRank(r.Status) < statusRank(parts[worst].Results.Status) {
			worst = i
		}
		if r.StatusTime.After(out.StatusTime) {
			out.StatusTime = r.StatusTime
		}
	}
	out.Status = parts[worst].Results.Status
	if out.Status == "" {
		out.StatusTime = time.Time{}
	}
	out.finish()
	if len(dropped) > 0 {
		notes = append(notes, fmt.Sprintf("hub telemetry is instance %s's; the hub telemetry of %s was left out (read the hub from one instance: --hub-telemetry)",
			instances[telemetryFrom].ID, strings.Join(dropped, ", ")))
	}
	notes = append(notes, segmentNotes(instances)...)
	var first, last time.Time
	for i, inst := range instances {
		if parts[i].Results.PointCount == 0 {
			continue
		}
		if first.IsZero() || inst.Start.Before(first) {
			first = inst.Start
		}
		if last.IsZero() || inst.Start.After(last) {
			last = inst.Start
		}
	}
	if d := last.Sub(first); d > 30*time.Second {
		notes = append(notes, fmt.Sprintf("the instances started %s apart; start them together (--start-at) or check their clocks", d.Round(time.Second)))
	}
	return out, instances, notes, nil
}

func (r *Results) hasTelemetry() bool {
	for _, s := range r.Series {
		if IsHubTelemetry(s.Metric) {
			return true
		}
	}
	return false
}

// segmentNotes says when the instances' segments overlap or do not cover
// the whole test (each instance then ran a share of it that no file holds,
// or twice).
func segmentNotes(instances []Instance) []string {
	type span struct {
		from, to *big.Rat
		id       string
	}
	var spans []span
	for _, in := range instances {
		if in.RunID == "" {
			return nil // not written by hubcap run: segments unknown
		}
		from, to, ok := parseSegment(in.Segment)
		if !ok {
			return nil // not every part says its segment: nothing to check
		}
		spans = append(spans, span{from, to, in.ID})
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].from.Cmp(spans[j].from) < 0 })
	var notes []string
	at := new(big.Rat)
	for _, s := range spans {
		switch c := s.from.Cmp(at); {
		case c > 0:
			notes = append(notes, fmt.Sprintf("no file holds the segment %s:%s of the test; the report covers only part of it", at.RatString(), s.from.RatString()))
		case c < 0:
			notes = append(notes, fmt.Sprintf("instance %s's segment overlaps another's before %s; the same share of the test is counted twice", s.id, at.RatString()))
		}
		if s.to.Cmp(at) > 0 {
			at = s.to
		}
	}
	if at.Cmp(big.NewRat(1, 1)) < 0 {
		notes = append(notes, fmt.Sprintf("no file holds the segment %s:1 of the test; the report covers only part of it", at.RatString()))
	}
	return notes
}

var fraction = regexp.MustCompile(`^[0-9]{1,18}(/[1-9][0-9]{0,17})?$`)

// parseSegment reads "from:to" as the runner writes it (fractions); ""
// is the whole test.
func parseSegment(s string) (from, to *big.Rat, ok bool) {
	if s == "" {
		return new(big.Rat), big.NewRat(1, 1), true
	}
	a, b, found := strings.Cut(s, ":")
	if !found || !fraction.MatchString(a) || !fraction.MatchString(b) {
		return nil, nil, false // not as hubcap run writes it (and no 1e999999999 to expand)
	}
	from, ok1 := new(big.Rat).SetString(a)
	to, ok2 := new(big.Rat).SetString(b)
	return from, to, ok1 && ok2
}
