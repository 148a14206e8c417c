package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/hubcap-dev/hubcap/internal/executor"
	"github.com/hubcap-dev/hubcap/internal/script"
)

func init() {
	register(&command{
		Name:    "run",
		Summary: "run a k6-style scenario script: run [flags] script.js",
		Run:     runRun,
	})
}

const runSynopsis = `run [flags] script.js

Runs a scenario script the way "k6 run" does (see docs/k6-compat.md).
Ctrl-C stops gracefully (teardown and summary still run); a second Ctrl-C
stops at once. Exit codes follow k6: 0 ok, 99 thresholds failed, 100/101
setup/teardown timeout, 104 invalid options, 105 interrupted, 107 script
error, 108 test.abort().`

// multiFlag collects a repeatable flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// runFlags are the flags of hubcap run, turned into script.Options.
type runFlags struct {
	vus, iterations     int64
	duration            string
	env, tags, outs     multiFlag
	systemEnv           bool
	summaryExport       string
	noSummary, noColor  bool
	quiet, verbose      bool
	segment, sequence   string
	progress            string
	progressIntervalStr string
}

func parseRunFlags(stdio IO, args []string) (*runFlags, []string, error) {
	f := &runFlags{}
	fs := newFlags("run", stdio, runSynopsis)
	fs.Int64Var(&f.vus, "vus", 0, "number of VUs, overriding the script's (k6 --vus)")
	fs.Int64Var(&f.vus, "u", 0, "shorthand for --vus")
	fs.StringVar(&f.duration, "duration", "", "test duration, e.g. 30s or 1h30m (k6 --duration); replaces the script's scenarios")
	fs.StringVar(&f.duration, "d", "", "shorthand for --duration")
	fs.Int64Var(&f.iterations, "iterations", 0, "total iterations shared by the VUs (k6 --iterations); replaces the script's scenarios")
	fs.Int64Var(&f.iterations, "i", 0, "shorthand for --iterations")
	fs.Var(&f.env, "e", "add KEY=VALUE to __ENV (repeatable)")
	fs.Var(&f.env, "env", "same as -e")
	fs.BoolVar(&f.systemEnv, "include-system-env-vars", true, "pass the process environment into __ENV")
	fs.Var(&f.tags, "tag", "add NAME=VALUE to every sample (repeatable)")
	fs.Var(&f.outs, "out", "write samples: json=FILE (k6 NDJSON; FILE.gz compresses) (repeatable)")
	fs.Var(&f.outs, "o", "shorthand for --out")
	fs.StringVar(&f.summaryExport, "summary-export", "", "write the end-of-test summary as k6's JSON export to this file")
	fs.BoolVar(&f.noSummary, "no-summary", false, "skip the end-of-test summary and handleSummary")
	fs.BoolVar(&f.noColor, "no-color", false, "no colors in the summary")
	fs.BoolVar(&f.quiet, "quiet", false, "no run header and no progress")
	fs.BoolVar(&f.quiet, "q", false, "shorthand for --quiet")
	fs.BoolVar(&f.verbose, "verbose", false, "print debug logs")
	fs.BoolVar(&f.verbose, "v", false, "shorthand for --verbose")
	fs.StringVar(&f.segment, "execution-segment", "", "the part of the test this instance runs, e.g. 0:1/2 or 1/2:1")
	fs.StringVar(&f.sequence, "execution-segment-sequence", "", "all the segments of a distributed test, e.g. 0,1/2,1")
	fs.StringVar(&f.progress, "progress", "auto", "progress display: auto, bar, plain or off")
	fs.StringVar(&f.progressIntervalStr, "progress-interval", "10s", "how often plain progress lines are printed")

	// Flags may come before or after the script, as with k6.
	var positional []string
	for {
		if err := parseFlags(fs, args, true); err != nil {
			return nil, nil, err
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
	return f, positional, nil
}

func keyValues(list []string, what string) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range list {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%s %q: want NAME=VALUE", what, kv)
		}
		out[k] = v
	}
	return out, nil
}

