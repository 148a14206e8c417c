package jshttp

import (
	"time"

	"github.com/grafana/sobek"

	"github.com/hubcap-dev/hubcap/internal/loadhttp"
	"github.com/hubcap-dev/hubcap/internal/script"
)

// cookieJar is k6's CookieJar object.
type cookieJar struct {
	m   *ModuleInstance
	jar *loadhttp.Jar
}

// CookiesForURL returns {name: [values]} for url.
func (j *cookieJar) CookiesForURL(url string) map[string][]string {
	c, err := j.jar.CookiesForURL(url)
	if err != nil {
		script.Throw(j.m.vu, "cookiesForURL: "+err.Error())
	}
	return c
}

// Set stores name=value for url; opts are domain, path, expires (a date
// string), max_age, secure and http_only.
func (j *cookieJar) Set(url, name, value string, opts sobek.Value) {
	var o loadhttp.SetOptions
	if obj, ok := opts.(*sobek.Object); ok {
		rt := j.m.vu.Runtime()
		_ = rt
		get := func(k string) sobek.Value {
			v := obj.Get(k)
			if v == nil || sobek.IsUndefined(v) || sobek.IsNull(v) {
				return nil
			}
			return v
		}
		if v := get("domain"); v != nil {
			o.Domain = v.String()
		}
		if v := get("path"); v != nil {
			o.Path = v.String()
		}
		if v := get("max_age"); v != nil {
			o.MaxAge = int(v.ToInteger())
		}
		if v := get("secure"); v != nil {
			o.Secure = v.ToBoolean()
		}
		if v := get("http_only"); v != nil {
			o.HTTPOnly = v.ToBoolean()
		}
		if v := get("expires"); v != nil {
			for _, layout := range []string{time.RFC1123, time.RFC3339, time.RFC1123Z, "Mon, 02-Jan-2006 15:04:05 MST"} {
				if t, err := time.Parse(layout, v.String()); err == nil {
					o.Expires = t
					break
				}
			}
		}
	}
	if err := j.jar.Set(url, name, value, o); err != nil {
		script.Throw(j.m.vu, "set: "+err.Error())
	}
}

// Clear removes every cookie for url.
func (j *cookieJar) Clear(url string) {
	if err := j.jar.Clear(url); err != nil {
		script.Throw(j.m.vu, "clear: "+err.Error())
	}
}

// Delete removes the cookie name for url.
func (j *cookieJar) Delete(url, name string) {
	if err := j.jar.Delete(url, name); err != nil {
		script.Throw(j.m.vu, "delete: "+err.Error())
	}
}

// cookieJar is http.cookieJar(): the VU's own jar.
func (m *ModuleInstance) cookieJar() *cookieJar {
	return &cookieJar{m: m, jar: m.jar}
}

// newCookieJar is new http.CookieJar(): an empty jar.
func (m *ModuleInstance) newCookieJar(call sobek.ConstructorCall) *sobek.Object {
	rt := m.vu.Runtime()
	return rt.ToValue(&cookieJar{m: m, jar: loadhttp.NewJar()}).ToObject(rt)
}
