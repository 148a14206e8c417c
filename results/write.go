package results

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// Encoder writes lines of the stream to a writer (buffering is the
// caller's). It is not safe for concurrent use.
type Encoder struct {
	enc *json.Encoder
}

// NewEncoder writes to w.
func NewEncoder(w io.Writer) *Encoder {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return &Encoder{enc: enc}
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
func (e *Encoder) Point(metric string, t time.Time, value float64, tags map[string]string) error {
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
