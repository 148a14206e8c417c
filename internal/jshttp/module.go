// Package jshttp is the k6/http JavaScript module of hubcap's script
// runtime: it converts JavaScript values to loadhttp requests and loadhttp
// responses back to k6's Response objects. The requests, timings, cookies,
// redirects and metrics are loadhttp's (a plain Go package).
package jshttp

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/grafana/sobek"

	"github.com/hubcap-dev/hubcap/internal/executor"
	"github.com/hubcap-dev/hubcap/internal/loadhttp"
	"github.com/hubcap-dev/hubcap/internal/script"
	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/samples"
)

// ImportPath is the module's import path.
const ImportPath = "k6/http"

func init() { script.RegisterModule(ImportPath, RootModule{}) }

// RootModule is k6/http, registered once.
type RootModule struct{}

var (
	_ script.Module          = RootModule{}
	_ script.MetricsDeclarer = RootModule{}
	_ script.Instance        = (*ModuleInstance)(nil)
)

// NewModuleInstance makes the VU's instance; its client is created at the
// first request, when the options are known.
func (RootModule) NewModuleInstance(vu script.VU) script.Instance {
	return &ModuleInstance{vu: vu, expected: loadhttp.DefaultExpected(), jar: loadhttp.NewJar()}
}

// Metrics are k6's builtin HTTP metrics.
func (RootModule) Metrics() []samples.Metric { return loadhttp.Metrics() }

// ModuleInstance is one VU's k6/http.
type ModuleInstance struct {
	vu       script.VU
	once     sync.Once
	client   *loadhttp.Client
	throw    bool
	jar      *loadhttp.Jar              // the VU's cookie jar
	expected *loadhttp.ExpectedStatuses // nil after setResponseCallback(null)
}

// Exports are k6/http's functions and constants.
func (m *ModuleInstance) Exports() script.Exports {
	rt := m.vu.Runtime()
	named := map[string]any{
		"get":     func(c sobek.FunctionCall) sobek.Value { return m.verb(c, "GET", false) },
		"head":    func(c sobek.FunctionCall) sobek.Value { return m.verb(c, "HEAD", false) },
		"post":    func(c sobek.FunctionCall) sobek.Value { return m.verb(c, "POST", true) },
		"put":     func(c sobek.FunctionCall) sobek.Value { return m.verb(c, "PUT", true) },
		"patch":   func(c sobek.FunctionCall) sobek.Value { return m.verb(c, "PATCH", true) },
		"del":     func(c sobek.FunctionCall) sobek.Value { return m.verb(c, "DELETE", true) },
		"options": func(c sobek.FunctionCall) sobek.Value { return m.verb(c, "OPTIONS", true) },
		"request": m.request,
		"asyncRequest": func(c sobek.FunctionCall) sobek.Value {
			return m.async(c)
		},
		"batch":               m.batch,
		"file":                m.file,
		"cookieJar":           m.cookieJar,
		"CookieJar":           m.newCookieJar,
		"expectedStatuses":    m.expectedStatuses,
		"setResponseCallback": m.setResponseCallback,
		"url":                 m.url,
		"TLS_1_0":             "tls1.0",
		"TLS_1_1":             "tls1.1",
		"TLS_1_2":             "tls1.2",
		"TLS_1_3":             "tls1.3",
		"OCSP_STATUS_GOOD":    "good",
		"OCSP_STATUS_REVOKED": "revoked",
		"OCSP_STATUS_UNKNOWN": "unknown",
	}
	_ = rt
	return script.Exports{Named: named}
}

