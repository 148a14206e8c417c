package kernel

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
)

// SubprotocolV1 is the websocket subprotocol that selects jupyter_server's
// binary v1 kernel message framing.
const SubprotocolV1 = "v1.kernel.websocket.jupyter.org"

// ProtocolVersion is the Jupyter messaging protocol version put in the
// headers of messages made by NewMessage.
const ProtocolVersion = "5.3"

// ErrBadFrame is wrapped by every error of DecodeV1, DecodeJSON and
// DecodeLegacyBinary about a malformed websocket frame.
var ErrBadFrame = errors.New("kernel: malformed websocket frame")

// ErrBadMessage is wrapped by encoding errors: a message whose channel is
// empty or whose raw JSON parts are not JSON objects.
var ErrBadMessage = errors.New("kernel: message cannot be encoded")

// Header is the header of a Jupyter message (messaging spec 5.x).
type Header struct {
	MsgID    string `json:"msg_id"`
	MsgType  string `json:"msg_type"`
	Username string `json:"username"`
	Session  string `json:"session"`
	Date     string `json:"date"`
	Version  string `json:"version"`
}

// Message is one Jupyter message as carried on a kernel websocket.
//
// ParentHeader, Metadata and Content hold raw JSON objects; nil is encoded
// as {}. Messages returned by DecodeV1 and DecodeLegacyBinary alias the
// frame they were decoded from (raw parts and Buffers are sub-slices of it):
// do not modify the frame while the message is in use.
type Message struct {
	Channel      string          `json:"channel"`
	Header       Header          `json:"header"`
	ParentHeader json.RawMessage `json:"parent_header"` // a Header or {}
	Metadata     json.RawMessage `json:"metadata"`
	Content      json.RawMessage `json:"content"`
	Buffers      [][]byte        `json:"-"`
	// RawHeader is the header as received (set by the decoders, ignored by
	// the encoders): a kernel's replies carry it as their parent_header,
	// keys the Header type does not know included.
	RawHeader json.RawMessage `json:"-"`
}

var emptyObject = json.RawMessage("{}")

// dateLayout is RFC 3339 in UTC with microseconds, as jupyter_client writes
// header dates.
const dateLayout = "2006-01-02T15:04:05.000000Z"

// NewMessage returns a message on channel with a fresh header: a random
// UUID msg_id, the current time as an RFC 3339 UTC date, version
// ProtocolVersion, an empty parent header and empty metadata. content is
// marshalled to JSON; nil, or a value that does not marshal, gives {}.
// A json.RawMessage or []byte content is used as is.
func NewMessage(channel, msgType, session, username string, content any) Message {
	return newMessageAt(time.Now(), channel, msgType, session, username, content)
}

func newMessageAt(now time.Time, channel, msgType, session, username string, content any) Message {
	var raw json.RawMessage
	switch c := content.(type) {
	case nil:
	case json.RawMessage:
		raw = c
	case []byte:
		raw = c
	default:
		b, err := json.Marshal(c)
		if err == nil {
			raw = b
		}
	}
	if len(raw) == 0 {
		raw = emptyObject
	}
	return Message{
		Channel: channel,
		Header: Header{
			MsgID:    uuid.NewString(),
			MsgType:  msgType,
			Username: username,
			Session:  session,
			Date:     string(appendDate(make([]byte, 0, len(dateLayout)), now)),
			Version:  ProtocolVersion,
		},
		ParentHeader: emptyObject,
		Metadata:     emptyObject,
		Content:      raw,
	}
}

