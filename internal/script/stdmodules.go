package script

import (
	"crypto/hmac"
	"crypto/md5" //nolint:gosec // k6/crypto offers md5 for scripts that need it
	"crypto/rand"
	"crypto/sha1" //nolint:gosec // k6/crypto offers sha1 for scripts that need it
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash"
	"strings"
	"time"

	"github.com/grafana/sobek"
)

// Paths of the k6 modules implemented here.
const (
	ModuleTimers   = "k6/timers"
	ModuleEncoding = "k6/encoding"
	ModuleCrypto   = "k6/crypto"
	ModuleData     = "k6/data"
)

// --- k6/timers and the global setInterval ---

type timersModule struct{}

var _ Module = timersModule{}

func (timersModule) NewModuleInstance(vi VU) Instance { return &timersInstance{v: vi.(*vu)} }

type timersInstance struct{ v *vu }

func (t *timersInstance) Exports() Exports {
	return Exports{Named: map[string]any{
		"setTimeout": t.v.setTimeout, "clearTimeout": t.v.clearTimeout,
		"setInterval": t.v.setInterval, "clearInterval": t.v.clearTimeout,
	}}
}

// setInterval calls fn every ms milliseconds until clearInterval; while it
// runs, the iteration stays alive, as in k6.
func (v *vu) setInterval(fn sobek.Callable, ms float64, args ...sobek.Value) int64 {
	v.nextTimer++
	id := v.nextTimer
	d := max(time.Duration(ms*float64(time.Millisecond)), time.Millisecond)
	var arm func()
	arm = func() {
		done := v.loop.registerCallback()
		t := time.AfterFunc(d, func() {
			done(func() error {
				if _, live := v.timers[id]; !live {
					return nil
				}
				if _, err := fn(sobek.Undefined(), args...); err != nil {
					delete(v.timers, id)
					return err
				}
				if _, live := v.timers[id]; live {
					arm()
				}
				return nil
			})
		})
		v.timers[id] = &timer{t: t, done: done}
	}
	arm()
	return id
}

// --- k6/encoding ---

type encodingModule struct{}

var _ Module = encodingModule{}

func (encodingModule) NewModuleInstance(vi VU) Instance { return &encodingInstance{v: vi.(*vu)} }

type encodingInstance struct{ v *vu }

func (e *encodingInstance) Exports() Exports {
	return Exports{Named: map[string]any{"b64encode": e.b64encode, "b64decode": e.b64decode}}
}

func b64Encoding(name string) (*base64.Encoding, error) {
	switch name {
	case "", "std":
		return base64.StdEncoding, nil
	case "rawstd":
		return base64.RawStdEncoding, nil
	case "url":
		return base64.URLEncoding, nil
	case "rawurl":
		return base64.RawURLEncoding, nil
	}
	return nil, fmt.Errorf("unknown base64 encoding %q: use std, rawstd, url or rawurl", name)
}

// bytesOf reads a string, ArrayBuffer or typed array argument.
func bytesOf(rt *sobek.Runtime, v sobek.Value) ([]byte, error) {
	if v == nil || sobek.IsUndefined(v) || sobek.IsNull(v) {
		return nil, nil
	}
	switch x := v.Export().(type) {
	case string:
		return []byte(x), nil
	case sobek.ArrayBuffer:
		return x.Bytes(), nil
	case []byte:
		return x, nil
	}
	if o, ok := v.(*sobek.Object); ok {
		if buf := o.Get("buffer"); buf != nil {
			if ab, ok := buf.Export().(sobek.ArrayBuffer); ok {
				off, n := int(o.Get("byteOffset").ToInteger()), int(o.Get("byteLength").ToInteger())
				b := ab.Bytes()
				if off >= 0 && off+n <= len(b) {
					return b[off : off+n], nil
				}
			}
		}
	}
	return []byte(v.String()), nil
}

func (e *encodingInstance) b64encode(input sobek.Value, enc string) string {
	b, err := bytesOf(e.v.rt, input)
	if err != nil {
		throw(e.v.rt, err.Error())
	}
	en, err := b64Encoding(enc)
	if err != nil {
		throw(e.v.rt, "b64encode: "+err.Error())
	}
	return en.EncodeToString(b)
}

func (e *encodingInstance) b64decode(input string, enc string, format string) sobek.Value {
	rt := e.v.rt
	en, err := b64Encoding(enc)
	if err != nil {
		throw(rt, "b64decode: "+err.Error())
	}
	b, err := en.DecodeString(input)
	if err != nil {
		throw(rt, "b64decode: "+err.Error())
	}
	if format == "s" {
		return rt.ToValue(string(b))
	}
	return rt.ToValue(rt.NewArrayBuffer(b))
}

// --- k6/crypto ---

type cryptoModule struct{}

var _ Module = cryptoModule{}

func (cryptoModule) NewModuleInstance(vi VU) Instance { return &cryptoInstance{v: vi.(*vu)} }

type cryptoInstance struct{ v *vu }

var hashes = map[string]func() hash.Hash{
	"md5": md5.New, "sha1": sha1.New, "sha256": sha256.New, "sha384": sha512.New384,
	"sha512": sha512.New, "sha512_224": sha512.New512_224, "sha512_256": sha512.New512_256,
}

func (c *cryptoInstance) Exports() Exports {
	named := map[string]any{
		"randomBytes": c.randomBytes,
		"hmac":        c.hmac,
		"createHash":  c.createHash,
		"createHMAC":  c.createHMAC,
	}
	for name := range hashes {
		named[name] = func(input sobek.Value, enc string) sobek.Value {
			h := c.newHash(name, nil)
			c.write(h, input)
			return c.encode(h.Sum(nil), enc)
		}
	}
	return Exports{Named: named}
}

