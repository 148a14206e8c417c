package kernel

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// vectorHeader is the header JSON EncodeV1 writes for vectorMessage (Go
// marshals Header's fields in declaration order, no spaces): 126 bytes.
const vectorHeader = `{"msg_id":"m1","msg_type":"execute_request","username":"u","session":"s","date":"2024-01-02T03:04:05.000000Z","version":"5.3"}`

func vectorMessage() Message {
	return Message{
		Channel: "shell",
		Header: Header{MsgID: "m1", MsgType: "execute_request", Username: "u", Session: "s",
			Date: "2024-01-02T03:04:05.000000Z", Version: "5.3"},
		ParentHeader: json.RawMessage(`{}`),
		Metadata:     json.RawMessage(`{}`),
		Content:      json.RawMessage(`{"code":"1+1"}`),
		Buffers:      [][]byte{{0x00, 0x01}},
	}
}

// handAssembledV1 builds the v1 frame of vectorMessage by hand.
//
// Parts after the channel: header (126 bytes), parent_header "{}" (2),
// metadata "{}" (2), content {"code":"1+1"} (14), one buffer 00 01 (2).
// Offsets: 2 (channel start and end) + 5 parts = 7 values, so the table is
// 8 bytes of count + 7*8 bytes = 64 bytes and the channel starts at 64.
//
//	count   7
//	off[0]  64   start of "shell"
//	off[1]  69   64+5   end of channel = start of header
//	off[2]  195  69+126 end of header
//	off[3]  197  +2     end of parent_header
//	off[4]  199  +2     end of metadata
//	off[5]  213  +14    end of content
//	off[6]  215  +2     end of the buffer = frame length
func handAssembledV1() []byte {
	var b []byte
	for _, v := range []uint64{7, 64, 69, 195, 197, 199, 213, 215} {
		b = binary.LittleEndian.AppendUint64(b, v)
	}
	b = append(b, "shell"...)
	b = append(b, vectorHeader...)
	b = append(b, "{}{}"...)
	b = append(b, `{"code":"1+1"}`...)
	b = append(b, 0x00, 0x01)
	return b
}

// pythonV1Hex is jupyter_server 2.17's own output for the same parts:
// serialize_msg_to_ws_v1([header, b'{}', b'{}', b'{"code":"1+1"}', b'\x00\x01'], "shell")
// run with .hubcap/venvs/jupyterhub-5.5.1/bin/python, printed with .hex().
const pythonV1Hex = "070000000000000040000000000000004500000000000000c300000000000000c500000000000000c700000000000000d500000000000000d7000000000000007368656c6c7b226d73675f6964223a226d31222c226d73675f74797065223a22657865637574655f72657175657374222c22757365726e616d65223a2275222c2273657373696f6e223a2273222c2264617465223a22323032342d30312d30325430333a30343a30352e3030303030305a222c2276657273696f6e223a22352e33227d7b7d7b7d7b22636f6465223a22312b31227d0001"

func TestEncodeV1MatchesHandAssembledAndPythonVector(t *testing.T) {
	if len(vectorHeader) != 126 {
		t.Fatalf("test vector header is %d bytes, the hand-computed offsets assume 126", len(vectorHeader))
	}
	got, err := EncodeV1(vectorMessage())
	if err != nil {
		t.Fatal(err)
	}
	if want := handAssembledV1(); !bytes.Equal(got, want) {
		t.Errorf("EncodeV1 =\n%x\nhand-assembled\n%x", got, want)
	}
	py, _ := hex.DecodeString(pythonV1Hex)
	if !bytes.Equal(got, py) {
		t.Errorf("EncodeV1 =\n%x\njupyter_server serialize_msg_to_ws_v1 gives\n%x", got, py)
	}
}

func TestDecodeV1Vector(t *testing.T) {
	m, err := DecodeV1(handAssembledV1())
	if err != nil {
		t.Fatal(err)
	}
	if string(m.RawHeader) != vectorHeader {
		t.Errorf("RawHeader = %s, want the frame's header %s", m.RawHeader, vectorHeader)
	}
	if !reflect.DeepEqual(normBuffers(m), vectorMessage()) {
		t.Errorf("DecodeV1 = %+v\nwant %+v", m, vectorMessage())
	}
}