// appendDate appends t in UTC as dateLayout formats it (years 0–9999),
// without time.Format's layout interpretation.
func appendDate(b []byte, t time.Time) []byte {
	t = t.UTC()
	y, mo, d := t.Date()
	h, mi, sec := t.Clock()
	if y < 0 || y > 9999 {
		return t.AppendFormat(b, dateLayout)
	}
	b = appendDigits(b, y, 4)
	b = append(b, '-')
	b = appendDigits(b, int(mo), 2)
	b = append(b, '-')
	b = appendDigits(b, d, 2)
	b = append(b, 'T')
	b = appendDigits(b, h, 2)
	b = append(b, ':')
	b = appendDigits(b, mi, 2)
	b = append(b, ':')
	b = appendDigits(b, sec, 2)
	b = append(b, '.')
	b = appendDigits(b, t.Nanosecond()/1000, 6)
	return append(b, 'Z')
}

// appendDigits appends n (≥ 0) in decimal, zero-padded to width digits.
func appendDigits(b []byte, n, width int) []byte {
	var d [8]byte
	for i := width - 1; i >= 0; i-- {
		d[i] = byte('0' + n%10)
		n /= 10
	}
	return append(b, d[:width]...)
}

// appendExecuteRequestJSON appends the legacy JSON frame of an
// execute_request with header h and code (executeContent), as
// EncodeJSON writes it: from a template, without validating the parts
// EncodeJSON would validate, since they are made here.
func appendExecuteRequestJSON(b []byte, h Header, code string) []byte {
	b = append(b, `{"channel":"shell","header":`...)
	b = appendHeader(b, h)
	b = append(b, `,"parent_header":{},"metadata":{},"content":{"code":`...)
	b = appendString(b, code)
	return append(b, `,"silent":false,"store_history":true,"user_expressions":{},"allow_stdin":false,"stop_on_error":true},"buffers":[]}`...)
}

// ParentMsgID returns the msg_id of the parent header, or "" when there is
// no parent or the parent header is not a JSON object with a string msg_id.
func (m Message) ParentMsgID() string {
	p := bytes.TrimSpace(m.ParentHeader)
	if len(p) < 3 { // "{}" or empty
		return ""
	}
	var h struct {
		MsgID string `json:"msg_id"`
	}
	if json.Unmarshal(p, &h) != nil {
		return ""
	}
	return h.MsgID
}

// Parent decodes the parent header. ok is false when there is none.
func (m Message) Parent() (h Header, ok bool) {
	p := bytes.TrimSpace(m.ParentHeader)
	if len(p) < 3 || json.Unmarshal(p, &h) != nil {
		return Header{}, false
	}
	return h, h.MsgID != ""
}

// objectOrEmpty returns raw, or {} when raw is empty or JSON null, and
// reports whether the result is a single JSON object.
func objectOrEmpty(raw json.RawMessage) (json.RawMessage, bool) {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || string(t) == "null" {
		return emptyObject, true
	}
	return raw, isObject(t)
}

// isObject reports whether b (without surrounding space) is one valid JSON
// object.
func isObject(b []byte) bool {
	return len(b) >= 2 && b[0] == '{' && json.Valid(b)
}

// appendHeader appends h as json.Marshal writes it (fields in declaration
// order, no spaces), without reflection.
func appendHeader(b []byte, h Header) []byte {
	b = append(b, `{"msg_id":`...)
	b = appendString(b, h.MsgID)
	b = append(b, `,"msg_type":`...)
	b = appendString(b, h.MsgType)
	b = append(b, `,"username":`...)
	b = appendString(b, h.Username)
	b = append(b, `,"session":`...)
	b = appendString(b, h.Session)
	b = append(b, `,"date":`...)
	b = appendString(b, h.Date)
	b = append(b, `,"version":`...)
	b = appendString(b, h.Version)
	return append(b, '}')
}

// appendString appends s as a JSON string exactly as encoding/json writes
// it: printable ASCII other than " \ < > & as is, anything else through
// json.Marshal.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// v1 layout (jupyter_server serialize_msg_to_ws_v1), all integers u64
// little-endian:
//
//	n                      number of offsets = 2 + number of parts
//	offset[0..n-1]         offset[0] = 8*(n+1), start of the channel;
//	                       offset[i+1] = end of part i; offset[n-1] = len(frame)
//	channel                UTF-8
//	parts                  header, parent_header, metadata, content, buffers...

