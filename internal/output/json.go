// Package output writes what a run measured: k6's NDJSON sample stream
// (`--out json=FILE`), the end-of-test text summary in k6's layout, the
// `--summary-export` JSON, the handleSummary data object, the run header and
// the live progress display. Renderers are pure functions of their input.
package output

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/hubcap-dev/hubcap/results"
	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/samples"
)

// ErrOutput wraps failures to write an output.
var ErrOutput = errors.New("output failed")

// MetricMeta is what the JSON output says about a metric the first time it
// sees one of its samples.
type MetricMeta struct {
	Metric     samples.Metric
	Thresholds []string    // threshold sources on the metric itself
	Submetrics []Submetric // submetrics defined by thresholds
}

// Submetric is a tag-filtered view of a metric, as in k6's JSON output.
type Submetric = results.Submetric

// JSON writes samples as k6's NDJSON (the results stream of package
// results): a {"type":"Metric"} line the first time a metric appears, then
// one {"type":"Point"} line per sample. Samples
// are buffered (at most MaxBuffered; beyond that AddSample writes them
// itself) and flushed to the file every FlushInterval, so a crash loses at
// most about a second of samples.
type JSON struct {
	mu       sync.Mutex
	pending  []samples.Sample
	seen     map[string]bool
	describe func(name string) (MetricMeta, bool)
	bw       *bufio.Writer
	gz       *gzip.Writer
	closer   io.Closer
	err      error
	closed   bool
	done     chan struct{}
	stopped  chan struct{}
	written  int64
	stopOnce sync.Once
	path     string // for messages; "" when not a file of OpenJSON

	// MaxBuffered bounds the samples held in memory (default 10000).
	MaxBuffered int
}

// FlushInterval is how often buffered samples reach the file.
const FlushInterval = time.Second

// OpenJSON creates path (gzip-compressed when it ends in .gz) and starts the
// periodic flush. describe returns a metric's metadata by name.
// Path "-" is the standard output (never closed; not compressed).
func OpenJSON(path string, describe func(string) (MetricMeta, bool)) (*JSON, error) {
	if path == "-" {
		o := NewJSON(os.Stdout, describe)
		o.Start(FlushInterval)
		return o, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("%w: --out json=%s: %w", ErrOutput, path, err)
	}
	var w io.Writer = f
	var gz *gzip.Writer
	if strings.HasSuffix(path, ".gz") {
		gz = gzip.NewWriter(f)
		w = gz
	}
	o := NewJSON(w, describe)
	o.gz, o.closer, o.path = gz, f, path
	o.Start(FlushInterval)
	return o, nil
}

// NewJSON writes to w; call Start for periodic flushing, Close at the end.
func NewJSON(w io.Writer, describe func(string) (MetricMeta, bool)) *JSON {
	if describe == nil {
		describe = func(string) (MetricMeta, bool) { return MetricMeta{}, false }
	}
	return &JSON{bw: bufio.NewWriterSize(w, 64<<10), seen: make(map[string]bool), describe: describe, MaxBuffered: 10000}
}

// Start flushes every interval until Close.
func (o *JSON) Start(interval time.Duration) {
	o.done, o.stopped = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(o.stopped)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				_ = o.Flush()
			case <-o.done:
				return
			}
		}
	}()
}

// AddSample queues s.
func (o *JSON) AddSample(s samples.Sample) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return
	}
	o.pending = append(o.pending, s)
	if len(o.pending) >= o.MaxBuffered {
		o.flushLocked()
	}
}

// Written is the number of Point lines written so far.
func (o *JSON) Written() int64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.written
}

func (o *JSON) flushLocked() {
	// The written samples leave the buffer: truncating alone would keep
	// their tag maps reachable through its backing array until overwritten.
	defer func() {
		clear(o.pending)
		o.pending = o.pending[:0]
	}()
	if o.err != nil {
		return
	}
	enc := results.NewEncoder(o.bw)
	for _, s := range o.pending {
		if !o.seen[s.Metric] {
			o.seen[s.Metric] = true
			m := results.Metric{Name: s.Metric}
			if meta, ok := o.describe(s.Metric); ok {
				m.Type, m.Contains = meta.Metric.Kind.String(), meta.Metric.Contains.String()
				m.Thresholds, m.Submetrics = meta.Thresholds, meta.Submetrics
			}
			if err := enc.Metric(m); err != nil {
				o.err = err
				break
			}
		}
		if err := enc.Point(s.Metric, s.Time, s.Value, s.Tags); err != nil {
			o.err = err
			break
		}
		o.written++
	}
	if o.err == nil {
		o.err = o.bw.Flush()
	}
	if o.err == nil && o.gz != nil {
		o.err = o.gz.Flush()
	}
}

// Flush writes every queued sample to the file.
func (o *JSON) Flush() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.flushLocked()
	return o.err
}

// Close flushes, stops the periodic flush and closes the file.
func (o *JSON) Close() error {
	if o.done != nil {
		o.stopOnce.Do(func() {
			close(o.done)
			<-o.stopped
		})
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return o.err
	}
	o.flushLocked()
	o.closed = true
	if o.gz != nil {
		if err := o.gz.Close(); err != nil && o.err == nil {
			o.err = err
		}
	}
	if o.closer != nil {
		if err := o.closer.Close(); err != nil && o.err == nil {
			o.err = err
		}
	}
	if o.err != nil {
		if o.path != "" {
			return fmt.Errorf("%w: --out json=%s is incomplete (the summary above is complete): %w; free space there or write the results elsewhere",
				ErrOutput, o.path, o.err)
		}
		return fmt.Errorf("%w: json: %w", ErrOutput, o.err)
	}
	return nil
}
