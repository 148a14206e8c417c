package results

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Encoder writes lines of the stream to a writer (buffering is the
// caller's). It is not safe for concurrent use.
type Encoder struct {
	enc  *json.Encoder
	w    io.Writer
	buf  []byte   // Point's line, reused
	keys []string // Point's sorted tag keys, reused
}

// NewEncoder writes to w.
func NewEncoder(w io.Writer) *Encoder {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return &Encoder{enc: enc, w: w}
}

type metricLine struct {
	Type string `json:"type"`
	Data struct {
		Name       string      `json:"name"`
		Type       string      `json:"type"`
		Contains   string      `json:"contains"`
		Thresholds []string    `json:"thresholds"`
		Submetrics []Submetric `json:"submetrics"`
	} `json:"data"`
	Metric string `json:"metric"`
}

type pointLine struct {
	Metric string `json:"metric"`
	Type   string `json:"type"`
	Data   struct {
		Time  time.Time         `json:"time"`
		Value float64           `json:"value"`
		Tags  map[string]string `json:"tags"`
	} `json:"data"`
}

// Metric writes the declaration of m ({"type":"Metric"}); nil thresholds are
// written as [].
func (e *Encoder) Metric(m Metric) error {
	var l metricLine
	l.Type, l.Metric = TypeMetric, m.Name
	l.Data.Name, l.Data.Type, l.Data.Contains = m.Name, m.Type, m.Contains
	l.Data.Thresholds, l.Data.Submetrics = m.Thresholds, m.Submetrics
	if l.Data.Thresholds == nil {
		l.Data.Thresholds = []string{}
	}
	return e.enc.Encode(&l)
}

// Point writes one sample of metric ({"type":"Point"}); nil tags are
// written as {}.
//
// The line is the one encoding/json writes for it, byte for byte; it is
// written directly (no reflection, no allocation) when every string is
// plain ASCII, the value finite and the year within 0–9999, else through
// encoding/json.
func (e *Encoder) Point(metric string, t time.Time, value float64, tags map[string]string) error {
	if b, ok := e.appendPoint(e.buf[:0], metric, t, value, tags); ok {
		e.buf = b
		_, err := e.w.Write(b)
		return err
	}
	var l pointLine
	l.Metric, l.Type = metric, TypePoint
	l.Data.Time, l.Data.Value, l.Data.Tags = t, value, tags
	if l.Data.Tags == nil {
		l.Data.Tags = map[string]string{}
	}
	return e.enc.Encode(&l)
}

// AppendStatus appends the run-status marker (a [MetricRunStatus]
// declaration and one point at t with tag status) to the results file at
// path, as a further gzip member when path ends in .gz (gzip readers read
// the members as one stream).
func AppendStatus(path, status string, t time.Time) (err error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	var w io.Writer = f
	var gz *gzip.Writer
	if strings.HasSuffix(path, ".gz") {
		gz = gzip.NewWriter(f)
		w = gz
	}
	if err := WriteStatus(w, status, t); err != nil {
		return err
	}
	if gz != nil {
		if err := gz.Close(); err != nil {
			return fmt.Errorf("gzip: %w", err)
		}
	}
	return nil
}

// WriteStatus writes the run-status marker to w: a [MetricRunStatus]
// declaration and one point at t with tag status.
func WriteStatus(w io.Writer, status string, t time.Time) error {
	enc := NewEncoder(w)
	if err := enc.Metric(Metric{Name: MetricRunStatus, Type: KindGauge, Contains: ContainsDefault}); err != nil {
		return err
	}
	return enc.Point(MetricRunStatus, t, 1, map[string]string{TagStatus: status})
}

// appendPoint appends Point's line to b; false when a string, the value or
// the time needs encoding/json's handling.
func (e *Encoder) appendPoint(b []byte, metric string, t time.Time, value float64, tags map[string]string) ([]byte, bool) {
	if y := t.Year(); y < 0 || y > 9999 || math.IsNaN(value) || math.IsInf(value, 0) || !plainASCII(metric) {
		return b, false
	}
	e.keys = e.keys[:0]
	for k, v := range tags {
		if !plainASCII(k) || !plainASCII(v) {
			return b, false
		}
		e.keys = append(e.keys, k)
	}
	slices.Sort(e.keys)
	b = append(b, `{"metric":"`...)
	b = append(b, metric...)
	b = append(b, `","type":"`...)
	b = append(b, TypePoint...)
	b = append(b, `","data":{"time":"`...)
	b = t.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","value":`...)
	b = appendFloat(b, value)
	b = append(b, `,"tags":{`...)
	for i, k := range e.keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, k...)
		b = append(b, `":"`...)
		b = append(b, tags[k]...)
		b = append(b, '"')
	}
	b = append(b, "}}}\n"...)
	return b, true
}

// plainASCII: s needs no escaping in JSON (printable ASCII without '"'
// and '\\').
func plainASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// appendFloat formats a finite f as encoding/json does.
func appendFloat(b []byte, f float64) []byte {
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// clean up e-09 to e-9
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}
