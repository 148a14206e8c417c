package fleet

import "testing"

func TestMarkUntrusted(t *testing.T) {
	cases := []struct{ name, in, want string }{
		// Code cells are marked untrusted, markdown cells are left alone,
		// as jupyter_server's mark_trusted_cells does for an unsigned notebook.
		{"mixed", `{"cells":[{"cell_type":"markdown","metadata":{}},{"cell_type":"code","metadata":{"x":1}}]}`,
			`{"cells":[{"cell_type":"markdown","metadata":{}},{"cell_type":"code","metadata":{"trusted":false,"x":1}}]}`},
		// A code cell without metadata gets one.
		{"no metadata", `{"cells":[{"cell_type":"code"}]}`, `{"cells":[{"cell_type":"code","metadata":{"trusted":false}}]}`},
		// Content that is not a notebook object passes through untouched.
		{"not an object", `[1,2]`, `[1,2]`},
	}
	for _, c := range cases {
		if got := string(markUntrusted([]byte(c.in))); got != c.want {
			t.Errorf("%s: got %s, want %s", c.name, got, c.want)
		}
	}
}
