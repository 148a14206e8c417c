package attendee

import (
	"html"
	"net/url"
	"regexp"
	"strings"
)

// Small, bounded HTML scraping for the hub's own pages (login.html,
// spawn.html, spawn_pending.html). No HTML parser is in go.mod; these
// regular expressions read tags and attributes only, never run scripts.

var (
	reFormBlock = regexp.MustCompile(`(?is)<form\b([^>]*)>(.*?)</form\s*>`)
	reInputTag  = regexp.MustCompile(`(?is)<input\b([^>]*)>`)
	reSelect    = regexp.MustCompile(`(?is)<select\b([^>]*)>(.*?)</select\s*>`)
	reOption    = regexp.MustCompile(`(?is)<option\b([^>]*)>`)
	reTextarea  = regexp.MustCompile(`(?is)<textarea\b([^>]*)>(.*?)</textarea\s*>`)
	reAttr      = regexp.MustCompile(`(?is)([a-zA-Z_:][-a-zA-Z0-9_:.]*)\s*(?:=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>` + "`" + `]+)))?`)
)

// maxScrape bounds how much of a page the scrapers look at.
const maxScrape = 1 << 20

func clip(page string) string {
	if len(page) > maxScrape {
		return page[:maxScrape]
	}
	return page
}

// attrs parses a tag's attribute text into lower-case names and unescaped
// values (a bare attribute has value "").
func attrs(s string) map[string]string {
	m := map[string]string{}
	for _, a := range reAttr.FindAllStringSubmatch(s, 64) {
		name := strings.ToLower(a[1])
		if _, seen := m[name]; seen {
			continue // the first occurrence wins, as in browsers
		}
		v := a[2] + a[3] + a[4]
		m[name] = html.UnescapeString(v)
	}
	return m
}

// Form is a scraped HTML form.
type Form struct {
	Action string // unescaped, possibly relative; "" means the page URL
	Method string // lower case, default "get"
	ID     string
	Fields url.Values
}

// ParseForms returns the forms of a page with the values a browser would
// submit without user input: hidden/text/password/email/number inputs,
// checked checkboxes and radios, the selected (else first) option of each
// select, and textareas.
func ParseForms(page string) []Form {
	page = clip(page)
	var forms []Form
	for _, m := range reFormBlock.FindAllStringSubmatch(page, 32) {
		a := attrs(m[1])
		f := Form{Action: a["action"], Method: strings.ToLower(a["method"]), ID: a["id"], Fields: url.Values{}}
		if f.Method == "" {
			f.Method = "get"
		}
		body := m[2]
		for _, in := range reInputTag.FindAllStringSubmatch(body, 256) {
			ia := attrs(in[1])
			name, ok := ia["name"]
			if !ok || name == "" {
				continue
			}
			if _, disabled := ia["disabled"]; disabled {
				continue
			}
			switch strings.ToLower(ia["type"]) {
			case "checkbox", "radio":
				if _, checked := ia["checked"]; checked {
					v, ok := ia["value"]
					if !ok {
						v = "on"
					}
					if strings.ToLower(ia["type"]) == "radio" {
						f.Fields.Set(name, v)
					} else {
						f.Fields.Add(name, v)
					}
				}
			case "submit", "button", "image", "reset", "file":
			default:
				f.Fields.Add(name, ia["value"])
			}
		}
		for _, sel := range reSelect.FindAllStringSubmatch(body, 64) {
			sa := attrs(sel[1])
			name := sa["name"]
			if name == "" {
				continue
			}
			var first, chosen *string
			for _, op := range reOption.FindAllStringSubmatch(sel[2], 256) {
				oa := attrs(op[1])
				v := oa["value"]
				if first == nil {
					first = &v
				}
				if _, s := oa["selected"]; s && chosen == nil {
					chosen = &v
				}
			}
			switch {
			case chosen != nil:
				f.Fields.Set(name, *chosen)
			case first != nil:
				f.Fields.Set(name, *first)
			}
		}
		for _, ta := range reTextarea.FindAllStringSubmatch(body, 64) {
			if name := attrs(ta[1])["name"]; name != "" {
				f.Fields.Add(name, html.UnescapeString(ta[2]))
			}
		}
		forms = append(forms, f)
	}
	return forms
}

// LoginForm finds the login form of a hub login page: the POST form whose
// action mentions "login" (else the first POST form). ok is false when the
// page has none (e.g. an external authenticator's "Sign in with…" button).
func LoginForm(page string) (f Form, ok bool) {
	forms := ParseForms(page)
	for _, f := range forms {
		if f.Method == "post" && strings.Contains(f.Action, "login") {
			return f, true
		}
	}
	for _, f := range forms {
		if f.Method == "post" {
			return f, true
		}
	}
	return Form{}, false
}

// SpawnForm finds the spawn options form (id "spawn_form" in spawn.html).
func SpawnForm(page string) (f Form, ok bool) {
	for _, f := range ParseForms(page) {
		if f.ID == "spawn_form" {
			return f, true
		}
	}
	return Form{}, false
}

var reProgressURL = regexp.MustCompile(`(?s)new\s+EventSource\(\s*["']([^"']+)["']`)

// ProgressURL finds the progress event-stream URL a spawn-pending page
// gives its script (4.1 … 6.x: `new EventSource("{{ progress_url }}")`,
// HTML-escaped, with ?_xsrf= since 4.1), unescaped.
func ProgressURL(page string) (string, bool) {
	m := reProgressURL.FindStringSubmatch(clip(page))
	if m == nil {
		return "", false
	}
	return html.UnescapeString(unescapeJS(m[1])), true
}

// unescapeJS undoes the \/ and \u0026 escapes of a JS string literal.
func unescapeJS(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	return strings.NewReplacer(`\/`, `/`, `\u0026`, `&`, `\u003d`, `=`, `\u003f`, `?`).Replace(s)
}
