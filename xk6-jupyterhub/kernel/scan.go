package kernel

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
)

// A small JSON scanner for the client's hot path: a received kernel message
// is read once, without reflection, for the few fields the client looks at
// (channel, header, parent msg_id, a handful of content keys). It finds the
// extent of values but does not validate numbers and literals; whatever it
// cannot read simply (escaped keys, escaped strings, unexpected kinds) is
// left to encoding/json, so its answers are encoding/json's.

// skipSpace returns the index of the first non-space byte at or after i.
func skipSpace(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// skipString returns the index just past the string starting at b[i] (a
// '"'), whether it contains a backslash, or -1 when it does not end.
func skipString(b []byte, i int) (end int, escaped bool) {
	// A byte loop: the strings of kernel messages are short, and
	// bytes.IndexAny's set-up per call costs more than it saves.
	for i++; i < len(b); i++ {
		switch b[i] {
		case '"':
			return i + 1, escaped
		case '\\':
			escaped = true
			i++ // the escaped byte (\uXXXX's digits are plain)
		}
	}
	return -1, escaped
}

// maxScanDepth bounds nesting, as encoding/json does (10000).
const maxScanDepth = 10000

// skipValue returns the index just past the JSON value starting at b[i]
// (no leading space), or -1 when its structure is broken.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		end, _ := skipString(b, i)
		return end
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				end, _ := skipString(b, i)
				if end < 0 {
					return -1
				}
				i = end
				continue
			case '{', '[':
				depth++
				if depth > maxScanDepth {
					return -1
				}
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return -1
	default: // number, true, false, null
		start := i
		for i < len(b) {
			switch b[i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				if i == start {
					return -1
				}
				return i
			case '"', '{', '[', ':':
				return -1
			}
			i++
		}
		if i == start {
			return -1
		}
		return i
	}
}

// eachField calls f with each member of the JSON object b (surrounding
// space allowed): the key's bytes (without quotes) and the value's raw
// bytes. It returns false when b is not an object it can read simply (a
// key with escapes included) or f returns false.
func eachField(b []byte, f func(key, value []byte) bool) bool {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return false
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return skipSpace(b, i+1) == len(b)
	}
	for i < len(b) {
		if b[i] != '"' {
			return false
		}
		end, esc := skipString(b, i)
		if end < 0 || esc {
			return false
		}
		key := b[i+1 : end-1]
		i = skipSpace(b, end)
		if i >= len(b) || b[i] != ':' {
			return false
		}
		i = skipSpace(b, i+1)
		vend := skipValue(b, i)
		if vend < 0 {
			return false
		}
		if !f(key, b[i:vend]) {
			return false
		}
		i = skipSpace(b, vend)
		if i >= len(b) {
			return false
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case '}':
			return skipSpace(b, i+1) == len(b)
		default:
			return false
		}
	}
	return false
}

