package kernel

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"
)

// Seed corpora live in testdata/fuzz/Fuzz*; these add the test vectors.

func FuzzDecodeV1(f *testing.F) {
	f.Add(handAssembledV1())
	py, _ := hex.DecodeString(pythonV1Hex)
	f.Add(py)
	if b, err := EncodeV1(NewMessage("iopub", "status", "s", "u", map[string]string{"execution_state": "idle"})); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeV1(b)
		if err != nil {
			if !errors.Is(err, ErrBadFrame) {
				t.Fatalf("error %v does not wrap ErrBadFrame", err)
			}
			return
		}
		// Whatever decodes re-encodes, and decodes to the same message.
		enc, err := EncodeV1(m)
		if err != nil {
			t.Fatalf("decoded %+v does not re-encode: %v", m, err)
		}
		back, err := DecodeV1(enc)
		if err != nil {
			t.Fatalf("re-encoded frame does not decode: %v", err)
		}
		if !reflect.DeepEqual(normBuffers(back), normBuffers(m)) {
			t.Fatalf("round trip changed the message:\n%+v\n%+v", m, back)
		}
		if len(enc) > 2*len(b)+1024 {
			t.Fatalf("re-encoding grew %d bytes to %d", len(b), len(enc))
		}
	})
}

func FuzzDecodeJSON(f *testing.F) {
	f.Add([]byte(serverLegacyFrame))
	if b, err := EncodeJSON(NewMessage("shell", "execute_request", "s", "u", map[string]any{"code": "1+1"})); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeJSON(b)
		if err != nil {
			if !errors.Is(err, ErrBadFrame) {
				t.Fatalf("error %v does not wrap ErrBadFrame", err)
			}
			return
		}
		_ = m.ParentMsgID()
		if m.Channel == "" {
			m.Channel = "shell" // as jupyter_server assumes; Encode needs one
		}
		enc, err := EncodeJSON(m)
		if err != nil {
			t.Fatalf("decoded %+v does not re-encode: %v", m, err)
		}
		back, err := DecodeJSON(enc)
		if err != nil {
			t.Fatalf("re-encoded frame %s does not decode: %v", enc, err)
		}
		if !reflect.DeepEqual(normBuffers(back), normBuffers(m)) {
			t.Fatalf("round trip changed the message:\n%+v\n%+v", m, back)
		}
	})
}

func FuzzDecodeLegacyBinary(f *testing.F) {
	py, _ := hex.DecodeString(pythonLegacyBinaryHex)
	f.Add(py)
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeLegacyBinary(b)
		if err != nil {
			if !errors.Is(err, ErrBadFrame) {
				t.Fatalf("error %v does not wrap ErrBadFrame", err)
			}
			return
		}
		if m.Channel == "" {
			return
		}
		enc, err := EncodeLegacyBinary(m)
		if err != nil {
			t.Fatalf("decoded %+v does not re-encode: %v", m, err)
		}
		back, err := DecodeLegacyBinary(enc)
		if err != nil {
			t.Fatalf("re-encoded frame does not decode: %v", err)
		}
		if !reflect.DeepEqual(normBuffers(back), normBuffers(m)) {
			t.Fatalf("round trip changed the message:\n%+v\n%+v", m, back)
		}
	})
}