// EncodeV1 encodes m as a binary frame of the v1 kernel websocket
// subprotocol, exactly as jupyter_server's serialize_msg_to_ws_v1 lays it
// out. Errors wrap ErrBadMessage.
func EncodeV1(m Message) ([]byte, error) {
	parts, err := encodeParts(m)
	if err != nil {
		return nil, err
	}
	n := 2 + len(parts) + len(m.Buffers)
	size := 8 * (n + 1)
	size += len(m.Channel)
	for _, p := range parts {
		size += len(p)
	}
	for _, b := range m.Buffers {
		size += len(b)
	}
	out := make([]byte, 8*(n+1), size)
	binary.LittleEndian.PutUint64(out, uint64(n))
	off := 8 * (n + 1)
	binary.LittleEndian.PutUint64(out[8:], uint64(off))
	off += len(m.Channel)
	binary.LittleEndian.PutUint64(out[16:], uint64(off))
	i := 3
	for _, p := range parts {
		off += len(p)
		binary.LittleEndian.PutUint64(out[8*i:], uint64(off))
		i++
	}
	for _, b := range m.Buffers {
		off += len(b)
		binary.LittleEndian.PutUint64(out[8*i:], uint64(off))
		i++
	}
	out = append(out, m.Channel...)
	for _, p := range parts {
		out = append(out, p...)
	}
	for _, b := range m.Buffers {
		out = append(out, b...)
	}
	return out, nil
}

// encodeParts returns header, parent_header, metadata and content as JSON.
func encodeParts(m Message) ([4][]byte, error) {
	var parts [4][]byte
	if m.Channel == "" {
		return parts, fmt.Errorf("%w: empty channel", ErrBadMessage)
	}
	parts[0] = appendHeader(make([]byte, 0, 160), m.Header)
	for i, f := range []struct {
		name string
		raw  json.RawMessage
	}{{"parent_header", m.ParentHeader}, {"metadata", m.Metadata}, {"content", m.Content}} {
		raw, ok := objectOrEmpty(f.raw)
		if !ok {
			return parts, fmt.Errorf("%w: %s is not a JSON object", ErrBadMessage, f.name)
		}
		parts[i+1] = raw
	}
	return parts, nil
}

// maxV1Parts bounds the number of buffers a decoded frame may carry, so that
// a frame cannot make DecodeV1 allocate more than a small multiple of its
// own size.
const maxV1Parts = 1 << 16

