package models

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"unicode/utf8"
)

// ErrBadJSON reports a state or user_options column that is not JSON.
var ErrBadJSON = errors.New("models: column is not JSON")

// PyJSONSize estimates the bytes of the Python objects that json.loads
// builds from text, as sys.getsizeof summed over every object (containers
// and their contents), on 64-bit CPython 3.11:
//
//	dict with n keys    64 if n = 0, else 96 + d + 16·⌊2d/3⌋ with d the smallest
//	                    power of two ≥ 8 with ⌊2d/3⌋ ≥ n (its index bytes: d for
//	                    d ≤ 128, 2d above; Objects/dictobject.c, new_keys_object)
//	list of n items     56 + 8·a, a the capacity list.append reaches
//	                    (a = (n + n>>3 + 6) &^ 3 at each growth; listobject.c)
//	str of n chars      49 + n (ASCII), 73 + n (Latin-1), 74 + 2n (UCS-2), 76 + 4n
//	int                 0 for −5…256 (cached), 28 below 2³⁰, +4 per 30 bits above
//	float 24; true, false, null 0 (singletons)
//
// Reference values measured with sys.getsizeof in the JupyterHub 5.3.0
// venv's CPython 3.11.7 (pysize_test.go lists them). Keys repeated within one
// document share one str in CPython (the decoder memoises keys) and are
// counted once. A column that is NULL (empty text) is None: 0 bytes.
//
// PyJSONSize is what each start-up query row costs beyond its fixed columns
// when SQLAlchemy's JSONDict type parses a spawner's state or user_options
// (see "Row content" in the package documentation).
func PyJSONSize(text []byte) (int64, error) {
	text = bytes.TrimSpace(text)
	if len(text) == 0 || string(text) == "null" {
		return 0, nil
	}
	dec := json.NewDecoder(bytes.NewReader(text))
	dec.UseNumber()
	memo := map[string]bool{}
	n, err := pyValue(dec, memo, 0)
	if err != nil {
		return 0, fmt.Errorf("%w: %v", ErrBadJSON, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return 0, fmt.Errorf("%w: trailing data after the value", ErrBadJSON)
	}
	return n, nil
}

// maxJSONDepth bounds recursion on hostile input.
const maxJSONDepth = 1000

func pyValue(dec *json.Decoder, memo map[string]bool, depth int) (int64, error) {
	if depth > maxJSONDepth {
		return 0, errors.New("nested too deeply")
	}
	tok, err := dec.Token()
	if err != nil {
		return 0, err
	}
	switch v := tok.(type) {
	case json.Delim:
		switch v {
		case '{':
			var n, keys int64
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return 0, err
				}
				k, ok := kt.(string)
				if !ok {
					return 0, errors.New("object key is not a string")
				}
				if !memo[k] {
					memo[k] = true
					n += PyStrSize(k)
				}
				vn, err := pyValue(dec, memo, depth+1)
				if err != nil {
					return 0, err
				}
				n += vn
				keys++
			}
			if _, err := dec.Token(); err != nil {
				return 0, err
			}
			return n + PyDictSize(keys), nil
		case '[':
			var n, items int64
			for dec.More() {
				vn, err := pyValue(dec, memo, depth+1)
				if err != nil {
					return 0, err
				}
				n += vn
				items++
			}
			if _, err := dec.Token(); err != nil {
				return 0, err
			}
			return n + PyListSize(items), nil
		}
		return 0, fmt.Errorf("unexpected %v", v)
	case string:
		return PyStrSize(v), nil
	case json.Number:
		return pyNumberSize(v), nil
	case bool, nil:
		return 0, nil
	}
	return 0, fmt.Errorf("unexpected token %T", tok)
}

// PyDictSize is sys.getsizeof of a str-keyed dict of n items built by
// json.loads (CPython 3.11, 64-bit).
func PyDictSize(n int64) int64 {
	if n <= 0 {
		return 64
	}
	d := int64(8)
	for d*2/3 < n {
		d *= 2
	}
	idx := d // one byte per index slot up to 128 slots
	switch {
	case d >= 1<<16:
		idx = 4 * d
	case d > 128:
		idx = 2 * d
	}
	return 96 + idx + 16*(d*2/3)
}

// PyListSize is sys.getsizeof of a list of n items grown by append.
func PyListSize(n int64) int64 {
	var alloc int64
	for size := int64(1); size <= n; size++ {
		if size > alloc {
			alloc = (size + size>>3 + 6) &^ 3
		}
	}
	return 56 + 8*alloc
}

// PyStrSize is sys.getsizeof of a str holding s (compact representation).
func PyStrSize(s string) int64 {
	maxRune := rune(0)
	n := int64(0)
	for _, r := range s {
		if r == utf8.RuneError {
			r = 0xFFFD
		}
		maxRune = max(maxRune, r)
		n++
	}
	switch {
	case maxRune < 0x80:
		return 49 + n
	case maxRune < 0x100:
		return 73 + n
	case maxRune < 0x10000:
		return 74 + 2*n
	}
	return 76 + 4*n
}

func pyNumberSize(v json.Number) int64 {
	if i, err := v.Int64(); err == nil {
		switch {
		case i >= -5 && i <= 256:
			return 0
		case i == math.MinInt64:
			return 36
		}
		if i < 0 {
			i = -i
		}
		size := int64(28)
		for i >= 1<<30 {
			i >>= 30
			size += 4
		}
		return size
	}
	s := string(v)
	if bytes.ContainsAny([]byte(s), ".eE") {
		return 24
	}
	// an integer beyond int64: 30 bits per 4-byte digit
	digits := int64(len(s))
	return 24 + 4*int64(math.Ceil(float64(digits)*math.Log2(10)/30))
}
