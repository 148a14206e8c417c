package hubapi

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// ErrSSELineTooLong: an event-stream line exceeded SSEReader's limit.
var ErrSSELineTooLong = errors.New("event-stream line too long")

// SSEEvent is one dispatched server-sent event.
type SSEEvent struct {
	Type string // "event:" field, "" means "message"
	Data string // "data:" lines joined by "\n"
	ID   string // last "id:" seen
	// Retry is the "retry:" reconnection time in ms, -1 when not sent.
	Retry int
}

// SSEReader parses a text/event-stream as the WHATWG HTML standard
// (§9.2.6 "Interpreting an event stream") says: lines end with CRLF, LF or CR;
// a line starting with ':' is a comment (JupyterHub's keepalives are blank
// lines); "field: value" with one optional space after the colon; several
// "data" lines join with "\n"; a blank line dispatches the event, and events
// with no data are not dispatched. A leading UTF-8 BOM is skipped.
type SSEReader struct {
	r       *bufio.Reader
	max     int
	lastCR  bool
	started bool
	lastID  string
	line    []byte
}

// NewSSEReader reads events from r; lines longer than maxLine bytes (default
// 1 MiB when ≤ 0) fail with ErrSSELineTooLong.
func NewSSEReader(r io.Reader, maxLine int) *SSEReader {
	if maxLine <= 0 {
		maxLine = 1 << 20
	}
	return &SSEReader{r: bufio.NewReaderSize(r, 4096), max: maxLine}
}

// readLine returns the next line without its terminator. A final line without
// terminator is returned with io.EOF only if non-empty.
func (s *SSEReader) readLine() (string, error) {
	s.line = s.line[:0]
	for {
		b, err := s.r.ReadByte()
		if err != nil {
			if err == io.EOF && len(s.line) > 0 {
				// an unterminated last line is discarded by the standard
				// ("the last event is not dispatched if not terminated")
				return "", io.EOF
			}
			return "", err
		}
		if s.lastCR {
			s.lastCR = false
			if b == '\n' {
				continue // the LF of a CRLF
			}
		}
		switch b {
		case '\n':
			return s.finishLine(), nil
		case '\r':
			s.lastCR = true
			return s.finishLine(), nil
		}
		if len(s.line) >= s.max {
			return "", ErrSSELineTooLong
		}
		s.line = append(s.line, b)
	}
}

func (s *SSEReader) finishLine() string {
	l := s.line
	if !s.started {
		s.started = true
		l = []byte(strings.TrimPrefix(string(l), "\uFEFF"))
	}
	return string(l)
}

// Next returns the next event; io.EOF at the end of the stream (an
// unterminated last event is dropped, as browsers do).
func (s *SSEReader) Next() (SSEEvent, error) {
	var data strings.Builder
	hasData := false
	ev := SSEEvent{Retry: -1}
	dataLen := 0
	for {
		line, err := s.readLine()
		if err != nil {
			return SSEEvent{}, err
		}
		if line == "" {
			if !hasData {
				// no data: reset the event type buffer, dispatch nothing
				ev = SSEEvent{Retry: -1}
				continue
			}
			ev.Data = data.String()
			ev.ID = s.lastID
			return ev, nil
		}
		if line[0] == ':' {
			continue
		}
		field, value, found := strings.Cut(line, ":")
		if found {
			value = strings.TrimPrefix(value, " ")
		}
		switch field {
		case "data":
			if hasData {
				data.WriteByte('\n')
			}
			dataLen += len(value) + 1
			if dataLen > 16*s.max {
				return SSEEvent{}, ErrSSELineTooLong
			}
			data.WriteString(value)
			hasData = true
		case "event":
			ev.Type = value
		case "id":
			if !strings.ContainsRune(value, 0) {
				s.lastID = value
			}
		case "retry":
			if n, err := strconv.Atoi(value); err == nil && n >= 0 && isDigits(value) {
				ev.Retry = n
			}
		}
	}
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// ProgressEvent is one event of JupyterHub's spawn progress stream
// (GET /hub/api/users/:name/servers/:server/progress).
type ProgressEvent struct {
	Progress    float64 `json:"progress"` // 0..100
	Message     string  `json:"message"`
	HTMLMessage string  `json:"html_message,omitempty"`
	Ready       bool    `json:"ready"`
	Failed      bool    `json:"failed"`
	URL         string  `json:"url"` // set on the ready event, e.g. /user/u/s/
}

// ParseProgress decodes the JSON data of one progress event.
func ParseProgress(data string) (ProgressEvent, error) {
	var ev ProgressEvent
	if err := json.Unmarshal([]byte(data), &ev); err != nil {
		return ProgressEvent{}, fmt.Errorf("%w: progress event: %v", ErrBadResponse, err)
	}
	return ev, nil
}
