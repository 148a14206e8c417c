package results

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Sentinel errors of the reader.
var (
	// ErrNotNDJSON: the input holds no k6 JSON-output line at all.
	ErrNotNDJSON = errors.New("results: input is not a k6 NDJSON results stream")
	// ErrMalformedLine: a line before the last one is not a valid k6 JSON-output line.
	ErrMalformedLine = errors.New("results: malformed NDJSON line")
)

// MaxLineBytes bounds one NDJSON line; k6 lines are a few hundred bytes.
const MaxLineBytes = 1 << 20

// Metric is a metric declaration ({"type":"Metric"} line): k6's type
// (counter, gauge, rate, trend) and what its values contain (default, time, data).
type Metric struct {
	Name     string
	Type     string // lower case: counter, gauge, rate, trend ("" undeclared)
	Contains string // lower case: default, time, data
	// Thresholds are the threshold expressions on the metric itself.
	Thresholds []string
	// Submetrics are the tag-filtered views thresholds define.
	Submetrics []Submetric
}

// Submetric is a tag-filtered view of a metric, as in k6's JSON output.
type Submetric struct {
	Name   string            `json:"name"`
	Suffix string            `json:"suffix"`
	Tags   map[string]string `json:"tags"`
}

// Point is one sample value at a time. Time values are milliseconds, data
// values bytes (k6's conventions).
type Point struct {
	Time  time.Time
	Value float64
}

// Series is every point of one metric with one exact tag set, in input order.
type Series struct {
	Metric string
	Tags   map[string]string
	Points []Point
}

// Results is a k6 NDJSON results stream read into memory, grouped by metric
// and tag set.
type Results struct {
	// Metrics declared by Metric lines, by name. Points of undeclared metrics
	// are kept; their metric has an empty Type.
	Metrics map[string]Metric
	// Series in the order their first point appeared.
	Series []*Series
	// Start and End are the earliest and latest point times (meaningless
	// when PointCount is 0).
	Start, End time.Time
	// Status is the `status` tag of the last hubcap_run_status point, "" when
	// the stream has none (the run was cut short). StatusTime is its time.
	Status     string
	StatusTime time.Time
	// Lines is the number of lines read; PointCount the points kept.
	Lines, PointCount int
	// TruncatedTail reports that the last line was incomplete (a run, or a
	// copy of its output, cut short) and was dropped.
	TruncatedTail bool
	// Malformed are the damaged lines before the last that were skipped (at
	// most MaxMalformed of them; MalformedCount counts them all). Read
	// returns such results together with an error wrapping ErrMalformedLine.
	Malformed      []MalformedLine
	MalformedCount int

	index map[string]*Series
}

// CutShort reports whether the run did not finish on its own: no status
// marker, an incomplete last line, or a status other than completed.
func (r *Results) CutShort() bool {
	return r == nil || r.Status == "" || r.TruncatedTail || r.Status == StatusInterrupted ||
		r.Status == StatusHubDied || r.Status == StatusAborted
}

// Duration is End - Start.
func (r *Results) Duration() time.Duration {
	if r == nil || r.PointCount == 0 {
		return 0
	}
	return r.End.Sub(r.Start)
}

// SeriesOf returns the series of a metric, in first-seen order.
func (r *Results) SeriesOf(metric string) []*Series {
	if r == nil {
		return nil
	}
	var out []*Series
	for _, s := range r.Series {
		if s.Metric == metric {
			out = append(out, s)
		}
	}
	return out
}

// Has reports whether the stream holds at least one point of metric.
func (r *Results) Has(metric string) bool { return len(r.SeriesOf(metric)) > 0 }

// MetricType returns the declared type of metric ("" when undeclared).
func (r *Results) MetricType(metric string) string {
	if r == nil {
		return ""
	}
	return r.Metrics[metric].Type
}

// rawLine is one k6 JSON-output line; both line types share "data".
type rawLine struct {
	Type   string `json:"type"`
	Metric string `json:"metric"`
	Data   struct {
		// Metric lines.
		Name       string      `json:"name"`
		Type       string      `json:"type"`
		Contains   string      `json:"contains"`
		Thresholds []string    `json:"thresholds"`
		Submetrics []Submetric `json:"submetrics"`
		// Point lines.
		Time  *time.Time     `json:"time"`
		Value *float64       `json:"value"`
		Tags  map[string]any `json:"tags"`
	} `json:"data"`
}

