package metrics

import (
	"crypto/md5" //nolint:gosec // k6 derives group and check IDs from an md5 of the path
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/samples"
)

// Engine aggregates every sample of a run into sinks, submetric sinks and the
// group/check tree, and evaluates thresholds. It is a samples.Sink and is
// safe for concurrent use.
type Engine struct {
	mu      sync.Mutex
	reg     *Registry
	sinks   map[string]Sink
	subs    map[string][]*subSink // by parent metric name
	sets    []*setSink
	root    *Group
	byPath  map[string]*Group
	unknown map[string]bool

	// OnUnknownMetric, when set before samples flow, is called once per
	// metric name that was never registered; such samples are dropped.
	OnUnknownMetric func(name string)
}

type subSink struct {
	key  MetricKey
	sink Sink
}

type setSink struct {
	set  *ThresholdSet
	sink Sink
	kind samples.Metric
}

// NewEngine returns an engine over reg with the given thresholds. Every
// threshold must name a registered metric and use an aggregation its kind
// has; all problems are reported at once.
func NewEngine(reg *Registry, sets []*ThresholdSet) (*Engine, []error) {
	e := &Engine{
		reg:     reg,
		sinks:   make(map[string]Sink),
		subs:    make(map[string][]*subSink),
		root:    newGroup(nil, ""),
		unknown: make(map[string]bool),
	}
	e.byPath = map[string]*Group{"": e.root}
	var errs []error
	for _, set := range sets {
		m, ok := reg.Get(set.Key.Name)
		if !ok {
			errs = append(errs, tagged(ErrUnknownMetric, fmt.Errorf("thresholds[%q]: no metric %q; builtin metrics are %s, custom ones must be declared in the init context (new Trend(%q))",
				set.Key.Raw, set.Key.Name, builtinNames(), set.Key.Name)))
			continue
		}
		bad := false
		for _, t := range set.Thresholds {
			if !t.validFor(m.Kind) {
				errs = append(errs, tagged(ErrAggregation, fmt.Errorf("thresholds[%q]: %q uses %s but a %s metric has %s",
					set.Key.Raw, t.Source, t.Key(), m.Kind, strings.Join(aggregationsFor(m.Kind), ", "))))
				bad = true
			}
		}
		if bad {
			continue
		}
		ss := &setSink{set: set, kind: m}
		if set.Key.Tags == nil {
			ss.sink = e.sinkFor(m)
		} else {
			sub := &subSink{key: set.Key, sink: NewSink(m.Kind)}
			e.subs[m.Name] = append(e.subs[m.Name], sub)
			ss.sink = sub.sink
		}
		e.sets = append(e.sets, ss)
	}
	sort.SliceStable(e.sets, func(i, j int) bool { return e.sets[i].set.Key.Raw < e.sets[j].set.Key.Raw })
	return e, errs
}

// taggedError reads as its message but matches its sentinel.
type taggedError struct{ sentinel, err error }

func (e taggedError) Error() string   { return e.err.Error() }
func (e taggedError) Unwrap() []error { return []error{e.sentinel, e.err} }

func tagged(sentinel, err error) error { return taggedError{sentinel, err} }

func builtinNames() string {
	var names []string
	for _, m := range Builtins() {
		names = append(names, m.Name)
	}
	return strings.Join(names, ", ")
}

func (e *Engine) sinkFor(m samples.Metric) Sink {
	s, ok := e.sinks[m.Name]
	if !ok {
		s = NewSink(m.Kind)
		e.sinks[m.Name] = s
	}
	return s
}

// AddSample aggregates s.
func (e *Engine) AddSample(s samples.Sample) {
	m, ok := e.reg.Get(s.Metric)
	e.mu.Lock()
	defer e.mu.Unlock()
	if !ok {
		if !e.unknown[s.Metric] {
			e.unknown[s.Metric] = true
			if e.OnUnknownMetric != nil {
				e.OnUnknownMetric(s.Metric)
			}
		}
		return
	}
	e.sinkFor(m).Add(s.Value)
	for _, sub := range e.subs[m.Name] {
		if sub.key.Matches(s.Tags) {
			sub.sink.Add(s.Value)
		}
	}
	// The group tree follows checks and group() calls, as k6's does.
	switch m.Name {
	case Checks:
		e.group(s.Tags["group"]).check(s.Tags["check"], s.Value != 0)
	case GroupDuration:
		e.group(s.Tags["group"])
	}
}

// group returns the group of a `::a::b` path, creating it and its ancestors.
func (e *Engine) group(path string) *Group {
	if g, ok := e.byPath[path]; ok {
		return g
	}
	i := strings.LastIndex(path, "::")
	if i < 0 { // not a k6 group path; keep it under the root as written
		g := newGroup(e.root, path)
		e.byPath[path] = g
		return g
	}
	parent := e.group(path[:i])
	g := newGroup(parent, path[i+2:])
	e.byPath[path] = g
	return g
}

// Thresholds evaluates every threshold at elapsed test time. With
// skipEmpty, thresholds of metrics without samples are skipped (as k6 does
// during the run); at the end of the test they are evaluated on empty sinks.
// abort is true when a failing threshold asks to abort the test.
func (e *Engine) Thresholds(elapsed time.Duration, skipEmpty bool) (results []ThresholdResult, abort bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, ss := range e.sets {
		if skipEmpty && ss.sink.Empty() {
			continue
		}
		values := ss.sink.Values(elapsed, ss.set.percentilesOf())
		if ss.kind.Kind == samples.Rate && ss.sink.Empty() {
			// k6 has no rate without samples, and a threshold with nothing
			// to compare passes (k6 #2520).
			delete(values, "rate")
		}
		for _, r := range Evaluate(ss.set, values, elapsed) {
			results = append(results, r)
			abort = abort || r.Abort
		}
	}
	return results, abort
}

