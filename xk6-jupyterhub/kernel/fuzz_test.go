package kernel

import (
	"encoding/hex"
	"errors"
	"reflect"
	"testing"
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
