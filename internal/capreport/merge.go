package capreport

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/hubcap-dev/hubcap/reports"
	"github.com/hubcap-dev/hubcap/results"
)

// ReadMerged reads the results files of the instances of one run split by
// execution segments (hubcap run --execution-segment, one file per
// instance) and merges them into the results of the whole run (see
// results.Merge: counters summed, trends from every raw point, gauges per
// instance, hub telemetry once, the worst status, one time axis). One path
// is read as ReadResults reads it. Files of different runs are refused with
// an error wrapping ErrBadInputs and results.ErrDifferentRuns; unreadable
// files with ErrResults. notes say what the merge left out or found odd.
// Files with damaged lines (results.ErrMalformedLine) are read around them:
// the merged results come back with that error, so that a report can show
// what was readable and the caller can still fail.
func ReadMerged(paths []string) (res *reports.Results, instances []results.Instance, notes []string, err error) {
	if len(paths) == 0 {
		return nil, nil, nil, fmt.Errorf("%w: no results files", ErrBadInputs)
	}
	parts := make([]results.Part, 0, len(paths))
	var damaged []error
	for _, p := range paths {
		r, err := readResults(p)
		if err != nil && r != nil {
			damaged = append(damaged, err)
		} else if err != nil {
			return nil, nil, nil, err
		}
		parts = append(parts, results.Part{Name: filepath.Base(p), Results: r})
	}
	defer func() {
		if err == nil && len(damaged) > 0 {
			err = errors.Join(damaged...)
		}
	}()
	res, instances, notes, err = results.Merge(parts)
	if errors.Is(err, results.ErrDifferentRuns) {
		return nil, nil, nil, fmt.Errorf("%w: %w", ErrBadInputs, err)
	}
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%w: %w", ErrResults, err)
	}
	return res, instances, notes, nil
}

// instancesEnv lists the merged instances in the environment table: one
// row for the run, one per instance.
func instancesEnv(env map[string]string, instances []results.Instance) {
	if len(instances) < 2 {
		return
	}
	env["instances"] = fmt.Sprintf("%d instances of run %s, merged", len(instances), instances[0].RunID)
	for _, in := range instances {
		var parts []string
		seg := in.Segment
		if seg == "" {
			seg = "0:1"
		}
		parts = append(parts, "segment "+seg, in.Name, strconv.Itoa(in.Points)+" points")
		st := in.Status
		if st == "" {
			st = "no status marker (cut short)"
		}
		parts = append(parts, st)
		if in.TruncatedTail {
			parts = append(parts, "incomplete last line")
		}
		if in.Telemetry {
			parts = append(parts, "hub telemetry")
		}
		env["instance "+in.ID] = strings.Join(parts, " · ")
	}
}