// clientFor creates the VU's client from the options on first use.
func (m *ModuleInstance) clientFor() *loadhttp.Client {
	m.once.Do(func() {
		o := script.OptionsOf(m.vu)
		cfg := loadhttp.Config{MaxRedirects: 10, Jar: m.jar}
		if s, ok := o["userAgent"].(string); ok {
			cfg.UserAgent = s
		}
		if f, ok := o["maxRedirects"].(float64); ok {
			cfg.MaxRedirects = int(f)
		}
		cfg.InsecureSkipTLSVerify, _ = o["insecureSkipTLSVerify"].(bool)
		cfg.NoConnectionReuse, _ = o["noConnectionReuse"].(bool)
		cfg.DiscardResponseBodies, _ = o["discardResponseBodies"].(bool)
		if f, ok := o["batch"].(float64); ok {
			cfg.Batch = int(f)
		}
		if f, ok := o["batchPerHost"].(float64); ok {
			cfg.BatchPerHost = int(f)
		}
		if h, ok := o["hosts"].(map[string]any); ok {
			cfg.Hosts = map[string]string{}
			for k, v := range h {
				if s, ok := v.(string); ok {
					cfg.Hosts[k] = s
				}
			}
		}
		m.throw, _ = o["throw"].(bool)
		switch v := o["tlsVersion"].(type) {
		case string:
			if ver, err := loadhttp.ParseTLSVersion(v); err == nil {
				cfg.TLSMinVersion, cfg.TLSMaxVersion = ver, ver
			} else {
				script.Log(m.vu, "warn", "options.tlsVersion: "+err.Error())
			}
		case map[string]any:
			for key, dst := range map[string]*uint16{"min": &cfg.TLSMinVersion, "max": &cfg.TLSMaxVersion} {
				if s, ok := v[key].(string); ok {
					if ver, err := loadhttp.ParseTLSVersion(s); err == nil {
						*dst = ver
					} else {
						script.Log(m.vu, "warn", "options.tlsVersion."+key+": "+err.Error())
					}
				}
			}
		}
		if list, ok := o["tlsCipherSuites"].([]any); ok {
			for _, x := range list {
				name, _ := x.(string)
				id, err := loadhttp.ParseCipherSuite(name)
				if err != nil {
					script.Log(m.vu, "warn", "options.tlsCipherSuites: "+err.Error()+"; left out")
					continue
				}
				cfg.CipherSuites = append(cfg.CipherSuites, id)
			}
		}
		m.client = loadhttp.NewClient(cfg)
	})
	return m.client
}

func (m *ModuleInstance) verb(c sobek.FunctionCall, method string, hasBody bool) sobek.Value {
	args := []sobek.Value{m.vu.Runtime().ToValue(method), c.Argument(0)}
	if hasBody {
		args = append(args, c.Argument(1), c.Argument(2))
	} else {
		args = append(args, sobek.Undefined(), c.Argument(1))
	}
	return m.request(sobek.FunctionCall{This: c.This, Arguments: args})
}

// request is http.request(method, url, body, params).
func (m *ModuleInstance) request(c sobek.FunctionCall) sobek.Value {
	rt := m.vu.Runtime()
	if m.vu.InInit() {
		script.Throw(m.vu, "making HTTP requests in the init context is not supported; make them in an exported function (default, setup, teardown or a scenario's exec)")
	}
	req := m.parseRequest(c.Argument(0).String(), c.Argument(1), c.Argument(2), c.Argument(3))
	client := m.clientFor()
	res, err := client.Do(m.vu.Context(), req, m.emitter())
	m.afterRequest(res, err)
	return m.responseObject(rt, res)
}

// async is http.asyncRequest: the request runs off the VU's goroutine and
// the promise resolves on it.
func (m *ModuleInstance) async(c sobek.FunctionCall) sobek.Value {
	rt := m.vu.Runtime()
	if m.vu.InInit() {
		script.Throw(m.vu, "making HTTP requests in the init context is not supported")
	}
	req := m.parseRequest(c.Argument(0).String(), c.Argument(1), c.Argument(2), c.Argument(3))
	client := m.clientFor()
	emit := m.emitter()
	ctx := m.vu.Context()
	p, resolve, reject := rt.NewPromise()
	done := m.vu.RegisterCallback()
	go func() {
		res, err := client.Do(ctx, req, emit)
		done(func() error {
			if err != nil {
				return reject(rt.NewGoError(err))
			}
			m.afterRequest(res, nil)
			return resolve(m.responseObject(rt, res))
		})
	}()
	return rt.ToValue(p)
}

