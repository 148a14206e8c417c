package shape

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
)

func TestLinearRows(t *testing.T) {
	sh := New([]User{{S: 4, R: 2}, {S: 3, R: 0}, {S: 1, R: 1}})
	// running spawners 2+0+1 plus all spawners of users with a running one 4+1
	if sh.LinearRows != 8 {
		t.Errorf("LinearRows = %d, want 8", sh.LinearRows)
	}
}

// TestNew: J per user and in total is Σ R_u·S_u (not R·S overall), the
// content totals follow the package formulas, and users come sorted by J,
// then S, then name.
func TestNew(t *testing.T) {
	users := []User{
		{Name: "y", S: 3, Bytes: 30, Py: 90},
		{Name: "b", S: 2, R: 2, Bytes: 20, RunBytes: 20, Py: 60, RunPy: 60},
		{Name: "z", S: 2, R: 2, Bytes: 10, RunBytes: 10, Py: 40, RunPy: 40},
		{Name: "a", S: 3, R: 1, Bytes: 9, RunBytes: 3, Py: 27, RunPy: 9},
	}
	got := New(users)
	want := Shape{U: 4, S: 10, R: 5, J: 4 + 4 + 3,
		// running 2+2+1, plus the rows of the three users with one: 2+2+3
		LinearRows: 5 + 7,
		// R_u·B_u + S_u·B^R_u: b 2·20+2·20, z 2·10+2·10, a 1·9+3·3
		JB: 80 + 40 + 18,
		JP: 240 + 160 + 54,
		// P^R_u + P_u of users with a running server
		LP: 120 + 80 + 36,
		Users: []User{
			{Name: "b", S: 2, R: 2, J: 4, Bytes: 20, RunBytes: 20, Py: 60, RunPy: 60},
			{Name: "z", S: 2, R: 2, J: 4, Bytes: 10, RunBytes: 10, Py: 40, RunPy: 40},
			{Name: "a", S: 3, R: 1, J: 3, Bytes: 9, RunBytes: 3, Py: 27, RunPy: 9},
			{Name: "y", S: 3, Bytes: 30, Py: 90},
		}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("New =\n %+v\nwant\n %+v", got, want)
	}
	if tot := got.Totals(); tot.Users != nil || tot.J != want.J {
		t.Errorf("Totals = %+v", tot)
	}
	if e := New(nil); !reflect.DeepEqual(e, Shape{}) {
		t.Errorf("New(nil) = %+v, want the zero shape", e)
	}
}

// TestJSONNames: the field names check --json, replay --json and the
// database readers print.
func TestJSONNames(t *testing.T) {
	b, err := json.Marshal(New([]User{{Name: "a", S: 2, R: 1}}))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"users":1,"spawner_rows":2,"running":1,"joined_rows":2,"linear_rows":3,"joined_bytes":0,"joined_pybytes":0,"linear_pybytes":0,` +
		`"per_user":[{"name":"a","spawners":2,"running":1,"joined_rows":2}]}`
	if string(b) != want {
		t.Errorf("JSON\n %s\nwant\n %s", b, want)
	}
}

func ExampleNew() {
	sh := New([]User{
		{Name: "ada", S: 41, R: 30}, // 30 running of 41 rows
		{Name: "bob", S: 2, R: 1},
		{Name: "cy", S: 1}, // the default row, stopped
	})
	fmt.Println(sh.U, sh.S, sh.R, sh.J, sh.LinearRows, sh.Users[0].Name)
	// Output: 3 44 31 1232 74 ada
}
