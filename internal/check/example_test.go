package check_test

import (
	"fmt"

	"github.com/hubcap-dev/hubcap/internal/check"
	"github.com/hubcap-dev/hubcap/models"
)

// The verdict is a pure function of the prediction and the limit: here the
// point estimate fits under 3 GiB but the upper bound plus 20% headroom
// does not.
func ExampleDecide() {
	const gi = 1 << 30
	v, reasons := check.Decide(check.Criteria{
		Peak:     models.Prediction{Point: 2.3 * gi, Lower: 2.1 * gi, Upper: 2.6 * gi},
		Limit:    3 * gi,
		Headroom: 0.2,
		Match:    check.MatchExact,
	})
	fmt.Println(v)
	fmt.Println(reasons[0])
	// Output:
	// WARN
	// the upper bound of the predicted peak, 2.60 GiB, is within 20% headroom of the memory limit 3.00 GiB
}
