package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/hubcap-dev/hubcap/internal/executor"
	"github.com/hubcap-dev/hubcap/internal/script"
	"github.com/hubcap-dev/hubcap/results"
	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/samples"
)

// One instance of a run split by execution segments: its run id (shared by
// every instance), its instance id, the name prefix that keeps its users
// and cleanup apart from the other instances', whether it reads the hub's
// telemetry, and the start barrier.

// RunIDEnv is where --run-id's default comes from (a Kubernetes Job sets it
// for every pod).
const RunIDEnv = "HUBCAP_RUN_ID"

// StartAtEnv is where --start-at's default comes from.
const StartAtEnv = "HUBCAP_START_AT"

// instanceSpec is what the instance flags decide.
type instanceSpec struct {
	runID, id         string
	segment, sequence string
	prefix            string // the name prefix of this instance's users and servers
	telemetry         bool   // this instance reads the hub's telemetry
	startAt           time.Time
}

var idPattern = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$`)

// instance checks the instance flags: the instance id (default from the
// execution segment: s<start as a fraction>, e.g. s0, s1-3, s2-3, which
// differs between segments that do not overlap), the run id (default
// $HUBCAP_RUN_ID, else a new random one), --hub-telemetry and --start-at.
// now is the current time, for --start-at in the past.
func (f *runFlags) instance(getenv func(string) string) (instanceSpec, error) {
	s := instanceSpec{segment: strings.TrimSpace(f.segment), sequence: strings.TrimSpace(f.sequence), prefix: f.namePrefix}
	var errs []error
	var start string
	if f.segmentIndex != "" {
		seq, err := executor.ParseSequence(s.sequence)
		i, ierr := strconv.Atoi(f.segmentIndex)
		switch {
		case ierr != nil || i < 0:
			return s, fmt.Errorf("--execution-segment-index %q: want a number from 0", f.segmentIndex)
		case s.segment != "":
			return s, errors.New("give --execution-segment or --execution-segment-index, not both")
		case err != nil || len(seq) == 0:
			return s, fmt.Errorf("--execution-segment-index needs --execution-segment-sequence, e.g. 0,1/3,2/3,1 (%v)", err)
		case i >= len(seq):
			return s, fmt.Errorf("--execution-segment-index %d: the sequence %s has %d segments (0 to %d)", i, s.sequence, len(seq), len(seq)-1)
		}
		s.segment = seq[i].String()
	}
	if s.segment != "" {
		seg, err := executor.ParseSegment(s.segment)
		if err != nil {
			// script.Run reports a bad segment with its own exit code.
			return s, nil
		}
		s.segment = seg.String()
		start = seg.From.RatString()
	}
	switch {
	case f.instanceID != "":
		s.id = f.instanceID
	case s.segment != "":
		s.id = "s" + strings.ReplaceAll(start, "/", "-")
	}
	if s.id != "" && !idPattern.MatchString(s.id) {
		errs = append(errs, fmt.Errorf("--instance-id %q: use 1–32 lower-case letters, digits and inner dashes (it goes into user names)", s.id))
	}
	if s.id != "" && s.prefix != "" {
		s.prefix += s.id + "-"
	}
	s.runID = f.runID
	if s.runID == "" {
		s.runID = strings.TrimSpace(getenv(RunIDEnv))
	}
	if s.runID == "" {
		s.runID = newRunID()
	} else if !idPattern.MatchString(s.runID) {
		errs = append(errs, fmt.Errorf("--run-id %q: use 1–32 lower-case letters, digits and inner dashes", s.runID))
	}
	switch f.hubTelemetry {
	case "auto":
		s.telemetry = start == "" || start == "0"
	case "on":
		s.telemetry = true
	case "off":
	default:
		errs = append(errs, fmt.Errorf("--hub-telemetry %q: use auto, on or off", f.hubTelemetry))
	}
	at := f.startAt
	if at == "" {
		at = strings.TrimSpace(getenv(StartAtEnv))
	}
	if at != "" {
		t, err := time.Parse(time.RFC3339, at)
		if err != nil {
			errs = append(errs, fmt.Errorf("--start-at %q: want an RFC 3339 time such as 2026-05-04T09:00:00Z", at))
		}
		s.startAt = t
	}
	return s, errors.Join(errs...)
}

// newRunID is a random run id: the UTC minute and 6 random hex digits.
func newRunID() string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return time.Now().UTC().Format("20060102-1504") + "-" + hex.EncodeToString(b)
}

// waitStart waits until the start barrier (none: returns at once). A time
// already past is reported and not waited for. It returns ctx's error when
// the wait is interrupted.
func waitStart(ctx context.Context, at time.Time, now time.Time, stdio IO, quiet bool) error {
	if at.IsZero() {
		return nil
	}
	d := at.Sub(now)
	if d <= 0 {
		fmt.Fprintf(stdio.Stderr, "hubcap run: --start-at %s passed %s ago; starting now\n", at.Format(time.RFC3339), (-d).Round(time.Second))
		return nil
	}
	if !quiet {
		fmt.Fprintf(stdio.Stderr, "      start at: %s (in %s, with the other instances)\n", at.Format(time.RFC3339), d.Round(time.Second))
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%w while waiting for --start-at", script.ErrInterrupted)
	}
}

// runInfo is a collector that writes the instance's hubcap_run_info point
// when the test starts.
type runInfo struct{ s instanceSpec }

var _ script.Collector = runInfo{}

func (runInfo) Metrics() []samples.Metric {
	return []samples.Metric{{Name: results.MetricRunInfo, Kind: samples.Gauge}}
}

func (r runInfo) Run(ctx context.Context, sink samples.Sink) error {
	sink.AddSample(samples.Sample{Metric: results.MetricRunInfo, Time: time.Now(), Value: 1, Tags: r.s.tags()})
	<-ctx.Done()
	return nil
}

func (s instanceSpec) tags() map[string]string {
	return map[string]string{results.TagRunID: s.runID, results.TagInstance: s.id, results.TagSegment: s.segment,
		results.TagSequence: s.sequence, results.TagNamePrefix: s.prefix, results.TagHubTelemetry: fmt.Sprint(s.telemetry)}
}

// getenv is os.Getenv, replaceable in tests.
var getenv = os.Getenv