// afterRequest counts the bytes and reports errors as k6 does: a warning,
// or an exception with options.throw.
func (m *ModuleInstance) afterRequest(res *loadhttp.Response, err error) {
	sent, recv := m.client.TakeData()
	m.vu.AddData(sent, recv)
	if err != nil {
		script.Throw(m.vu, err.Error())
	}
	if res != nil && res.Error != "" && res.Status == 0 {
		if m.vu.Context().Err() != nil {
			return // the iteration is being stopped: not the request's fault
		}
		if m.throw {
			script.Throw(m.vu, res.Error)
		}
		script.Log(m.vu, "warn", "Request Failed", "error="+res.Error)
	}
}

// emitter sends a request's samples with the VU's tags as they are now;
// safe from any goroutine.
func (m *ModuleInstance) emitter() loadhttp.Emit {
	sink := script.TagSink(m.vu, nil)
	return func(metric string, at time.Time, value float64, tags map[string]string) {
		sink.AddSample(samples.Sample{Metric: metric, Time: at, Value: value, Tags: tags})
	}
}

// parseRequest converts request arguments; bad params throw.
func (m *ModuleInstance) parseRequest(method string, urlV, body, params sobek.Value) *loadhttp.Request {
	rt := m.vu.Runtime()
	req := &loadhttp.Request{Method: strings.ToUpper(method), Header: http.Header{}, Tags: map[string]string{}, Expected: m.expected}
	req.URL, req.Tags["name"] = urlOf(rt, urlV)
	if req.Tags["name"] == "" {
		delete(req.Tags, "name")
	}
	if req.URL == "" {
		script.Throw(m.vu, "a request needs a URL")
	}
	m.parseBody(rt, req, body)
	if params != nil && !sobek.IsUndefined(params) && !sobek.IsNull(params) {
		m.parseParams(rt, req, params.ToObject(rt))
	}
	return req
}

// urlOf reads a URL argument: a string or an http.url`...` object.
func urlOf(rt *sobek.Runtime, v sobek.Value) (string, string) {
	if o, ok := v.(*sobek.Object); ok {
		if mark := o.Get("__k6url"); mark != nil && mark.ToBoolean() {
			return o.Get("url").String(), o.Get("name").String()
		}
	}
	if v == nil || sobek.IsUndefined(v) || sobek.IsNull(v) {
		return "", ""
	}
	return v.String(), ""
}

func (m *ModuleInstance) parseBody(rt *sobek.Runtime, req *loadhttp.Request, body sobek.Value) {
	if body == nil || sobek.IsUndefined(body) || sobek.IsNull(body) {
		return
	}
	req.HasBody = true
	switch x := body.Export().(type) {
	case string:
		req.Body = []byte(x)
		return
	case sobek.ArrayBuffer:
		req.Body = append([]byte(nil), x.Bytes()...)
		return
	case []byte:
		req.Body = append([]byte(nil), x...)
		return
	}
	obj, ok := body.(*sobek.Object)
	if !ok {
		req.Body = []byte(body.String())
		return
	}
	if ab, ok := typedArrayBytes(rt, obj); ok {
		req.Body = ab
		return
	}
	var fields []loadhttp.FormField
	for _, k := range obj.Keys() {
		val := obj.Get(k)
		if f, ok := fileOf(rt, val); ok {
			f.Name = k
			fields = append(fields, f)
			continue
		}
		if arr, ok := val.(*sobek.Object); ok && arr.ClassName() == "Array" {
			for _, i := range arr.Keys() {
				fields = append(fields, loadhttp.FormField{Name: k, Value: arr.Get(i).String()})
			}
			continue
		}
		fields = append(fields, loadhttp.FormField{Name: k, Value: val.String()})
	}
	b, ct, err := loadhttp.EncodeForm(fields)
	if err != nil {
		script.Throw(m.vu, err.Error())
	}
	req.Body = b
	req.Header.Set("Content-Type", ct)
}