func (c *cryptoInstance) newHash(alg string, secret []byte) hash.Hash {
	mk, ok := hashes[strings.ToLower(strings.ReplaceAll(alg, "-", "_"))]
	if !ok {
		throw(c.v.rt, fmt.Sprintf("unknown hash algorithm %q: use md5, sha1, sha256, sha384, sha512, sha512_224 or sha512_256 (md4 and ripemd160 are not provided)", alg))
	}
	if secret != nil {
		return hmac.New(mk, secret)
	}
	return mk()
}

func (c *cryptoInstance) write(h hash.Hash, input sobek.Value) {
	b, err := bytesOf(c.v.rt, input)
	if err != nil {
		throw(c.v.rt, err.Error())
	}
	h.Write(b)
}

// encode renders a digest as k6 does: hex, base64, base64url,
// base64rawurl, or binary (an ArrayBuffer).
func (c *cryptoInstance) encode(sum []byte, enc string) sobek.Value {
	rt := c.v.rt
	switch enc {
	case "hex", "":
		return rt.ToValue(hex.EncodeToString(sum))
	case "base64":
		return rt.ToValue(base64.StdEncoding.EncodeToString(sum))
	case "base64url":
		return rt.ToValue(base64.URLEncoding.EncodeToString(sum))
	case "base64rawurl":
		return rt.ToValue(base64.RawURLEncoding.EncodeToString(sum))
	case "binary":
		return rt.ToValue(rt.NewArrayBuffer(sum))
	}
	throw(rt, fmt.Sprintf("unknown output encoding %q: use hex, base64, base64url, base64rawurl or binary", enc))
	return nil
}

func (c *cryptoInstance) randomBytes(n int) sobek.ArrayBuffer {
	if n < 0 || n > 1<<26 {
		throw(c.v.rt, "randomBytes: size out of range")
	}
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return c.v.rt.NewArrayBuffer(b)
}

func (c *cryptoInstance) hmac(alg string, secret, data sobek.Value, enc string) sobek.Value {
	key, _ := bytesOf(c.v.rt, secret)
	if key == nil {
		key = []byte{}
	}
	h := c.newHash(alg, key)
	c.write(h, data)
	return c.encode(h.Sum(nil), enc)
}

// hasher is the object createHash and createHMAC return.
func (c *cryptoInstance) hasher(h hash.Hash) *sobek.Object {
	rt := c.v.rt
	o := rt.NewObject()
	_ = o.Set("update", func(input sobek.Value) { c.write(h, input) })
	_ = o.Set("digest", func(enc string) sobek.Value { return c.encode(h.Sum(nil), enc) })
	return o
}

func (c *cryptoInstance) createHash(alg string) *sobek.Object { return c.hasher(c.newHash(alg, nil)) }

func (c *cryptoInstance) createHMAC(alg string, secret sobek.Value) *sobek.Object {
	key, _ := bytesOf(c.v.rt, secret)
	if key == nil {
		key = []byte{}
	}
	return c.hasher(c.newHash(alg, key))
}

// --- k6/data ---

type dataModule struct{}

var _ Module = dataModule{}

func (dataModule) NewModuleInstance(vi VU) Instance { return &dataInstance{v: vi.(*vu)} }

type dataInstance struct{ v *vu }

func (d *dataInstance) Exports() Exports {
	return Exports{Named: map[string]any{"SharedArray": d.sharedArray}}
}

// sharedArray is new SharedArray(name, fn): fn runs once per test (in the
// first VU that asks); every VU gets a frozen copy of its array.
func (d *dataInstance) sharedArray(call sobek.ConstructorCall) *sobek.Object {
	v := d.v
	rt := v.rt
	if !v.inInit {
		throw(rt, "new SharedArray must be called in the init context (the top level of the script)")
	}
	name := call.Argument(0).String()
	if sobek.IsUndefined(call.Argument(0)) || name == "" {
		throw(rt, "SharedArray needs a name as its first argument")
	}
	fn, ok := sobek.AssertFunction(call.Argument(1))
	if !ok {
		throw(rt, "SharedArray needs a function returning an array as its second argument")
	}
	js, err := v.sh.prog.sharedData(name, func() (string, error) {
		val, err := fn(sobek.Undefined())
		if err != nil {
			return "", err
		}
		o, isObj := val.(*sobek.Object)
		if !isObj || o.ClassName() != "Array" {
			return "", fmt.Errorf("SharedArray %q: the function must return an array", name)
		}
		return stringify(v, val)
	})
	if err != nil {
		if exc, ok := err.(*sobek.Exception); ok {
			panic(exc)
		}
		throw(rt, err.Error())
	}
	parse, _ := sobek.AssertFunction(rt.Get("JSON").ToObject(rt).Get("parse"))
	arr, err := parse(sobek.Undefined(), rt.ToValue(js))
	if err != nil {
		panic(err)
	}
	deepFreeze(rt, arr)
	return arr.ToObject(rt)
}

// deepFreeze freezes an object and everything in it, as SharedArray's
// elements are read-only.
func deepFreeze(rt *sobek.Runtime, v sobek.Value) {
	o, ok := v.(*sobek.Object)
	if !ok {
		return
	}
	for _, k := range o.Keys() {
		deepFreeze(rt, o.Get(k))
	}
	freeze, _ := sobek.AssertFunction(rt.Get("Object").ToObject(rt).Get("freeze"))
	_, _ = freeze(sobek.Undefined(), o)
}
