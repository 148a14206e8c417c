// Package pyeval is the fleet's tiny Python evaluator: it gives workshop
// cells believable output without a Python interpreter. It understands, one
// statement per line or per ';':
//
//	import x / import x as y / from x import y      no effect
//	time.sleep(<number expr>), sleep(<number expr>) waits (capped)
//	print(<arg>, ...)                                stdout; args are number
//	                                                 expressions or string literals
//	<number expr>                                    the last statement's value is
//	                                                 the cell's execute_result
//
// Number expressions have Python semantics for int (arbitrary precision) and
// float: + - * / // % unary +/- and parentheses. Errors are Python's
// (ZeroDivisionError, OverflowError, ValueError) and stop the cell. Any
// other statement is skipped without output, as if it ran and printed
// nothing.
package pyeval

import (
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"
)

// maxCodeBytes bounds the code evaluated; longer cells are run as "other".
const maxCodeBytes = 64 << 10

// maxDepth bounds parenthesis nesting (CPython's parser stops at 200).
const maxDepth = 200

// maxIntDigits is CPython's default int max str digits (3.11+).
const maxIntDigits = 4300

// StepKind says what a Step does.
type StepKind uint8

const (
	StepStdout StepKind = iota // text printed to stdout
	StepSleep                  // wait D
)

// Step is one effect of a cell, in order.
type Step struct {
	Kind StepKind
	Text string
	D    time.Duration
}

// Exception is a Python exception raised by a cell.
type Exception struct {
	EName, EValue string
	Line          int // 1-based line of the failing statement
}

// Result is what a cell does, in order: Steps, then either a result
// (HasResult), an exception (Err), or nothing.
type Result struct {
	Steps     []Step
	Result    string
	HasResult bool
	Err       *Exception
}

// Evaluate runs code with the tiny evaluator. Sleeps longer than maxSleep
// are cut to maxSleep. It never panics and allocates at most a small
// multiple of len(code).
func Evaluate(code string, maxSleep time.Duration) Result {
	var res Result
	if len(code) > maxCodeBytes {
		return res
	}
	stmts := splitStatements(code)
	for i, st := range stmts {
		last := i == len(stmts)-1
		kind, v, outs, perr := execStatement(st.text, maxSleep)
		if perr != nil {
			perr.Line = st.line
			res.Err = perr
			return res
		}
		switch kind {
		case stmtSleep:
			res.Steps = append(res.Steps, Step{Kind: StepSleep, D: v.d})
		case stmtPrint:
			res.Steps = append(res.Steps, Step{Kind: StepStdout, Text: outs})
		case stmtExpr:
			if last {
				s, perr := v.val.repr()
				if perr != nil {
					perr.Line = st.line
					res.Err = perr
					return res
				}
				res.Result, res.HasResult = s, true
			}
		}
	}
	return res
}

type statement struct {
	text string
	line int
}

// splitStatements splits code at newlines and at ';' outside string
// literals, dropping comments and blank statements.
func splitStatements(code string) []statement {
	var out []statement
	line := 1
	start := 0
	startLine := 1
	var quote byte
	flush := func(end int) {
		s := strings.TrimSpace(code[start:end])
		if s != "" {
			out = append(out, statement{text: s, line: startLine})
		}
	}
	for i := 0; i < len(code); i++ {
		c := code[i]
		if quote != 0 {
			switch c {
			case '\\':
				if i+1 < len(code) && code[i+1] != '\n' {
					i++
				}
			case quote:
				quote = 0
			case '\n':
				quote = 0 // unterminated literal: the statement is "other"
				flush(i)
				line++
				start, startLine = i+1, line
			}
			continue
		}
		switch c {
		case '\'', '"':
			quote = c
		case '#':
			flush(i)
			for i < len(code) && code[i] != '\n' {
				i++
			}
			if i < len(code) {
				line++
			}
			start, startLine = i+1, line
		case ';':
			flush(i)
			start, startLine = i+1, line
		case '\n':
			flush(i)
			line++
			start, startLine = i+1, line
		}
	}
	if start < len(code) {
		flush(len(code))
	}
	return out
}

type stmtKind uint8

const (
	stmtOther stmtKind = iota
	stmtImport
	stmtSleep
	stmtPrint
	stmtExpr
)

type stmtValue struct {
	d   time.Duration
	val value
}

