package output

import (
	"bufio"
	"compress/gzip"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/samples"
)

// CSVColumns are the columns of k6's CSV output: the metric, the time, the
// value, one column per system tag, then the other tags and metadata.
var CSVColumns = []string{"metric_name", "timestamp", "metric_value", "check", "error", "error_code",
	"expected_response", "group", "method", "name", "proto", "scenario", "service", "status", "subproto",
	"tls_version", "url", "extra_tags", "metadata"}

// csvTagColumns are the tags with a column of their own.
var csvTagColumns = CSVColumns[3 : len(CSVColumns)-2]

// CSVTimeFormats are the accepted time formats (k6's csv timeFormat).
var CSVTimeFormats = []string{"unix", "unix_milli", "unix_micro", "unix_nano", "rfc3339", "rfc3339_nano"}

// CSVOptions configure the CSV output.
type CSVOptions struct {
	// TimeFormat is one of CSVTimeFormats ("" is unix seconds).
	TimeFormat string
	// SaveInterval is how often rows reach the file (default 1s).
	SaveInterval time.Duration
}

// ParseCSVArg reads k6's --out csv argument: FILE, or
// file_name=FILE,save_interval=1s,time_format=unix.
func ParseCSVArg(arg string) (string, CSVOptions, error) {
	var o CSVOptions
	if !strings.Contains(arg, "file_name=") && !strings.Contains(arg, "time_format=") && !strings.Contains(arg, "save_interval=") {
		return arg, o, nil
	}
	var file string
	for _, kv := range strings.Split(arg, ",") {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "file_name", "fileName":
			file = v
		case "time_format", "timeFormat":
			o.TimeFormat = v
		case "save_interval", "saveInterval":
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return "", o, fmt.Errorf("csv save_interval %q: want a positive duration like 1s", v)
			}
			o.SaveInterval = d
		default:
			return "", o, fmt.Errorf("csv option %q: use file_name, save_interval or time_format", k)
		}
	}
	if err := o.validate(); err != nil {
		return "", o, err
	}
	return file, o, nil
}

func (o CSVOptions) validate() error {
	if o.TimeFormat == "" {
		return nil
	}
	for _, f := range CSVTimeFormats {
		if f == o.TimeFormat {
			return nil
		}
	}
	return fmt.Errorf("csv time_format %q: use %s", o.TimeFormat, strings.Join(CSVTimeFormats, ", "))
}

// CSV writes samples as k6's CSV output, one row per sample after a header
// row; FILE.gz is gzip-compressed. Rows are buffered and written every
// SaveInterval.
type CSV struct {
	mu      sync.Mutex
	opts    CSVOptions
	pending []samples.Sample
	bw      *bufio.Writer
	cw      *csv.Writer
	gz      *gzip.Writer
	closer  io.Closer
	err     error
	closed  bool
	done    chan struct{}
	stopped chan struct{}
	path    string
}

// OpenCSV creates path and writes the header.
func OpenCSV(path string, opts CSVOptions) (*CSV, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("%w: --out csv=%s: %w", ErrOutput, path, err)
	}
	var w io.Writer = f
	c := &CSV{opts: opts, closer: f, path: path}
	if strings.HasSuffix(path, ".gz") {
		c.gz = gzip.NewWriter(f)
		w = c.gz
	}
	c.bw = bufio.NewWriterSize(w, 64<<10)
	c.cw = csv.NewWriter(c.bw)
	if err := c.cw.Write(CSVColumns); err != nil {
		f.Close()
		return nil, err
	}
	if opts.SaveInterval <= 0 {
		opts.SaveInterval = time.Second
	}
	c.done, c.stopped = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(c.stopped)
		t := time.NewTicker(opts.SaveInterval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				_ = c.Flush()
			case <-c.done:
				return
			}
		}
	}()
	return c, nil
}

// Path returns the file written.
func (c *CSV) Path() string { return c.path }

// AddSample queues s.
func (c *CSV) AddSample(s samples.Sample) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	c.pending = append(c.pending, s)
	if len(c.pending) >= 10000 {
		c.flushLocked()
	}
}

// Flush writes the queued rows to the file.
func (c *CSV) Flush() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.flushLocked()
	return c.err
}

func (c *CSV) flushLocked() {
	for _, s := range c.pending {
		if c.err == nil {
			c.err = c.cw.Write(CSVRow(s, c.opts.TimeFormat))
		}
	}
	clear(c.pending) // drop the written samples' tag maps, not only their count
	c.pending = c.pending[:0]
	c.cw.Flush()
	if c.err == nil {
		c.err = c.cw.Error()
	}
	if c.err == nil {
		c.err = c.bw.Flush()
	}
}

// Close writes what is left and closes the file.
func (c *CSV) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return c.err
	}
	c.mu.Unlock()
	close(c.done)
	<-c.stopped
	c.mu.Lock()
	defer c.mu.Unlock()
	c.flushLocked()
	c.closed = true
	if c.gz != nil {
		if err := c.gz.Close(); err != nil && c.err == nil {
			c.err = err
		}
	}
	if err := c.closer.Close(); err != nil && c.err == nil {
		c.err = err
	}
	if c.err != nil {
		return fmt.Errorf("%w: --out csv=%s: %w", ErrOutput, c.path, c.err)
	}
	return nil
}

// CSVRow renders one sample as k6 does: the value with six decimals, the
// time in format, the system tags in their columns and the other tags as
// name=value pairs joined by & (sorted by name).
func CSVRow(s samples.Sample, format string) []string {
	row := make([]string, 0, len(CSVColumns))
	row = append(row, s.Metric, csvTime(s.Time, format), strconv.FormatFloat(s.Value, 'f', 6, 64))
	for _, t := range csvTagColumns {
		row = append(row, s.Tags[t])
	}
	var extra []string
	for k, v := range s.Tags {
		if !isCSVColumn(k) {
			extra = append(extra, k+"="+v)
		}
	}
	sort.Strings(extra)
	return append(row, strings.Join(extra, "&"), "")
}

func isCSVColumn(tag string) bool {
	for _, t := range csvTagColumns {
		if t == tag {
			return true
		}
	}
	return false
}

func csvTime(t time.Time, format string) string {
	switch format {
	case "unix_milli":
		return strconv.FormatInt(t.UnixMilli(), 10)
	case "unix_micro":
		return strconv.FormatInt(t.UnixMicro(), 10)
	case "unix_nano":
		return strconv.FormatInt(t.UnixNano(), 10)
	case "rfc3339":
		return t.Format(time.RFC3339)
	case "rfc3339_nano":
		return t.Format(time.RFC3339Nano)
	}
	return strconv.FormatInt(t.Unix(), 10)
}

// Description names the output in the run header.
func (c *CSV) Description() string { return fmt.Sprintf("csv (%s)", c.path) }

// Start is a no-op: the CSV output needs no metric metadata.
func (c *CSV) Start(func(string) (samples.Metric, bool)) error { return nil }

// Stop writes what is left and closes the file.
func (c *CSV) Stop() error { return c.Close() }
