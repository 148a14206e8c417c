package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hubcap-dev/hubcap/internal/executor"
	"github.com/hubcap-dev/hubcap/internal/jsjupyterhub"
	"github.com/hubcap-dev/hubcap/internal/output"
	"github.com/hubcap-dev/hubcap/internal/script"
	"github.com/hubcap-dev/hubcap/internal/telemetry"
)

func init() {
	register(&command{
		Name:    "run",
		Summary: "run a k6-style scenario script: run [flags] script.js",
		Run:     runRun,
	})
}

const runSynopsis = `run [--hub URL|local:RELEASE] [flags] script.js

Runs a scenario script the way "k6 run" does (see docs/k6-compat.md); the
script reaches the hub through the k6/x/jupyterhub module
(docs/jupyterhub-module.md).

Targets: --hub URL is a running hub (its public URL); the admin token comes
from $HUBCAP_TOKEN or --token-file, never from the command line.
--hub local:5.5.1 starts a local hub of that installed release, with an
in-process fleet standing in for single-user servers, for the run only
(its run directory is kept). During the run the hub's telemetry (RSS, CPU,
servers, DB shape) goes into the same --out stream as the script's samples;
the stream ends with a hubcap_run_status point. Afterwards, users and
servers the run added (names starting with --name-prefix) are removed
unless --keep.

Ctrl-C stops gracefully (teardown, summary and cleanup still run); a second
Ctrl-C stops at once (cleanup still runs); a third abandons the cleanup.
Exit codes follow k6: 0 ok, 99 thresholds failed, 100/101 setup/teardown
timeout, 104 invalid options, 105 interrupted, 107 script error, 108
test.abort(); and 2 bad command line, 3 release not installed, 27 --hub is
not a JupyterHub, 28 token rejected, 29 hub unreachable.`

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
	// k6's flags for summaries, thresholds, stages and logs.
	summaryTrendStats, summaryMode, logOutput string
	noThresholds                              bool
	stages                                    multiFlag
	// options set from K6_* environment variables that have no flag.
	envOptions map[string]any
	// extraOuts are the --out csv and Prometheus outputs, opened by runRun.
	extraOuts []outSpec

	// The target hub (run_hub.go).
	hub, tokenFile, argvToken string
	insecure, keep            bool
	namePrefix, runDir        string
	telemetryInterval         time.Duration
	shapeInterval             time.Duration
	tokenGiven                bool

	// report is --report: the HTML capacity report written at the end.
	report string

	// One instance of a split run (instance.go).
	runID, instanceID, hubTelemetry, startAt string
	segmentIndex                             string
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
	fs.Var(&f.outs, "out", "write samples: json=FILE (k6 NDJSON; - is the standard output, the summary then goes to stderr), csv=FILE (k6 CSV; FILE.gz compresses either), experimental-prometheus-rw (to $K6_PROMETHEUS_RW_SERVER_URL) (repeatable)")
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
	fs.StringVar(&f.hub, "hub", "", "target hub: its public URL (token from $"+TokenEnv+" or --token-file), or local:RELEASE to start a local hub for the run, e.g. local:5.5.1")
	fs.StringVar(&f.tokenFile, "token-file", "", "file holding the hub's admin API token (default: $"+TokenEnv+")")
	fs.StringVar(&f.argvToken, "token", "", "refused: tokens never go on the command line (use $"+TokenEnv+" or --token-file)")
	fs.BoolVar(&f.insecure, "insecure-skip-tls-verify", false, "do not verify the hub's TLS certificate")
	fs.StringVar(&f.namePrefix, "name-prefix", defaultNamePrefix, "only users and servers whose names start with this are ever removed")
	fs.BoolVar(&f.keep, "keep", false, "leave the users and servers the run created on the hub")
	fs.StringVar(&f.runDir, "run-dir", "", "run directory of a local hub (default "+runDirBase+"/<time>-jupyterhub-<release>)")
	fs.DurationVar(&f.telemetryInterval, "telemetry-interval", telemetry.DefaultMetricsInterval, "how often the hub's /hub/metrics (and a local hub's /proc) are read; 0 turns hub telemetry off")
	fs.StringVar(&f.report, "report", "", "write the HTML capacity report of the run to this file at its end, also when cut short (hubcap report makes one later with more options)")
	fs.DurationVar(&f.shapeInterval, "shape-interval", telemetry.DefaultShapeInterval, "how often the hub's DB shape is read from the user listing; 0 turns it off")
	fs.StringVar(&f.summaryTrendStats, "summary-trend-stats", "", "trend columns of the summary, e.g. avg,min,med,max,p(90),p(99) (k6 --summary-trend-stats)")
	fs.StringVar(&f.summaryMode, "summary-mode", "compact", "summary layout: compact, or full (also the HTTP request phases and group_duration)")
	fs.BoolVar(&f.noThresholds, "no-thresholds", false, "do not evaluate the script's thresholds")
	fs.Var(&f.stages, "stage", "a ramping stage DURATION:TARGET, replacing the script's scenarios (repeatable; k6 --stage)")
	fs.Var(&f.stages, "s", "shorthand for --stage")
	fs.StringVar(&f.logOutput, "log-output", "stderr", "where log lines go: stderr, stdout, none or file=PATH")

	// K6_* environment variables set the same options; flags win.
	var envErr error
	f.envOptions, envErr = applyK6Env(fs, os.Environ())
	if envErr != nil {
		return nil, nil, withExitCode(ExitUsage, envErr)
	}
	fs.StringVar(&f.segmentIndex, "execution-segment-index", "", "run the N-th segment (from 0) of --execution-segment-sequence, e.g. $(JOB_COMPLETION_INDEX) in a Kubernetes Indexed Job")
	fs.StringVar(&f.runID, "run-id", "", "the id every instance of one split run shares, recorded in the results so hubcap report merges them (default $"+RunIDEnv+", else a new one)")
	fs.StringVar(&f.instanceID, "instance-id", "", "this instance's id, added to --name-prefix so instances never remove each other's users (default from --execution-segment: s0, s1-3, …)")
	fs.StringVar(&f.hubTelemetry, "hub-telemetry", "auto", "read the hub's telemetry and DB shape: auto (only the instance whose segment starts at 0), on or off")
	fs.StringVar(&f.startAt, "start-at", "", "start the test at this RFC 3339 time, so split instances begin together (default $"+StartAtEnv+")")

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
	fs.Visit(func(fl *flag.Flag) {
		if fl.Name == "token" {
			f.tokenGiven = true
		}
	})
	return f, positional, nil
}