// typedArrayBytes reads a Uint8Array (or any typed array view) as bytes.
func typedArrayBytes(rt *sobek.Runtime, o *sobek.Object) ([]byte, bool) {
	buf := o.Get("buffer")
	if buf == nil || sobek.IsUndefined(buf) {
		return nil, false
	}
	ab, ok := buf.Export().(sobek.ArrayBuffer)
	if !ok {
		return nil, false
	}
	off := int(o.Get("byteOffset").ToInteger())
	n := int(o.Get("byteLength").ToInteger())
	b := ab.Bytes()
	if off < 0 || off+n > len(b) {
		return nil, false
	}
	return append([]byte(nil), b[off:off+n]...), true
}

func fileOf(rt *sobek.Runtime, v sobek.Value) (loadhttp.FormField, bool) {
	o, ok := v.(*sobek.Object)
	if !ok {
		return loadhttp.FormField{}, false
	}
	if mark := o.Get("__k6file"); mark == nil || !mark.ToBoolean() {
		return loadhttp.FormField{}, false
	}
	f := loadhttp.FormField{File: true, Filename: o.Get("filename").String(), ContentType: o.Get("content_type").String()}
	switch x := o.Get("data").Export().(type) {
	case string:
		f.Data = []byte(x)
	case sobek.ArrayBuffer:
		f.Data = x.Bytes()
	default:
		if d, ok := o.Get("data").(*sobek.Object); ok {
			if b, ok := typedArrayBytes(rt, d); ok {
				f.Data = b
				break
			}
		}
		f.Data = []byte(o.Get("data").String())
	}
	return f, true
}

func (m *ModuleInstance) parseParams(rt *sobek.Runtime, req *loadhttp.Request, p *sobek.Object) {
	for _, key := range p.Keys() {
		val := p.Get(key)
		if val == nil || sobek.IsUndefined(val) || sobek.IsNull(val) {
			if key == "responseCallback" {
				req.Expected = nil
			}
			continue
		}
		switch key {
		case "headers":
			h := val.ToObject(rt)
			for _, k := range h.Keys() {
				req.Header.Set(k, h.Get(k).String())
			}
		case "tags":
			t := val.ToObject(rt)
			for _, k := range t.Keys() {
				req.Tags[k] = t.Get(k).String()
			}
		case "timeout":
			d, err := durationOf(val)
			if err != nil {
				script.Throw(m.vu, "params.timeout: "+err.Error())
			}
			req.Timeout = d
		case "redirects":
			n := int(val.ToInteger())
			req.Redirects = &n
		case "responseType":
			t, err := loadhttp.ParseResponseType(val.String())
			if err != nil {
				script.Throw(m.vu, "params."+err.Error())
			}
			req.ResponseType = &t
		case "cookies":
			c := val.ToObject(rt)
			for _, name := range c.Keys() {
				cv := c.Get(name)
				rc := loadhttp.RequestCookie{Name: name, Value: cv.String()}
				if o, ok := cv.(*sobek.Object); ok && o.ClassName() == "Object" {
					rc.Value = o.Get("value").String()
					if r := o.Get("replace"); r != nil {
						rc.Replace = r.ToBoolean()
					}
				}
				req.Cookies = append(req.Cookies, rc)
			}
		case "jar":
			j, ok := val.Export().(*cookieJar)
			if !ok {
				script.Throw(m.vu, "params.jar: want a cookie jar from http.cookieJar() or new http.CookieJar()")
			}
			req.Jar = j.jar
		case "auth":
			switch a := val.String(); a {
			case "basic", "digest":
				req.Auth = a
			default:
				script.Throw(m.vu, fmt.Sprintf("params.auth %q: hubcap supports basic and digest (ntlm is not supported)", a))
			}
		case "responseCallback":
			e, ok := val.Export().(*loadhttp.ExpectedStatuses)
			if !ok {
				script.Throw(m.vu, "params.responseCallback: want http.expectedStatuses(...) or null")
			}
			req.Expected = e
		case "compression":
			// Request compression is not supported; sent uncompressed.
			script.Log(m.vu, "warn", "params.compression is not supported by hubcap; the body is sent uncompressed")
		}
	}
}

