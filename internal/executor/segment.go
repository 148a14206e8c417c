package executor

import (
	"errors"
	"fmt"
	"math/big"
	"sort"
	"strings"
)

// ErrSegment is returned for bad --execution-segment(-sequence) values.
var ErrSegment = errors.New("invalid execution segment")

// Segment is a part [From, To) of a test, with 0 ≤ From < To ≤ 1, so that
// several hubcap instances can each run their part of one test without
// overlap (k6's execution segments).
type Segment struct {
	From, To *big.Rat
}

// FullSegment is 0:1, the whole test.
func FullSegment() *Segment { return &Segment{From: big.NewRat(0, 1), To: big.NewRat(1, 1)} }

// Length is To−From.
func (s *Segment) Length() *big.Rat { return new(big.Rat).Sub(s.To, s.From) }

// String prints "from:to" as fractions ("1/3:2/3").
func (s *Segment) String() string { return s.From.RatString() + ":" + s.To.RatString() }

// Equal compares two segments.
func (s *Segment) Equal(o *Segment) bool { return s.From.Cmp(o.From) == 0 && s.To.Cmp(o.To) == 0 }

func parseRat(s string) (*big.Rat, error) {
	s = strings.TrimSpace(s)
	if p, ok := strings.CutSuffix(s, "%"); ok {
		r, ok := new(big.Rat).SetString(p)
		if !ok {
			return nil, fmt.Errorf("%w: %q is not a percentage", ErrSegment, s)
		}
		return r.Quo(r, big.NewRat(100, 1)), nil
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return nil, fmt.Errorf("%w: %q is not a fraction, decimal or percentage", ErrSegment, s)
	}
	return r, nil
}

// NewSegment checks 0 ≤ from < to ≤ 1.
func NewSegment(from, to *big.Rat) (*Segment, error) {
	switch {
	case from.Sign() < 0:
		return nil, fmt.Errorf("%w: start %s is below 0", ErrSegment, from.RatString())
	case from.Cmp(to) >= 0:
		return nil, fmt.Errorf("%w: start %s must be less than end %s", ErrSegment, from.RatString(), to.RatString())
	case to.Cmp(big.NewRat(1, 1)) > 0:
		return nil, fmt.Errorf("%w: end %s is above 1", ErrSegment, to.RatString())
	}
	return &Segment{From: from, To: to}, nil
}

// ParseSegment parses k6's --execution-segment: "from:to" or just "to"
// (from 0), each a fraction ("1/3"), decimal ("0.5") or percentage ("50%").
// The empty string is the full test.
func ParseSegment(s string) (*Segment, error) {
	if strings.TrimSpace(s) == "" {
		return FullSegment(), nil
	}
	fromS, toS, hasFrom := strings.Cut(s, ":")
	if !hasFrom {
		fromS, toS = "0", s
	}
	from, err := parseRat(fromS)
	if err != nil {
		return nil, err
	}
	to, err := parseRat(toS)
	if err != nil {
		return nil, err
	}
	return NewSegment(from, to)
}

// Sequence is an ordered list of adjacent segments.
type Sequence []*Segment

// ParseSequence parses k6's --execution-segment-sequence: comma-separated
// points "0,1/3,2/3,1" (at least two). The empty string is no sequence.
func ParseSequence(s string) (Sequence, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	points := strings.Split(s, ",")
	if len(points) < 2 {
		return nil, fmt.Errorf("%w: a sequence needs at least 2 points, got %q", ErrSegment, s)
	}
	var seq Sequence
	prev, err := parseRat(points[0])
	if err != nil {
		return nil, err
	}
	for _, p := range points[1:] {
		r, err := parseRat(p)
		if err != nil {
			return nil, err
		}
		seg, err := NewSegment(prev, r)
		if err != nil {
			return nil, err
		}
		seq = append(seq, seg)
		prev = r
	}
	return seq, nil
}

// String prints the sequence's points.
func (q Sequence) String() string {
	if len(q) == 0 {
		return ""
	}
	parts := []string{q[0].From.RatString()}
	for _, s := range q {
		parts = append(parts, s.To.RatString())
	}
	return strings.Join(parts, ",")
}

// fill completes a sequence to cover 0..1, using seg alone when the
// sequence is empty.
func fill(seq Sequence, seg *Segment) Sequence {
	if len(seq) == 0 {
		seq = Sequence{seg}
	}
	out := append(Sequence(nil), seq...)
	if out[0].From.Sign() != 0 {
		out = append(Sequence{{From: big.NewRat(0, 1), To: out[0].From}}, out...)
	}
	if last := out[len(out)-1]; last.To.Cmp(big.NewRat(1, 1)) != 0 {
		out = append(out, &Segment{From: last.To, To: big.NewRat(1, 1)})
	}
	return out
}

// Tuple is a segment within its (full) sequence. It decides which of the
// test's numbered items (VUs, iterations, arrivals) belong to the segment:
// the items are striped over the segments in cycles of lcd items, each
// segment taking length·lcd evenly spread slots per cycle. All instances of
// a test that share a sequence thus partition every numbering exactly.
type Tuple struct {
	seq   Sequence
	index int
	lcd   int64
	slots [][]int64 // per segment: its positions within one cycle, ascending
}