func execStatement(s string, maxSleep time.Duration) (stmtKind, stmtValue, string, *Exception) {
	var v stmtValue
	if isImport(s) {
		return stmtImport, v, "", nil
	}
	if arg, ok := callArgs(s, "time.sleep"); ok {
		return execSleep(arg, maxSleep)
	}
	if arg, ok := callArgs(s, "sleep"); ok {
		return execSleep(arg, maxSleep)
	}
	if arg, ok := callArgs(s, "print"); ok {
		out, ok, perr := execPrint(arg)
		if perr != nil {
			return stmtPrint, v, "", perr
		}
		if !ok {
			return stmtOther, v, "", nil
		}
		return stmtPrint, v, out, nil
	}
	p := parser{src: s}
	n, ok := p.parseAll()
	if !ok {
		return stmtOther, v, "", nil
	}
	val, perr := n.eval()
	if perr != nil {
		return stmtExpr, v, "", perr
	}
	v.val = val
	return stmtExpr, v, "", nil
}

func isImport(s string) bool {
	f := strings.Fields(s)
	if len(f) >= 2 && f[0] == "import" {
		return true
	}
	return len(f) >= 4 && f[0] == "from" && f[2] == "import"
}

// callArgs returns the text between the parentheses of name(...) when s is
// exactly one such call.
func callArgs(s, name string) (string, bool) {
	if !strings.HasPrefix(s, name) {
		return "", false
	}
	rest := strings.TrimLeft(s[len(name):], " \t")
	if len(rest) < 2 || rest[0] != '(' || rest[len(rest)-1] != ')' {
		return "", false
	}
	inner := rest[1 : len(rest)-1]
	// the closing parenthesis must be the one matching the opening one
	depth := 0
	ok := scanCode(inner, func(_ int, c byte) bool {
		switch c {
		case '(':
			depth++
		case ')':
			depth--
		}
		return depth >= 0
	})
	if !ok || depth != 0 {
		return "", false
	}
	return inner, true
}

// scanCode calls f with every byte of s that lies outside string literals
// ('…' or "…", with backslash escapes; the quotes themselves are not
// passed) until f returns false. It reports whether f never stopped it and
// every literal was closed.
func scanCode(s string, f func(i int, c byte) bool) bool {
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		if quote != 0 {
			if c == '\\' {
				i++
			} else if c == quote {
				quote = 0
			}
			continue
		}
		if c == '\'' || c == '"' {
			quote = c
			continue
		}
		if !f(i, c) {
			return false
		}
	}
	return quote == 0
}

func execSleep(arg string, maxSleep time.Duration) (stmtKind, stmtValue, string, *Exception) {
	var v stmtValue
	p := parser{src: arg}
	n, ok := p.parseAll()
	if !ok {
		return stmtOther, v, "", nil
	}
	val, perr := n.eval()
	if perr != nil {
		return stmtSleep, v, "", perr
	}
	secs := val.float()
	if math.IsNaN(secs) {
		return stmtSleep, v, "", &Exception{EName: "ValueError", EValue: "Invalid value NaN (not a number)"}
	}
	if secs < 0 {
		return stmtSleep, v, "", &Exception{EName: "ValueError", EValue: "sleep length must be non-negative"}
	}
	if secs > maxSleep.Seconds() {
		v.d = maxSleep
	} else {
		v.d = time.Duration(secs * float64(time.Second))
	}
	return stmtSleep, v, "", nil
}

// execPrint evaluates print's arguments. ok is false when an argument is
// neither a string literal nor a number expression.
func execPrint(arg string) (string, bool, *Exception) {
	args, ok := splitArgs(arg)
	if !ok {
		return "", false, nil
	}
	parts := make([]string, 0, len(args))
	for _, a := range args {
		if s, ok := stringLiteral(a); ok {
			parts = append(parts, s)
			continue
		}
		p := parser{src: a}
		n, ok := p.parseAll()
		if !ok {
			return "", false, nil
		}
		val, perr := n.eval()
		if perr != nil {
			return "", true, perr
		}
		s, perr := val.str()
		if perr != nil {
			return "", true, perr
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " ") + "\n", true, nil
}

// splitArgs splits a call's argument text at top-level commas.
func splitArgs(s string) ([]string, bool) {
	if strings.TrimSpace(s) == "" {
		return nil, true
	}
	var out []string
	depth, start := 0, 0
	scanCode(s, func(i int, c byte) bool {
		switch c {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, strings.TrimSpace(s[start:i]))
				start = i + 1
			}
		}
		return true
	})
	last := strings.TrimSpace(s[start:])
	if last != "" {
		out = append(out, last)
	}
	for _, a := range out {
		if a == "" {
			return nil, false
		}
	}
	return out, true
}

