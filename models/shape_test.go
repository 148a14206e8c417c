package models

import (
	"errors"
	"testing"

	"github.com/hubcap-dev/hubcap/shape"
)

func TestShapeOf(t *testing.T) {
	cases := []struct {
		intent string
		users  []UserShape
		want   Shape
		err    bool
	}{
		{
			intent: "the 5.3 incident shape: J multiplies each user's running servers by all their rows",
			users:  []UserShape{{Name: "a", S: 3, R: 2}, {Name: "b", S: 1, R: 0}, {Name: "c", S: 10, R: 10}},
			want:   Shape{U: 3, S: 14, R: 12, J: 2*3 + 0 + 10*10},
		},
		{
			intent: "no users is an empty hub",
			users:  nil,
			want:   Shape{},
		},
		{
			intent: "a user with rows but nothing running adds to S only",
			users:  []UserShape{{Name: "idle", S: 5, R: 0}},
			want:   Shape{U: 1, S: 5},
		},
		{
			intent: "more running servers than rows cannot exist",
			users:  []UserShape{{Name: "x", S: 1, R: 2}},
			err:    true,
		},
		{
			intent: "negative counts are rejected",
			users:  []UserShape{{Name: "x", S: -1, R: 0}},
			err:    true,
		},
	}
	for _, c := range cases {
		got, err := ShapeOf(c.users)
		if c.err {
			if !errors.Is(err, ErrInvalidShape) {
				t.Errorf("%s: err = %v, want ErrInvalidShape", c.intent, err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%s: ShapeOf = %+v, %v; want %+v", c.intent, got, err, c.want)
		}
		if es := got.Validate(); es != nil {
			t.Errorf("%s: a shape built from users must validate: %v", c.intent, es)
		}
	}
}

func TestShapeFromCounts(t *testing.T) {
	// Parallel lists are the same as the per-user form.
	got, err := ShapeFromCounts([]int{3, 1}, []int{2, 1})
	if want := (Shape{U: 2, S: 4, R: 3, J: 7}); err != nil || got != want {
		t.Errorf("ShapeFromCounts = %+v, %v; want %+v", got, err, want)
	}
	// Lists of different lengths are a caller error, not a silent truncation.
	if _, err := ShapeFromCounts([]int{1, 2}, []int{1}); !errors.Is(err, ErrInvalidShape) {
		t.Errorf("mismatched lengths: err = %v, want ErrInvalidShape", err)
	}
}

func TestGenerators(t *testing.T) {
	users := func(n, s, r int) []UserShape {
		out := make([]UserShape, n)
		for i := range out {
			out[i] = UserShape{S: s, R: r}
		}
		return out
	}
	cases := []struct {
		intent string
		got    Shape
		users  []UserShape // the same database spelled out per user
	}{
		{"OneUser(k) is k running named servers plus a stopped default row", OneUser(7), users(1, 8, 7)},
		{"OneUser(0) is a user with only its default row", OneUser(0), users(1, 1, 0)},
		{"Even(10, 300) is the facts note's 10 users × 300 running, J = 900,000", Even(10, 300), users(10, 300, 300)},
		{"EvenUsers grows the number of users", EvenUsers(3)(4), users(4, 3, 3)},
		{"EvenServers grows the servers of each user", EvenServers(4)(3), users(4, 3, 3)},
	}
	for _, c := range cases {
		want, err := ShapeOf(c.users)
		if err != nil {
			t.Fatal(err)
		}
		if c.got != want {
			t.Errorf("%s: got %+v, want %+v", c.intent, c.got, want)
		}
	}
	if j := Even(10, 300).J; j != 900_000 {
		t.Errorf("Even(10, 300).J = %v, want 900,000 joined rows (facts note)", j)
	}
}

func TestPlus(t *testing.T) {
	base := []UserShape{{Name: "alice", S: 3, R: 1}, {Name: "bob", S: 5, R: 5}, {Name: "carol", S: 1, R: 0}}
	cases := []struct {
		intent string
		user   string
		k      int
		after  []UserShape // base with the change applied by hand
	}{
		{"an existing user's new servers multiply with all their rows", "bob", 4,
			[]UserShape{{Name: "alice", S: 3, R: 1}, {Name: "bob", S: 9, R: 9}, {Name: "carol", S: 1, R: 0}}},
		{"a user with stopped rows: the stopped rows join every new running one", "alice", 2,
			[]UserShape{{Name: "alice", S: 5, R: 3}, {Name: "bob", S: 5, R: 5}, {Name: "carol", S: 1, R: 0}}},
		{"a new user arrives with a stopped default row, as OneUser", "dave", 3,
			[]UserShape{{Name: "alice", S: 3, R: 1}, {Name: "bob", S: 5, R: 5}, {Name: "carol", S: 1, R: 0}, {Name: "dave", S: 4, R: 3}}},
		{"k = 0 leaves today's database unchanged", "carol", 0, base},
	}
	for _, c := range cases {
		got, err := Plus(base, c.user, c.k)
		if err != nil {
			t.Fatalf("%s: %v", c.intent, err)
		}
		want, _ := ShapeOf(c.after)
		if got != want {
			t.Errorf("%s: Plus = %+v, want %+v", c.intent, got, want)
		}
	}
	// An inconsistent base is reported, not summed.
	if _, err := Plus([]UserShape{{Name: "x", S: 1, R: 3}}, "x", 1); !errors.Is(err, ErrInvalidShape) {
		t.Errorf("bad base: err = %v, want ErrInvalidShape", err)
	}
	// A negative k is a caller error.
	if _, err := Plus(base, "bob", -1); !errors.Is(err, ErrInvalidShape) {
		t.Errorf("k = -1: err = %v, want ErrInvalidShape", err)
	}
}

func TestShapeValidate(t *testing.T) {
	cases := []struct {
		intent string
		shape  Shape
		nerr   int
	}{
		{"a shape from real counts is valid", Shape{U: 2, S: 4, R: 3, J: 7}, 0},
		{"the empty hub is valid", Shape{}, 0},
		{"running above rows is impossible", Shape{U: 1, S: 2, R: 3, J: 6}, 1},
		{"J below R is impossible: each running server joins at least its own row", Shape{U: 1, S: 5, R: 4, J: 3}, 1},
		{"J above R·S is impossible", Shape{U: 2, S: 4, R: 2, J: 9}, 1},
		{"rows without users are impossible", Shape{U: 0, S: 1, R: 0, J: 0}, 1},
		{"every negative field is reported at once", Shape{U: -1, S: -1, R: 0, J: -2}, 3},
	}
	for _, c := range cases {
		es := c.shape.Validate()
		if len(es) != c.nerr {
			t.Errorf("%s: %d errors %v, want %d", c.intent, len(es), es, c.nerr)
		}
		for _, e := range es {
			if !errors.Is(e, ErrInvalidShape) {
				t.Errorf("%s: %v does not wrap ErrInvalidShape", c.intent, e)
			}
		}
	}
}

// TestFromShape: a database's shape gives the features the models fit on,
// the totals unchanged.
func TestFromShape(t *testing.T) {
	sh := shape.New([]shape.User{{Name: "a", S: 4, R: 2, Bytes: 10, RunBytes: 6, Py: 30, RunPy: 18}, {Name: "b", S: 1}})
	got := FromShape(sh)
	want := Shape{U: 2, S: 5, R: 2, J: 8, JB: 2*10 + 4*6, JP: 2*30 + 4*18, LP: 18 + 30}
	if got != want {
		t.Errorf("FromShape = %+v, want %+v", got, want)
	}
}