// durationOf reads a timeout: a number of milliseconds or a k6 duration.
func durationOf(v sobek.Value) (time.Duration, error) {
	switch x := v.Export().(type) {
	case int64:
		return time.Duration(x) * time.Millisecond, nil
	case float64:
		if math.IsNaN(x) || x < 0 {
			return 0, fmt.Errorf("%v is not a duration", x)
		}
		return time.Duration(x * float64(time.Millisecond)), nil
	case string:
		if f, err := strconv.ParseFloat(x, 64); err == nil {
			return time.Duration(f * float64(time.Millisecond)), nil
		}
		return executor.ParseDuration(x)
	}
	return 0, fmt.Errorf("%v is not a duration", v)
}

// responseObject builds k6's Response.
func (m *ModuleInstance) responseObject(rt *sobek.Runtime, res *loadhttp.Response) sobek.Value {
	o := rt.NewObject()
	set := func(k string, v any) { _ = o.Set(k, v) }
	set("status", res.Status)
	set("status_text", res.StatusText)
	set("proto", res.Proto)
	set("url", res.URL)
	headers := rt.NewObject()
	for k, v := range res.Headers {
		_ = headers.Set(k, v)
	}
	set("headers", headers)
	var body sobek.Value = sobek.Null()
	switch {
	case res.Type == loadhttp.ResponseNone || res.Status == 0 && res.Body == nil:
	case res.Type == loadhttp.ResponseBinary:
		body = rt.ToValue(rt.NewArrayBuffer(res.Body))
	default:
		body = rt.ToValue(string(res.Body))
	}
	set("body", body)
	t := res.Timings
	set("timings", map[string]any{"blocked": t.Blocked, "connecting": t.Connecting, "tls_handshaking": t.TLSHandshaking,
		"sending": t.Sending, "waiting": t.Waiting, "receiving": t.Receiving, "duration": t.Duration})
	cookies := rt.NewObject()
	for name, cs := range res.Cookies {
		arr := make([]any, len(cs))
		for i, c := range cs {
			arr[i] = map[string]any{"name": c.Name, "value": c.Value, "domain": c.Domain, "path": c.Path,
				"http_only": c.HTTPOnly, "secure": c.Secure, "max_age": c.MaxAge, "expires": c.Expires}
		}
		_ = cookies.Set(name, arr)
	}
	set("cookies", cookies)
	set("error", res.Error)
	set("error_code", res.ErrorCode)
	set("remote_ip", res.RemoteIP)
	set("remote_port", res.RemotePort)
	set("tls_version", res.TLSVersion)
	set("tls_cipher_suite", res.TLSCipherSuite)
	set("ocsp", map[string]any{"status": "", "produced_at": 0, "this_update": 0, "next_update": 0, "revocation_reason": "", "revoked_at": 0})
	reqHeaders := rt.NewObject()
	for k, vs := range res.Request.Headers {
		_ = reqHeaders.Set(k, vs)
	}
	reqCookies := rt.NewObject()
	for name, cs := range res.Request.Cookies {
		arr := make([]any, len(cs))
		for i, c := range cs {
			arr[i] = map[string]any{"name": c.Name, "value": c.Value, "replace": c.Replace}
		}
		_ = reqCookies.Set(name, arr)
	}
	set("request", map[string]any{"method": res.Request.Method, "url": res.Request.URL, "headers": reqHeaders,
		"body": string(res.Request.Body), "cookies": reqCookies})
	set("json", func(c sobek.FunctionCall) sobek.Value { return m.jsonOf(rt, res, c.Argument(0)) })
	set("html", func(sobek.FunctionCall) sobek.Value {
		script.Throw(m.vu, "response.html() is not supported by hubcap (no HTML parser); use response.body with a regular expression or k6-utils' findBetween")
		return nil
	})
	for _, name := range []string{"submitForm", "clickLink"} {
		set(name, func(sobek.FunctionCall) sobek.Value {
			script.Throw(m.vu, "response."+name+"() is not supported by hubcap")
			return nil
		})
	}
	return o
}