// stringValue decodes the JSON string raw; ok is false when raw is not a
// string. Strings without escapes are copied as they are, others go
// through encoding/json.
func stringValue(raw []byte) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' {
		return "", false
	}
	if bytes.IndexByte(raw, '\\') < 0 && ascii(raw) {
		return string(raw[1 : len(raw)-1]), true
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// ascii reports whether b is 7-bit (encoding/json replaces invalid UTF-8;
// the direct path leaves other bytes to it).
func ascii(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}

// foldsTo reports whether k matches one of names case-insensitively but
// not exactly: encoding/json would take it for that field.
func foldsTo(k []byte, names ...string) bool {
	plain := ascii(k) // an ASCII key folds only onto a name of its length
	for _, n := range names {
		if plain && len(k) != len(n) {
			continue
		}
		if string(k) != n && strings.EqualFold(string(k), n) {
			return true
		}
	}
	return false
}

// intValue decodes a JSON integer.
func intValue(raw []byte) (int, bool) {
	n, err := strconv.Atoi(string(raw))
	return n, err == nil
}

// field returns the raw value of key in the JSON object b; ok is false when
// b cannot be read simply or has no such key.
func field(b []byte, key string) (raw []byte, ok bool) {
	eachField(b, func(k, v []byte) bool {
		if string(k) == key {
			raw, ok = v, true
			return false
		}
		return true
	})
	return raw, ok
}

// stringField returns the string value of key in object b.
func stringField(b []byte, key string) (string, bool) {
	raw, ok := field(b, key)
	if !ok {
		return "", false
	}
	return stringValue(raw)
}

// decodeHeader reads a header whose values are plain strings; ok is false
// for anything else (the caller then uses encoding/json).
func decodeHeader(raw []byte, h *Header) bool {
	return eachField(raw, func(k, v []byte) bool {
		var dst *string
		switch string(k) {
		case "msg_id":
			dst = &h.MsgID
		case "msg_type":
			dst = &h.MsgType
		case "username":
			dst = &h.Username
		case "session":
			dst = &h.Session
		case "date":
			dst = &h.Date
		case "version":
			dst = &h.Version
		default:
			return !foldsTo(k, "msg_id", "msg_type", "username", "session", "date", "version")
		}
		s, ok := stringValue(v)
		*dst = s
		return ok
	})
}

// isObjectShape reports whether raw looks like a JSON object (the scanner
// found its extent; its contents are not validated).
func isObjectShape(raw []byte) bool { return len(raw) >= 2 && raw[0] == '{' }

// decodeReceived decodes a legacy text frame on the client's hot path: one
// pass over the frame, header strings read directly. Frames it cannot read
// simply, and frames that would not decode, go through DecodeJSON, so
// errors are DecodeJSON's. The result aliases b.
func decodeReceived(b []byte) (Message, error) {
	var m Message
	var header []byte
	ok := eachField(b, func(k, v []byte) bool {
		switch string(k) {
		case "channel":
			s, ok := stringValue(v)
			m.Channel = s
			return ok
		case "header":
			header = v
		case "parent_header":
			m.ParentHeader = v
		case "metadata":
			m.Metadata = v
		case "content":
			m.Content = v
		default:
			return !foldsTo(k, "channel", "header", "parent_header", "metadata", "content")
		}
		return true
	})
	if !ok || !isObjectShape(header) || !isObjectShape(m.Content) || !decodeHeader(header, &m.Header) {
		return DecodeJSON(b)
	}
	for _, p := range []*json.RawMessage{&m.ParentHeader, &m.Metadata} {
		switch {
		case len(*p) == 0 || string(*p) == "null":
			*p = emptyObject
		case !isObjectShape(*p):
			return DecodeJSON(b)
		}
	}
	m.RawHeader = header
	return m, nil
}

// route is what the client needs of a received message to deliver it: its
// channel, type, parent msg_id and content (the slices alias the frame).
type route struct {
	channel, msgType string
	parentID         []byte
	content          []byte
}

// interned holds the channel, message type and content values every
// execution repeats, so that reading them allocates nothing.
var interned = func() map[string]string {
	m := map[string]string{}
	for _, s := range []string{
		"shell", "iopub", "control", "stdin",
		"status", "execute_input", "execute_result", "execute_reply", "execute_request", "stream",
		"display_data", "update_display_data", "clear_output", "error",
		"kernel_info_request", "kernel_info_reply", "shutdown_reply", "interrupt_reply", "input_request",
		"comm_open", "comm_msg", "comm_close", "comm_info_reply",
		"complete_reply", "inspect_reply", "history_reply", "is_complete_reply",
		"busy", "idle", "starting", "restarting", "dead",
		"stdout", "stderr", "ok", "aborted",
	} {
		m[s] = s
	}
	return m
}()

// internValue is stringValue returning the interned copy of common values.
func internValue(raw []byte) (string, bool) {
	if len(raw) >= 2 && raw[0] == '"' && raw[len(raw)-1] == '"' {
		if s, ok := interned[string(raw[1:len(raw)-1])]; ok {
			return s, true
		}
	}
	return stringValue(raw)
}

// isNull reports whether raw is the literal null.
func isNull(raw []byte) bool { return string(raw) == "null" }

// routeLegacy reads the route of a legacy text frame in one pass, without
// allocating for the usual messages. ok is false when the frame needs
// decodeReceived: escaped or non-string names and ids, keys encoding/json
// would fold onto a field, parts of the wrong kind. On every frame DecodeJSON
// accepts and routeLegacy reads, the route is DecodeJSON's: channel,
// header.msg_type, ParentMsgID and content (FuzzRouteLegacy).
func routeLegacy(b []byte) (r route, ok bool) {
	var header, parent, metadata []byte
	ok = eachField(b, func(k, v []byte) bool {
		var ok bool
		switch string(k) {
		case "channel":
			if isNull(v) {
				r.channel, ok = "", true
			} else {
				r.channel, ok = internValue(v)
			}
			return ok
		case "header":
			header = v
		case "parent_header":
			parent = v
		case "metadata":
			metadata = v
		case "content":
			r.content = v
		default:
			return !foldsTo(k, "channel", "header", "parent_header", "metadata", "content")
		}
		return true
	})
	if !ok || !isObjectShape(header) || !isObjectShape(r.content) {
		return route{}, false
	}
	for _, p := range [][]byte{parent, metadata} {
		if len(p) != 0 && !isNull(p) && !isObjectShape(p) {
			return route{}, false
		}
	}
	ok = eachField(header, func(k, v []byte) bool {
		switch string(k) {
		case "msg_type":
			if isNull(v) {
				r.msgType = ""
				return true
			}
			var ok bool
			r.msgType, ok = internValue(v)
			return ok
		case "msg_id", "username", "session", "date", "version":
			return v[0] == '"' || isNull(v)
		default:
			return !foldsTo(k, "msg_id", "msg_type", "username", "session", "date", "version")
		}
	})
	if !ok {
		return route{}, false
	}
	if len(parent) > 2 && !isNull(parent) {
		ok = eachField(parent, func(k, v []byte) bool {
			if string(k) == "msg_id" {
				if isNull(v) {
					r.parentID = nil
					return true
				}
				if len(v) < 2 || v[0] != '"' {
					return false
				}
				if end, esc := skipString(v, 0); esc || end != len(v) || !ascii(v) {
					return false
				}
				r.parentID = v[1 : len(v)-1]
				return true
			}
			return !foldsTo(k, "msg_id")
		})
		if !ok {
			return route{}, false
		}
	}
	return r, true
}
