// Package metrics aggregates samples the way k6 does: a registry of named
// metrics of four kinds (counter, gauge, rate, trend), sinks that summarise
// their samples, submetrics selected by tags (`metric{tag:value}`), and
// thresholds (`p(95)<500`) parsed and evaluated as pure functions.
//
// It knows nothing about JavaScript; the script runtime feeds it samples.
package metrics

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"sync"

	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/samples"
)

// Names of the builtin metrics, as in k6.
const (
	Iterations        = "iterations"
	IterationDuration = "iteration_duration"
	VUs               = "vus"
	VUsMax            = "vus_max"
	Checks            = "checks"
	DroppedIterations = "dropped_iterations"
	DataSent          = "data_sent"
	DataReceived      = "data_received"
	GroupDuration     = "group_duration"
)

// Builtins returns the builtin metrics every run registers.
func Builtins() []samples.Metric {
	return []samples.Metric{
		{Name: Iterations, Kind: samples.Counter},
		{Name: IterationDuration, Kind: samples.Trend, Contains: samples.Time},
		{Name: VUs, Kind: samples.Gauge},
		{Name: VUsMax, Kind: samples.Gauge},
		{Name: Checks, Kind: samples.Rate},
		{Name: DroppedIterations, Kind: samples.Counter},
		{Name: DataSent, Kind: samples.Counter, Contains: samples.Data},
		{Name: DataReceived, Kind: samples.Counter, Contains: samples.Data},
		{Name: GroupDuration, Kind: samples.Trend, Contains: samples.Time},
	}
}

// IsBuiltin reports whether name is one of the builtin metrics.
func IsBuiltin(name string) bool {
	for _, m := range Builtins() {
		if m.Name == name {
			return true
		}
	}
	return false
}

var (
	// ErrInvalidMetricName is returned for names k6 would refuse.
	ErrInvalidMetricName = errors.New("invalid metric name")
	// ErrMetricKindMismatch is returned when a name is registered twice with
	// different kinds or value types.
	ErrMetricKindMismatch = errors.New("metric already registered with a different type")
)

// k6 (since v0.45) accepts names of ASCII letters, digits and underscores,
// not starting with a digit, at most 128 characters.
var metricNameRE = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]{0,127}$`)

// ValidName reports whether name is an acceptable metric name.
func ValidName(name string) bool { return metricNameRE.MatchString(name) }

// Registry holds the metrics known to a run. It is safe for concurrent use.
type Registry struct {
	mu      sync.RWMutex
	metrics map[string]samples.Metric
}

// NewRegistry returns a registry holding the builtin metrics.
func NewRegistry() *Registry {
	r := &Registry{metrics: make(map[string]samples.Metric)}
	for _, m := range Builtins() {
		r.metrics[m.Name] = m
	}
	return r
}

// Register adds m. Registering the same name again with the same kind and
// value type is a no-op (every VU runs the init code that declares its
// metrics); a different kind is ErrMetricKindMismatch.
func (r *Registry) Register(m samples.Metric) error {
	if !ValidName(m.Name) {
		return fmt.Errorf("%w %q: use letters, digits and underscores, not starting with a digit, at most 128 characters",
			ErrInvalidMetricName, m.Name)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if old, ok := r.metrics[m.Name]; ok {
		if old.Kind != m.Kind || old.Contains != m.Contains {
			return fmt.Errorf("%w: %q is a %s (%s), not a %s (%s)", ErrMetricKindMismatch,
				m.Name, old.Kind, old.Contains, m.Kind, m.Contains)
		}
		return nil
	}
	r.metrics[m.Name] = m
	return nil
}

// Get returns the metric called name.
func (r *Registry) Get(name string) (samples.Metric, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	m, ok := r.metrics[name]
	return m, ok
}

// All returns every registered metric sorted by name.
func (r *Registry) All() []samples.Metric {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]samples.Metric, 0, len(r.metrics))
	for _, m := range r.metrics {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
