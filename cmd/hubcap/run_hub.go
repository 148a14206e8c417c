package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hubcap-dev/hubcap/internal/hub"
	"github.com/hubcap-dev/hubcap/internal/jsjupyterhub"
	"github.com/hubcap-dev/hubcap/internal/localhub"
	"github.com/hubcap-dev/hubcap/internal/metrics"
	"github.com/hubcap-dev/hubcap/internal/output"
	"github.com/hubcap-dev/hubcap/internal/script"
	"github.com/hubcap-dev/hubcap/internal/telemetry"
	"github.com/hubcap-dev/hubcap/results"
	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/hubapi"
	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/samples"
)

// The target hub of hubcap run: flags, start and stop of a local hub, the
// pre-run check, hub telemetry as a script.Collector, the cleanup and the
// run-status marker.

const (
	// defaultNamePrefix is --name-prefix's default.
	defaultNamePrefix = "hubcap-"
	// runDirBase holds the run directories of local hubs.
	runDirBase = "out/runs"
	// localScheme starts --hub local:RELEASE.
	localScheme = "local:"
	// checkTimeout bounds the pre-run check of the hub.
	checkTimeout = 30 * time.Second
	// cleanupTimeout bounds the cleanup after the run.
	cleanupTimeout = 3 * time.Minute
	// stopTimeout bounds the stop of a local hub.
	stopTimeout = 90 * time.Second
)

// Values of the status tag of the final hubcap_run_status point (package
// results owns them).
const (
	statusCompleted   = results.StatusCompleted
	statusInterrupted = results.StatusInterrupted
	statusHubDied     = results.StatusHubDied
	statusAborted     = results.StatusAborted
)

// errHubUnreachable: the pre-run check got no answer from --hub.
var errHubUnreachable = errors.New("nothing answered at the hub URL")

// ErrHubDied: the hub stopped answering during the run and did not come
// back (exit code ExitHubDied, whatever the script's thresholds say).
var ErrHubDied = errors.New("the hub died during the run")

// deathDetail says which of a local hub's processes is gone when it
// stopped answering ("" for --hub URL).
func (t *runTarget) deathDetail() string {
	if t.local == nil {
		return ""
	}
	alive := func(pid int) bool { return pid > 0 && syscall.Kill(pid, 0) == nil }
	hubPID, proxyPID := t.local.Hub.PID(), t.local.Hub.ProxyPID()
	switch hubUp, proxyUp := alive(hubPID), alive(proxyPID); {
	case hubUp && !proxyUp:
		return fmt.Sprintf(": the local hub's proxy (configurable-http-proxy, pid %d) is gone, the hub process (pid %d) still runs", proxyPID, hubPID)
	case !hubUp && proxyUp:
		return fmt.Sprintf(": the local hub process (pid %d) is gone, its proxy still runs", hubPID)
	case !hubUp && !proxyUp:
		return ": the local hub and its proxy are gone"
	}
	return ""
}

// errHubDied is the error of a run whose hub died; the script's own error,
// if any, is kept beside it.
func errHubDied(runErr error) error {
	if runErr == nil {
		return ErrHubDied
	}
	return fmt.Errorf("%w; the script also stopped with: %w", ErrHubDied, runErr)
}

// hubSpec is --hub and the flags that go with it, checked.
type hubSpec struct {
	url       string // --hub URL
	release   string // --hub local:RELEASE
	runDir    string
	token     string
	insecure  bool
	prefix    string
	verbose   bool
	quiet     bool
	tokenFrom string // "--token-file" or "$HUBCAP_TOKEN", for messages
}