// DecodeV1 decodes a binary frame of the v1 kernel websocket subprotocol.
// It accepts exactly the layout EncodeV1 and jupyter_server produce: the
// offsets start right after the offset table, never decrease, and the last
// one is the end of the frame; the channel is UTF-8; header,
// parent_header, metadata and content are JSON objects and any further
// parts are buffers. Errors wrap ErrBadFrame. The result aliases b.
func DecodeV1(b []byte) (Message, error) {
	var m Message
	if len(b) < 8 {
		return m, fmt.Errorf("%w: v1 frame of %d bytes is shorter than its offset count", ErrBadFrame, len(b))
	}
	n64 := binary.LittleEndian.Uint64(b)
	// Header, parent_header, metadata and content are required (the server
	// forwards the parts to the kernel as they are), so n >= 2+4.
	if n64 < 6 {
		return m, fmt.Errorf("%w: v1 frame has %d offsets, want at least 6", ErrBadFrame, n64)
	}
	if n64 > uint64(len(b)/8-1) || n64 > maxV1Parts+2 {
		return m, fmt.Errorf("%w: v1 frame of %d bytes cannot hold %d offsets", ErrBadFrame, len(b), n64)
	}
	n := int(n64)
	offset := func(i int) uint64 { return binary.LittleEndian.Uint64(b[8*(i+1):]) }
	if got, want := offset(0), uint64(8*(n+1)); got != want {
		return m, fmt.Errorf("%w: v1 channel starts at %d, want %d (right after the offsets)", ErrBadFrame, got, want)
	}
	prev := offset(0)
	for i := 1; i < n; i++ {
		o := offset(i)
		if o < prev || o > uint64(len(b)) {
			return m, fmt.Errorf("%w: v1 offset %d (%d) out of order or past the end (%d bytes)", ErrBadFrame, i, o, len(b))
		}
		prev = o
	}
	if prev != uint64(len(b)) {
		return m, fmt.Errorf("%w: v1 frame has %d trailing bytes", ErrBadFrame, uint64(len(b))-prev)
	}
	part := func(i int) []byte { return b[offset(i):offset(i+1):offset(i+1)] }

	ch := part(0)
	if !utf8.Valid(ch) {
		return m, fmt.Errorf("%w: v1 channel is not UTF-8", ErrBadFrame)
	}
	m.Channel = string(ch)
	hdr := part(1)
	if !isObject(bytes.TrimSpace(hdr)) {
		return m, fmt.Errorf("%w: v1 header is not a JSON object", ErrBadFrame)
	}
	if err := json.Unmarshal(hdr, &m.Header); err != nil {
		return Message{}, fmt.Errorf("%w: v1 header: %v", ErrBadFrame, err)
	}
	m.RawHeader = hdr
	for i, dst := range []*json.RawMessage{&m.ParentHeader, &m.Metadata, &m.Content} {
		p := part(2 + i)
		if !isObject(bytes.TrimSpace(p)) {
			return Message{}, fmt.Errorf("%w: v1 %s is not a JSON object", ErrBadFrame, [...]string{"parent_header", "metadata", "content"}[i])
		}
		*dst = p
	}
	if nb := n - 6; nb > 0 {
		m.Buffers = make([][]byte, nb)
		for i := range m.Buffers {
			m.Buffers[i] = part(5 + i)
		}
	}
	return m, nil
}

// jsonFrame is the legacy text frame. Extra fields sent by jupyter_server
// (msg_id, msg_type at the top level) and "buffers" (always [] in a text
// frame) are ignored.
type jsonFrame struct {
	Channel      string          `json:"channel"`
	Header       json.RawMessage `json:"header"`
	ParentHeader json.RawMessage `json:"parent_header"`
	Metadata     json.RawMessage `json:"metadata"`
	Content      json.RawMessage `json:"content"`
}

// EncodeJSON encodes m as a legacy JSON text frame
// {channel, header, parent_header, metadata, content, buffers: []}.
// The legacy text protocol cannot carry buffers; m.Buffers must be empty
// (use EncodeLegacyBinary). Errors wrap ErrBadMessage.
func EncodeJSON(m Message) ([]byte, error) {
	parts, err := encodeParts(m)
	if err != nil {
		return nil, err
	}
	if len(m.Buffers) > 0 {
		return nil, fmt.Errorf("%w: legacy JSON text frames carry no buffers; use EncodeLegacyBinary", ErrBadMessage)
	}
	return encodeJSONParts(m.Channel, parts, "[]")
}

func encodeJSONParts(channel string, parts [4][]byte, buffers string) ([]byte, error) {
	ch, err := json.Marshal(channel)
	if err != nil {
		return nil, fmt.Errorf("%w: channel: %v", ErrBadMessage, err)
	}
	var buf bytes.Buffer
	buf.Grow(len(ch) + len(parts[0]) + len(parts[1]) + len(parts[2]) + len(parts[3]) + 90)
	buf.WriteString(`{"channel":`)
	buf.Write(ch)
	buf.WriteString(`,"header":`)
	buf.Write(parts[0])
	buf.WriteString(`,"parent_header":`)
	buf.Write(parts[1])
	buf.WriteString(`,"metadata":`)
	buf.Write(parts[2])
	buf.WriteString(`,"content":`)
	buf.Write(parts[3])
	if buffers != "" {
		buf.WriteString(`,"buffers":`)
		buf.WriteString(buffers)
	}
	buf.WriteString(`}`)
	return buf.Bytes(), nil
}

