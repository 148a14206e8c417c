package hub

import (
	"errors"
	"io"
	"os"
	"strings"
)

// redact replaces secrets in s (for log tails shown to users).
func (h *Hub) redact(s string) string {
	secrets := []string{h.serviceToken, h.proxyToken}
	for _, v := range h.env {
		if len(v) >= 8 {
			secrets = append(secrets, v)
		}
	}
	for _, sec := range secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, "[redacted]")
		}
	}
	return s
}

// tailFile returns the last n lines of path after byte offset (at most 64 KiB).
func tailFile(path string, offset int64, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return ""
	}
	const maxTail = 64 << 10
	from := max(offset, st.Size()-maxTail)
	buf := make([]byte, st.Size()-from)
	if _, err := f.ReadAt(buf, from); err != nil && !errors.Is(err, io.EOF) {
		return ""
	}
	return lastLines(string(buf), n)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
