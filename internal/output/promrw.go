package output

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hubcap-dev/hubcap/internal/metrics"
	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/samples"
)

// PromRWConfig configures the Prometheus remote-write output (k6's
// experimental-prometheus-rw and its K6_PROMETHEUS_RW_* variables).
type PromRWConfig struct {
	// ServerURL is the receiver's write endpoint (default
	// http://localhost:9090/api/v1/write).
	ServerURL string
	// PushInterval is how often series are sent (default 5s).
	PushInterval time.Duration
	// TrendStats are the series of each trend (default p(99)).
	TrendStats []string
	// Headers are added to each request; Username and Password make a
	// basic authorization.
	Headers            map[string]string
	Username, Password string
	InsecureSkipVerify bool
	// Client sends the requests (default a client with a 10s timeout).
	Client *http.Client
}

// PromRWConfigFromEnv reads K6_PROMETHEUS_RW_SERVER_URL,
// _PUSH_INTERVAL, _TREND_STATS, _USERNAME, _PASSWORD,
// _INSECURE_SKIP_TLS_VERIFY and _HEADERS_<NAME> from environ, then the
// --out argument's server_url=... pairs.
func PromRWConfigFromEnv(environ []string, arg string) (PromRWConfig, error) {
	c := PromRWConfig{ServerURL: "http://localhost:9090/api/v1/write", PushInterval: 5 * time.Second,
		TrendStats: []string{"p(99)"}, Headers: map[string]string{}}
	set := func(k, v string) error {
		switch k {
		case "SERVER_URL":
			c.ServerURL = v
		case "PUSH_INTERVAL":
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return fmt.Errorf("push interval %q: want a positive duration like 5s", v)
			}
			c.PushInterval = d
		case "TREND_STATS":
			c.TrendStats = nil
			for _, s := range strings.Split(v, ",") {
				c.TrendStats = append(c.TrendStats, strings.TrimSpace(s))
			}
			if errs := metrics.ValidateTrendStats(c.TrendStats); len(errs) > 0 {
				return fmt.Errorf("trend stats %q: %w", v, errs[0])
			}
		case "USERNAME":
			c.Username = v
		case "PASSWORD":
			c.Password = v
		case "INSECURE_SKIP_TLS_VERIFY":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("insecure skip TLS verify %q: want true or false", v)
			}
			c.InsecureSkipVerify = b
		default:
			if h, ok := strings.CutPrefix(k, "HEADERS_"); ok {
				c.Headers[h] = v
				return nil
			}
			return fmt.Errorf("unknown setting %s", k)
		}
		return nil
	}
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		if name, ok := strings.CutPrefix(k, "K6_PROMETHEUS_RW_"); ok {
			if err := set(name, v); err != nil {
				return c, fmt.Errorf("%s: %w", k, err)
			}
		}
	}
	if arg != "" {
		for _, kv := range strings.Split(arg, ",") {
			k, v, _ := strings.Cut(kv, "=")
			if err := set(strings.ToUpper(k), v); err != nil {
				return c, fmt.Errorf("--out experimental-prometheus-rw=%s: %w", arg, err)
			}
		}
	}
	return c, nil
}

// PromRW sends the run's metrics to a Prometheus remote-write receiver,
// named as k6 names them: k6_<metric>_total for counters, k6_<metric> for
// gauges, k6_<metric>_rate for rates and k6_<metric>_<stat> (p99, avg,
// med, ...) for trends, each series labelled by the sample's tags and
// aggregated from the start of the test.
type PromRW struct {
	cfg    PromRWConfig
	lookup func(string) (samples.Metric, bool)

	mu     sync.Mutex
	series map[string]*series
	start  time.Time

	done    chan struct{}
	stopped chan struct{}
	once    sync.Once
	sendErr error
	sent    int
}

type series struct {
	metric samples.Metric
	labels [][2]string
	sink   metrics.Sink
	last   time.Time
}

// NewPromRW returns the output; Start begins the pushes.
func NewPromRW(cfg PromRWConfig) *PromRW {
	if cfg.PushInterval <= 0 {
		cfg.PushInterval = 5 * time.Second
	}
	if len(cfg.TrendStats) == 0 {
		cfg.TrendStats = []string{"p(99)"}
	}
	if cfg.Client == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		if cfg.InsecureSkipVerify {
			tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // opt-in
		}
		cfg.Client = &http.Client{Timeout: 10 * time.Second, Transport: tr}
	}
	return &PromRW{cfg: cfg, series: map[string]*series{}}
}

// Description names the output in the run header.
func (p *PromRW) Description() string {
	return fmt.Sprintf("Prometheus remote write (%s)", redactURL(p.cfg.ServerURL))
}

func redactURL(u string) string {
	if i := strings.Index(u, "@"); i >= 0 {
		if j := strings.Index(u, "://"); j >= 0 && j < i {
			return u[:j+3] + "***" + u[i:]
		}
	}
	return u
}

// Start begins pushing every PushInterval.
func (p *PromRW) Start(lookup func(string) (samples.Metric, bool)) error {
	p.lookup = lookup
	p.start = time.Now()
	p.done, p.stopped = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(p.stopped)
		t := time.NewTicker(p.cfg.PushInterval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				_ = p.push(context.Background())
			case <-p.done:
				return
			}
		}
	}()
	return nil
}