func TestV1RoundTrip(t *testing.T) {
	cases := []struct {
		name string
		m    Message
	}{
		{"no buffers", NewMessage("iopub", "stream", "sess", "alice", map[string]string{"name": "stdout", "text": "42\n"})},
		{"buffers incl. empty", func() Message {
			m := vectorMessage()
			m.Buffers = [][]byte{{}, {1, 2, 3}, bytes.Repeat([]byte{0xff}, 1000)}
			return m
		}()},
		{"parent header and unicode", func() Message {
			m := NewMessage("shell", "execute_reply", "s", "ünï", map[string]any{"status": "ok", "text": "héllo ✓"})
			p, _ := json.Marshal(Header{MsgID: "parent-1", MsgType: "execute_request"})
			m.ParentHeader = p
			return m
		}()},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, err := EncodeV1(c.m)
			if err != nil {
				t.Fatal(err)
			}
			got, err := DecodeV1(b)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(normBuffers(got), normBuffers(c.m)) {
				t.Errorf("round trip = %+v\nwant %+v", got, c.m)
			}
		})
	}
}

// normBuffers makes nil and empty buffers compare equal.
func normBuffers(m Message) Message {
	m.RawHeader = nil // compared on its own where it matters
	if len(m.Buffers) == 0 {
		m.Buffers = nil
	}
	for i, b := range m.Buffers {
		if len(b) == 0 {
			m.Buffers[i] = []byte{}
		}
	}
	return m
}

func TestEncodeNilPartsAsEmptyObjects(t *testing.T) {
	m := Message{Channel: "control", Header: Header{MsgID: "x", MsgType: "interrupt_request"}}
	b, err := EncodeV1(m)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeV1(b)
	if err != nil {
		t.Fatal(err)
	}
	for name, raw := range map[string]json.RawMessage{"parent_header": got.ParentHeader, "metadata": got.Metadata, "content": got.Content} {
		if string(raw) != "{}" {
			t.Errorf("%s = %q, want {}", name, raw)
		}
	}
}

func TestEncodeRejects(t *testing.T) {
	cases := map[string]Message{
		"empty channel":     {Header: Header{MsgID: "x"}},
		"content array":     {Channel: "shell", Content: json.RawMessage(`[1]`)},
		"metadata invalid":  {Channel: "shell", Metadata: json.RawMessage(`{`)},
		"parent not object": {Channel: "shell", ParentHeader: json.RawMessage(`"p"`)},
	}
	for name, m := range cases {
		for enc, f := range map[string]func(Message) ([]byte, error){"v1": EncodeV1, "json": EncodeJSON, "legacybinary": EncodeLegacyBinary} {
			if _, err := f(m); !errors.Is(err, ErrBadMessage) {
				t.Errorf("%s %s: err = %v, want ErrBadMessage", enc, name, err)
			}
		}
	}
	m := vectorMessage()
	if _, err := EncodeJSON(m); !errors.Is(err, ErrBadMessage) {
		t.Errorf("EncodeJSON with buffers: err = %v, want ErrBadMessage", err)
	}
}

func TestDecodeV1Malformed(t *testing.T) {
	good := handAssembledV1()
	le := func(b []byte, i int, v uint64) []byte {
		c := append([]byte(nil), b...)
		binary.LittleEndian.PutUint64(c[8*i:], v)
		return c
	}
	frame := func(channel string, parts ...string) []byte {
		n := uint64(2 + len(parts))
		b := binary.LittleEndian.AppendUint64(nil, n)
		off := 8 * (n + 1)
		b = binary.LittleEndian.AppendUint64(b, off)
		off += uint64(len(channel))
		b = binary.LittleEndian.AppendUint64(b, off)
		for _, p := range parts {
			off += uint64(len(p))
			b = binary.LittleEndian.AppendUint64(b, off)
		}
		b = append(b, channel...)
		for _, p := range parts {
			b = append(b, p...)
		}
		return b
	}
	if _, err := DecodeV1(frame("shell", `{"msg_id":"a"}`, "{}", "{}", "{}")); err != nil {
		t.Fatalf("the helper's well-formed frame does not decode: %v", err)
	}
	cases := map[string][]byte{
		"empty":                   nil,
		"shorter than count":      {1, 2, 3},
		"count only":              good[:8],
		"too few offsets":         frame("shell", `{}`, `{}`, `{}`),
		"count larger than frame": le(good, 0, 1000),
		"count overflows":         le(good, 0, 1<<63),
		"channel not after table": le(good, 1, 56),
		"decreasing offsets":      le(good, 3, 100),
		"offset past end":         le(good, 6, 216),
		"truncated":               good[:len(good)-1],
		"trailing bytes":          append(append([]byte(nil), good...), 0),
		"channel not utf-8":       frame("sh\xffll", `{}`, `{}`, `{}`, `{}`),
		"header not json":         frame("shell", `{"msg_id":`, `{}`, `{}`, `{}`),
		"header wrong type":       frame("shell", `{"msg_id":5}`, `{}`, `{}`, `{}`),
		"header array":            frame("shell", `[]`, `{}`, `{}`, `{}`),
		"parent not object":       frame("shell", `{}`, `null`, `{}`, `{}`),
		"metadata not json":       frame("shell", `{}`, `{}`, `{x}`, `{}`),
		"content string":          frame("shell", `{}`, `{}`, `{}`, `"code"`),
	}
	for name, b := range cases {
		m, err := DecodeV1(b)
		if !errors.Is(err, ErrBadFrame) {
			t.Errorf("%s: DecodeV1 = %+v, %v; want an error wrapping ErrBadFrame", name, m, err)
		}
	}
}