func (f *runFlags) hubSpec() (hubSpec, error) {
	s := hubSpec{insecure: f.insecure, prefix: f.namePrefix, verbose: f.verbose, quiet: f.quiet}
	switch {
	case f.hub == "":
		if f.tokenFile != "" || f.runDir != "" {
			return s, errors.New("--token-file and --run-dir go with --hub")
		}
		return s, nil
	case strings.HasPrefix(f.hub, localScheme):
		s.release = strings.TrimPrefix(f.hub, localScheme)
		if s.release == "" {
			return s, fmt.Errorf("--hub %s: name the release, e.g. --hub local:5.5.1", f.hub)
		}
		if f.tokenFile != "" {
			return s, errors.New("--token-file goes with --hub URL; a local hub has its own token")
		}
		s.runDir, s.tokenFrom = f.runDir, "the local hub's service token file"
		return s, nil
	}
	if f.runDir != "" {
		return s, errors.New("--run-dir goes with --hub local:RELEASE")
	}
	s.url = strings.TrimRight(f.hub, "/")
	if s.url == "" {
		return s, fmt.Errorf("--hub %q: want the hub's public URL, e.g. http://127.0.0.1:8000, or local:RELEASE", f.hub)
	}
	switch {
	case f.tokenFile != "":
		tok, err := hub.ReadToken(f.tokenFile)
		if err != nil {
			return s, fmt.Errorf("--token-file: %w", err)
		}
		if tok == "" {
			return s, fmt.Errorf("--token-file %s is empty", f.tokenFile)
		}
		s.token, s.tokenFrom = tok, "--token-file"
	default:
		s.token, s.tokenFrom = strings.TrimSpace(os.Getenv(TokenEnv)), "$"+TokenEnv
	}
	return s, nil
}

// runTarget is the hub of one run.
type runTarget struct {
	target jsjupyterhub.Target
	local  *localhub.Local // nil for --hub URL
}

// openTarget starts the local hub, or checks that --hub URL is a
// JupyterHub, and prints what the run talks to.
func openTarget(ctx context.Context, s hubSpec, stdio IO) (_ *runTarget, err error) {
	t := &runTarget{target: jsjupyterhub.Target{InsecureSkipVerify: s.insecure, NamePrefix: s.prefix}}
	switch {
	case s.release != "":
		if err := t.startLocal(ctx, s, stdio); err != nil {
			return nil, err
		}
		defer func() {
			if err != nil {
				t.close(stdio)
			}
		}()
	case s.url != "":
		t.target.HubURL, t.target.Token = s.url, s.token
	default:
		return t, nil
	}
	v, err := checkHub(ctx, t.target)
	if err != nil {
		return nil, err
	}
	where := ""
	if t.local != nil {
		where = fmt.Sprintf(", local, run dir %s", t.local.Hub.RunDir())
	}
	tok := ""
	if t.target.Token == "" {
		tok = fmt.Sprintf("; no admin token (set %s or --token-file): attendees only, no telemetry of /hub/metrics, no cleanup", TokenEnv)
	}
	if !s.quiet {
		fmt.Fprintf(stdio.Stderr, "           hub: %s (JupyterHub %s%s)%s\n", t.target.HubURL, v, where, tok)
	}
	return t, nil
}

func (t *runTarget) startLocal(ctx context.Context, s hubSpec, stdio IO) error {
	dir := s.runDir
	if dir == "" {
		dir = filepath.Join(runDirBase, time.Now().UTC().Format("20060102-150405")+"-jupyterhub-"+s.release)
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("--run-dir: %w", err)
	}
	var log io.Writer
	if s.verbose {
		log = stdio.Stderr
	}
	if !s.quiet {
		fmt.Fprintf(stdio.Stderr, "starting a local JupyterHub %s with its fleet in %s ...\n", s.release, dir)
	}
	l, err := localhub.Start(ctx, localhub.Options{Hub: hub.Options{Release: s.release, RunDir: dir, Log: log}})
	if err != nil {
		return fmt.Errorf("local hub %s: %w", s.release, err)
	}
	t.local = l
	tok, err := l.Hub.Token()
	if err != nil {
		return fmt.Errorf("local hub: %w", err)
	}
	t.target.HubURL, t.target.Token = l.Hub.URL(), tok
	return nil
}

// close stops a local hub (its run directory stays).
func (t *runTarget) close(stdio IO) {
	if t.local == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
	defer cancel()
	if err := t.local.Stop(ctx); err != nil {
		fmt.Fprintf(stdio.Stderr, "hubcap run: stopping the local hub: %v\n", err)
	}
	t.local = nil
}

