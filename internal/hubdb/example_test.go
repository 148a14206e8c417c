package hubdb_test

import (
	"fmt"

	"github.com/hubcap-dev/hubcap/internal/hubdb"
)

// A 5.x database cannot tell whether its hub has the quadratic start-up:
// every 5.x release has the same schema head, so ask for --release.
func ExampleLookupRevision() {
	r, err := hubdb.LookupRevision("4621fec11365")
	if err != nil {
		panic(err)
	}
	fmt.Println(r)
	fmt.Println("ask for --release:", r.StraddlesFix)
	fmt.Println("5.3.0 wrote it?", r.Contains("5.3.0"))
	// Output:
	// 5.0.0b1 … 5.5.1 (alembic 4621fec11365)
	// ask for --release: true
	// 5.3.0 wrote it? true
}