// A frame as jupyter_server sends it in legacy mode: extra top-level
// msg_id/msg_type, spaces after separators, Python's isoformat date.
const serverLegacyFrame = `{"header": {"msg_id": "b9f4-1", "msg_type": "stream", "username": "alice", "session": "k1", "date": "2025-03-01T10:00:00.123456Z", "version": "5.3"}, "msg_id": "b9f4-1", "msg_type": "stream", "parent_header": {"msg_id": "req-7", "msg_type": "execute_request", "username": "alice", "session": "s1", "date": "2025-03-01T10:00:00.100000Z", "version": "5.3"}, "metadata": {}, "content": {"name": "stdout", "text": "42\n"}, "buffers": [], "channel": "iopub"}`

func TestDecodeJSONServerFrame(t *testing.T) {
	m, err := DecodeJSON([]byte(serverLegacyFrame))
	if err != nil {
		t.Fatal(err)
	}
	want := Header{MsgID: "b9f4-1", MsgType: "stream", Username: "alice", Session: "k1", Date: "2025-03-01T10:00:00.123456Z", Version: "5.3"}
	if m.Channel != "iopub" || m.Header != want {
		t.Errorf("channel %q header %+v", m.Channel, m.Header)
	}
	if got := m.ParentMsgID(); got != "req-7" {
		t.Errorf("ParentMsgID = %q, want req-7", got)
	}
	var c struct{ Name, Text string }
	if err := json.Unmarshal(m.Content, &c); err != nil || c.Name != "stdout" || c.Text != "42\n" {
		t.Errorf("content %s: %+v %v", m.Content, c, err)
	}
}