// EncodeServerLegacy encodes m as jupyter_server 2.x sends a kernel message
// on the legacy protocol (ZMQChannelsWebsocketConnection._reserialize_reply
// of the dict jupyter_client's Session.deserialize returns): the JSON object
// {header, msg_id, msg_type, parent_header, metadata, content, buffers: [],
// channel}, in that key order, as a text frame; a message with buffers is a
// legacy binary frame (serialize_binary_message) whose JSON part has the
// same keys without "buffers". msg_id and msg_type repeat the header's:
// clients such as hubtraf read them at the top level. binary reports which
// frame type to send. Errors wrap ErrBadMessage.
func EncodeServerLegacy(m Message) (frame []byte, binary bool, err error) {
	parts, err := encodeParts(m)
	if err != nil {
		return nil, false, err
	}
	ch, err := json.Marshal(m.Channel)
	if err != nil {
		return nil, false, fmt.Errorf("%w: channel: %v", ErrBadMessage, err)
	}
	id, _ := json.Marshal(m.Header.MsgID)
	typ, _ := json.Marshal(m.Header.MsgType)
	var buf bytes.Buffer
	buf.Grow(len(ch) + len(id) + len(typ) + len(parts[0]) + len(parts[1]) + len(parts[2]) + len(parts[3]) + 120)
	buf.WriteString(`{"header":`)
	buf.Write(parts[0])
	buf.WriteString(`,"msg_id":`)
	buf.Write(id)
	buf.WriteString(`,"msg_type":`)
	buf.Write(typ)
	buf.WriteString(`,"parent_header":`)
	buf.Write(parts[1])
	buf.WriteString(`,"metadata":`)
	buf.Write(parts[2])
	buf.WriteString(`,"content":`)
	buf.Write(parts[3])
	if len(m.Buffers) == 0 {
		buf.WriteString(`,"buffers":[]`)
	}
	buf.WriteString(`,"channel":`)
	buf.Write(ch)
	buf.WriteString(`}`)
	if len(m.Buffers) == 0 {
		return buf.Bytes(), false, nil
	}
	frame, err = legacyBinary(buf.Bytes(), m.Buffers)
	return frame, true, err
}

// DecodeJSON decodes a legacy JSON text frame. header and content must be
// JSON objects; a missing or null parent_header or metadata becomes {}. A
// missing channel gives Channel "" (jupyter_server then assumes "shell").
// The "buffers" field is ignored: text frames carry none. Errors wrap
// ErrBadFrame.
func DecodeJSON(b []byte) (Message, error) {
	var f jsonFrame
	if err := json.Unmarshal(b, &f); err != nil {
		return Message{}, fmt.Errorf("%w: legacy JSON frame: %v", ErrBadFrame, err)
	}
	return fromJSONFrame(f)
}

func fromJSONFrame(f jsonFrame) (Message, error) {
	m := Message{Channel: f.Channel}
	if !isObject(bytes.TrimSpace(f.Header)) {
		return Message{}, fmt.Errorf("%w: legacy frame header is missing or not an object", ErrBadFrame)
	}
	if err := json.Unmarshal(f.Header, &m.Header); err != nil {
		return Message{}, fmt.Errorf("%w: legacy frame header: %v", ErrBadFrame, err)
	}
	m.RawHeader = f.Header
	var ok bool
	if m.ParentHeader, ok = objectOrEmpty(f.ParentHeader); !ok {
		return Message{}, fmt.Errorf("%w: legacy frame parent_header is not an object", ErrBadFrame)
	}
	if m.Metadata, ok = objectOrEmpty(f.Metadata); !ok {
		return Message{}, fmt.Errorf("%w: legacy frame metadata is not an object", ErrBadFrame)
	}
	if !isObject(bytes.TrimSpace(f.Content)) {
		return Message{}, fmt.Errorf("%w: legacy frame content is missing or not an object", ErrBadFrame)
	}
	m.Content = f.Content
	return m, nil
}