// MalformedLine is a damaged line that Read skipped.
type MalformedLine struct {
	Line int    // 1-based line number
	Err  string // what is wrong with it
}

// MaxMalformed bounds Results.Malformed.
const MaxMalformed = 20

// Read reads a k6 NDJSON results stream (`k6 run --out json=FILE`, also
// gzip-compressed) line by line. An incomplete last line is dropped and
// flagged in Results.TruncatedTail rather than failing: a run killed mid-write
// still gets its report. Malformed lines before the last are skipped and
// listed in Results.Malformed, and Read returns what was readable together
// with an error wrapping ErrMalformedLine that names the first one's line
// number (callers that need the whole stream stop on the error; a report can
// show the rest). Input without any k6 line is ErrNotNDJSON. Lines of
// unknown type are skipped (k6 may add types).
func Read(r io.Reader) (*Results, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("%w: gzip header: %v", ErrNotNDJSON, err)
		}
		defer zr.Close()
		br = bufio.NewReaderSize(zr, 64<<10)
	}
	res := &Results{Metrics: map[string]Metric{}, index: map[string]*Series{}}
	var (
		valid     int   // lines parsed
		badLine   int   // number of the first line that failed, 0 when none
		badErr    error // its error
		lineBuf   []byte
		endOfData bool
	)
	for lineNo := 1; !endOfData; lineNo++ {
		line, err := readLine(br, &lineBuf)
		switch {
		case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
			endOfData = true
		case errors.Is(err, errLineTooLong):
		case err != nil:
			return nil, fmt.Errorf("results: reading: %w", err)
		}
		trimmed := bytes.TrimSpace(line)
		if len(trimmed) == 0 && !errors.Is(err, errLineTooLong) {
			continue
		}
		res.Lines++
		if badLine != 0 {
			// A bad line followed by more input: damage, not a cut-short
			// tail. Skip it and read on.
			res.MalformedCount++
			if len(res.Malformed) < MaxMalformed {
				res.Malformed = append(res.Malformed, MalformedLine{Line: badLine, Err: badErr.Error()})
			}
			badLine, badErr = 0, nil
		}
		if errors.Is(err, errLineTooLong) {
			badLine, badErr = lineNo, fmt.Errorf("line longer than %d bytes", MaxLineBytes)
			continue
		}
		switch perr := res.addLine(trimmed); {
		case perr == nil:
			valid++
		case !errors.Is(perr, errSkipped):
			badLine, badErr = lineNo, perr
		}
	}
	if badLine != 0 {
		if valid == 0 {
			return nil, fmt.Errorf("%w (line %d: %v); pass the file written by `hubcap run --out json=FILE`", ErrNotNDJSON, badLine, badErr)
		}
		// Only the last line is bad: the writer died mid-line (or the copy
		// was taken mid-write). Nothing follows it, so drop it and say so.
		res.TruncatedTail = true
	}
	if valid == 0 {
		return nil, fmt.Errorf("%w: no Metric or Point line; pass the file written by `hubcap run --out json=FILE`", ErrNotNDJSON)
	}
	res.finish()
	if res.MalformedCount > 0 {
		first := res.Malformed[0]
		more := ""
		if res.MalformedCount > 1 {
			more = fmt.Sprintf(" and %d more malformed lines", res.MalformedCount-1)
		}
		return res, fmt.Errorf("%w %d: %s%s, skipped; the rest of the file was read", ErrMalformedLine, first.Line, first.Err, more)
	}
	return res, nil
}

// errLineTooLong marks a line longer than MaxLineBytes (its rest is skipped).
var errLineTooLong = errors.New("line too long")

// readLine returns the next line including its newline, reusing *buf for
// lines longer than the reader's buffer. At the end of the input it returns
// what is left with io.EOF.
func readLine(br *bufio.Reader, buf *[]byte) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	if !errors.Is(err, bufio.ErrBufferFull) {
		return line, err
	}
	*buf = append((*buf)[:0], line...)
	for errors.Is(err, bufio.ErrBufferFull) {
		line, err = br.ReadSlice('\n')
		if len(*buf)+len(line) > MaxLineBytes {
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = br.ReadSlice('\n')
			}
			if err == nil || errors.Is(err, io.EOF) {
				err = errLineTooLong // a following read reports io.EOF
			}
			return nil, err
		}
		*buf = append(*buf, line...)
	}
	return *buf, err
}