func TestJSONRoundTrip(t *testing.T) {
	m := NewMessage("shell", "execute_request", "s", "bob", map[string]any{"code": "print('<&>')", "silent": false})
	m.ParentHeader = json.RawMessage(`{"msg_id":"p"}`)
	b, err := EncodeJSON(m)
	if err != nil {
		t.Fatal(err)
	}
	var generic map[string]json.RawMessage
	if err := json.Unmarshal(b, &generic); err != nil {
		t.Fatalf("EncodeJSON output is not JSON: %v\n%s", err, b)
	}
	for _, k := range []string{"channel", "header", "parent_header", "metadata", "content", "buffers"} {
		if _, ok := generic[k]; !ok {
			t.Errorf("EncodeJSON output lacks %q: %s", k, b)
		}
	}
	if string(generic["buffers"]) != "[]" {
		t.Errorf("buffers = %s, want []", generic["buffers"])
	}
	got, err := DecodeJSON(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(normBuffers(got), normBuffers(m)) {
		t.Errorf("round trip = %+v\nwant %+v", got, m)
	}
}

func TestDecodeJSONDefaultsAndMalformed(t *testing.T) {
	m, err := DecodeJSON([]byte(`{"header":{"msg_id":"x","msg_type":"kernel_info_request"},"parent_header":null,"content":{}}`))
	if err != nil {
		t.Fatal(err)
	}
	if m.Channel != "" || string(m.ParentHeader) != "{}" || string(m.Metadata) != "{}" {
		t.Errorf("defaults: %+v", m)
	}
	bad := map[string]string{
		"not json":          `{"header":`,
		"array":             `[]`,
		"no header":         `{"channel":"shell","content":{}}`,
		"header string":     `{"channel":"shell","header":"h","content":{}}`,
		"header field type": `{"channel":"shell","header":{"msg_type":1},"content":{}}`,
		"no content":        `{"channel":"shell","header":{}}`,
		"content array":     `{"channel":"shell","header":{},"content":[]}`,
		"metadata number":   `{"channel":"shell","header":{},"metadata":3,"content":{}}`,
		"parent string":     `{"channel":"shell","header":{},"parent_header":"p","content":{}}`,
		"channel number":    `{"channel":1,"header":{},"content":{}}`,
	}
	for name, s := range bad {
		if m, err := DecodeJSON([]byte(s)); !errors.Is(err, ErrBadFrame) {
			t.Errorf("%s: DecodeJSON = %+v, %v; want ErrBadFrame", name, m, err)
		}
	}
}

// pythonLegacyBinaryHex is jupyter_server 2.17's serialize_binary_message of
// {"channel":"iopub","header":{"msg_id":"m2"},"parent_header":{},
// "metadata":{},"content":{"data":{}},"buffers":[b'\x01\x02\x03']}:
// u32-BE 2 parts, offsets 12 and 122, the JSON (110 bytes), the buffer.
const pythonLegacyBinaryHex = "000000020000000c0000007a7b226368616e6e656c223a2022696f707562222c2022686561646572223a207b226d73675f6964223a20226d32227d2c2022706172656e745f686561646572223a207b7d2c20226d65746164617461223a207b7d2c2022636f6e74656e74223a207b2264617461223a207b7d7d7d010203"

func TestLegacyBinary(t *testing.T) {
	py, _ := hex.DecodeString(pythonLegacyBinaryHex)
	m, err := DecodeLegacyBinary(py)
	if err != nil {
		t.Fatal(err)
	}
	if m.Channel != "iopub" || m.Header.MsgID != "m2" || string(m.Content) != `{"data": {}}` ||
		len(m.Buffers) != 1 || !bytes.Equal(m.Buffers[0], []byte{1, 2, 3}) {
		t.Errorf("DecodeLegacyBinary = %+v", m)
	}
	b, err := EncodeLegacyBinary(m)
	if err != nil {
		t.Fatal(err)
	}
	back, err := DecodeLegacyBinary(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(normBuffers(back), normBuffers(m)) {
		t.Errorf("legacy binary round trip = %+v\nwant %+v", back, m)
	}
	for name, b := range map[string][]byte{
		"short":           py[:5],
		"zero parts":      append([]byte{0, 0, 0, 0}, py[4:]...),
		"too many parts":  append([]byte{0x7f, 0, 0, 0}, py[4:]...),
		"bad first":       append(append([]byte(nil), py[:4]...), append([]byte{0, 0, 0, 9}, py[8:]...)...),
		"offset past end": append(append([]byte(nil), py[:8]...), append([]byte{0, 0, 1, 0}, py[12:]...)...),
		"bad json":        append(append([]byte(nil), py[:12]...), bytes.Repeat([]byte{'x'}, len(py)-12)...),
	} {
		if _, err := DecodeLegacyBinary(b); !errors.Is(err, ErrBadFrame) {
			t.Errorf("%s: err = %v, want ErrBadFrame", name, err)
		}
	}
}

func TestNewMessage(t *testing.T) {
	before := time.Now().Add(-time.Second)
	m := NewMessage("shell", "execute_request", "sess-1", "alice", map[string]any{"code": "1+1"})
	if _, err := uuid.Parse(m.Header.MsgID); err != nil {
		t.Errorf("msg_id %q is not a UUID: %v", m.Header.MsgID, err)
	}
	d, err := time.Parse(time.RFC3339Nano, m.Header.Date)
	if err != nil || !strings.HasSuffix(m.Header.Date, "Z") {
		t.Errorf("date %q is not RFC 3339 UTC: %v", m.Header.Date, err)
	}
	if d.Before(before) || d.After(time.Now().Add(time.Second)) {
		t.Errorf("date %v is not now", d)
	}
	if m.Header.Version != "5.3" || m.Header.Session != "sess-1" || m.Header.Username != "alice" || m.Header.MsgType != "execute_request" || m.Channel != "shell" {
		t.Errorf("header %+v channel %q", m.Header, m.Channel)
	}
	if string(m.ParentHeader) != "{}" || string(m.Metadata) != "{}" || string(m.Content) != `{"code":"1+1"}` {
		t.Errorf("parts %s %s %s", m.ParentHeader, m.Metadata, m.Content)
	}
	if m.ParentMsgID() != "" {
		t.Errorf("fresh message has parent %q", m.ParentMsgID())
	}
	if m2 := NewMessage("shell", "x", "", "", nil); string(m2.Content) != "{}" || m2.Header.MsgID == m.Header.MsgID {
		t.Errorf("nil content %s, ids %s %s", m2.Content, m2.Header.MsgID, m.Header.MsgID)
	}
	if m3 := NewMessage("shell", "x", "", "", json.RawMessage(`{"a":1}`)); string(m3.Content) != `{"a":1}` {
		t.Errorf("raw content %s", m3.Content)
	}
}

func TestParentMsgID(t *testing.T) {
	cases := map[string]string{
		``:                                     "",
		`{}`:                                   "",
		` { } `:                                "",
		`{"msg_id":"abc","msg_type":"x"}`:      "abc",
		`{"msg_type":"x"}`:                     "",
		`{"msg_id":7}`:                         "",
		`not json`:                             "",
		`{"date":"d", "msg_id": "with space"}`: "with space",
	}
	for raw, want := range cases {
		m := Message{ParentHeader: json.RawMessage(raw)}
		if got := m.ParentMsgID(); got != want {
			t.Errorf("ParentMsgID(%q) = %q, want %q", raw, got, want)
		}
	}
}

// topKeys returns the keys of a JSON object in their order.
func topKeys(t *testing.T, b []byte) []string {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	if tok, err := d.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not a JSON object: %s", b)
	}
	var keys []string
	for d.More() {
		k, err := d.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k.(string))
		var skip json.RawMessage
		if err := d.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

// EncodeServerLegacy writes what jupyter_server 2.17's _reserialize_reply
// writes: Session.deserialize's dict (header, msg_id, msg_type,
// parent_header, metadata, content, buffers) plus channel; hubtraf reads
// msg_type at the top level. With buffers, the legacy binary frame whose
// JSON part drops "buffers" (serialize_binary_message pops it).
func TestEncodeServerLegacy(t *testing.T) {
	m := NewMessage("iopub", "stream", "k", "alice", map[string]string{"name": "stdout", "text": "20"})
	m.ParentHeader = json.RawMessage(`{"msg_id":"req-1","msg_type":"execute_request"}`)
	b, bin, err := EncodeServerLegacy(m)
	if err != nil || bin {
		t.Fatalf("EncodeServerLegacy = binary %v, %v", bin, err)
	}
	want := []string{"header", "msg_id", "msg_type", "parent_header", "metadata", "content", "buffers", "channel"}
	if got := topKeys(t, b); !reflect.DeepEqual(got, want) {
		t.Errorf("keys %v, want %v", got, want)
	}
	var top struct{ MsgID, MsgType string }
	var generic map[string]json.RawMessage
	json.Unmarshal(b, &generic)
	json.Unmarshal(generic["msg_id"], &top.MsgID)
	json.Unmarshal(generic["msg_type"], &top.MsgType)
	if top.MsgID != m.Header.MsgID || top.MsgType != "stream" || string(generic["buffers"]) != "[]" {
		t.Errorf("msg_id %q msg_type %q buffers %s; want the header's and []", top.MsgID, top.MsgType, generic["buffers"])
	}
	got, err := DecodeJSON(b)
	if err != nil || got.Header != m.Header || got.ParentMsgID() != "req-1" || string(got.Content) != string(m.Content) {
		t.Errorf("DecodeJSON of it = %+v, %v", got, err)
	}

	m.Buffers = [][]byte{{1, 2, 3}}
	b, bin, err = EncodeServerLegacy(m)
	if err != nil || !bin {
		t.Fatalf("with buffers: binary %v, %v", bin, err)
	}
	back, err := DecodeLegacyBinary(b)
	if err != nil || len(back.Buffers) != 1 || !bytes.Equal(back.Buffers[0], []byte{1, 2, 3}) || back.Header != m.Header {
		t.Fatalf("DecodeLegacyBinary = %+v, %v", back, err)
	}
	js := b[binary.BigEndian.Uint32(b[4:]):binary.BigEndian.Uint32(b[8:])]
	if got := topKeys(t, js); !reflect.DeepEqual(got, []string{"header", "msg_id", "msg_type", "parent_header", "metadata", "content", "channel"}) {
		t.Errorf("binary JSON part keys %v", got)
	}
	if _, _, err := EncodeServerLegacy(Message{}); !errors.Is(err, ErrBadMessage) {
		t.Errorf("empty channel: %v, want ErrBadMessage", err)
	}
}

// appendHeader and executeContent write what json.Marshal writes.
func TestDirectEncodingMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{"", "plain-1", "a\"b", `back\slash`, "<&>", "é", "\x00\n", "\u2028", string([]byte{0xff})} {
		h := Header{MsgID: s, MsgType: "t" + s, Username: s, Session: s, Date: s, Version: s}
		want, _ := json.Marshal(h)
		if got := appendHeader(nil, h); string(got) != string(want) {
			t.Errorf("appendHeader(%q) = %s, want %s", s, got, want)
		}
		want, _ = json.Marshal(executeRequest{Code: s, StoreHistory: true, UserExpressions: map[string]any{}, StopOnError: true})
		if got := executeContent(s); string(got) != string(want) {
			t.Errorf("executeContent(%q) = %s, want %s", s, got, want)
		}
	}
}