// NewTuple places seg in seq (nil seq: seg and the gaps around it).
func NewTuple(seg *Segment, seq Sequence) (*Tuple, error) {
	if seg == nil {
		seg = FullSegment()
	}
	for i := 1; i < len(seq); i++ {
		if seq[i].From.Cmp(seq[i-1].To) != 0 {
			return nil, fmt.Errorf("%w: sequence %s: segment %d does not start where the previous ends", ErrSegment, seq, i)
		}
	}
	full := fill(seq, seg)
	idx := -1
	for i, s := range full {
		if s.Equal(seg) {
			idx = i
		}
	}
	if idx < 0 {
		return nil, fmt.Errorf("%w: segment %s is not part of the sequence %s; pass one of its segments", ErrSegment, seg, full)
	}
	lcd := big.NewInt(1)
	for _, s := range full {
		d := s.Length().Denom()
		g := new(big.Int).GCD(nil, nil, lcd, d)
		lcd.Mul(lcd, new(big.Int).Quo(d, g))
		if lcd.Cmp(big.NewInt(maxLCD)) > 0 {
			return nil, fmt.Errorf("%w: the segments' common denominator exceeds %d; use simpler fractions", ErrSegment, maxLCD)
		}
	}
	return newTuple(full, idx), nil
}

// maxLCD bounds the striping cycle (and the work to build it).
const maxLCD = 1 << 20

func newTuple(full Sequence, idx int) *Tuple {
	lcd := int64(1)
	for _, s := range full {
		d := s.Length().Denom().Int64()
		lcd = lcd / gcd(lcd, d) * d
	}
	n := make([]int64, len(full)) // slots per cycle
	for i, s := range full {
		l := s.Length()
		n[i] = l.Num().Int64() * (lcd / l.Denom().Int64())
	}
	// Larger segments choose first; ties keep sequence order.
	order := make([]int, len(full))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return n[order[a]] > n[order[b]] })
	slots := make([][]int64, len(full))
	for pos := int64(0); pos < lcd; pos++ {
		// Give the position to the first segment (by size) whose next slot is
		// due: its c-th slot is due at position ≥ c·lcd/n. Such a segment
		// always exists because the counts sum to pos and the n sum to lcd.
		for _, j := range order {
			c := int64(len(slots[j]))
			if c < n[j] && pos*n[j] >= c*lcd {
				slots[j] = append(slots[j], pos)
				break
			}
		}
	}
	return &Tuple{seq: full, index: idx, lcd: lcd, slots: slots}
}

func gcd(a, b int64) int64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// Segment returns the tuple's segment.
func (t *Tuple) Segment() *Segment { return t.seq[t.index] }

// Sequence returns the full sequence.
func (t *Tuple) Sequence() Sequence { return t.seq }

// Scale returns how many of the items numbered 0..v−1 belong to the segment.
// Summed over all segments of the sequence it is exactly v.
func (t *Tuple) Scale(v int64) int64 {
	if len(t.seq) == 1 {
		return v
	}
	own := t.slots[t.index]
	res := v / t.lcd * int64(len(own))
	rem := v % t.lcd
	for _, p := range own {
		if p < rem {
			res++
		}
	}
	return res
}

// Global returns the test-wide number of the segment's k-th item (k from 0).
func (t *Tuple) Global(k int64) int64 {
	if len(t.seq) == 1 {
		return k
	}
	own := t.slots[t.index]
	return k/int64(len(own))*t.lcd + own[k%int64(len(own))]
}

// Rescaled returns the tuple for a scenario whose items are counted in units
// of v (k6's GetNewExecutionTupleFromValue): each segment gets the share
// Scale(v)/v, dropping segments that get nothing. It fails when this
// segment gets nothing.
func (t *Tuple) Rescaled(v int64) (*Tuple, error) {
	if v <= 0 {
		return nil, fmt.Errorf("%w: cannot rescale to %d", ErrSegment, v)
	}
	if v%t.lcd == 0 {
		return t, nil
	}
	var seq Sequence
	idx := -1
	prev := int64(0)
	for i := range t.seq {
		n := (&Tuple{seq: t.seq, index: i, lcd: t.lcd, slots: t.slots}).Scale(v)
		if n == 0 {
			continue
		}
		if i == t.index {
			idx = len(seq)
		}
		seq = append(seq, &Segment{From: big.NewRat(prev, v), To: big.NewRat(prev+n, v)})
		prev += n
	}
	if idx < 0 {
		return nil, fmt.Errorf("%w: segment %s gets none of %d", ErrSegment, t.Segment(), v)
	}
	return newTuple(seq, idx), nil
}

// index is a thread-unsafe counter over a tuple's items.
type segIndex struct {
	t *Tuple
	k int64
}

// next returns the local (0-based count in this instance) and global number
// of the next item.
func (s *segIndex) next() (local, global int64) {
	k := s.k
	s.k++
	return k, s.t.Global(k)
}
