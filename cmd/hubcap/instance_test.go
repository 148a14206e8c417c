package main

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hubcap-dev/hubcap/internal/script"
)

// Each instance of a split run gets its own name prefix (so its cleanup
// never touches another's users), one of them the hub telemetry, all the
// same run id.
func TestInstanceSpec(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	cases := []struct {
		name            string
		f               runFlags
		env             map[string]string
		id, prefix, run string
		telemetry       bool
		err             string
	}{
		{name: "not split: unchanged prefix, telemetry", f: runFlags{namePrefix: "hubcap-", hubTelemetry: "auto", runID: "r1"},
			prefix: "hubcap-", run: "r1", telemetry: true},
		{name: "first third reads the hub", f: runFlags{namePrefix: "hubcap-", hubTelemetry: "auto", segment: "0:1/3"}, env: map[string]string{RunIDEnv: "wk-1"},
			id: "s0", prefix: "hubcap-s0-", run: "wk-1", telemetry: true},
		{name: "second third does not", f: runFlags{namePrefix: "hubcap-", hubTelemetry: "auto", segment: "1/3:2/3"}, env: map[string]string{RunIDEnv: "wk-1"},
			id: "s1-3", prefix: "hubcap-s1-3-", run: "wk-1"},
		{name: "the same fraction spelled otherwise", f: runFlags{namePrefix: "hubcap-", hubTelemetry: "auto", segment: "50%:1", runID: "x"},
			id: "s1-2", prefix: "hubcap-s1-2-", run: "x"},
		{name: "the flag beats the environment", f: runFlags{namePrefix: "p-", hubTelemetry: "on", segment: "2/3:1", runID: "a"}, env: map[string]string{RunIDEnv: "b"},
			id: "s2-3", prefix: "p-s2-3-", run: "a", telemetry: true},
		{name: "explicit instance id", f: runFlags{namePrefix: "p-", hubTelemetry: "off", instanceID: "pod7", runID: "a"},
			id: "pod7", prefix: "p-pod7-", run: "a"},
		{name: "an instance id that cannot be a user name", f: runFlags{namePrefix: "p-", hubTelemetry: "auto", instanceID: "Pod_7", runID: "a"}, err: "--instance-id"},
		{name: "the i-th of the sequence (Kubernetes)", f: runFlags{namePrefix: "hubcap-", hubTelemetry: "auto", segmentIndex: "2", sequence: "0,1/4,1/2,3/4,1", runID: "k"},
			id: "s1-2", prefix: "hubcap-s1-2-", run: "k"},
		{name: "index beyond the sequence", f: runFlags{hubTelemetry: "auto", segmentIndex: "3", sequence: "0,1/3,2/3,1", runID: "k"}, err: "has 3 segments"},
		{name: "index without a sequence", f: runFlags{hubTelemetry: "auto", segmentIndex: "0", runID: "k"}, err: "needs --execution-segment-sequence"},
		{name: "index and segment", f: runFlags{hubTelemetry: "auto", segmentIndex: "0", segment: "0:1/2", sequence: "0,1/2,1", runID: "k"}, err: "not both"},
		{name: "index not a number", f: runFlags{hubTelemetry: "auto", segmentIndex: "$(JOB_COMPLETION_INDEX)", sequence: "0,1/2,1", runID: "k"}, err: "want a number"},
		{name: "bad run id", f: runFlags{hubTelemetry: "auto", runID: "a b"}, err: "--run-id"},
		{name: "bad telemetry", f: runFlags{hubTelemetry: "sometimes", runID: "a"}, err: "--hub-telemetry"},
		{name: "bad start", f: runFlags{hubTelemetry: "auto", runID: "a", startAt: "in a minute"}, err: "--start-at"},
	}
	for _, c := range cases {
		s, err := c.f.instance(env(c.env))
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: err %v, want one about %s", c.name, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if s.id != c.id || s.prefix != c.prefix || s.runID != c.run || s.telemetry != c.telemetry {
			t.Errorf("%s: id %q prefix %q run %q telemetry %v; want %q %q %q %v", c.name, s.id, s.prefix, s.runID, s.telemetry, c.id, c.prefix, c.run, c.telemetry)
		}
	}
	// Without a run id anywhere, each run gets a new one.
	a, _ := (&runFlags{hubTelemetry: "auto"}).instance(env(nil))
	b, _ := (&runFlags{hubTelemetry: "auto"}).instance(env(nil))
	if a.runID == "" || a.runID == b.runID || !idPattern.MatchString(a.runID) {
		t.Errorf("generated run ids %q and %q", a.runID, b.runID)
	}
	// The start time comes from the environment too.
	s, err := (&runFlags{hubTelemetry: "auto", runID: "a"}).instance(env(map[string]string{StartAtEnv: "2026-05-04T09:00:00Z"}))
	if err != nil || !s.startAt.Equal(time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC)) {
		t.Errorf("start at %v, %v", s.startAt, err)
	}
}

// The barrier waits until its time, not for a time past, and gives way to
// Ctrl-C.
func TestWaitStart(t *testing.T) {
	var buf strings.Builder
	stdio := IO{Stderr: &buf}
	now := time.Now()
	if err := waitStart(context.Background(), now.Add(-time.Minute), now, stdio, true); err != nil || !strings.Contains(buf.String(), "passed") {
		t.Errorf("a past time: %v, %q", err, buf.String())
	}
	start := time.Now()
	if err := waitStart(context.Background(), time.Now().Add(150*time.Millisecond), time.Now(), stdio, true); err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(start); waited < 140*time.Millisecond {
		t.Errorf("returned after %v, before the barrier", waited)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := waitStart(ctx, time.Now().Add(time.Hour), time.Now(), stdio, true); !errors.Is(err, script.ErrInterrupted) {
		t.Errorf("interrupted wait: %v", err)
	}
}
