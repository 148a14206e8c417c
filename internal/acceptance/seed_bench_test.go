package acceptance

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/hubcap-dev/hubcap/internal/hub"
	"github.com/hubcap-dev/hubcap/internal/localhub"
	"github.com/hubcap-dev/hubcap/internal/localhub/localhubtest"
	"github.com/hubcap-dev/hubcap/internal/seed"
)

// BenchmarkSeed1000 seeds 1,000 running named servers through the REST API
// (real spawns into the fleet) on each release, then restarts the hub on that
// database and reports the start-up peak. HUBCAP_BENCH_USERS (default 10)
// spreads the servers over that many users: 1 reproduces the one-heavy-user
// shape (about 7 GiB on 5.3.0 here, so it runs under an 8 GiB cgroup limit).
//
//	go test -run X -bench Seed1000 -benchtime 1x ./internal/acceptance
func BenchmarkSeed1000(b *testing.B) {
	users := 10
	if v, err := strconv.Atoi(os.Getenv("HUBCAP_BENCH_USERS")); err == nil && v > 0 {
		users = v
	}
	const servers = 1000
	for _, rel := range releases {
		b.Run(rel, func(b *testing.B) {
			for range b.N {
				l := localhubtest.Start(b, rel, localhub.Options{Hub: hub.Options{ConcurrentSpawnLimit: 100}})
				c := localhubtest.Admin(b, l, "bench-")
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
				res, err := seed.Apply(ctx, c, seed.Even("bench-u", users, servers/users), seed.Options{Workers: 32})
				if err != nil {
					cancel()
					b.Fatal(err)
				}
				if err := l.Hub.SetMemoryLimit(8 << 30); err != nil {
					b.Logf("no memory limit for the restart: %v", err)
				}
				rep, err := l.Hub.Restart(ctx)
				cancel()
				if err != nil {
					b.Fatalf("restart: %v", err)
				}
				b.ReportMetric(res.Elapsed.Seconds(), "seed-s")
				b.ReportMetric(float64(res.Servers)/res.Elapsed.Seconds(), "servers/s")
				b.ReportMetric(float64(rep.PeakRSS)/(1<<20), "restart-peak-MiB")
				b.ReportMetric(rep.SecondsToHealthy, "restart-s")
				b.Logf("%s: %d users × %d servers seeded in %.1fs; restart %s", rel, users, servers/users, res.Elapsed.Seconds(), rep.Summary())
				l.Stop(context.Background())
			}
		})
	}
}