// Group is a node of k6's group tree, with the checks run inside it.
type Group struct {
	Name   string
	Path   string // "" for the root, "::a::b" below
	ID     string // hex md5 of Path, as k6
	Groups []*Group
	Checks []*Check

	parent *Group
	checks map[string]*Check
}

// Check counts the outcomes of one named check in one group.
type Check struct {
	Name   string
	Path   string // group path + "::" + name
	ID     string
	Passes int64
	Fails  int64
}

func md5hex(s string) string {
	h := md5.Sum([]byte(s)) //nolint:gosec // an identifier, as k6
	return hex.EncodeToString(h[:])
}

func newGroup(parent *Group, name string) *Group {
	g := &Group{Name: name, parent: parent, checks: make(map[string]*Check)}
	if parent != nil {
		g.Path = parent.Path + "::" + name
		parent.Groups = append(parent.Groups, g)
	}
	g.ID = md5hex(g.Path)
	return g
}

func (g *Group) check(name string, ok bool) {
	c, found := g.checks[name]
	if !found {
		path := g.Path + "::" + name
		c = &Check{Name: name, Path: path, ID: md5hex(path)}
		g.checks[name] = c
		g.Checks = append(g.Checks, c)
	}
	if ok {
		c.Passes++
	} else {
		c.Fails++
	}
}

func (g *Group) clone() *Group {
	c := &Group{Name: g.Name, Path: g.Path, ID: g.ID}
	for _, ch := range g.Checks {
		cc := *ch
		c.Checks = append(c.Checks, &cc)
	}
	for _, sub := range g.Groups {
		c.Groups = append(c.Groups, sub.clone())
	}
	return c
}

// AllChecks returns the checks of g and its descendants, depth first.
func (g *Group) AllChecks() []*Check {
	out := append([]*Check(nil), g.Checks...)
	for _, sub := range g.Groups {
		out = append(out, sub.AllChecks()...)
	}
	return out
}

// MetricSummary is one metric or submetric at the end (or middle) of a run.
type MetricSummary struct {
	// Name is the metric name, or "parent{tag:value}" for a submetric.
	Name string
	// Parent is the parent metric's name for a submetric, else "".
	Parent string
	samples.Metric
	Values     map[string]float64
	Thresholds []ThresholdResult
	Empty      bool
}

// Snapshot is the aggregated state of a run.
type Snapshot struct {
	Duration time.Duration
	// Metrics holds metrics with samples or thresholds, sorted by name with
	// submetrics right after their parent.
	Metrics []MetricSummary
	Root    *Group
	// ThresholdsFailed counts failing thresholds.
	ThresholdsFailed int
}

// Metric returns the summary of name (metric or submetric key).
func (s *Snapshot) Metric(name string) (MetricSummary, bool) {
	for _, m := range s.Metrics {
		if m.Name == name {
			return m, true
		}
	}
	return MetricSummary{}, false
}

// Snapshot aggregates everything at elapsed test time; trendStats chooses
// the trend columns (nil for DefaultTrendStats). Thresholds are evaluated on
// every sink, empty or not, as at the end of a k6 run.
func (e *Engine) Snapshot(elapsed time.Duration, trendStats []string) *Snapshot {
	if trendStats == nil {
		trendStats = DefaultTrendStats
	}
	results, _ := e.Thresholds(elapsed, false)
	byKey := make(map[string][]ThresholdResult)
	failed := 0
	for _, r := range results {
		byKey[r.Key] = append(byKey[r.Key], r)
		if !r.OK {
			failed++
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	snap := &Snapshot{Duration: elapsed, Root: e.root.clone(), ThresholdsFailed: failed}
	stats := func(extra []string) []string { return append(append([]string(nil), trendStats...), extra...) }
	for name, sink := range e.sinks {
		m, _ := e.reg.Get(name)
		if sink.Empty() && byKey[name] == nil {
			continue
		}
		snap.Metrics = append(snap.Metrics, MetricSummary{
			Name: name, Metric: m, Values: sink.Values(elapsed, stats(percentileKeys(byKey[name]))),
			Thresholds: byKey[name], Empty: sink.Empty(),
		})
	}
	for parent, subs := range e.subs {
		m, _ := e.reg.Get(parent)
		for _, sub := range subs {
			snap.Metrics = append(snap.Metrics, MetricSummary{
				Name: sub.key.Raw, Parent: parent, Metric: m,
				Values:     sub.sink.Values(elapsed, stats(percentileKeys(byKey[sub.key.Raw]))),
				Thresholds: byKey[sub.key.Raw], Empty: sub.sink.Empty(),
			})
		}
	}
	sort.Slice(snap.Metrics, func(i, j int) bool { return metricLess(snap.Metrics[i].Name, snap.Metrics[j].Name) })
	return snap
}

// percentileKeys returns the p(N) keys used by threshold sources.
func percentileKeys(rs []ThresholdResult) []string {
	var out []string
	for _, r := range rs {
		if e, err := ParseExpression(r.Source); err == nil && e.Agg == "p" {
			out = append(out, e.Key())
		}
	}
	return out
}

// metricLess sorts by parent name, then keeps submetrics after the parent.
func metricLess(a, b string) bool {
	pa, _, _ := strings.Cut(a, "{")
	pb, _, _ := strings.Cut(b, "{")
	if pa != pb {
		return pa < pb
	}
	return a < b
}
