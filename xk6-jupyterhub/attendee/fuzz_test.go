package attendee

import (
	"net/url"
	"strings"
	"testing"
)

func FuzzParseForms(f *testing.F) {
	f.Add(loginPage("2|a|b"))
	f.Add(`<form id="spawn_form" action="/x?_xsrf=1&amp;y" method="post"><select name=s><option value=a selected></select><input type=radio name=r checked></form>`)
	f.Add(`<form><input name='a' value="x&quot;y"><textarea name=t>&lt;</textarea></form>`)
	f.Add(`<form action=<<<><input name=`)
	f.Fuzz(func(t *testing.T, page string) {
		for _, form := range ParseForms(page) {
			if form.Method != strings.ToLower(form.Method) {
				t.Fatalf("method %q not lower case", form.Method)
			}
			// what is scraped must survive form encoding
			enc := form.Fields.Encode()
			back, err := url.ParseQuery(enc)
			if err != nil || len(back) != len(form.Fields) {
				t.Fatalf("fields do not round-trip: %v", err)
			}
		}
		_, _ = LoginForm(page)
		_, _ = SpawnForm(page)
	})
}

func FuzzProgressURL(f *testing.F) {
	f.Add(`new EventSource("/hub/api/users/a/server/progress?_xsrf=x&amp;y")`)
	f.Add(`new EventSource('\/hub\/api\u0026')`)
	f.Fuzz(func(t *testing.T, page string) {
		u, ok := ProgressURL(page)
		if ok && u == "" && !strings.Contains(page, `EventSource("")`) && !strings.Contains(page, `EventSource('')`) {
			t.Fatalf("empty URL reported found")
		}
	})
}
