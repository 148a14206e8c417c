package check

import (
	"context"
	"fmt"
	"testing"

	"github.com/hubcap-dev/hubcap/internal/testkit/hubsqlite"
)

// BenchmarkCheck times a whole check of a database with 100,000 spawner
// rows in the schema JupyterHub 5.3.0's ORM creates (rows bulk-inserted,
// half of them running, 200-byte states): open read-only, read the shape,
// load the calibrations, predict, decide. Target: under 2 s per op.
func BenchmarkCheck(b *testing.B) {
	for _, c := range []struct{ users, perUser int }{{1000, 100}, {10, 10_000}} {
		b.Run(fmt.Sprintf("%dx%d", c.users, c.perUser), func(b *testing.B) {
			path, _ := ormDB(b, "5.3.0", nil, 0)
			users := make([]hubsqlite.User, c.users)
			for i := range users {
				users[i] = hubsqlite.User{Name: fmt.Sprintf("user-%05d", i), S: c.perUser, R: c.perUser / 2, StateBytes: 200}
			}
			hubsqlite.Insert(b, path, users)
			o := Options{DB: path, Release: "5.3.0", CalibrationsDir: testCalibrations(b), MemoryLimit: 3 << 30, Headroom: 0.2}
			rows := int64(c.users * c.perUser)
			ctx := context.Background()
			b.ResetTimer()
			for b.Loop() {
				r, err := Run(ctx, o)
				if err != nil {
					b.Fatal(err)
				}
				if r.Shape.S != rows || r.Shape.J != int64(c.users)*int64(c.perUser/2)*int64(c.perUser) {
					b.Fatalf("shape S=%d J=%d", r.Shape.S, r.Shape.J)
				}
			}
			b.ReportMetric(float64(rows), "spawner_rows")
		})
	}
}
