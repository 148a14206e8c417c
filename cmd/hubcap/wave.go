package main

import (
	"context"
	"fmt"

	"github.com/hubcap-dev/hubcap/internal/capreport"
)

func init() {
	register(&command{
		Name:    "wave",
		Summary: "login-wave capacity of a run: wave RESULTS.ndjson [RAMP.ndjson] (saturation rate, CPU and memory models)",
		Run:     runWave,
	})
}

const waveSynopsis = `wave RESULTS.ndjson [RAMP.ndjson] [--planned-rate 450]

Fits the hub's CPU model (CPU-seconds per login, spawn, OAuth, stop, logout
and running server) and its day-memory model to a run's results and prints
the arrival rate at which the login wave saturates the hub (hub CPU at 95%
of a core or p95 login above 2 s) and the hub's memory at peak concurrency.
With a second results file from scenarios/login-ramp.js, it also prints
where that run measured saturation and its peak RSS beside the prediction
made from the first (scripts/validate-wave.sh runs both).`

func runWave(_ context.Context, stdio IO, args []string) error {
	var in capreport.WaveInputs
	fs := newFlags("wave", stdio, waveSynopsis)
	fs.Float64Var(&in.PlannedRate, "planned-rate", 0, "the plan's peak arrivals per minute (default: the scenario's)")
	fs.Float64Var(&in.CPUTarget, "cpu-target", capreport.DefaultCPUTarget, "hub CPU (cores) counted as saturated")
	fs.Float64Var(&in.LoginTarget, "login-p95", capreport.DefaultLoginTarget, "p95 login latency (ms) counted as saturated")
	var files []string // flags may come before or after the files
	for {
		if err := parseFlags(fs, args, true); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		files = append(files, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(files) < 1 || len(files) > 2 {
		return withExitCode(ExitUsage, fmt.Errorf("wave: want RESULTS.ndjson [RAMP.ndjson], got %d files", len(files)))
	}
	fit, err := capreport.ReadResults(files[0])
	if err != nil {
		return err
	}
	if len(files) == 1 {
		w, err := capreport.BuildWave(fit, capreport.ScenarioInfoOf(fit), in)
		if err != nil {
			return err
		}
		return capreport.WriteWaveText(stdio.Stdout, w)
	}
	ramp, err := capreport.ReadResults(files[1])
	if err != nil {
		return err
	}
	c, err := capreport.CompareWave(fit, ramp, in)
	if c != nil {
		if werr := c.WriteText(stdio.Stdout); werr != nil {
			return werr
		}
	}
	return err
}
