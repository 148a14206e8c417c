package script

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/mattn/go-isatty"

	"github.com/hubcap-dev/hubcap/internal/output"
)

// term serialises writes to the diagnostics stream and keeps the terminal
// progress display at the bottom: log lines erase it, the next tick redraws.
type term struct {
	mu    sync.Mutex
	w     io.Writer
	tty   bool
	drawn int // lines of progress on screen
}

func (t *term) eraseLocked() {
	if t.drawn > 0 {
		fmt.Fprintf(t.w, "\x1b[%dA\x1b[J", t.drawn)
		t.drawn = 0
	}
}

// line writes one diagnostics line.
func (t *term) line(s string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.eraseLocked()
	fmt.Fprintln(t.w, s)
}

// draw replaces the progress display with s.
func (t *term) draw(s string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.eraseLocked()
	fmt.Fprint(t.w, s)
	t.drawn = strings.Count(s, "\n")
}

// keep leaves the last drawn display in place (at the end of the run).
func (t *term) keep() {
	t.mu.Lock()
	t.drawn = 0
	t.mu.Unlock()
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}

// logger prints k6-style log lines: "INFO[0003] message  key=value".
type logger struct {
	t     *term
	start time.Time
	debug bool
}

var levelNames = map[string]string{"debug": "DEBU", "info": "INFO", "warn": "WARN", "error": "ERRO"}

func (l *logger) print(level, msg string, fields ...string) {
	if level == "debug" && !l.debug {
		return
	}
	secs := int(time.Since(l.start).Seconds())
	head := fmt.Sprintf("%s[%04d] %s", levelNames[level], secs, msg)
	if len(fields) > 0 {
		pad := ""
		if first, _, _ := strings.Cut(head, "\n"); len(first) < 54 && !strings.Contains(head, "\n") {
			pad = strings.Repeat(" ", 54-len(first))
		}
		head += pad + "  " + strings.Join(fields, " ")
	}
	l.t.line(head)
}

// slogHandler routes the executors' slog records to the logger.
type slogHandler struct {
	l     *logger
	attrs []slog.Attr
}

func (h *slogHandler) Enabled(_ context.Context, lv slog.Level) bool {
	return lv >= slog.LevelInfo || h.l.debug
}

func (h *slogHandler) Handle(_ context.Context, r slog.Record) error {
	level := "info"
	switch {
	case r.Level >= slog.LevelError:
		level = "error"
	case r.Level >= slog.LevelWarn:
		level = "warn"
	case r.Level < slog.LevelInfo:
		level = "debug"
	}
	var fields []string
	add := func(a slog.Attr) bool {
		fields = append(fields, fmt.Sprintf("%s=%v", a.Key, a.Value))
		return true
	}
	for _, a := range h.attrs {
		add(a)
	}
	r.Attrs(add)
	sort.Strings(fields)
	h.l.print(level, r.Message, fields...)
	return nil
}

func (h *slogHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &slogHandler{l: h.l, attrs: append(append([]slog.Attr(nil), h.attrs...), attrs...)}
}

func (h *slogHandler) WithGroup(string) slog.Handler { return h }

// ProgressMode chooses the live progress display.
type ProgressMode int

// Progress modes.
const (
	ProgressAuto     ProgressMode = iota // bars on a terminal, lines otherwise
	ProgressTerminal                     // redrawn bars
	ProgressPlain                        // a line every ProgressInterval
	ProgressOff
)

// progressLoop draws the progress until ctx is done, then draws it a last
// time.
func progressLoop(ctx context.Context, t *term, mode ProgressMode, every time.Duration, state func() output.ProgressState) {
	if mode == ProgressOff {
		return
	}
	if mode == ProgressTerminal {
		every = 200 * time.Millisecond
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
		case <-ctx.Done():
			if mode == ProgressTerminal {
				t.draw(output.RenderProgress(state()))
				t.keep()
			} else {
				t.line(output.RenderProgressLine(state()))
			}
			return
		}
		if mode == ProgressTerminal {
			t.draw(output.RenderProgress(state()))
		} else {
			t.line(output.RenderProgressLine(state()))
		}
	}
}