// options turns the flags into the library's options.
func (f *runFlags) options(path string, stdio IO) (script.Options, error) {
	o := script.Options{
		Script:           path,
		IncludeSystemEnv: f.systemEnv,
		Overrides:        script.Overrides{VUs: f.vus, Iterations: f.iterations},
		Segment:          f.segment,
		SegmentSequence:  f.sequence,
		SummaryExport:    f.summaryExport,
		NoSummary:        f.noSummary,
		NoColor:          f.noColor,
		Quiet:            f.quiet,
		Debug:            f.verbose,
		Stdout:           stdio.Stdout,
		Stderr:           stdio.Stderr,
	}
	var errs []error
	var err error
	if o.Env, err = keyValues(f.env, "-e"); err != nil {
		errs = append(errs, err)
	}
	if o.Tags, err = keyValues(f.tags, "--tag"); err != nil {
		errs = append(errs, err)
	}
	if f.duration != "" {
		if o.Overrides.Duration, err = executor.ParseDuration(f.duration); err != nil || o.Overrides.Duration <= 0 {
			errs = append(errs, fmt.Errorf("--duration %q: want a positive duration like 30s or 1h30m", f.duration))
		}
	}
	if f.vus < 0 || f.iterations < 0 {
		errs = append(errs, errors.New("--vus and --iterations can't be negative"))
	}
	for _, out := range f.outs {
		kind, file, _ := strings.Cut(out, "=")
		switch {
		case kind != "json":
			errs = append(errs, fmt.Errorf("--out %q: only json=FILE is supported", out))
		case file == "":
			errs = append(errs, fmt.Errorf("--out %q: name the file, as in json=results.json", out))
		case o.JSONOut != "":
			errs = append(errs, errors.New("--out json=FILE can be given once"))
		default:
			o.JSONOut = file
		}
	}
	switch f.progress {
	case "auto":
		o.Progress = script.ProgressAuto
	case "bar":
		o.Progress = script.ProgressTerminal
	case "plain":
		o.Progress = script.ProgressPlain
	case "off":
		o.Progress = script.ProgressOff
	default:
		errs = append(errs, fmt.Errorf("--progress %q: use auto, bar, plain or off", f.progress))
	}
	if f.quiet {
		o.Progress = script.ProgressOff
	}
	if d, err := time.ParseDuration(f.progressIntervalStr); err != nil || d <= 0 {
		errs = append(errs, fmt.Errorf("--progress-interval %q: want a positive duration", f.progressIntervalStr))
	} else {
		o.ProgressInterval = d
	}
	return o, errors.Join(errs...)
}

func runRun(ctx context.Context, stdio IO, args []string) error {
	f, positional, err := parseRunFlags(stdio, args)
	if err != nil {
		return err
	}
	if len(positional) != 1 {
		return withExitCode(ExitUsage, fmt.Errorf("want exactly one script, got %d arguments; usage: hubcap %s", len(positional), strings.SplitN(runSynopsis, "\n", 2)[0]))
	}
	o, err := f.options(positional[0], stdio)
	if err != nil {
		return withExitCode(ExitUsage, err)
	}
	// The first Ctrl-C cancels ctx (main's signal context): a graceful stop.
	// A second one kills.
	kill := make(chan struct{})
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-ctx.Done():
		case <-done:
			return
		}
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
		defer signal.Stop(sig)
		if ctx.Err() != nil {
			fmt.Fprintln(stdio.Stderr, "stopping gracefully (teardown and summary still run); press Ctrl-C again to stop at once")
		}
		select {
		case <-sig:
			close(kill)
		case <-done:
		}
	}()
	o.Kill = kill
	_, err = script.Run(ctx, o)
	if err != nil {
		return withExitCode(script.ExitCode(err), err)
	}
	return nil
}