// checkHub asks /hub/api/ for the version: a URL that is not a JupyterHub,
// or that nothing answers, stops the run before it starts.
func checkHub(ctx context.Context, tg jsjupyterhub.Target) (hubapi.HubVersion, error) {
	c, err := hubapi.New(hubapi.Config{BaseURL: tg.HubURL, InsecureSkipVerify: tg.InsecureSkipVerify, Sink: samples.Discard, MaxRetries: 1})
	if err != nil {
		return hubapi.HubVersion{}, withExitCode(ExitUsage, fmt.Errorf("--hub: %w", err))
	}
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	v, err := c.Version(ctx)
	switch {
	case err == nil:
		return v, nil
	case errors.Is(err, hubapi.ErrNotJupyterHub):
		return v, withExitCode(ExitNotAHub, fmt.Errorf("--hub %s: %w", tg.HubURL, err))
	case errors.Is(err, context.Canceled):
		return v, err
	case errors.As(err, new(*hubapi.APIError)):
		return v, withExitCode(ExitNotAHub, fmt.Errorf("--hub %s: %w: %w", tg.HubURL, hubapi.ErrNotJupyterHub, err))
	}
	return v, withExitCode(ExitHubUnreachable, fmt.Errorf("--hub %s: %w: %w", tg.HubURL, errHubUnreachable, err))
}

// tokenRejected reports whether the hub refused the token itself (401, or
// JupyterHub's 403 "Missing or invalid credentials"), not a missing scope.
func tokenRejected(err error) bool {
	var ae *hubapi.APIError
	if !errors.As(err, &ae) {
		return false
	}
	return ae.Status == http.StatusUnauthorized ||
		(ae.Status == http.StatusForbidden && len(ae.Scopes) == 0 && strings.Contains(ae.Message, "Missing or invalid credentials"))
}

// telemetry makes the hub telemetry collector of the run: its own admin
// client, whose request samples are discarded, and the local hub's PID
// for /proc.
func (t *runTarget) telemetry(every, shapeEvery time.Duration, stdio IO) (*hubTelemetry, error) {
	c, err := hubapi.New(hubapi.Config{BaseURL: t.target.HubURL, Token: t.target.Token,
		InsecureSkipVerify: t.target.InsecureSkipVerify, Sink: samples.Discard})
	if err != nil {
		return nil, err
	}
	if shapeEvery == 0 || t.target.Token == "" {
		shapeEvery = -1
	}
	cfg := telemetry.Config{
		Client: c, MetricsInterval: every, ShapeInterval: shapeEvery,
		Logger: slog.New(slog.NewTextHandler(stdio.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})),
	}
	if t.local != nil {
		cfg.LocalPID = t.local.Hub.PID
	}
	return newHubTelemetry(cfg)
}