// stringLiteral decodes a simple '...' or "..." literal with the common
// backslash escapes.
func stringLiteral(s string) (string, bool) {
	if len(s) < 2 || (s[0] != '\'' && s[0] != '"') || s[len(s)-1] != s[0] {
		return "", false
	}
	q := s[0]
	body := s[1 : len(s)-1]
	var b strings.Builder
	for i := 0; i < len(body); i++ {
		c := body[i]
		if c == q {
			return "", false
		}
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		if i+1 >= len(body) {
			return "", false
		}
		i++
		switch body[i] {
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case '\\', '\'', '"':
			b.WriteByte(body[i])
		default:
			b.WriteByte('\\')
			b.WriteByte(body[i])
		}
	}
	return b.String(), true
}

// value is a Python int (i != nil) or float.
type value struct {
	i *big.Int
	f float64
}

func (v value) isInt() bool { return v.i != nil }

func (v value) float() float64 {
	if v.i == nil {
		return v.f
	}
	f, _ := new(big.Float).SetInt(v.i).Float64()
	return f
}

// toFloat converts for mixed arithmetic, raising OverflowError as Python
// does for ints beyond float range.
func (v value) toFloat() (float64, *Exception) {
	if v.i == nil {
		return v.f, nil
	}
	f := v.float()
	if math.IsInf(f, 0) {
		return 0, &Exception{EName: "OverflowError", EValue: "int too large to convert to float"}
	}
	return f, nil
}

// repr is Python's repr of the value (also its str for ints and floats).
func (v value) repr() (string, *Exception) { return v.str() }

func (v value) str() (string, *Exception) {
	if v.i != nil {
		// cheap digit estimate before formatting: bits*log10(2)
		if digits := float64(v.i.BitLen()) * 0.30103; digits > maxIntDigits+1 {
			return "", &Exception{EName: "ValueError", EValue: "Exceeds the limit (4300 digits) for integer string conversion; use sys.set_int_max_str_digits() to increase the limit"}
		}
		s := v.i.String()
		if n := len(strings.TrimPrefix(s, "-")); n > maxIntDigits {
			return "", &Exception{EName: "ValueError", EValue: "Exceeds the limit (4300 digits) for integer string conversion; use sys.set_int_max_str_digits() to increase the limit"}
		}
		return s, nil
	}
	return pyFloatRepr(v.f), nil
}

// pyFloatRepr formats f as Python's repr(float): the shortest digits that
// round-trip, fixed notation for exponents in [-4, 16), else scientific with
// at least two exponent digits; integral values keep ".0".
func pyFloatRepr(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	case math.IsNaN(f):
		return "nan"
	}
	e := strconv.FormatFloat(f, 'e', -1, 64) // e.g. -1.2345e+06
	sign := ""
	if e[0] == '-' {
		sign, e = "-", e[1:]
	}
	mant, expStr, _ := strings.Cut(e, "e")
	exp, _ := strconv.Atoi(expStr)
	digits := strings.Replace(mant, ".", "", 1)
	if exp < -4 || exp >= 16 {
		m := digits[:1]
		if len(digits) > 1 {
			m += "." + digits[1:]
		}
		es := strconv.Itoa(abs(exp))
		if len(es) < 2 {
			es = "0" + es
		}
		if exp < 0 {
			return sign + m + "e-" + es
		}
		return sign + m + "e+" + es
	}
	point := exp + 1 // digits before the decimal point
	var s string
	switch {
	case point <= 0:
		s = "0." + strings.Repeat("0", -point) + digits
	case point >= len(digits):
		s = digits + strings.Repeat("0", point-len(digits)) + ".0"
	default:
		s = digits[:point] + "." + digits[point:]
	}
	return sign + s
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// node is a parsed number expression.
type node struct {
	op          byte // 0 literal, '+', '-', '*', '/', 'f' (//), '%', 'n' (negate), 'p' (unary plus)
	lit         value
	left, right *node
}

type parser struct {
	src   string
	pos   int
	depth int
}

