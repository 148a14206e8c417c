package check

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"unicode/utf8"
)

// MaxNamesShown bounds the server names the text report prints per user
// (the JSON report lists all).
const MaxNamesShown = 20

// JSON writes the report as indented JSON (a reporter: func(io.Writer) error).
func (r *Report) JSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// Text writes the report for people (a reporter: func(io.Writer) error).
func (r *Report) Text(w io.Writer) error {
	bw := bufio.NewWriter(w)
	p := func(format string, args ...any) { fmt.Fprintf(bw, format+"\n", args...) }

	p("hubcap check: %s", r.Verdict)
	p("")
	src := r.Source.Location
	if r.Source.Kind == KindDatabase {
		src = "database " + src
		if r.Source.Revision != "" {
			src += " (alembic " + r.Source.Revision + ")"
		}
	} else {
		src = "hub " + src
	}
	p("Source    %s", src)
	p("Release   %s", describeRelease(r.Release))
	p("Shape     U %s users · S %s spawner rows · R %s running · J %s joined rows",
		groupInt(r.Shape.U), groupInt(r.Shape.S), groupInt(r.Shape.R), groupInt(r.Shape.J))
	p("          (the linear start-up query, JupyterHub ≥ 5.4.3, loads %s rows)", groupInt(r.Shape.LinearRows))
	if st := r.Shape.State; st != nil && st.Rows > 0 {
		p("          spawner state %s B/row on average (max %s B), user_options %s B/row",
			groupInt(int64(math.Round(st.AvgStateBytes))), groupInt(st.MaxStateBytes), groupInt(int64(math.Round(st.AvgUserOptionsBytes))))
	}

	if len(r.TopUsers) > 0 {
		p("")
		p("Top users by share of J")
		writeTopUsers(bw, r.TopUsers)
	}

	p("")
	c := r.Calibration
	p("Prediction (calibration %s, JupyterHub %s, terms %s, %d samples, %s intervals)",
		c.File, c.Release, strings.Join(c.Terms, "+"), c.Samples, fmtPct(c.Level))
	p("  start-up peak  %s  (%s – %s)", fmtBytes(r.Peak.Point), fmtBytes(r.Peak.Lower), fmtBytes(r.Peak.Upper))
	if r.Seconds != nil {
		budget := ""
		if r.StartupBudget > 0 {
			budget = fmt.Sprintf("; budget %s", fmtSecs(r.StartupBudget))
		}
		p("  start-up time  %s  (%s – %s)%s", fmtSecs(r.Seconds.Point), fmtSecs(r.Seconds.Lower), fmtSecs(r.Seconds.Upper), budget)
	}
	if r.Shape.JP > 0 || r.ContentAssumed != "" {
		what := "read from the rows"
		if r.ContentAssumed != "" {
			what = "assumed (see Notes)"
		}
		p("  row content    JB %s of JSON text, JP %s of parsed objects in the joined rows (%s)",
			fmtBytes(float64(r.Shape.JB)), fmtBytes(float64(r.Shape.JP)), what)
	}
	if r.Extrapolation > 1 {
		p("  extrapolation  %.1f× the largest calibrated value of the model's terms", r.Extrapolation)
	}
	if r.MemoryLimit > 0 {
		p("  memory limit   %s; with %s headroom this shape needs %s", fmtBytes(float64(r.MemoryLimit)), fmtPct(r.Headroom), fmtBytes(float64(r.RequiredLimit)))
	} else {
		p("  memory limit   not given; with %s headroom this shape needs %s", fmtPct(r.Headroom), fmtBytes(float64(r.RequiredLimit)))
	}
	if r.Replay != nil {
		p("  replay         %s", replayLine(r.Replay))
	}

	p("")
	p("Verdict   %s", r.Verdict)
	for _, reason := range r.Reasons {
		p("  - %s", reason)
	}

	if len(r.Actions) > 0 {
		p("")
		p("What to do")
		hub := "$HUB"
		if r.Source.Kind == KindHub {
			hub = r.Source.Location
		}
		for i, a := range r.Actions {
			p("  %d. %s", i+1, a.Text)
			if a.Kind == ActionRemove {
				writeRemovals(bw, a.Removals, hub, r.Source.Kind == KindHub)
			}
		}
	}
	if len(r.Notes) > 0 {
		p("")
		p("Notes")
		for _, n := range r.Notes {
			p("  - %s", n)
		}
	}
	return bw.Flush()
}

