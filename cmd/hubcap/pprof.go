package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
)

// Profiling of any subcommand, for benchmarks (scripts/bench-peer.sh):
// HUBCAP_CPUPROFILE=FILE writes a CPU profile of the whole process and
// HUBCAP_MEMPROFILE=FILE an allocation profile (go tool pprof reads both;
// -sample_index=alloc_space for the allocations). Unset, nothing happens.
const (
	envCPUProfile = "HUBCAP_CPUPROFILE"
	envMemProfile = "HUBCAP_MEMPROFILE"
)

// startProfiling starts what the environment asks for and returns the
// function that writes the profiles; it reports problems on stderr and
// never stops the command.
func startProfiling(stderr *os.File) (stop func()) {
	cpuPath, memPath := os.Getenv(envCPUProfile), os.Getenv(envMemProfile)
	var cpu *os.File
	if cpuPath != "" {
		f, err := os.Create(cpuPath)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintf(stderr, "hubcap: %s: %v\n", envCPUProfile, err)
		} else {
			cpu = f
		}
	}
	return func() {
		if cpu != nil {
			pprof.StopCPUProfile()
			cpu.Close()
		}
		if memPath != "" {
			f, err := os.Create(memPath)
			if err == nil {
				runtime.GC()
				err = pprof.Lookup("allocs").WriteTo(f, 0)
				f.Close()
			}
			if err != nil {
				fmt.Fprintf(stderr, "hubcap: %s: %v\n", envMemProfile, err)
			}
		}
	}
}