// parseAll parses the whole source as one expression.
func (p *parser) parseAll() (*node, bool) {
	n, ok := p.expr()
	if !ok {
		return nil, false
	}
	p.space()
	return n, p.pos == len(p.src)
}

func (p *parser) space() {
	for p.pos < len(p.src) && (p.src[p.pos] == ' ' || p.src[p.pos] == '\t') {
		p.pos++
	}
}

func (p *parser) expr() (*node, bool) {
	left, ok := p.term()
	if !ok {
		return nil, false
	}
	for {
		p.space()
		if p.pos >= len(p.src) {
			return left, true
		}
		c := p.src[p.pos]
		if c != '+' && c != '-' {
			return left, true
		}
		p.pos++
		right, ok := p.term()
		if !ok {
			return nil, false
		}
		left = &node{op: c, left: left, right: right}
	}
}

func (p *parser) term() (*node, bool) {
	left, ok := p.unary()
	if !ok {
		return nil, false
	}
	for {
		p.space()
		if p.pos >= len(p.src) {
			return left, true
		}
		op := p.src[p.pos]
		switch op {
		case '*':
			if p.pos+1 < len(p.src) && p.src[p.pos+1] == '*' {
				return nil, false // ** is not supported
			}
			p.pos++
		case '/':
			p.pos++
			if p.pos < len(p.src) && p.src[p.pos] == '/' {
				p.pos++
				op = 'f'
			}
		case '%':
			p.pos++
		default:
			return left, true
		}
		right, ok := p.unary()
		if !ok {
			return nil, false
		}
		left = &node{op: op, left: left, right: right}
	}
}

func (p *parser) unary() (*node, bool) {
	p.space()
	if p.pos >= len(p.src) {
		return nil, false
	}
	switch p.src[p.pos] {
	case '-', '+':
		op := byte('n')
		if p.src[p.pos] == '+' {
			op = 'p'
		}
		p.pos++
		p.depth++
		defer func() { p.depth-- }()
		if p.depth > maxDepth {
			return nil, false
		}
		x, ok := p.unary()
		if !ok {
			return nil, false
		}
		return &node{op: op, left: x}, true
	case '(':
		p.pos++
		p.depth++
		defer func() { p.depth-- }()
		if p.depth > maxDepth {
			return nil, false
		}
		x, ok := p.expr()
		if !ok {
			return nil, false
		}
		p.space()
		if p.pos >= len(p.src) || p.src[p.pos] != ')' {
			return nil, false
		}
		p.pos++
		return x, true
	}
	return p.number()
}

// number parses an int literal (digits, optional single '_' separators) or
// a float literal (digits with '.', and/or an exponent).
func (p *parser) number() (*node, bool) {
	start := p.pos
	digits := func() bool {
		n := 0
		for p.pos < len(p.src) {
			c := p.src[p.pos]
			if c >= '0' && c <= '9' {
				p.pos++
				n++
				continue
			}
			if c == '_' && n > 0 && p.pos+1 < len(p.src) && p.src[p.pos+1] >= '0' && p.src[p.pos+1] <= '9' {
				p.pos++
				continue
			}
			break
		}
		return n > 0
	}
	intPart := digits()
	isFloat := false
	if p.pos < len(p.src) && p.src[p.pos] == '.' {
		p.pos++
		isFloat = true
		frac := digits()
		if !intPart && !frac {
			return nil, false
		}
	} else if !intPart {
		return nil, false
	}
	if p.pos < len(p.src) && (p.src[p.pos] == 'e' || p.src[p.pos] == 'E') {
		save := p.pos
		p.pos++
		if p.pos < len(p.src) && (p.src[p.pos] == '+' || p.src[p.pos] == '-') {
			p.pos++
		}
		if digits() {
			isFloat = true
		} else {
			p.pos = save
		}
	}
	// a literal followed by a name character is not a number (e.g. 1x, 2j)
	if p.pos < len(p.src) {
		c := p.src[p.pos]
		if c == '_' || c == '.' || (c|0x20 >= 'a' && c|0x20 <= 'z') || (c >= '0' && c <= '9') {
			return nil, false
		}
	}
	text := strings.ReplaceAll(p.src[start:p.pos], "_", "")
	if isFloat {
		f, err := strconv.ParseFloat(text, 64)
		if err != nil && !math.IsInf(f, 0) {
			return nil, false
		}
		return &node{lit: value{f: f}}, true
	}
	// Python rejects leading zeros in non-zero decimal ints
	if len(text) > 1 && text[0] == '0' && strings.Trim(text, "0") != "" {
		return nil, false
	}
	if len(text) > maxIntDigits {
		return nil, false // CPython: SyntaxError (exceeds the int digit limit)
	}
	i, ok := new(big.Int).SetString(text, 10)
	if !ok {
		return nil, false
	}
	return &node{lit: value{i: i}}, true
}

