package replay

import (
	"fmt"
	"io"

	"github.com/hubcap-dev/hubcap/internal/bytesize"
)

// WriteText writes the replay for people: what ran on what, the measured
// start-up, and the verdict under the limit.
func (r Result) WriteText(w io.Writer) error {
	ew := &errWriter{w: w}
	p := ew.printf
	on := "jupyterhub " + r.Release
	if r.JupyterHub != "" {
		on += " (" + r.JupyterHub + ")"
	}
	p("replay of %s on %s\n", r.Source, on)
	if r.Upgraded {
		p("  database:      alembic %s, upgraded on the copy to %s with jupyterhub upgrade-db (the original is unchanged)\n", r.Revision, r.UpgradedTo)
	} else {
		p("  database:      alembic %s (the original is unchanged; the hub ran on a copy)\n", r.Revision)
	}
	if r.SourceEngine == "postgres" {
		p("  engine:        the PostgreSQL rows were copied into SQLite and the hub ran on that (a hub on PostgreSQL differs by its driver's share)\n")
	}
	p("  shape:         U=%d S=%d R=%d J=%d, joined state+user_options %s\n",
		r.Shape.U, r.Shape.S, r.Shape.R, r.Shape.J, bytesize.Format(r.Shape.JB))
	p("  servers:       %d running servers registered in hubcap's fleet\n", r.Registered)
	limit := "none"
	if r.Limit > 0 {
		limit = bytesize.Format(r.Limit)
	}
	p("  memory limit:  %s\n", limit)
	switch {
	case r.OOMKilled:
		p("  start-up:      OOM-KILLED by the %s limit after %.1f s (peak seen before the kill %s)\n",
			limit, r.Seconds, bytesize.Format(r.PeakRSS))
	default:
		p("  start-up:      healthy in %.1f s", r.Seconds)
		if r.InitSpawners != nil {
			p(", init_spawners %.1f s", *r.InitSpawners)
		}
		p("\n")
		p("  peak RSS:      %s (VmHWM once init_spawners was done; %s at /hub/health), steady %s\n",
			bytesize.Format(r.PeakRSS), bytesize.Format(r.PeakAtHealthy), bytesize.Format(r.SteadyRSS))
	}
	p("  empty hub:     %s peak for the same release on an empty database\n", bytesize.Format(r.EmptyPeakRSS))
	switch {
	case r.OOMKilled:
		p("verdict: FAIL: this database does not start under %s on jupyterhub %s; raise the limit (replay without --memory-limit measures the peak it needs) or shrink the database\n", limit, r.Release)
	case r.Limit > 0:
		p("verdict: PASS: started under %s with %s (%.0f%%) to spare\n", limit,
			bytesize.Format(r.Limit-r.PeakRSS), 100*float64(r.Limit-r.PeakRSS)/float64(r.Limit))
	default:
		p("verdict: measured without a limit: a limit below %s would kill this start-up\n", bytesize.Format(r.PeakRSS))
	}
	return ew.err
}

type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, args...)
	}
}
