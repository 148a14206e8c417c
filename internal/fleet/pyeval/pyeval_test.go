package pyeval

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestEvaluate(t *testing.T) {
	// Expected values are CPython 3.11's, checked by hand.
	cases := []struct {
		code   string
		stdout string // concatenated
		result string // "" = no execute_result
		ename  string
		evalue string
		sleep  time.Duration
	}{
		{code: "print(6*7)", stdout: "42\n"},
		{code: "6*7", result: "42"},
		{code: "1 + 2 * 3", result: "7"},
		{code: "(1 + 2) * 3", result: "9"},
		{code: "-7 // 2", result: "-4"},               // floor division
		{code: "-7 % 3", result: "2"},                 // floor modulo
		{code: "7 % -3", result: "-2"},                // sign of the divisor
		{code: "7 / 2", result: "3.5"},                // true division
		{code: "4 / 2", result: "2.0"},                // floats keep .0
		{code: "1 / 3", result: "0.3333333333333333"}, // shortest repr
		{code: "10**2", stdout: "", result: ""},       // ** unsupported: other
		{code: "2.5 * 4", result: "10.0"},
		{code: "1e16 * 1", result: "1e+16"},
		{code: "0.0001 * 1", result: "0.0001"},
		{code: "0.00001 * 1", result: "1e-05"},
		{code: "-7.5 // 2", result: "-4.0"},
		{code: "99999999999999999999 * 99999999999999999999", result: "9999999999999999999800000000000000000001"},
		{code: "1/0", ename: "ZeroDivisionError", evalue: "division by zero"},
		{code: "1//0", ename: "ZeroDivisionError", evalue: "integer division or modulo by zero"},
		{code: "1.0/0", ename: "ZeroDivisionError", evalue: "float division by zero"},
		{code: "print(1)\n1/0\nprint(2)", stdout: "1\n", ename: "ZeroDivisionError", evalue: "division by zero"},
		{code: "1\n2", result: "2"},    // only the last expression is shown
		{code: "1\nx = 2", result: ""}, // last statement is not an expression
		{code: "print('a', \"b\", 1+1)", stdout: "a b 2\n"},
		{code: "print()", stdout: "\n"},
		{code: "print('semi; colon')", stdout: "semi; colon\n"},
		{code: "print(1) # comment", stdout: "1\n"},
		{code: "print(x)", stdout: ""}, // unknown name: skipped
		{code: "import numpy as np\nnp.zeros(3)", stdout: ""},
		{code: "import time; time.sleep(1.5)", sleep: 1500 * time.Millisecond},
		{code: "from time import sleep\nsleep(2)", sleep: 2 * time.Second},
		{code: "time.sleep(1000)", sleep: 60 * time.Second}, // capped
		{code: "time.sleep(-1)", ename: "ValueError", evalue: "sleep length must be non-negative"},
		{code: "007", result: ""}, // leading zeros: a SyntaxError in Python, other here
		{code: "1_000 + 1", result: "1001"},
		{code: "2j", result: ""}, // complex literal: other
		{code: "((((1))))", result: "1"},
		{code: "", result: ""},
	}
	for _, c := range cases {
		res := Evaluate(c.code, 60*time.Second)
		var out strings.Builder
		var slept time.Duration
		for _, st := range res.Steps {
			if st.Kind == StepStdout {
				out.WriteString(st.Text)
			} else {
				slept += st.D
			}
		}
		if out.String() != c.stdout || res.Result != c.result || slept != c.sleep {
			t.Errorf("%q: stdout %q result %q sleep %v, want %q %q %v", c.code, out.String(), res.Result, slept, c.stdout, c.result, c.sleep)
		}
		if (c.result != "") != res.HasResult {
			t.Errorf("%q: hasResult %v", c.code, res.HasResult)
		}
		switch {
		case c.ename == "" && res.Err != nil:
			t.Errorf("%q: unexpected %s: %s", c.code, res.Err.EName, res.Err.EValue)
		case c.ename != "" && (res.Err == nil || res.Err.EName != c.ename || res.Err.EValue != c.evalue):
			t.Errorf("%q: error %+v, want %s: %s", c.code, res.Err, c.ename, c.evalue)
		}
	}
}

func TestEvaluateErrorLine(t *testing.T) {
	res := Evaluate("print(1)\n\n1/0", time.Minute)
	if res.Err == nil || res.Err.Line != 3 {
		t.Fatalf("error %+v, want line 3", res.Err)
	}
}

func TestEvaluateIntDigitLimit(t *testing.T) {
	// 4300 nines squared has 8600 digits: Python refuses to print it
	n := strings.Repeat("9", 4300)
	res := Evaluate(n+"*"+n, time.Minute)
	if res.Err == nil || res.Err.EName != "ValueError" {
		t.Fatalf("error %+v, want ValueError (int max str digits)", res.Err)
	}
	// a 4301-digit literal is not a valid int literal
	if res := Evaluate(n+"9", time.Minute); res.HasResult || res.Err != nil {
		t.Fatalf("a 4301-digit literal evaluated: %+v", res)
	}
}

func TestEvaluateDeepNesting(t *testing.T) {
	code := strings.Repeat("(", 5000) + "1" + strings.Repeat(")", 5000)
	if res := Evaluate(code, time.Minute); res.HasResult {
		t.Fatalf("5000 nested parentheses evaluated (CPython refuses beyond 200)")
	}
	code = strings.Repeat("-", 300) + "1"
	if res := Evaluate(code, time.Minute); res.HasResult {
		t.Fatalf("300 nested unary minus evaluated past the depth bound")
	}
}

func TestPyFloatRepr(t *testing.T) {
	// repr() of CPython 3.11 floats
	cases := map[float64]string{
		0: "0.0", 1: "1.0", -2.5: "-2.5", 0.1: "0.1", 1e15: "1000000000000000.0", 1e16: "1e+16",
		1.5e-5: "1.5e-05", 123456789.125: "123456789.125", math.Inf(1): "inf",
	}
	for f, want := range cases {
		if got := pyFloatRepr(f); got != want {
			t.Errorf("pyFloatRepr(%v) = %q, want %q", f, got, want)
		}
	}
}

func FuzzEvaluate(f *testing.F) {
	for _, s := range []string{
		"print(6*7)", "1/0", "import time; time.sleep(0.5)", "(1+2)*3 // 2 % 5",
		"print('a', 1.5e3)", "-(-(1))", "1_0.5e-3", "print(\"x\\\"y\")", "# c\n1",
		"99999999999999999999*99999999999999999999", "((((", "1 +", "print(",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, code string) {
		res := Evaluate(code, time.Second)
		for _, st := range res.Steps {
			if st.Kind == StepSleep && (st.D < 0 || st.D > time.Second) {
				t.Fatalf("sleep %v outside [0, cap]", st.D)
			}
		}
		if res.HasResult && res.Err != nil {
			t.Fatalf("both a result and an error")
		}
	})
}
