package hubdb

import (
	"context"
	"fmt"
	"testing"

	"github.com/hubcap-dev/hubcap/internal/testkit/hubsqlite"
)

// BenchmarkShape times Open + Shape + Close on 100,000 spawner rows in the
// real JupyterHub 5.5.1 schema (copied from a database the hub's ORM
// created), half of them running, each with a 200-byte state. Target: well
// under 2 s per op.
func BenchmarkShape(b *testing.B) {
	for _, c := range []struct{ users, perUser int }{{1000, 100}, {10, 10000}} {
		b.Run(fmt.Sprintf("%dx%d", c.users, c.perUser), func(b *testing.B) {
			f := hubFixture(b, "5.5.1")
			path := hubsqlite.Copy(b, f.Path)
			w := hubsqlite.Open(b, path)
			for _, t := range []string{"spawners", "servers", "users"} {
				hubsqlite.Exec(b, w, "DELETE FROM "+t)
			}
			w.Close()
			users := make([]hubsqlite.User, c.users)
			for i := range users {
				users[i] = hubsqlite.User{Name: fmt.Sprintf("user-%05d", i), S: c.perUser, R: c.perUser / 2, StateBytes: 200}
			}
			hubsqlite.Insert(b, path, users)
			ctx := context.Background()
			rows := int64(c.users * c.perUser)
			b.ResetTimer()
			for b.Loop() {
				db, err := Open(ctx, path)
				if err != nil {
					b.Fatal(err)
				}
				sh, err := db.Shape(ctx)
				if err != nil {
					b.Fatal(err)
				}
				db.Close()
				if sh.S != rows || sh.J != int64(c.users)*int64(c.perUser/2)*int64(c.perUser) {
					b.Fatalf("shape S=%d J=%d", sh.S, sh.J)
				}
			}
			b.ReportMetric(float64(rows), "spawner_rows")
		})
	}
}