// scriptEnv is the script's __ENV: the process environment (with
// includeSystem, as k6 does by default) without the admin token, then the
// -e values.
func scriptEnv(includeSystem bool, environ []string, given map[string]string) map[string]string {
	env := map[string]string{}
	if includeSystem {
		for _, kv := range environ {
			if k, v, ok := strings.Cut(kv, "="); ok && k != TokenEnv {
				env[k] = v
			}
		}
	}
	for k, v := range given {
		env[k] = v
	}
	return env
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
		Script: path,
		// The process environment is passed below, without the token.
		IncludeSystemEnv: false,
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
	env, err := keyValues(f.env, "-e")
	if err != nil {
		errs = append(errs, err)
	}
	o.Env = scriptEnv(f.systemEnv, os.Environ(), env)
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
	if o.Overrides.Stages, err = parseStages(f.stages); err != nil {
		errs = append(errs, err)
	}
	o.Overrides.Options = f.envOptions
	if f.summaryTrendStats != "" {
		var stats []any
		for _, s := range strings.Split(f.summaryTrendStats, ",") {
			stats = append(stats, strings.TrimSpace(s))
		}
		if o.Overrides.Options == nil {
			o.Overrides.Options = map[string]any{}
		}
		o.Overrides.Options["summaryTrendStats"] = stats
	}
	switch f.summaryMode {
	case "compact", "legacy":
	case "full":
		o.SummaryFull = true
	default:
		errs = append(errs, fmt.Errorf("--summary-mode %q: use compact or full", f.summaryMode))
	}
	o.NoThresholds = f.noThresholds
	switch {
	case f.logOutput == "stderr", f.logOutput == "":
	case f.logOutput == "stdout":
		o.LogOutput = stdio.Stdout
	case f.logOutput == "none":
		o.LogOutput = io.Discard
	case strings.HasPrefix(f.logOutput, "file="):
		// opened by runRun
	default:
		errs = append(errs, fmt.Errorf("--log-output %q: use stderr, stdout, none or file=PATH", f.logOutput))
	}
	if path == "-" {
		if stdio.Stdin == nil {
			errs = append(errs, errors.New("run -: no standard input to read the script from"))
		} else if src, err := io.ReadAll(stdio.Stdin); err != nil {
			errs = append(errs, fmt.Errorf("run -: reading the script from standard input: %w", err))
		} else {
			o.Source = src
		}
	}
	f.extraOuts = nil
	for _, out := range f.outs {
		kind, arg, _ := strings.Cut(out, "=")
		switch kind {
		case "json":
			switch {
			case arg == "":
				errs = append(errs, fmt.Errorf("--out %q: name the file, as in json=results.json", out))
			case o.JSONOut != "":
				errs = append(errs, errors.New("--out json=FILE can be given once"))
			default:
				o.JSONOut = arg
			}
		case "csv":
			spec, err := csvSpec(arg, os.Environ())
			if err != nil {
				errs = append(errs, fmt.Errorf("--out %q: %w", out, err))
				continue
			}
			f.extraOuts = append(f.extraOuts, spec)
		case "experimental-prometheus-rw":
			cfg, err := output.PromRWConfigFromEnv(os.Environ(), arg)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			f.extraOuts = append(f.extraOuts, outSpec{prom: &cfg})
		default:
			errs = append(errs, fmt.Errorf("--out %q: use json=FILE, csv=FILE or experimental-prometheus-rw (K6_PROMETHEUS_RW_SERVER_URL)", out))
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
	if f.telemetryInterval < 0 || f.shapeInterval < 0 {
		errs = append(errs, errors.New("--telemetry-interval and --shape-interval can't be negative (0 turns them off)"))
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
	if f.tokenGiven {
		return withExitCode(ExitUsage, fmt.Errorf("--token is refused: a token on the command line leaks into shell history and ps; export %s or pass --token-file FILE", TokenEnv))
	}
	if len(positional) != 1 {
		return withExitCode(ExitUsage, fmt.Errorf("want exactly one script, got %d arguments; usage: hubcap %s", len(positional), strings.SplitN(runSynopsis, "\n", 2)[0]))
	}
	o, err := f.options(positional[0], stdio)
	if err != nil {
		return withExitCode(ExitUsage, err)
	}
	spec, err := f.hubSpec()
	if err != nil {
		return withExitCode(ExitUsage, err)
	}
	inst, err := f.instance(getenv)
	if err != nil {
		return withExitCode(ExitUsage, err)
	}
	spec.prefix = inst.prefix
	o.Segment = inst.segment
	o.Collectors = append(o.Collectors, runInfo{inst})
	if inst.id != "" && !f.quiet {
		fmt.Fprintf(stdio.Stderr, "      instance: %s of run %s (segment %s, names %s…, hub telemetry %s)\n",
			inst.id, inst.runID, inst.segment, inst.prefix, map[bool]string{true: "on", false: "off"}[inst.telemetry])
	}
	// A script that does not compile fails before a hub is started for it.
	compile := func() (*script.Program, error) { return script.Compile(o.Script) }
	if o.Source != nil {
		compile = func() (*script.Program, error) { return script.CompileSource(o.Script, o.Source) }
	}
	if _, err := compile(); err != nil {
		return withExitCode(script.ExitCode(err), err)
	}
	for _, spec := range f.extraOuts {
		out, err := spec.open()
		if err != nil {
			return err
		}
		defer out.Stop() // a no-op once the run stopped it
		o.Outputs = append(o.Outputs, out)
	}
	if path, ok := strings.CutPrefix(f.logOutput, "file="); ok {
		lf, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return withExitCode(ExitUsage, fmt.Errorf("--log-output: %w", err))
		}
		defer lf.Close()
		o.LogOutput = lf
	}
	// The runtime, the telemetry's logger and this function write to
	// stderr from several goroutines.
	stdio.Stderr = syncWriter(stdio.Stderr)
	o.Stderr = stdio.Stderr
	sig := watchSignals(ctx, stdio)
	defer sig.stop()
	o.Kill = sig.kill

	// The target: a local hub started for the run, or a running one.
	th, err := openTarget(ctx, spec, stdio)
	if err != nil {
		return err
	}
	defer th.close(stdio)
	b, err := jsjupyterhub.Bind(th.target)
	if err != nil {
		return err
	}
	defer b.Close()
	cleanup := th.target.HubURL != "" && !f.keep
	if th.target.Token != "" {
		// What the run may remove later; this also tries the token.
		if err := b.Baseline(ctx); err != nil {
			if tokenRejected(err) {
				return withExitCode(ExitTokenRejected, fmt.Errorf("the hub did not accept the token from %s (unknown, expired or revoked): %w", spec.tokenFrom, err))
			}
			fmt.Fprintf(stdio.Stderr, "hubcap run: warning: cannot list the hub's users before the run (%v); the cleanup will remove only what the admin client itself created\n", err)
		}
	}
	var tel *hubTelemetry
	if th.target.HubURL != "" && f.telemetryInterval > 0 && inst.telemetry {
		if tel, err = th.telemetry(f.telemetryInterval, f.shapeInterval, stdio); err != nil {
			return err
		}
		o.Collectors = append(o.Collectors, tel)
		o.HubStatus = tel.progress
	}

	if o.JSONOut == "-" {
		// The standard output carries the results only (kubectl logs): the
		// summary goes to stderr.
		if f.report != "" {
			return withExitCode(ExitUsage, errors.New("--report reads the results from a file; --out json=- writes them to the standard output"))
		}
		o.Stdout = stdio.Stderr
	}
	if f.report != "" && o.JSONOut == "" {
		// The report is made from the results: keep them for the run.
		tmp, err := os.CreateTemp("", "hubcap-results-*.ndjson")
		if err != nil {
			return fmt.Errorf("--report: %w", err)
		}
		tmp.Close()
		defer os.Remove(tmp.Name())
		o.JSONOut = tmp.Name()
	}
	outBefore := statFile(o.JSONOut)
	if err := waitStart(ctx, inst.startAt, time.Now(), stdio, f.quiet); err != nil {
		return withExitCode(script.ExitCode(err), err)
	}
	res, runErr := script.Run(ctx, o)
	status := runStatus(runErr, res, tel.hubDied())
	if o.JSONOut != "" && writtenSince(o.JSONOut, outBefore) {
		if err := appendRunStatus(o.JSONOut, status, time.Now()); err != nil {
			fmt.Fprintf(stdio.Stderr, "hubcap run: %v\n", err)
		}
	}
	var reportErr error
	if f.report != "" {
		if reportErr = writeRunReport(f.report, o.JSONOut, res, status, spec.release, stdio); reportErr != nil && runErr != nil {
			fmt.Fprintf(stdio.Stderr, "hubcap run: %v\n", reportErr) // the run's own error is returned
		}
	}
	if status == statusHubDied {
		fmt.Fprintf(stdio.Stderr, "hubcap run: the hub stopped answering during the run and did not come back (see hub_up in the results)%s\n", th.deathDetail())
	}
	switch {
	case cleanup && status == statusHubDied:
		fmt.Fprintf(stdio.Stderr, "hubcap run: no cleanup while the hub is down; users and servers starting with %q may remain\n", th.target.NamePrefix)
	case cleanup:
		th.cleanup(b, sig.abandon, stdio)
	case f.keep && th.target.HubURL != "":
		fmt.Fprintf(stdio.Stderr, "hubcap run: --keep: the users and servers the run created stay on the hub\n")
	}
	if status == statusHubDied {
		return withExitCode(ExitHubDied, errHubDied(runErr))
	}
	if runErr != nil {
		return withExitCode(script.ExitCode(runErr), runErr)
	}
	return reportErr
}

// syncWriter makes w safe for concurrent writes; files already are (and
// stay files, so that the runtime can tell a terminal).
func syncWriter(w io.Writer) io.Writer {
	if _, ok := w.(*os.File); ok || w == nil {
		return w
	}
	return &lockedWriter{w: w}
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// signals are the second and third Ctrl-C of a run: kill closes on the
// second (stop at once), abandon on the third (give up the cleanup).
type signals struct {
	kill, abandon chan struct{}
	done          chan struct{}
}

func (s *signals) stop() { close(s.done) }

// watchSignals follows Ctrl-C and SIGTERM after the first one, which
// cancels ctx (main's signal context): a graceful stop.
func watchSignals(ctx context.Context, stdio IO) *signals {
	s := &signals{kill: make(chan struct{}), abandon: make(chan struct{}), done: make(chan struct{})}
	go func() {
		select {
		case <-ctx.Done():
		case <-s.done:
			return
		}
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
		defer signal.Stop(sig)
		fmt.Fprintln(stdio.Stderr, "stopping gracefully (teardown, summary and cleanup still run); press Ctrl-C again to stop at once")
		for _, ch := range []chan struct{}{s.kill, s.abandon} {
			select {
			case <-sig:
				close(ch)
			case <-s.done:
				return
			}
		}
	}()
	return s
}