// jsonOf is response.json([selector]).
func (m *ModuleInstance) jsonOf(rt *sobek.Runtime, res *loadhttp.Response, selector sobek.Value) sobek.Value {
	if res.Type == loadhttp.ResponseNone || res.Body == nil {
		script.Throw(m.vu, "cannot parse the response body as JSON: the body is empty (responseType none or discardResponseBodies?)")
	}
	parse, _ := sobek.AssertFunction(rt.Get("JSON").ToObject(rt).Get("parse"))
	v, err := parse(sobek.Undefined(), rt.ToValue(string(res.Body)))
	if err != nil {
		script.Throw(m.vu, "cannot parse the response body as JSON: "+err.Error())
	}
	if selector == nil || sobek.IsUndefined(selector) || selector.String() == "" {
		return v
	}
	return selectPath(rt, v, selector.String())
}

// selectPath follows a dotted path (a.b.0.c; # is an array's length), the
// common subset of the selectors k6 accepts in json().
func selectPath(rt *sobek.Runtime, v sobek.Value, path string) sobek.Value {
	for _, part := range strings.Split(path, ".") {
		o, ok := v.(*sobek.Object)
		if !ok {
			return sobek.Undefined()
		}
		if part == "#" && o.ClassName() == "Array" {
			return o.Get("length")
		}
		v = o.Get(part)
		if v == nil {
			return sobek.Undefined()
		}
	}
	return v
}

// file is http.file(data, filename, contentType).
func (m *ModuleInstance) file(c sobek.FunctionCall) sobek.Value {
	rt := m.vu.Runtime()
	o := rt.NewObject()
	data := c.Argument(0)
	name := c.Argument(1)
	ct := c.Argument(2)
	_ = o.Set("data", data)
	if sobek.IsUndefined(name) {
		_ = o.Set("filename", fmt.Sprintf("%d", time.Now().UnixNano()))
	} else {
		_ = o.Set("filename", name.String())
	}
	if sobek.IsUndefined(ct) {
		_ = o.Set("content_type", "application/octet-stream")
	} else {
		_ = o.Set("content_type", ct.String())
	}
	_ = o.DefineDataProperty("__k6file", rt.ToValue(true), sobek.FLAG_FALSE, sobek.FLAG_FALSE, sobek.FLAG_FALSE)
	return o
}

// url is the tagged template http.url`...${x}...`: the URL with the
// values, named by the template with ${} placeholders.
func (m *ModuleInstance) url(c sobek.FunctionCall) sobek.Value {
	rt := m.vu.Runtime()
	parts := c.Argument(0).ToObject(rt)
	n := int(parts.Get("length").ToInteger())
	var u, name strings.Builder
	for i := 0; i < n; i++ {
		s := parts.Get(strconv.Itoa(i)).String()
		u.WriteString(s)
		name.WriteString(s)
		if i+1 < n {
			u.WriteString(c.Argument(i + 1).String())
			name.WriteString("${}")
		}
	}
	o := rt.NewObject()
	_ = o.Set("url", u.String())
	_ = o.Set("name", name.String())
	_ = o.DefineDataProperty("__k6url", rt.ToValue(true), sobek.FLAG_FALSE, sobek.FLAG_FALSE, sobek.FLAG_FALSE)
	us := u.String()
	_ = o.Set("toString", func() string { return us })
	return o
}