// AddSample aggregates s into its series.
func (p *PromRW) AddSample(s samples.Sample) {
	if p.lookup == nil {
		return
	}
	m, ok := p.lookup(s.Metric)
	if !ok {
		return
	}
	labels := make([][2]string, 0, len(s.Tags))
	for k, v := range s.Tags {
		if v != "" && k != "__name__" {
			labels = append(labels, [2]string{sanitizeLabel(k), v})
		}
	}
	sort.Slice(labels, func(i, j int) bool { return labels[i][0] < labels[j][0] })
	var key strings.Builder
	key.WriteString(s.Metric)
	for _, l := range labels {
		key.WriteString("\xff" + l[0] + "\xfe" + l[1])
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	se, ok := p.series[key.String()]
	if !ok {
		se = &series{metric: m, labels: labels, sink: metrics.NewSink(m.Kind)}
		p.series[key.String()] = se
	}
	se.sink.Add(s.Value)
	if s.Time.After(se.last) {
		se.last = s.Time
	}
}

// Stop sends the last values and stops.
func (p *PromRW) Stop() error {
	var err error
	p.once.Do(func() {
		if p.done == nil {
			return
		}
		close(p.done)
		<-p.stopped
		err = p.push(context.Background())
	})
	return err
}

// Pushes returns how many write requests were accepted.
func (p *PromRW) Pushes() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.sent
}

// promName maps a metric and an aggregation to k6's series name.
func promName(m samples.Metric, stat string) string {
	base := "k6_" + m.Name
	switch m.Kind {
	case samples.Counter:
		return base + "_total"
	case samples.Rate:
		return base + "_rate"
	case samples.Trend:
		r := strings.NewReplacer("(", "", ")", "", ".", "")
		return base + "_" + r.Replace(stat)
	}
	return base
}

