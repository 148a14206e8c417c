package executor

import (
	"errors"
	"fmt"
	"slices"
	"testing"
)

func TestParseSegment(t *testing.T) {
	cases := []struct {
		in, want string
		wantErr  bool
	}{
		{"", "0:1", false},             // empty is the whole test
		{"1/2", "0:1/2", false},        // just the end
		{"1/2:1", "1/2:1", false},      // fractions
		{"0.25:50%", "1/4:1/2", false}, // decimals and percentages
		{"1:1/2", "", true},            // backwards
		{"0:1.5", "", true},            // beyond 1
		{"-1/2:1", "", true},           // below 0
		{"a:b", "", true},              // not numbers
	}
	for _, c := range cases {
		s, err := ParseSegment(c.in)
		if c.wantErr {
			if !errors.Is(err, ErrSegment) {
				t.Errorf("%q: want ErrSegment, got %v", c.in, err)
			}
			continue
		}
		if err != nil || s.String() != c.want {
			t.Errorf("%q = %v, %v; want %s", c.in, s, err, c.want)
		}
	}
}

func TestParseSequence(t *testing.T) {
	if q, err := ParseSequence("0,1/3,2/3,1"); err != nil || q.String() != "0,1/3,2/3,1" || len(q) != 3 {
		t.Errorf("got %v %v", q, err)
	}
	for _, bad := range []string{"0.5", "1,1", "0,1,1/2", "-0.5,1", "x,1"} {
		if _, err := ParseSequence(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if _, err := NewTuple(mustSeg(t, "1/4:1/2"), mustSeq(t, "0,1/3,2/3,1")); !errors.Is(err, ErrSegment) {
		t.Errorf("segment outside the sequence accepted: %v", err)
	}
}

func mustSeg(t testing.TB, s string) *Segment {
	t.Helper()
	seg, err := ParseSegment(s)
	if err != nil {
		t.Fatal(err)
	}
	return seg
}

func mustSeq(t testing.TB, s string) Sequence {
	t.Helper()
	q, err := ParseSequence(s)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func mustTuple(t testing.TB, seg, seq string) *Tuple {
	t.Helper()
	tu, err := NewTuple(mustSeg(t, seg), mustSeq(t, seq))
	if err != nil {
		t.Fatal(err)
	}
	return tu
}

// The expected slot positions are k6's (lib/execution_segment_test.go,
// TestGetStripedOffsets: start and offsets turned into positions), so that
// hubcap instances stripe a test the way k6 instances do.
func TestTupleStripingMatchesK6(t *testing.T) {
	cases := []struct {
		seq, seg  string
		positions []int64
		lcd       int64
	}{
		{"0,0.3,0.5,0.6,0.7,0.8,0.9,1", "0:0.3", []int64{0, 4, 7}, 10},
		{"0,0.3,0.5,0.6,0.7,0.8,0.9,1", "0.3:0.5", []int64{1, 5}, 10},
		{"0,0.3,0.5,0.6,0.7,0.8,0.9,1", "0.5:0.6", []int64{2}, 10},
		{"0,0.3,0.5,0.6,0.7,0.8,0.9,1", "0.6:0.7", []int64{3}, 10},
		{"0,0.3,0.5,0.6,0.7,0.8,0.9,1", "0.8:0.9", []int64{8}, 10},
		{"0,0.3,0.5,0.6,0.7,0.8,0.9,1", "0.9:1", []int64{9}, 10},
		{"0,0.2,0.5,0.6,0.7,0.8,0.9,1", "0:0.2", []int64{1, 5}, 10},
		{"0,0.2,0.5,0.6,0.7,0.8,0.9,1", "0.6:0.7", []int64{3}, 10},
		{"0,0.2,0.5", "0:0.2", []int64{3, 9}, 10},
		{"0,0.2,0.5", "0.2:0.5", []int64{1, 5, 7}, 10},
		{"0,2/5,4/5", "0:2/5", []int64{0, 3}, 5},
		{"0,2/5,4/5", "2/5:4/5", []int64{1, 4}, 5},
		{"", "0:0.2", []int64{1}, 5},
		{"", "0:0.4", []int64{1, 3}, 5},
		{"", "2/5:4/5", []int64{1, 4}, 5},
		{"", "1/10:5/10", []int64{1, 3, 5, 9}, 10},
	}
	for _, c := range cases {
		tu := mustTuple(t, c.seg, c.seq)
		if tu.lcd != c.lcd || !slices.Equal(tu.slots[tu.index], c.positions) {
			t.Errorf("seq %q seg %s: lcd %d slots %v, want lcd %d slots %v", c.seq, c.seg, tu.lcd, tu.slots[tu.index], c.lcd, c.positions)
		}
	}
}

// Every numbering 0..v-1 is split between the segments of a sequence with
// no item lost or shared, whatever v.
func TestTuplePartition(t *testing.T) {
	for _, seqS := range []string{"0,1/2,1", "0,1/3,2/3,1", "0,0.3,0.5,0.6,0.7,0.8,0.9,1", "0,1/7,3/5,1"} {
		seq := mustSeq(t, seqS)
		for _, v := range []int64{0, 1, 2, 3, 7, 10, 11, 101} {
			seen := make([]int, v)
			var total int64
			for _, seg := range seq {
				tu, err := NewTuple(seg, seq)
				if err != nil {
					t.Fatal(err)
				}
				n := tu.Scale(v)
				total += n
				for k := range n {
					g := tu.Global(k)
					if g < 0 || g >= v {
						t.Fatalf("%s %s: Global(%d) = %d outside [0,%d)", seqS, seg, k, g, v)
					}
					seen[g]++
				}
			}
			if total != v {
				t.Errorf("%s: scaled counts of %d sum to %d", seqS, v, total)
			}
			for g, n := range seen {
				if n != 1 {
					t.Errorf("%s v=%d: item %d taken %d times", seqS, v, g, n)
				}
			}
		}
	}
}

func TestTupleRescaled(t *testing.T) {
	// k6's TestGetNewExecutionTupleBesedOnValue: 20 items over thirds give
	// the sequence 0,7/20,7/10,1.
	tu := mustTuple(t, "0:1/3", "0,1/3,2/3,1")
	r, err := tu.Rescaled(20)
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Sequence().String(); got != "0,7/20,7/10,1" {
		t.Errorf("rescaled sequence = %s", got)
	}
	// With 2 VUs over thirds the last third gets no VU and so no iteration.
	last := mustTuple(t, "2/3:1", "0,1/3,2/3,1")
	if _, err := last.Rescaled(2); err == nil {
		t.Error("a segment without VUs must not get a tuple")
	}
	cfg := NewSharedIterationsConfig("s")
	cfg.VUs, cfg.Iterations = 2, 10
	if cfg.HasWork(last) {
		t.Error("shared-iterations with 2 VUs has no work in the last third")
	}
}

func ExampleTuple() {
	seq, _ := ParseSequence("0,1/2,1")
	for _, s := range seq {
		tu, _ := NewTuple(s, seq)
		var ids []int64
		for k := range tu.Scale(5) {
			ids = append(ids, tu.Global(k))
		}
		fmt.Println(s, ids)
	}
	// Output:
	// 0:1/2 [0 2 4]
	// 1/2:1 [1 3]
}

func TestTupleRefusesHugeDenominators(t *testing.T) {
	if _, err := NewTuple(mustSeg(t, "0:1/1000000007"), nil); !errors.Is(err, ErrSegment) {
		t.Errorf("got %v", err)
	}
}