// EncodeLegacyBinary encodes m as the binary frame the legacy protocol uses
// for messages with buffers (jupyter_server serialize_binary_message): u32
// big-endian count of parts, u32 big-endian offsets of each part, then the
// JSON message and the buffers. Errors wrap ErrBadMessage.
func EncodeLegacyBinary(m Message) ([]byte, error) {
	parts, err := encodeParts(m)
	if err != nil {
		return nil, err
	}
	// As in jupyter_server, the JSON part has no "buffers" key.
	js, err := encodeJSONParts(m.Channel, parts, "")
	if err != nil {
		return nil, err
	}
	return legacyBinary(js, m.Buffers)
}

// legacyBinary lays out the JSON part js and buffers as a legacy binary
// frame.
func legacyBinary(js []byte, buffers [][]byte) ([]byte, error) {
	nbufs := 1 + len(buffers)
	if uint64(nbufs) > 1<<31 {
		return nil, fmt.Errorf("%w: too many buffers", ErrBadMessage)
	}
	size := 4*(nbufs+1) + len(js)
	for _, b := range buffers {
		size += len(b)
	}
	if uint64(size) > 1<<32-1 {
		return nil, fmt.Errorf("%w: %d bytes do not fit the legacy binary frame's 32-bit offsets", ErrBadMessage, size)
	}
	out := make([]byte, 4*(nbufs+1), size)
	binary.BigEndian.PutUint32(out, uint32(nbufs))
	off := 4 * (nbufs + 1)
	binary.BigEndian.PutUint32(out[4:], uint32(off))
	off += len(js)
	for i, b := range buffers {
		binary.BigEndian.PutUint32(out[8+4*i:], uint32(off))
		off += len(b)
	}
	out = append(out, js...)
	for _, b := range buffers {
		out = append(out, b...)
	}
	return out, nil
}

// DecodeLegacyBinary decodes the binary frame jupyter_server sends on the
// legacy protocol for messages with buffers (see EncodeLegacyBinary).
// Errors wrap ErrBadFrame. The buffers alias b.
func DecodeLegacyBinary(b []byte) (Message, error) {
	if len(b) < 8 {
		return Message{}, fmt.Errorf("%w: legacy binary frame of %d bytes is too short", ErrBadFrame, len(b))
	}
	nbufs := uint64(binary.BigEndian.Uint32(b))
	if nbufs < 1 || nbufs > uint64(len(b)/4-1) || nbufs > maxV1Parts+1 {
		return Message{}, fmt.Errorf("%w: legacy binary frame of %d bytes cannot hold %d parts", ErrBadFrame, len(b), nbufs)
	}
	n := int(nbufs)
	offs := make([]uint64, n+1)
	for i := 0; i < n; i++ {
		offs[i] = uint64(binary.BigEndian.Uint32(b[4*(i+1):]))
	}
	offs[n] = uint64(len(b))
	if offs[0] != uint64(4*(n+1)) {
		return Message{}, fmt.Errorf("%w: legacy binary message starts at %d, want %d", ErrBadFrame, offs[0], 4*(n+1))
	}
	for i := 1; i <= n; i++ {
		if offs[i] < offs[i-1] || offs[i] > uint64(len(b)) {
			return Message{}, fmt.Errorf("%w: legacy binary offset %d out of order or past the end", ErrBadFrame, i)
		}
	}
	var f jsonFrame
	if err := json.Unmarshal(b[offs[0]:offs[1]], &f); err != nil {
		return Message{}, fmt.Errorf("%w: legacy binary JSON part: %v", ErrBadFrame, err)
	}
	m, err := fromJSONFrame(f)
	if err != nil {
		return Message{}, err
	}
	if n > 1 {
		m.Buffers = make([][]byte, n-1)
		for i := range m.Buffers {
			m.Buffers[i] = b[offs[i+1]:offs[i+2]:offs[i+2]]
		}
	}
	return m, nil
}