// cleanup removes what the run added (see jsjupyterhub.Binding.Cleanup),
// until cleanupTimeout or a third Ctrl-C.
func (t *runTarget) cleanup(b *jsjupyterhub.Binding, abandon <-chan struct{}, stdio IO) {
	if t.target.Token == "" {
		fmt.Fprintf(stdio.Stderr, "hubcap run: no admin token, so users and servers the run created stay on the hub\n")
		return
	}
	if t.target.NamePrefix == "" {
		fmt.Fprintf(stdio.Stderr, "hubcap run: --name-prefix is empty, so nothing is removed\n")
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	go func() {
		select {
		case <-abandon:
			cancel()
		case <-ctx.Done():
		}
	}()
	r, err := b.Cleanup(ctx)
	switch {
	case errors.Is(err, context.Canceled):
		fmt.Fprintf(stdio.Stderr, "hubcap run: cleanup abandoned; users and servers starting with %q may remain\n", t.target.NamePrefix)
	case err != nil:
		fmt.Fprintf(stdio.Stderr, "hubcap run: cleanup: %v\n", err)
	}
	if len(r.Users) > 0 || len(r.Servers) > 0 {
		fmt.Fprintf(stdio.Stderr, "       cleanup: removed %d users and %d servers the run created (prefix %q)\n",
			len(r.Users), len(r.Servers), t.target.NamePrefix)
	}
}

// hubTelemetry adapts telemetry.Collector to script.Collector: the run
// hands it its sink when the test starts.
type hubTelemetry struct {
	c    *telemetry.Collector
	sink atomic.Pointer[samples.Sink]
}

var _ script.Collector = (*hubTelemetry)(nil)

func newHubTelemetry(cfg telemetry.Config) (*hubTelemetry, error) {
	h := &hubTelemetry{}
	cfg.Sink = samples.SinkFunc(func(s samples.Sample) {
		if p := h.sink.Load(); p != nil {
			(*p).AddSample(s)
		}
	})
	c, err := telemetry.New(cfg)
	if err != nil {
		return nil, err
	}
	h.c = c
	return h, nil
}

// Metrics declares the telemetry's metrics.
func (h *hubTelemetry) Metrics() []samples.Metric { return h.c.Metrics() }

// Run collects into sink until ctx is done.
func (h *hubTelemetry) Run(ctx context.Context, sink samples.Sink) error {
	h.sink.Store(&sink)
	return h.c.Run(ctx)
}

// progress is the hub's line in the live progress display.
func (h *hubTelemetry) progress() string {
	return telemetry.ProgressLine(h.c.Status())
}

// hubDied reports whether the hub's last scrape found it down (nil: no
// telemetry, no verdict).
func (h *hubTelemetry) hubDied() bool {
	if h == nil {
		return false
	}
	st := h.c.Status()
	return st.Answered && !st.Up
}

// runStatus is the status tag of the final hubcap_run_status point: the
// hub went down and stayed down; the user interrupted the run; the run was
// cut short by the script (test.abort(), an abortOnFail threshold, an
// exception in the init context or setup, a setup timeout); else completed
// (also with failed thresholds, or an error in teardown or handleSummary,
// when every scenario ran). It is a pure function.
func runStatus(err error, res *script.Result, hubDied bool) string {
	var se *script.ScriptError
	switch {
	case hubDied:
		return statusHubDied
	case errors.Is(err, script.ErrInterrupted):
		return statusInterrupted
	case errors.Is(err, script.ErrAborted), errors.Is(err, script.ErrSetupTimeout):
		return statusAborted
	case errors.As(err, &se) && (se.Where == "teardown" || se.Where == "handleSummary"):
		return statusCompleted
	case errors.Is(err, script.ErrScript):
		return statusAborted
	case res != nil && res.Snapshot != nil && thresholdAborted(res.Snapshot):
		return statusAborted
	}
	return statusCompleted
}

func thresholdAborted(s *metrics.Snapshot) bool {
	for _, m := range s.Metrics {
		for _, t := range m.Thresholds {
			if t.Abort {
				return true
			}
		}
	}
	return false
}

// fileStamp identifies a version of a file (zero: absent).
type fileStamp struct {
	exists bool
	mod    time.Time
	size   int64
}

func statFile(path string) fileStamp {
	if path == "" {
		return fileStamp{}
	}
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{}
	}
	return fileStamp{exists: true, mod: fi.ModTime(), size: fi.Size()}
}

// writtenSince reports whether the run (re)wrote path: it exists and is
// not the file that was there before (a run that failed before opening its
// output leaves an older file alone).
func writtenSince(path string, before fileStamp) bool {
	if path == "-" {
		return true // the standard output
	}
	now := statFile(path)
	return now.exists && (!before.exists || now.mod != before.mod || now.size != before.size)
}

// appendRunStatus appends the final hubcap_run_status point to the run's
// NDJSON output (results.AppendStatus).
func appendRunStatus(path, status string, now time.Time) error {
	write := func() error { return results.AppendStatus(path, status, now) }
	if path == "-" {
		write = func() error { return results.WriteStatus(os.Stdout, status, now) }
	}
	if err := write(); err != nil {
		return fmt.Errorf("%w: run status marker: %w", output.ErrOutput, err)
	}
	return nil
}