// writeTopUsers prints the top-users table: names left, numbers right.
func writeTopUsers(w io.Writer, users []TopUser) {
	head := []string{"user", "S_u", "R_u", "stopped", "J_u", "share of J"}
	rows := [][]string{head}
	for _, u := range users {
		rows = append(rows, []string{u.Name, groupInt(u.S), groupInt(u.R), groupInt(u.Stopped), groupInt(u.J), fmtShare(u.Share)})
	}
	width := make([]int, len(head))
	for _, row := range rows {
		for i, c := range row {
			width[i] = max(width[i], utf8.RuneCountInString(c))
		}
	}
	for _, row := range rows {
		var b strings.Builder
		b.WriteString("  ")
		for i, c := range row {
			pad := strings.Repeat(" ", width[i]-utf8.RuneCountInString(c))
			if i == 0 {
				b.WriteString(c + pad)
			} else {
				b.WriteString("  " + pad + c)
			}
		}
		fmt.Fprintln(w, b.String())
	}
}

// writeRemovals prints the curl commands of a removal action.
func writeRemovals(w io.Writer, rems []Removal, hub string, fromHub bool) {
	p := func(format string, args ...any) { fmt.Fprintf(w, "       "+format+"\n", args...) }
	if !fromHub {
		p("# HUB=https://your-hub; HUBCAP_TOKEN holds an admin token (admin:servers)")
	} else {
		p("# HUBCAP_TOKEN must have admin:servers (or delete:servers) to remove servers")
	}
	auth := `-H "Authorization: token $HUBCAP_TOKEN"`
	for _, rm := range rems {
		if len(rm.Servers) == 0 {
			list := ListCall(rm.User)
			p("# %s: list the stopped named servers (or run hubcap check --hub, which names them), then remove each SERVER:", rm.User)
			p("curl -s %s %s | jq -r '.servers | to_entries[] | select(.value.stopped and .key != \"\") | .key'",
				auth, shellQuote(hub+list.Path, hub))
			p("curl -X DELETE %s --data '%s' %s/SERVER",
				auth, RemoveBody, shellQuote(hub+serversPath(rm.User), hub))
			continue
		}
		p("# %s: %s", rm.User, plural(rm.Count, "stopped named server"))
		names := rm.Servers
		more := 0
		if len(names) > MaxNamesShown {
			names, more = names[:MaxNamesShown], len(names)-MaxNamesShown
		}
		quoted := make([]string, len(names))
		for i, n := range names {
			quoted[i] = shellQuote(urlPathEscape(n), "")
		}
		p("for s in %s; do curl -X DELETE %s --data '%s' %s/\"$s\"; done",
			strings.Join(quoted, " "), auth, RemoveBody, shellQuote(hub+serversPath(rm.User), hub))
		if more > 0 {
			p("# … and %s more (hubcap check --json lists every request)", groupInt(int64(more)))
		}
	}
}

// shellQuote quotes s for a POSIX shell. A leading variable (e.g. $HUB)
// given as keepVar stays outside the quotes so the shell expands it.
func shellQuote(s, keepVar string) string {
	prefix := ""
	if strings.HasPrefix(keepVar, "$") && strings.HasPrefix(s, keepVar) {
		prefix, s = `"`+keepVar+`"`, strings.TrimPrefix(s, keepVar)
	}
	if s == "" {
		return prefix
	}
	safe := true
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-_./:%@+=,", c)) {
			safe = false
			break
		}
	}
	if safe {
		return prefix + s
	}
	return prefix + "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// serversPath is /hub/api/users/NAME/servers.
func serversPath(user string) string {
	return strings.TrimSuffix(RemoveCall(user, "").Path, "/")
}

// urlPathEscape escapes one path segment.
func urlPathEscape(s string) string {
	p := RemoveCall("u", s).Path
	return p[strings.LastIndexByte(p, '/')+1:]
}

func describeRelease(r Release) string {
	var b strings.Builder
	switch {
	case r.Assumed:
		fmt.Fprintf(&b, "%s assumed (worst case): the database was written by JupyterHub %s", r.Version, r.Range)
	case r.Source == SourceRevision:
		fmt.Fprintf(&b, "%s (from the database revision: %s)", r.Version, r.Range)
	default:
		fmt.Fprintf(&b, "%s (%s)", r.Version, r.Source)
	}
	fmt.Fprintf(&b, "; start-up query %s", r.Query.Describe())
	return b.String()
}

// plural renders "1 server", "2 servers".
func plural(n int64, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return groupInt(n) + " " + what + "s"
}

func fmtShare(f float64) string {
	switch {
	case f == 0:
		return "0%"
	case f < 0.001:
		return "<0.1%"
	case f > 0.999 && f < 1:
		return ">99.9%"
	}
	return fmt.Sprintf("%.1f%%", f*100)
}

func fmtSecs(s float64) string {
	switch {
	case math.IsNaN(s):
		return "?"
	case s < 10:
		return fmt.Sprintf("%.2f s", s)
	case s < 100:
		return fmt.Sprintf("%.1f s", s)
	}
	return fmt.Sprintf("%.0f s", s)
}
