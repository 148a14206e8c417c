package loadhttp

import (
	"bytes"
	"crypto/md5" //nolint:gosec // HTTP digest authentication is defined on MD5
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/textproto"
	"net/url"
	"sort"
	"strings"
	"time"
)

// Jar is a cookie jar (k6's http.CookieJar).
type Jar struct{ jar *cookiejar.Jar }

// NewJar returns an empty jar.
func NewJar() *Jar {
	j, _ := cookiejar.New(nil) // never fails without options
	return &Jar{jar: j}
}

// CookiesForURL returns the values of the cookies the jar would send to
// rawURL, by name.
func (j *Jar) CookiesForURL(rawURL string) (map[string][]string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for _, c := range j.jar.Cookies(u) {
		out[c.Name] = append(out[c.Name], c.Value)
	}
	return out, nil
}

// SetOptions are the options of jar.set(url, name, value, options).
type SetOptions struct {
	Domain, Path     string
	Expires          time.Time
	MaxAge           int
	Secure, HTTPOnly bool
}

// Set stores a cookie for rawURL.
func (j *Jar) Set(rawURL, name, value string, o SetOptions) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return err
	}
	c := &http.Cookie{Name: name, Value: value, Domain: o.Domain, Path: o.Path, Expires: o.Expires,
		MaxAge: o.MaxAge, Secure: o.Secure, HttpOnly: o.HTTPOnly}
	j.jar.SetCookies(u, []*http.Cookie{c})
	return nil
}

// Delete removes the cookie name the jar holds for rawURL.
func (j *Jar) Delete(rawURL, name string) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return err
	}
	j.expire(u, func(c *http.Cookie) bool { return c.Name == name })
	return nil
}

// Clear removes every cookie the jar holds for rawURL.
func (j *Jar) Clear(rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return err
	}
	j.expire(u, func(*http.Cookie) bool { return true })
	return nil
}

// expire deletes matching cookies: the jar forgets a cookie set again with
// a negative Max-Age, for each path and domain it may be stored under.
func (j *Jar) expire(u *url.URL, match func(*http.Cookie) bool) {
	var gone []*http.Cookie
	for _, c := range j.jar.Cookies(u) {
		if !match(c) {
			continue
		}
		for _, p := range pathPrefixes(u.Path) {
			gone = append(gone, &http.Cookie{Name: c.Name, Path: p, MaxAge: -1},
				&http.Cookie{Name: c.Name, Path: p, Domain: u.Hostname(), MaxAge: -1})
		}
	}
	if len(gone) > 0 {
		j.jar.SetCookies(u, gone)
	}
}

func pathPrefixes(p string) []string {
	out := []string{"/"}
	if p == "" {
		return out
	}
	parts := strings.Split(strings.Trim(p, "/"), "/")
	cur := ""
	for _, s := range parts {
		if s == "" {
			continue
		}
		cur += "/" + s
		out = append(out, cur)
	}
	return out
}

// applyCookies writes the Cookie header from the jar and the request's own
// cookies and returns what was sent, by name.
func applyCookies(r *http.Request, jar *Jar, own []RequestCookie) map[string][]RequestCookie {
	sent := map[string][]RequestCookie{}
	replaced := map[string]bool{}
	for _, c := range own {
		if c.Replace {
			replaced[c.Name] = true
		}
	}
	var pairs []string
	if jar != nil {
		for _, c := range jar.jar.Cookies(r.URL) {
			if replaced[c.Name] {
				continue
			}
			pairs = append(pairs, c.Name+"="+c.Value)
			sent[c.Name] = append(sent[c.Name], RequestCookie{Name: c.Name, Value: c.Value})
		}
	}
	for _, c := range own {
		pairs = append(pairs, c.Name+"="+c.Value)
		sent[c.Name] = append(sent[c.Name], c)
	}
	if len(pairs) > 0 {
		if old := r.Header.Get("Cookie"); old != "" {
			pairs = append([]string{old}, pairs...)
		}
		r.Header.Set("Cookie", strings.Join(pairs, "; "))
	}
	return sent
}

func fromHTTPCookie(c *http.Cookie) Cookie {
	out := Cookie{Name: c.Name, Value: c.Value, Domain: c.Domain, Path: c.Path, HTTPOnly: c.HttpOnly,
		Secure: c.Secure, MaxAge: c.MaxAge}
	if !c.Expires.IsZero() {
		out.Expires = c.Expires.UnixMilli()
	}
	return out
}

