package output

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/hubcap-dev/hubcap/internal/executor"
)

// ProgressState is a snapshot of a running test for the progress display.
type ProgressState struct {
	Elapsed     time.Duration
	VUs         int64 // running iterations now
	MaxVUs      int64 // initialized
	Completed   int64
	Interrupted int64
	Stopping    bool // a stop was requested (Ctrl-C)
	Scenarios   []executor.Progress
	// Hub is a one-line status of the target hub (RSS, servers, up/down)
	// from hub telemetry; "" shows nothing.
	Hub string
	// Width is the terminal width in columns (0: 80).
	Width int
}

// fmtElapsed prints a duration as k6's progress does: "0m05.1s", "1h02m03.0s".
func fmtElapsed(d time.Duration) string {
	d = d.Truncate(100 * time.Millisecond)
	h := int(d / time.Hour)
	m := int(d/time.Minute) % 60
	s := math.Mod(d.Seconds(), 60)
	if h > 0 {
		return fmt.Sprintf("%dh%02dm%04.1fs", h, m, s)
	}
	return fmt.Sprintf("%dm%04.1fs", m, s)
}

// RenderProgress draws the terminal progress display: a status line, then
// one bar per scenario with its VUs, iterations and errors. It is a pure
// function of st; the caller redraws it in place.
func RenderProgress(st ProgressState) string {
	width := st.Width
	if width <= 0 {
		width = 80
	}
	var b strings.Builder
	state := "running"
	if st.Stopping {
		state = "stopping"
	}
	fmt.Fprintf(&b, "%s (%s), %d/%d VUs, %d complete and %d interrupted iterations\n",
		state, fmtElapsed(st.Elapsed), st.VUs, st.MaxVUs, st.Completed, st.Interrupted)
	nameW := 0
	for _, s := range st.Scenarios {
		nameW = max(nameW, len(s.Scenario))
	}
	for _, s := range st.Scenarios {
		right := scenarioRight(s)
		mark := statusMark(s.Status)
		// name  mark [bar] right
		barW := width - nameW - len(right) - 8
		barW = max(10, min(barW, 40))
		fmt.Fprintf(&b, "%-*s %s [%s] %s\n", nameW, s.Scenario, mark, bar(s.Fraction, barW), right)
	}
	if st.Hub != "" {
		fmt.Fprintf(&b, "hub: %s\n", st.Hub)
	}
	return b.String()
}

func statusMark(s executor.Status) string {
	switch s {
	case executor.Done:
		return "✓"
	case executor.Interrupted:
		return "✗"
	case executor.Waiting:
		return "…"
	case executor.Stopping:
		return "↓"
	}
	return " "
}

func scenarioRight(s executor.Progress) string {
	parts := []string{s.Detail}
	if s.Status == executor.Waiting {
		parts = []string{"waiting"}
	}
	if s.Dropped > 0 {
		parts = append(parts, fmt.Sprintf("%d dropped", s.Dropped))
	}
	if s.Errors > 0 {
		parts = append(parts, fmt.Sprintf("%d errors", s.Errors))
	}
	return strings.Join(parts, ", ")
}

// bar draws a progress bar of width columns for fraction f in [0,1].
func bar(f float64, width int) string {
	f = math.Max(0, math.Min(1, f))
	filled := int(math.Floor(f * float64(width)))
	if filled >= width {
		return strings.Repeat("=", width)
	}
	if filled == 0 {
		return strings.Repeat("-", width)
	}
	return strings.Repeat("=", filled-1) + ">" + strings.Repeat("-", width-filled)
}

// RenderProgressLine is the one-line progress for logs and non-terminals.
func RenderProgressLine(st ProgressState) string {
	var b strings.Builder
	fmt.Fprintf(&b, "running (%s), %d/%d VUs, %d complete and %d interrupted iterations",
		fmtElapsed(st.Elapsed), st.VUs, st.MaxVUs, st.Completed, st.Interrupted)
	for _, s := range st.Scenarios {
		fmt.Fprintf(&b, "; %s %s %3.0f%%", s.Scenario, s.Status, s.Fraction*100)
		if s.Errors > 0 {
			fmt.Fprintf(&b, " %d errors", s.Errors)
		}
		if s.Dropped > 0 {
			fmt.Fprintf(&b, " %d dropped", s.Dropped)
		}
	}
	if st.Hub != "" {
		fmt.Fprintf(&b, "; hub %s", st.Hub)
	}
	return b.String()
}

// HeaderInfo describes a run for the header printed before it starts.
type HeaderInfo struct {
	Script      string
	Outputs     []string // e.g. "json (out.json)"
	Segment     string   // "" or "0:1" for the whole test
	Percent     float64  // share of the test this instance runs, 0..100
	MaxVUs      int64
	MaxDuration time.Duration
	Scenarios   []ScenarioLine
}

// ScenarioLine is one scenario of the header.
type ScenarioLine struct {
	Name, Description string
}

// RenderHeader renders the k6-style run header.
func RenderHeader(h HeaderInfo) string {
	var b strings.Builder
	out := "-"
	if len(h.Outputs) > 0 {
		out = strings.Join(h.Outputs, ", ")
	}
	fmt.Fprintf(&b, "     execution: local\n        script: %s\n        output: %s\n", h.Script, out)
	if h.Segment != "" && h.Segment != "0:1" {
		fmt.Fprintf(&b, "       segment: %s\n", h.Segment)
	}
	plural := "s"
	if len(h.Scenarios) == 1 {
		plural = ""
	}
	fmt.Fprintf(&b, "\n     scenarios: (%.2f%%) %d scenario%s, %d max VUs, %s max duration (incl. graceful stop):\n",
		h.Percent, len(h.Scenarios), plural, h.MaxVUs, executor.FormatDuration(h.MaxDuration))
	for _, s := range h.Scenarios {
		fmt.Fprintf(&b, "              * %s: %s\n", s.Name, s.Description)
	}
	return b.String()
}
