package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/hubcap-dev/hubcap/internal/fleet"
	"github.com/hubcap-dev/hubcap/internal/proc"
)

func init() {
	register(&command{
		Name:    "fleet",
		Summary: "simulated single-user servers (fleet serve; started by hub up --spawner fleet)",
		Hidden:  true,
		Run:     runFleet,
	})
	startFleetForHub = startDetachedFleet
}

// Files of a fleet started for a hub, inside the hub's run directory.
const (
	fleetStateFile = "fleet-state.jsonl"
	fleetReadyFile = "fleet.json"
	fleetLogFile   = "fleet.log"
)

// fleetReady is what fleet serve writes once it listens.
type fleetReady struct {
	URL string `json:"url"`
	PID int    `json:"pid"`
}

func runFleet(ctx context.Context, stdio IO, args []string) error {
	if len(args) == 0 || args[0] != "serve" {
		fmt.Fprintln(stdio.Stderr, "Usage: hubcap fleet serve [flags]   (the secret comes from $"+fleet.EnvFleetSecret+")")
		return withExitCode(ExitUsage, errSilentWrap(errors.New("no fleet subcommand")))
	}
	var cfg fleet.Config
	fs := newFlags("fleet serve", stdio, "fleet serve [--addr 127.0.0.1:0] [--state FILE] [--ready-file FILE]")
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	fs.StringVar(&cfg.StateFile, "state", "", "journal of registrations, kept across fleet restarts (mode 0600: holds server tokens)")
	ready := fs.String("ready-file", "", "write {url, pid} as JSON here once listening")
	fs.DurationVar(&cfg.ExecTime.Mean, "exec-time", 0, "compute time of every cell")
	fs.DurationVar(&cfg.ExecTime.Jitter, "exec-jitter", 0, "uniform jitter around --exec-time")
	fs.DurationVar(&cfg.KernelStartTime.Mean, "kernel-start-time", 0, "delay of a kernel start")
	fs.IntVar(&cfg.MaxServers, "max-servers", 0, "most registered servers (0: the fleet's default)")
	if err := parseFlags(fs, args[1:], false); err != nil {
		return err
	}
	cfg.Secret = os.Getenv(fleet.EnvFleetSecret)
	cfg.Logger = slog.New(slog.NewTextHandler(stdio.Stderr, nil))
	if errs := cfg.Validate(); len(errs) > 0 {
		return withExitCode(ExitUsage, errors.Join(errs...))
	}
	srv, err := fleet.Open(cfg)
	if err != nil {
		fmt.Fprintf(stdio.Stderr, "hubcap fleet: warning: %v\n", err)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *addr, err)
	}
	url := "http://" + ln.Addr().String()
	if *ready != "" {
		b, _ := json.Marshal(fleetReady{URL: url, PID: os.Getpid()})
		tmp := *ready + ".tmp"
		if err := os.WriteFile(tmp, b, 0o644); err != nil {
			ln.Close()
			return err
		}
		if err := os.Rename(tmp, *ready); err != nil {
			ln.Close()
			return err
		}
	}
	fmt.Fprintf(stdio.Stderr, "hubcap fleet: serving on %s (pid %d)\n", url, os.Getpid())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		srv.Close()
		return err
	case <-ctx.Done():
		fmt.Fprintln(stdio.Stderr, "hubcap fleet: stopping")
		return srv.Close()
	}
}

// startDetachedFleet runs `hubcap fleet serve` in its own session for a
// hub in runDir and returns what the hub needs: spawner config, module
// file and environment (fleet URL and secret; the secret goes to the
// fleet through its environment too, never argv).
func startDetachedFleet(ctx context.Context, stdio IO, runDir string) (*fleetSetup, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find the hubcap executable to run the fleet: %w", err)
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	secret := hex.EncodeToString(b)
	readyPath := filepath.Join(runDir, fleetReadyFile)
	if err := os.Remove(readyPath); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	logf, err := os.OpenFile(filepath.Join(runDir, fleetLogFile), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command(exe, "fleet", "serve", "--addr", "127.0.0.1:0",
		"--state", filepath.Join(runDir, fleetStateFile), "--ready-file", readyPath)
	cmd.Dir = runDir
	cmd.Env = append(os.Environ(), fleet.EnvFleetSecret+"="+secret)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start fleet: %w", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	p, _ := proc.Identify(cmd.Process.Pid)
	stop := func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = proc.KillTree(sctx, []proc.Proc{p}, 3*time.Second)
	}
	fail := func(err error) (*fleetSetup, error) {
		stop()
		return nil, fmt.Errorf("fleet: %w (log %s)", err, filepath.Join(runDir, fleetLogFile))
	}
	deadline := time.Now().Add(15 * time.Second)
	var ready fleetReady
	for {
		if b, err := os.ReadFile(readyPath); err == nil && json.Unmarshal(b, &ready) == nil && ready.URL != "" {
			break
		}
		select {
		case <-exited:
			return fail(fmt.Errorf("exited: %v", cmd.ProcessState))
		case <-ctx.Done():
			return fail(ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fail(errors.New("not listening after 15s"))
		}
	}
	req, _ := http.NewRequestWithContext(ctx, "GET", ready.URL+"/_fleet/health", nil)
	req.Header.Set("Authorization", "Bearer "+secret)
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{Proxy: nil}}
	resp, err := client.Do(req)
	if err != nil {
		return fail(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fail(fmt.Errorf("health check: %s", resp.Status))
	}
	fmt.Fprintf(stdio.Stderr, "hubcap: fleet pid %d on %s\n", cmd.Process.Pid, ready.URL)
	return &fleetSetup{
		SpawnerConfig: fleet.SpawnerConfig(fleet.SpawnerOptions{}),
		Files:         map[string][]byte{fleet.SpawnerModule + ".py": []byte(fleet.SpawnerPython)},
		Env:           map[string]string{fleet.EnvFleetURL: ready.URL, fleet.EnvFleetSecret: secret},
		PID:           cmd.Process.Pid,
		Stop:          stop,
	}, nil
}