// eval evaluates n with Python's int/float semantics.
func (n *node) eval() (value, *Exception) {
	switch n.op {
	case 0:
		return n.lit, nil
	case 'n', 'p':
		x, err := n.left.eval()
		if err != nil {
			return value{}, err
		}
		if n.op == 'p' {
			return x, nil
		}
		if x.isInt() {
			return value{i: new(big.Int).Neg(x.i)}, nil
		}
		return value{f: -x.f}, nil
	}
	a, err := n.left.eval()
	if err != nil {
		return value{}, err
	}
	b, err := n.right.eval()
	if err != nil {
		return value{}, err
	}
	return binop(n.op, a, b)
}

func binop(op byte, a, b value) (value, *Exception) {
	if a.isInt() && b.isInt() {
		return intOp(op, a.i, b.i)
	}
	x, err := a.toFloat()
	if err != nil {
		return value{}, err
	}
	y, err := b.toFloat()
	if err != nil {
		return value{}, err
	}
	switch op {
	case '+':
		return value{f: x + y}, nil
	case '-':
		return value{f: x - y}, nil
	case '*':
		return value{f: x * y}, nil
	case '/':
		if y == 0 {
			return value{}, &Exception{EName: "ZeroDivisionError", EValue: "float division by zero"}
		}
		return value{f: x / y}, nil
	case 'f':
		if y == 0 {
			return value{}, &Exception{EName: "ZeroDivisionError", EValue: "float floor division by zero"}
		}
		q, _ := pyFloatDivmod(x, y)
		return value{f: q}, nil
	case '%':
		if y == 0 {
			return value{}, &Exception{EName: "ZeroDivisionError", EValue: "float modulo"}
		}
		_, m := pyFloatDivmod(x, y)
		return value{f: m}, nil
	}
	return value{}, &Exception{EName: "SystemError", EValue: "unknown operator"}
}

// pyFloatDivmod is CPython's float divmod (Objects/floatobject.c).
func pyFloatDivmod(vx, wx float64) (float64, float64) {
	mod := math.Mod(vx, wx)
	div := (vx - mod) / wx
	if mod != 0 {
		if (wx < 0) != (mod < 0) {
			mod += wx
			div -= 1
		}
	} else {
		mod = math.Copysign(0, wx)
	}
	var floordiv float64
	if div != 0 {
		floordiv = math.Floor(div)
		if div-floordiv > 0.5 {
			floordiv += 1
		}
	} else {
		floordiv = math.Copysign(0, vx/wx)
	}
	return floordiv, mod
}

func intOp(op byte, x, y *big.Int) (value, *Exception) {
	switch op {
	case '+':
		return value{i: new(big.Int).Add(x, y)}, nil
	case '-':
		return value{i: new(big.Int).Sub(x, y)}, nil
	case '*':
		return value{i: new(big.Int).Mul(x, y)}, nil
	case '/':
		if y.Sign() == 0 {
			return value{}, &Exception{EName: "ZeroDivisionError", EValue: "division by zero"}
		}
		f, _ := new(big.Rat).SetFrac(x, y).Float64()
		if math.IsInf(f, 0) {
			return value{}, &Exception{EName: "OverflowError", EValue: "integer division result too large for a float"}
		}
		return value{f: f}, nil
	case 'f', '%':
		if y.Sign() == 0 {
			return value{}, &Exception{EName: "ZeroDivisionError", EValue: "integer division or modulo by zero"}
		}
		q, m := new(big.Int).QuoRem(x, y, new(big.Int))
		// floor semantics: adjust when the remainder's sign differs from y's
		if m.Sign() != 0 && (m.Sign() < 0) != (y.Sign() < 0) {
			q.Sub(q, big.NewInt(1))
			m.Add(m, y)
		}
		if op == 'f' {
			return value{i: q}, nil
		}
		return value{i: m}, nil
	}
	return value{}, &Exception{EName: "SystemError", EValue: "unknown operator"}
}