// FuzzDecodeReceived: the client's direct decoding of legacy frames never
// panics and, on every frame DecodeJSON accepts, gives DecodeJSON's message.
func FuzzDecodeReceived(f *testing.F) {
	f.Add([]byte(serverLegacyFrame))
	f.Add([]byte(`{"header":{"msg_id":"a","msg_type":"status"},"msg_id":"a","msg_type":"status","parent_header":{"msg_id":"p"},"metadata":{},"content":{"execution_state":"idle"},"buffers":[],"channel":"iopub"}`))
	f.Add([]byte(`{"channel":"io\u0070ub","header":{"MSG_ID":"x","msg_type":"s\n"},"content":{},"parent_header":null}`))
	f.Add([]byte(`{"Channel":"shell","header":{"msg_id":"x"},"content":{"a":[1,{"b":"}"}]}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		fast, ferr := decodeReceived(b)
		slow, serr := DecodeJSON(b)
		if serr != nil {
			return // the direct path may read what encoding/json refuses
		}
		if ferr != nil {
			t.Fatalf("DecodeJSON accepts, decodeReceived: %v", ferr)
		}
		if !reflect.DeepEqual(normBuffers(fast), normBuffers(slow)) {
			t.Fatalf("decodeReceived = %+v\nDecodeJSON   = %+v", fast, slow)
		}
		if parentID(fast) != slow.ParentMsgID() {
			t.Fatalf("parentID %q, ParentMsgID %q", parentID(fast), slow.ParentMsgID())
		}
	})
}

// FuzzReadOutput: the direct reading of execution messages' content agrees
// with encoding/json on every content encoding/json reads without error.
func FuzzReadOutput(f *testing.F) {
	for _, c := range []string{
		`{"execution_state":"busy"}`, `{"name":"stdout","text":"42\n"}`,
		`{"data":{"text/plain":"20"},"metadata":{},"execution_count":3}`,
		`{"status":"ok","execution_count":3,"user_expressions":{},"payload":[]}`,
		`{"status":"error","ename":"ZeroDivisionError","evalue":"division by zero","traceback":["a"],"execution_count":null}`,
		`{"data":{"text/html":"<b>"},"Name":"x"}`, `{"data":{"text/plain":["a","b"]}}`,
	} {
		f.Add(c)
	}
	f.Fuzz(func(t *testing.T, content string) {
		var want execOutput
		if json.Unmarshal([]byte(content), &want) != nil {
			return
		}
		for _, typ := range []string{"status", "stream", "execute_result", "execute_reply"} {
			var got execOutput
			readOutput(typ, []byte(content), &got)
			if plainOf(&got) != plainText(want.Data) {
				t.Fatalf("%s: text/plain %q, encoding/json %q", typ, plainOf(&got), plainText(want.Data))
			}
			got.Data, got.plain = want.Data, ""
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%s: %+v\nencoding/json %+v", typ, got, want)
			}
		}
	})
}

// FuzzRouteLegacy: the client's routing of legacy frames never panics and,
// on every frame DecodeJSON accepts and routeLegacy reads, gives
// DecodeJSON's channel, msg_type, parent msg_id and content.
func FuzzRouteLegacy(f *testing.F) {
	f.Add([]byte(serverLegacyFrame))
	f.Add([]byte(`{"header":{"msg_id":"a","msg_type":"status"},"msg_id":"a","msg_type":"status","parent_header":{"msg_id":"p"},"metadata":{},"content":{"execution_state":"idle"},"buffers":[],"channel":"iopub"}`))
	f.Add([]byte(`{"channel":"io\u0070ub","header":{"MSG_ID":"x","msg_type":"s\n"},"content":{},"parent_header":null}`))
	f.Add([]byte(`{"channel":"shell","header":{"msg_type":null},"content":{},"parent_header":{"msg_id":"a","Msg_Id":"b"}}`))
	f.Add([]byte(`{"channel":null,"header":{"msg_type":"x"},"content":{"a":1},"parent_header":{"msg_id":null},"metadata":null}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, ok := routeLegacy(b)
		slow, serr := DecodeJSON(b)
		if serr != nil || !ok {
			return
		}
		if r.channel != slow.Channel || r.msgType != slow.Header.MsgType || string(r.parentID) != slow.ParentMsgID() || string(r.content) != string(slow.Content) {
			t.Fatalf("routeLegacy = {%q %q %q %s}\nDecodeJSON  = {%q %q %q %s}", r.channel, r.msgType, r.parentID, r.content,
				slow.Channel, slow.Header.MsgType, slow.ParentMsgID(), slow.Content)
		}
	})
}

// TestRouteLegacyReadsServerFrames: the frames jupyter_server sends for an
// execution are routed directly (no fallback to encoding/json).
func TestRouteLegacyReadsServerFrames(t *testing.T) {
	r, ok := routeLegacy([]byte(serverLegacyFrame))
	if !ok {
		t.Fatal("a jupyter_server frame fell back to encoding/json")
	}
	m, err := DecodeJSON([]byte(serverLegacyFrame))
	if err != nil {
		t.Fatal(err)
	}
	if r.channel != m.Channel || r.msgType != m.Header.MsgType || string(r.parentID) != m.ParentMsgID() || r.parentID == nil {
		t.Errorf("route {%q %q %q}, message {%q %q %q}", r.channel, r.msgType, r.parentID, m.Channel, m.Header.MsgType, m.ParentMsgID())
	}
	frame := []byte(serverLegacyFrame)
	if n := testing.AllocsPerRun(100, func() { routeLegacy(frame) }); n > 0 {
		t.Errorf("routeLegacy allocates %v times per frame, want 0", n)
	}
}

// FuzzExecuteRequestTemplate: the execute_request frame Execute writes from
// its template is EncodeJSON's frame of the same message, byte for byte,
// and its date is time.Format's.
func FuzzExecuteRequestTemplate(f *testing.F) {
	f.Add("5 * 4", "alice", "s-1", int64(1772359200123456789))
	f.Add("print(\"<&>\")\n\t\u2028é\x00\xff", "b\"ob", "", int64(0))
	f.Add("", "", "", int64(-62135596800000000))
	f.Fuzz(func(t *testing.T, code, username, session string, ns int64) {
		at := time.Unix(0, ns)
		h := Header{MsgID: "0b6c1f4e-4bd6-4b8e-9d8a-2f0d7c1e5a11", MsgType: "execute_request", Username: username,
			Session: session, Date: string(appendDate(nil, at)), Version: ProtocolVersion}
		if want := at.UTC().Format(dateLayout); h.Date != want {
			t.Fatalf("appendDate %q, Format %q", h.Date, want)
		}
		want, err := EncodeJSON(Message{Channel: "shell", Header: h, ParentHeader: emptyObject, Metadata: emptyObject,
			Content: executeContent(code)})
		if err != nil {
			t.Fatal(err)
		}
		if got := appendExecuteRequestJSON(nil, h, code); string(got) != string(want) {
			t.Fatalf("template\n%s\nEncodeJSON\n%s", got, want)
		}
	})
}