// addLine parses and records one non-empty line.
func (res *Results) addLine(b []byte) error {
	var l rawLine
	if err := json.Unmarshal(b, &l); err != nil {
		return err
	}
	switch l.Type {
	case TypeMetric:
		name := l.Data.Name
		if name == "" {
			name = l.Metric
		}
		if name == "" {
			return errors.New("Metric line without a name")
		}
		res.Metrics[name] = Metric{Name: name, Type: strings.ToLower(l.Data.Type), Contains: strings.ToLower(l.Data.Contains),
			Thresholds: l.Data.Thresholds, Submetrics: l.Data.Submetrics}
		return nil
	case TypePoint:
		name := l.Metric
		if name == "" {
			name = l.Data.Name
		}
		if name == "" {
			return errors.New("Point line without a metric")
		}
		if l.Data.Time == nil {
			return fmt.Errorf("Point of %q without a time", name)
		}
		if l.Data.Value == nil {
			return fmt.Errorf("Point of %q without a value", name)
		}
		tags := make(map[string]string, len(l.Data.Tags))
		for k, v := range l.Data.Tags {
			switch v := v.(type) {
			case nil:
			case string:
				tags[k] = v
			case float64:
				tags[k] = strconv.FormatFloat(v, 'g', -1, 64)
			case bool:
				tags[k] = strconv.FormatBool(v)
			default:
				j, _ := json.Marshal(v)
				tags[k] = string(j)
			}
		}
		res.addPoint(name, tags, Point{Time: *l.Data.Time, Value: *l.Data.Value})
		return nil
	case "":
		return errors.New(`not a k6 JSON-output line (no "type")`)
	}
	return errSkipped // k6 may add line types
}

// errSkipped marks a well-formed line of a type the report does not use.
var errSkipped = errors.New("skipped")

func (res *Results) addPoint(name string, tags map[string]string, p Point) {
	if name == MetricRunStatus {
		if p.Time.After(res.StatusTime) || res.Status == "" {
			res.Status, res.StatusTime = tags[TagStatus], p.Time
			if res.Status == "" {
				res.Status = "unknown"
			}
		}
	}
	key := seriesKey(name, tags)
	s := res.index[key]
	if s == nil {
		s = &Series{Metric: name, Tags: tags}
		res.index[key] = s
		res.Series = append(res.Series, s)
	}
	s.Points = append(s.Points, p)
	if res.PointCount == 0 || p.Time.Before(res.Start) {
		res.Start = p.Time
	}
	if res.PointCount == 0 || p.Time.After(res.End) {
		res.End = p.Time
	}
	res.PointCount++
}

// finish sorts every series by time (k6 writes points roughly in order;
// several VUs may interleave).
func (res *Results) finish() {
	for _, s := range res.Series {
		sort.SliceStable(s.Points, func(i, j int) bool { return s.Points[i].Time.Before(s.Points[j].Time) })
	}
}

// seriesKey is the metric name and its sorted tags, unambiguous because
// keys and values are quoted.
func seriesKey(name string, tags map[string]string) string {
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(strconv.Quote(name))
	for _, k := range keys {
		b.WriteByte(' ')
		b.WriteString(strconv.Quote(k))
		b.WriteByte('=')
		b.WriteString(strconv.Quote(tags[k]))
	}
	return b.String()
}

// ReadFile reads the results file at path (plain or gzip-compressed) with
// [Read].
func ReadFile(path string) (*Results, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Read(f)
}

// FromLogs copies the results lines of a container's log (`kubectl logs` of
// a pod that ran hubcap run --out json=-, where the runner's messages on
// stderr are interleaved with the stream on stdout) from r to w: the lines
// that start with `{"`. It returns how many lines it kept and skipped.
func FromLogs(r io.Reader, w io.Writer) (kept, skipped int, err error) {
	br := bufio.NewReaderSize(r, 64<<10)
	bw := bufio.NewWriterSize(w, 64<<10)
	var buf []byte
	for {
		line, rerr := readLine(br, &buf)
		if errors.Is(rerr, errLineTooLong) {
			skipped++
			continue
		}
		if rerr != nil && !errors.Is(rerr, io.EOF) {
			return kept, skipped, rerr
		}
		if t := bytes.TrimSpace(line); len(t) > 0 {
			if bytes.HasPrefix(t, []byte(`{"`)) {
				kept++
				if _, err := bw.Write(line); err != nil {
					return kept, skipped, err
				}
			} else {
				skipped++
			}
		}
		if rerr != nil {
			break
		}
	}
	return kept, skipped, bw.Flush()
}