func sanitizeLabel(k string) string {
	var b strings.Builder
	for i, c := range k {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_', c >= '0' && c <= '9' && i > 0:
			b.WriteRune(c)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

// timeSeries is one series of a write request.
type timeSeries struct {
	labels [][2]string // __name__ first, then sorted
	value  float64
	ts     int64 // ms
}

// snapshot turns the series into remote-write time series.
func (p *PromRW) snapshot(now time.Time) []timeSeries {
	p.mu.Lock()
	defer p.mu.Unlock()
	elapsed := now.Sub(p.start)
	var out []timeSeries
	for _, se := range p.series {
		if se.sink.Empty() {
			continue
		}
		ts := now.UnixMilli()
		vals := se.sink.Values(elapsed, p.cfg.TrendStats)
		add := func(stat string, v float64) {
			if math.IsNaN(v) {
				return
			}
			labels := append([][2]string{{"__name__", promName(se.metric, stat)}}, se.labels...)
			out = append(out, timeSeries{labels: labels, value: v, ts: ts})
		}
		switch se.metric.Kind {
		case samples.Counter:
			add("", vals["count"])
		case samples.Gauge:
			add("", vals["value"])
		case samples.Rate:
			add("", vals["rate"])
		case samples.Trend:
			for _, st := range p.cfg.TrendStats {
				add(st, vals[st])
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].labels[0][1] < out[j].labels[0][1] })
	return out
}

func (p *PromRW) push(ctx context.Context) error {
	ts := p.snapshot(time.Now())
	if len(ts) == 0 {
		return nil
	}
	body := SnappyEncode(encodeWriteRequest(ts))
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.cfg.ServerURL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Encoding", "snappy")
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
	req.Header.Set("User-Agent", "hubcap")
	for k, v := range p.cfg.Headers {
		req.Header.Set(k, v)
	}
	if p.cfg.Username != "" || p.cfg.Password != "" {
		req.SetBasicAuth(p.cfg.Username, p.cfg.Password)
	}
	res, err := p.cfg.Client.Do(req)
	if err != nil {
		return fmt.Errorf("%w: Prometheus remote write: %w", ErrOutput, err)
	}
	defer res.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(res.Body, 512))
	if res.StatusCode/100 != 2 {
		return fmt.Errorf("%w: Prometheus remote write to %s: %s %s", ErrOutput, redactURL(p.cfg.ServerURL), res.Status, strings.TrimSpace(string(msg)))
	}
	p.mu.Lock()
	p.sent++
	p.mu.Unlock()
	return nil
}

// --- protobuf (prometheus.WriteRequest, hand-encoded) ---

// encodeWriteRequest encodes Prometheus' remote-write WriteRequest:
// field 1 timeseries { 1 labels {1 name, 2 value}, 2 samples {1 value
// (double), 2 timestamp (int64)} }.
func encodeWriteRequest(series []timeSeries) []byte {
	var out []byte
	for _, s := range series {
		var ts []byte
		for _, l := range s.labels {
			var lb []byte
			lb = appendString(lb, 1, l[0])
			lb = appendString(lb, 2, l[1])
			ts = appendBytes(ts, 1, lb)
		}
		var sb []byte
		sb = append(sb, 1<<3|1) // field 1, 64-bit
		sb = binary.LittleEndian.AppendUint64(sb, math.Float64bits(s.value))
		sb = append(sb, 2<<3|0) // field 2, varint
		sb = binary.AppendUvarint(sb, uint64(s.ts))
		ts = appendBytes(ts, 2, sb)
		out = appendBytes(out, 1, ts)
	}
	return out
}

func appendBytes(b []byte, field int, v []byte) []byte {
	b = binary.AppendUvarint(b, uint64(field)<<3|2)
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

func appendString(b []byte, field int, s string) []byte { return appendBytes(b, field, []byte(s)) }

// --- snappy (block format) ---

// SnappyEncode compresses src in snappy's block format (what remote write
// sends): the length, then literals and copies found with a small hash
// table of 4-byte sequences.
func SnappyEncode(src []byte) []byte {
	dst := binary.AppendUvarint(nil, uint64(len(src)))
	const minMatch = 4
	var table [1 << 14]int32
	for i := range table {
		table[i] = -1
	}
	hash := func(u uint32) uint32 { return (u * 0x1e35a7bd) >> (32 - 14) }
	lit := 0 // start of pending literal
	i := 0
	for i+minMatch <= len(src) {
		u := binary.LittleEndian.Uint32(src[i:])
		h := hash(u)
		cand := int(table[h])
		table[h] = int32(i)
		if cand >= 0 && i-cand <= 65535 && binary.LittleEndian.Uint32(src[cand:]) == u {
			n := minMatch
			for i+n < len(src) && src[cand+n] == src[i+n] {
				n++
			}
			dst = snappyLiteral(dst, src[lit:i])
			dst = snappyCopy(dst, i-cand, n)
			i += n
			lit = i
			continue
		}
		i++
	}
	return snappyLiteral(dst, src[lit:])
}

func snappyLiteral(dst, lit []byte) []byte {
	n := len(lit)
	if n == 0 {
		return dst
	}
	switch m := n - 1; {
	case m < 60:
		dst = append(dst, byte(m)<<2)
	case m < 1<<8:
		dst = append(dst, 60<<2, byte(m))
	case m < 1<<16:
		dst = append(dst, 61<<2, byte(m), byte(m>>8))
	case m < 1<<24:
		dst = append(dst, 62<<2, byte(m), byte(m>>8), byte(m>>16))
	default:
		dst = append(dst, 63<<2, byte(m), byte(m>>8), byte(m>>16), byte(m>>24))
	}
	return append(dst, lit...)
}

// snappyCopy emits copies with 2-byte offsets (tag 2), 1 to 64 bytes each.
func snappyCopy(dst []byte, offset, n int) []byte {
	for n > 0 {
		l := min(n, 64)
		dst = append(dst, byte(l-1)<<2|2, byte(offset), byte(offset>>8))
		n -= l
	}
	return dst
}

// SnappyDecode decodes snappy's block format (for tests and fuzzing).
func SnappyDecode(src []byte) ([]byte, error) {
	n, k := binary.Uvarint(src)
	if k <= 0 || n > 1<<28 {
		return nil, fmt.Errorf("snappy: bad length")
	}
	src = src[k:]
	dst := make([]byte, 0, n)
	for len(src) > 0 {
		tag := src[0]
		switch tag & 3 {
		case 0:
			m := int(tag >> 2)
			src = src[1:]
			if m >= 60 {
				b := m - 59
				if len(src) < b {
					return nil, fmt.Errorf("snappy: short literal length")
				}
				m = 0
				for j := b - 1; j >= 0; j-- {
					m = m<<8 | int(src[j])
				}
				src = src[b:]
			}
			m++
			if m <= 0 || len(src) < m {
				return nil, fmt.Errorf("snappy: short literal")
			}
			dst = append(dst, src[:m]...)
			src = src[m:]
		default:
			var l, off int
			switch tag & 3 {
			case 1:
				if len(src) < 2 {
					return nil, fmt.Errorf("snappy: short copy")
				}
				l = int(tag>>2&7) + 4
				off = int(tag>>5)<<8 | int(src[1])
				src = src[2:]
			case 2:
				if len(src) < 3 {
					return nil, fmt.Errorf("snappy: short copy")
				}
				l = int(tag>>2) + 1
				off = int(src[1]) | int(src[2])<<8
				src = src[3:]
			case 3:
				if len(src) < 5 {
					return nil, fmt.Errorf("snappy: short copy")
				}
				l = int(tag>>2) + 1
				off = int(binary.LittleEndian.Uint32(src[1:]))
				src = src[5:]
			}
			if off <= 0 || off > len(dst) {
				return nil, fmt.Errorf("snappy: bad offset")
			}
			for j := 0; j < l; j++ {
				dst = append(dst, dst[len(dst)-off])
			}
		}
		if uint64(len(dst)) > n {
			return nil, fmt.Errorf("snappy: longer than declared")
		}
	}
	if uint64(len(dst)) != n {
		return nil, fmt.Errorf("snappy: length mismatch")
	}
	return dst, nil
}