// digestAuthorization answers an RFC 7616 Digest challenge (MD5, qop=auth
// or none) with the URL's credentials.
func digestAuthorization(challenge, method string, u *url.URL, uri string) (string, bool) {
	scheme, rest, ok := strings.Cut(strings.TrimSpace(challenge), " ")
	if !ok || !strings.EqualFold(scheme, "Digest") {
		return "", false
	}
	p := parseAuthParams(rest)
	if alg := p["algorithm"]; alg != "" && !strings.EqualFold(alg, "MD5") {
		return "", false
	}
	user := u.User.Username()
	pass, _ := u.User.Password()
	h := func(s string) string {
		sum := md5.Sum([]byte(s)) //nolint:gosec // digest auth
		return hex.EncodeToString(sum[:])
	}
	ha1 := h(user + ":" + p["realm"] + ":" + pass)
	ha2 := h(method + ":" + uri)
	var b [8]byte
	_, _ = rand.Read(b[:])
	cnonce := hex.EncodeToString(b[:])
	nc := "00000001"
	qop := ""
	for _, q := range strings.Split(p["qop"], ",") {
		if strings.TrimSpace(q) == "auth" {
			qop = "auth"
		}
	}
	var resp string
	if qop == "auth" {
		resp = h(ha1 + ":" + p["nonce"] + ":" + nc + ":" + cnonce + ":" + qop + ":" + ha2)
	} else {
		resp = h(ha1 + ":" + p["nonce"] + ":" + ha2)
	}
	s := fmt.Sprintf(`Digest username="%s", realm="%s", nonce="%s", uri="%s", response="%s"`, user, p["realm"], p["nonce"], uri, resp)
	if p["opaque"] != "" {
		s += fmt.Sprintf(`, opaque="%s"`, p["opaque"])
	}
	if qop != "" {
		s += fmt.Sprintf(`, qop=%s, nc=%s, cnonce="%s"`, qop, nc, cnonce)
	}
	if p["algorithm"] != "" {
		s += ", algorithm=" + p["algorithm"]
	}
	return s, true
}

// parseAuthParams reads key=value and key="quoted value" pairs.
func parseAuthParams(s string) map[string]string {
	out := map[string]string{}
	for len(s) > 0 {
		s = strings.TrimLeft(s, " ,")
		eq := strings.IndexByte(s, '=')
		if eq < 0 {
			break
		}
		key := strings.ToLower(strings.TrimSpace(s[:eq]))
		s = s[eq+1:]
		var val string
		if strings.HasPrefix(s, `"`) {
			end := strings.IndexByte(s[1:], '"')
			if end < 0 {
				val, s = s[1:], ""
			} else {
				val, s = s[1:1+end], s[2+end:]
			}
		} else {
			end := strings.IndexByte(s, ',')
			if end < 0 {
				val, s = s, ""
			} else {
				val, s = s[:end], s[end:]
			}
		}
		out[key] = strings.TrimSpace(val)
	}
	return out
}

// FormField is one field of a form body: a value or a file.
type FormField struct {
	Name        string
	Value       string
	File        bool
	Data        []byte
	Filename    string
	ContentType string
}

// EncodeForm encodes fields as application/x-www-form-urlencoded (no
// files) or multipart/form-data, returning the body and its content type.
// Fields are sorted by name for a stable body.
func EncodeForm(fields []FormField) ([]byte, string, error) {
	sort.SliceStable(fields, func(i, j int) bool { return fields[i].Name < fields[j].Name })
	hasFile := false
	for _, f := range fields {
		hasFile = hasFile || f.File
	}
	if !hasFile {
		v := url.Values{}
		for _, f := range fields {
			v.Add(f.Name, f.Value)
		}
		return []byte(v.Encode()), "application/x-www-form-urlencoded", nil
	}
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for _, f := range fields {
		if !f.File {
			if err := w.WriteField(f.Name, f.Value); err != nil {
				return nil, "", err
			}
			continue
		}
		h := textproto.MIMEHeader{}
		name := f.Filename
		if name == "" {
			name = f.Name
		}
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="%s"; filename="%s"`, escapeQuotes(f.Name), escapeQuotes(name)))
		ct := f.ContentType
		if ct == "" {
			ct = "application/octet-stream"
		}
		h.Set("Content-Type", ct)
		pw, err := w.CreatePart(h)
		if err != nil {
			return nil, "", err
		}
		if _, err := pw.Write(f.Data); err != nil {
			return nil, "", err
		}
	}
	if err := w.Close(); err != nil {
		return nil, "", err
	}
	return buf.Bytes(), w.FormDataContentType(), nil
}

var quoteEscaper = strings.NewReplacer("\\", "\\\\", `"`, "\\\"")

func escapeQuotes(s string) string { return quoteEscaper.Replace(s) }
