package script

import (
	"errors"
	"fmt"
	"strings"

	"github.com/grafana/sobek"
	"github.com/grafana/sobek/file"
	"github.com/grafana/sobek/parser"
)

// Exit codes of `hubcap run`, mirroring k6's errext/exitcodes so that CI
// pipelines written for k6 keep working.
const (
	ExitOK = 0
	// ExitThresholdsFailed: one or more thresholds failed (also when a
	// threshold with abortOnFail stopped the test).
	ExitThresholdsFailed = 99
	// ExitSetupTimeout: setup() ran longer than setupTimeout.
	ExitSetupTimeout = 100
	// ExitTeardownTimeout: teardown() ran longer than teardownTimeout.
	ExitTeardownTimeout = 101
	// ExitInvalidConfig: the options (or command line) are invalid.
	ExitInvalidConfig = 104
	// ExitExternalAbort: stopped by Ctrl-C / SIGTERM.
	ExitExternalAbort = 105
	// ExitScriptException: the script failed to compile, or threw in the
	// init context, setup, teardown or handleSummary.
	ExitScriptException = 107
	// ExitScriptAborted: the script called test.abort().
	ExitScriptAborted = 108
	// ExitMarkedAsFailed: the script called test.fail().
	ExitMarkedAsFailed = 110
	// ExitError: anything else (unreadable script, unwritable output).
	ExitError = 1
)

// Sentinel errors; each is mapped to an exit code by ExitCode.
var (
	ErrScript           = errors.New("script error")
	ErrInvalidOptions   = errors.New("invalid options")
	ErrThresholdsFailed = errors.New("thresholds have been crossed")
	ErrAborted          = errors.New("test aborted by the script")
	ErrInterrupted      = errors.New("test interrupted")
	ErrSetupTimeout     = errors.New("setup() timed out")
	ErrTeardownTimeout  = errors.New("teardown() timed out")
	ErrMarkedAsFailed   = errors.New("test marked as failed by the script")
)

// ExitCode returns the process exit code for an error returned by Run.
func ExitCode(err error) int {
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, ErrScript):
		return ExitScriptException
	case errors.Is(err, ErrInvalidOptions):
		return ExitInvalidConfig
	case errors.Is(err, ErrSetupTimeout):
		return ExitSetupTimeout
	case errors.Is(err, ErrTeardownTimeout):
		return ExitTeardownTimeout
	case errors.Is(err, ErrAborted):
		return ExitScriptAborted
	case errors.Is(err, ErrInterrupted):
		return ExitExternalAbort
	case errors.Is(err, ErrThresholdsFailed):
		return ExitThresholdsFailed
	case errors.Is(err, ErrMarkedAsFailed):
		return ExitMarkedAsFailed
	}
	return ExitError
}

// ScriptError is a JavaScript error with its source location.
type ScriptError struct {
	// Kind is "SyntaxError" for compile errors, else the JS error's name
	// (or "Error").
	Kind    string
	File    string
	Line    int
	Col     int
	Message string
	// Stack is the JS stack ("\tat fn (file:line:col(pc))" lines).
	Stack string
	// Where says in which phase it happened ("init", "setup", ...).
	Where string
}

// Error prints "file:line:col: message", then the JS stack.
func (e *ScriptError) Error() string {
	var b strings.Builder
	if e.File != "" {
		fmt.Fprintf(&b, "%s:%d:%d: ", e.File, e.Line, e.Col)
	}
	if e.Where != "" {
		fmt.Fprintf(&b, "in %s: ", e.Where)
	}
	b.WriteString(e.Message)
	if e.Stack != "" {
		b.WriteString("\n")
		b.WriteString(strings.TrimRight(e.Stack, "\n"))
	}
	return b.String()
}

// Unwrap makes errors.Is(err, ErrScript) true.
func (e *ScriptError) Unwrap() error { return ErrScript }

// syntaxError converts a parse or compile error.
func syntaxError(err error) error {
	var list parser.ErrorList
	if errors.As(err, &list) && len(list) > 0 {
		e := list[0]
		msg := e.Message
		if len(list) > 1 {
			msg += fmt.Sprintf(" (and %d more errors)", len(list)-1)
		}
		return &ScriptError{Kind: "SyntaxError", File: e.Position.Filename, Line: e.Position.Line, Col: e.Position.Column,
			Message: "SyntaxError: " + msg}
	}
	var pe *parser.Error
	if errors.As(err, &pe) {
		return &ScriptError{Kind: "SyntaxError", File: pe.Position.Filename, Line: pe.Position.Line, Col: pe.Position.Column,
			Message: "SyntaxError: " + pe.Message}
	}
	var ce *sobek.CompilerSyntaxError
	if errors.As(err, &ce) {
		se := &ScriptError{Kind: "SyntaxError", Message: "SyntaxError: " + ce.Message}
		if ce.File != nil {
			pos := ce.File.Position(ce.Offset)
			se.File, se.Line, se.Col = pos.Filename, pos.Line, pos.Column
		}
		return se
	}
	var exc *sobek.Exception
	if errors.As(err, &exc) {
		return exceptionError(exc, "init")
	}
	return fmt.Errorf("%w: %w", ErrScript, err)
}

// exceptionError converts a thrown JS value with its stack.
func exceptionError(exc *sobek.Exception, where string) *ScriptError {
	se := &ScriptError{Kind: "Error", Where: where}
	if v := exc.Value(); v != nil {
		se.Message = v.String()
		if o, ok := v.(*sobek.Object); ok {
			if n := o.Get("name"); n != nil && !sobek.IsUndefined(n) {
				se.Kind = n.String()
			}
		}
	}
	var b strings.Builder
	for _, f := range exc.Stack() {
		pos := f.Position()
		if pos.Line == 0 { // a Go function (sobek says "<native>")
			if fn := f.FuncName(); fn != "" {
				fmt.Fprintf(&b, "\tat %s (native)\n", fn)
			}
			continue
		}
		if se.File == "" && pos.Line > 0 {
			se.File, se.Line, se.Col = pos.Filename, pos.Line, pos.Column
		}
		b.WriteString("\tat ")
		if fn := f.FuncName(); fn != "" {
			fmt.Fprintf(&b, "%s (%s)\n", fn, fmtPos(pos))
		} else {
			fmt.Fprintf(&b, "%s\n", fmtPos(pos))
		}
	}
	se.Stack = b.String()
	return se
}

func fmtPos(p file.Position) string { return fmt.Sprintf("%s:%d:%d", p.Filename, p.Line, p.Column) }
