package proc

import (
	"os"
	"testing"
	"time"
)

func TestSummarize(t *testing.T) {
	ms := time.Millisecond
	cases := []struct {
		name string
		in   []MemSample
		want MemSummary
	}{
		{"empty input gives zero", nil, MemSummary{}},
		{"single sample: mean is its RSS", []MemSample{{T: 5 * ms, RSS: 10, HWM: 12}},
			MemSummary{N: 1, Peak: 12, MaxRSS: 10, MeanRSS: 10, Last: MemSample{T: 5 * ms, RSS: 10, HWM: 12}}},
		{"time-weighted mean; peak from HWM catches a spike between samples",
			[]MemSample{{T: 0, RSS: 100, HWM: 100}, {T: 300 * ms, RSS: 400, HWM: 900}, {T: 400 * ms, RSS: 50, HWM: 900}},
			MemSummary{N: 3, Peak: 900, MaxRSS: 400, MeanRSS: (100*300 + 400*100) / 400.0,
				Last: MemSample{T: 400 * ms, RSS: 50, HWM: 900}, Duration: 400 * ms}},
		{"without HWM the peak is the largest RSS",
			[]MemSample{{T: 0, RSS: 7}, {T: ms, RSS: 9}},
			MemSummary{N: 2, Peak: 9, MaxRSS: 9, MeanRSS: 7, Last: MemSample{T: ms, RSS: 9}, Duration: ms}},
	}
	for _, c := range cases {
		if got := Summarize(c.in); got != c.want {
			t.Errorf("%s: got %+v, want %+v", c.name, got, c.want)
		}
	}
}

func TestSamplerSelf(t *testing.T) {
	s := StartSampler(os.Getpid(), 10*time.Millisecond)
	time.Sleep(60 * time.Millisecond)
	got := s.Stop()
	if len(got) < 2 {
		t.Fatalf("%d samples in 60ms at 10ms", len(got))
	}
	for i, x := range got {
		if x.RSS <= 0 || x.HWM < x.RSS {
			t.Fatalf("sample %d implausible: %+v", i, x)
		}
		if i > 0 && x.T < got[i-1].T {
			t.Fatalf("samples out of order at %d", i)
		}
	}
	if s.Err() != nil {
		t.Fatalf("err %v", s.Err())
	}
}

func TestSamplerEndsWithProcess(t *testing.T) {
	s := StartSampler(1<<30, time.Millisecond) // no such pid
	<-s.done
	if s.Err() == nil || len(s.Samples()) != 0 {
		t.Fatalf("sampler of a missing pid: err=%v samples=%d", s.Err(), len(s.Samples()))
	}
	s.Stop()
}