// expectedStatuses is http.expectedStatuses(200, {min: 300, max: 399}).
func (m *ModuleInstance) expectedStatuses(c sobek.FunctionCall) sobek.Value {
	rt := m.vu.Runtime()
	e := &loadhttp.ExpectedStatuses{}
	for i, a := range c.Arguments {
		if o, ok := a.(*sobek.Object); ok {
			lo, hi := o.Get("min"), o.Get("max")
			if lo == nil || hi == nil || sobek.IsUndefined(lo) || sobek.IsUndefined(hi) {
				script.Throw(m.vu, fmt.Sprintf("expectedStatuses: argument %d: want a status code or {min, max}", i+1))
			}
			e.Ranges = append(e.Ranges, [2]int{int(lo.ToInteger()), int(hi.ToInteger())})
			continue
		}
		f := a.ToFloat()
		if f != math.Trunc(f) || f < 100 || f > 599 {
			script.Throw(m.vu, fmt.Sprintf("expectedStatuses: argument %d (%s) is not a status code", i+1, a.String()))
		}
		e.Codes = append(e.Codes, int(f))
	}
	return rt.ToValue(e)
}

// setResponseCallback sets the VU's response callback (null: none).
func (m *ModuleInstance) setResponseCallback(v sobek.Value) {
	if v == nil || sobek.IsUndefined(v) || sobek.IsNull(v) {
		m.expected = nil
		return
	}
	e, ok := v.Export().(*loadhttp.ExpectedStatuses)
	if !ok {
		script.Throw(m.vu, "setResponseCallback: want http.expectedStatuses(...) or null (custom functions are not supported, as in k6)")
	}
	m.expected = e
}

// batch is http.batch(requests): an array or an object of requests, each a
// URL, [method, url, body, params] or {method, url, body, params}.
func (m *ModuleInstance) batch(reqsV sobek.Value) sobek.Value {
	rt := m.vu.Runtime()
	if m.vu.InInit() {
		script.Throw(m.vu, "making HTTP requests in the init context is not supported")
	}
	obj, ok := reqsV.(*sobek.Object)
	if !ok {
		script.Throw(m.vu, "http.batch() needs an array or an object of requests")
	}
	isArray := obj.ClassName() == "Array"
	keys := obj.Keys()
	reqs := make([]*loadhttp.Request, len(keys))
	for i, k := range keys {
		reqs[i] = m.batchItem(rt, obj.Get(k))
	}
	client := m.clientFor()
	ctx := m.vu.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	res, err := client.Batch(ctx, reqs, m.emitter())
	for _, r := range res {
		m.afterRequest(r, nil)
	}
	if err != nil {
		script.Throw(m.vu, err.Error())
	}
	if isArray {
		arr := make([]any, len(res))
		for i, r := range res {
			arr[i] = m.responseObject(rt, r)
		}
		return rt.ToValue(arr)
	}
	out := rt.NewObject()
	for i, k := range keys {
		_ = out.Set(k, m.responseObject(rt, res[i]))
	}
	return out
}

func (m *ModuleInstance) batchItem(rt *sobek.Runtime, v sobek.Value) *loadhttp.Request {
	o, ok := v.(*sobek.Object)
	if !ok {
		return m.parseRequest("GET", v, nil, nil)
	}
	if mark := o.Get("__k6url"); mark != nil && mark.ToBoolean() {
		return m.parseRequest("GET", v, nil, nil)
	}
	if o.ClassName() == "Array" {
		get := func(i int) sobek.Value {
			x := o.Get(strconv.Itoa(i))
			if x == nil {
				return sobek.Undefined()
			}
			return x
		}
		return m.parseRequest(get(0).String(), get(1), get(2), get(3))
	}
	method := "GET"
	if mv := o.Get("method"); mv != nil && !sobek.IsUndefined(mv) {
		method = mv.String()
	}
	return m.parseRequest(method, o.Get("url"), o.Get("body"), o.Get("params"))
}
