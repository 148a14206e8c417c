package proc

import (
	"context"
	"sync"
	"time"
)

// MemSample is one reading of a process's memory.
type MemSample struct {
	// T is the time since the sampler started.
	T time.Duration `json:"t_ns"`
	// RSS is VmRSS in bytes.
	RSS int64 `json:"rss"`
	// HWM is VmHWM in bytes: the peak RSS up to this reading.
	HWM int64 `json:"hwm"`
}

// MemSummary condenses a series of MemSamples.
type MemSummary struct {
	// N is the number of samples.
	N int
	// Peak is the largest VmHWM seen (the kernel's own peak, which catches
	// spikes between samples), or the largest RSS when no HWM was recorded.
	Peak int64
	// MaxRSS is the largest sampled VmRSS.
	MaxRSS int64
	// MeanRSS is the time-weighted mean of VmRSS: each sample holds until
	// the next one; the last sample has no weight unless it is the only one.
	MeanRSS float64
	// Last is the last sample.
	Last MemSample
	// Duration is the time between the first and the last sample.
	Duration time.Duration
}

// Summarize computes a MemSummary. Samples must be in time order. It is a
// pure function; an empty input gives the zero MemSummary.
func Summarize(samples []MemSample) MemSummary {
	var s MemSummary
	s.N = len(samples)
	if s.N == 0 {
		return s
	}
	s.Last = samples[s.N-1]
	s.Duration = s.Last.T - samples[0].T
	var weighted float64
	for i, x := range samples {
		s.Peak = max(s.Peak, x.HWM, x.RSS)
		s.MaxRSS = max(s.MaxRSS, x.RSS)
		if i+1 < s.N {
			weighted += float64(x.RSS) * float64(samples[i+1].T-x.T)
		}
	}
	if s.Duration > 0 {
		s.MeanRSS = weighted / float64(s.Duration)
	} else {
		s.MeanRSS = float64(samples[0].RSS)
	}
	return s
}

// Sampler records the memory of one process at a fixed interval until it
// is stopped or the process disappears.
type Sampler struct {
	pid      int
	interval time.Duration
	start    time.Time

	mu      sync.Mutex
	samples []MemSample
	last    Mem
	err     error

	stop context.CancelFunc
	done chan struct{}
}

// StartSampler reads the memory of pid now and then every interval in a
// goroutine. Call Stop to end it.
func StartSampler(pid int, interval time.Duration) *Sampler {
	if interval <= 0 {
		interval = 100 * time.Millisecond
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Sampler{pid: pid, interval: interval, start: time.Now(), stop: cancel, done: make(chan struct{})}
	s.Sample()
	go s.loop(ctx)
	return s
}

func (s *Sampler) loop(ctx context.Context) {
	defer close(s.done)
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.Sample(); err != nil {
				return
			}
		}
	}
}

// Sample takes one reading now (in addition to the periodic ones); callers
// use it right before they stop a process, while VmHWM still exists.
func (s *Sampler) Sample() error {
	// Read under the lock: concurrent readings must land in time order.
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := ReadMem(s.pid)
	if err != nil {
		if s.err == nil {
			s.err = err
		}
		return err
	}
	s.last = m
	s.samples = append(s.samples, MemSample{T: time.Since(s.start), RSS: m.RSS, HWM: m.HWM})
	return nil
}

// Samples returns a copy of the samples so far.
func (s *Sampler) Samples() []MemSample {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]MemSample(nil), s.samples...)
}

// Last returns the most recent successful reading.
func (s *Sampler) Last() Mem {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

// Err returns the error that ended sampling (typically ErrNoProcess), if any.
func (s *Sampler) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Stop ends the sampling goroutine and returns the samples.
func (s *Sampler) Stop() []MemSample {
	s.stop()
	<-s.done
	return s.Samples()
}
