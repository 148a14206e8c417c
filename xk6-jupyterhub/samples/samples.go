// Package samples is the small vocabulary shared by the traffic module and the
// script runtime: a timed measurement with tags, the kind of metric it belongs
// to, and the sink that receives it. It has no dependencies so that every
// producer (traffic module, hub telemetry) and consumer (runtime, outputs,
// reports) can use it.
package samples

import (
	"sync"
	"time"
)

// Kind is the metric type, with k6's four types and their k6 names.
type Kind int

const (
	Counter Kind = iota // cumulative sum, e.g. bytes sent
	Gauge               // last value wins, e.g. hub RSS
	Rate                // fraction of non-zero values, e.g. errors
	Trend               // distribution, e.g. latencies
)

// String returns k6's name for the kind ("counter", "gauge", "rate", "trend").
func (k Kind) String() string {
	switch k {
	case Counter:
		return "counter"
	case Gauge:
		return "gauge"
	case Rate:
		return "rate"
	case Trend:
		return "trend"
	}
	return "unknown"
}

// ValueType says how a value is displayed: k6's "contains" (default, time, data).
type ValueType int

const (
	Default ValueType = iota
	Time              // milliseconds
	Data              // bytes
)

// String returns k6's name for the value type.
func (v ValueType) String() string {
	switch v {
	case Time:
		return "time"
	case Data:
		return "data"
	}
	return "default"
}

// Metric describes a metric once; samples refer to it by name.
type Metric struct {
	Name     string
	Kind     Kind
	Contains ValueType
}

// Sample is one measurement. Time values are milliseconds (k6's convention),
// data values are bytes, booleans of a Rate are 0 or 1.
type Sample struct {
	Metric string
	Time   time.Time
	Value  float64
	Tags   map[string]string
}

// Sink receives samples. Implementations must be safe for concurrent use.
type Sink interface {
	AddSample(Sample)
}

// SinkFunc adapts a function to a Sink.
type SinkFunc func(Sample)

// AddSample calls f(s).
func (f SinkFunc) AddSample(s Sample) { f(s) }

// Discard drops every sample.
var Discard Sink = SinkFunc(func(Sample) {})

// Buffer is a Sink that keeps every sample in memory, for tests and small runs.
type Buffer struct {
	mu      sync.Mutex
	samples []Sample
}

// AddSample appends s.
func (b *Buffer) AddSample(s Sample) {
	b.mu.Lock()
	b.samples = append(b.samples, s)
	b.mu.Unlock()
}

// Samples returns a copy of what was received so far.
func (b *Buffer) Samples() []Sample {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]Sample(nil), b.samples...)
}
