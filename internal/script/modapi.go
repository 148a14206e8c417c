package script

import (
	"encoding/json"
	"strings"
)

// OptionsOf returns the run's options as the script exported them (decoded
// from JSON, with the command line's overrides), for modules that read
// options such as userAgent or maxRedirects. It is empty while the first
// VU reads the options.
func OptionsOf(mv VU) map[string]any {
	v, ok := mv.(*vu)
	if !ok || v.sh == nil {
		return map[string]any{}
	}
	if p := v.sh.rawOpts.Load(); p != nil {
		return *p
	}
	out := map[string]any{}
	if v.sh.optsJS != "" {
		_ = json.Unmarshal([]byte(v.sh.optsJS), &out)
	}
	return out
}

// Log prints a k6-style log line (level debug, info, warn or error) with
// key=value fields.
func Log(mv VU, level, msg string, fields ...string) {
	v, ok := mv.(*vu)
	if !ok || v.sh == nil || v.sh.log == nil {
		return
	}
	for i, f := range fields {
		if k, val, ok := strings.Cut(f, "="); ok && strings.ContainsAny(val, " \"") {
			fields[i] = k + "=" + quoteField(val)
		}
	}
	v.sh.log.print(level, msg, fields...)
}

func quoteField(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// Throw raises a JavaScript Error with msg in vu's runtime (from Go code
// called by the script).
func Throw(mv VU, msg string) { throw(mv.Runtime(), msg) }
