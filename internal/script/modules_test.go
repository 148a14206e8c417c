package script

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCommonJS: CommonJS files work with import and require().
func TestCommonJS(t *testing.T) {
	allChecksPass(t, runScript(t, "commonjs.js", nil))
}

// TestRemoteModules: a remote module is fetched when reachable and cached;
// the cache and the vendored directory serve it offline; unreachable and
// not vendored is a script error naming where to put the file.
func TestRemoteModules(t *testing.T) {
	cache := t.TempDir()
	vendored := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", cache)
	t.Setenv("HOME", cache)
	t.Setenv(EnvModulesDir, vendored)
	var hits int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits++
		switch r.URL.Path {
		case "/lib/index.js":
			w.Write([]byte("import { two } from './two.js';\nexport const answer = 40 + two;\n"))
		case "/lib/two.js":
			w.Write([]byte("export const two = 2;\n"))
		default:
			http.NotFound(w, r)
		}
	}))
	dir := t.TempDir()
	script := filepath.Join(dir, "remote.js")
	src := `import { answer } from '` + srv.URL + `/lib/index.js';
import { uuidv4 } from 'https://jslib.k6.io/k6-utils/1.4.0/index.js';
export const options = { iterations: 1 };
export default function () {
  if (answer !== 42) throw new Error('ANSWER ' + answer);
  if (uuidv4() !== 'vendored') throw new Error('UUID');
}`
	if err := os.WriteFile(script, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	jslib := filepath.Join(vendored, "k6-utils", "1.4.0", "index.js")
	os.MkdirAll(filepath.Dir(jslib), 0o755)
	os.WriteFile(jslib, []byte("module.exports = { uuidv4: function () { return 'vendored'; } };\n"), 0o644)

	run := func() runOut {
		return runScript(t, "basic.js", func(o *Options) { o.Script = script })
	}
	r := run()
	if r.err != nil || strings.Contains(r.stderr, "ANSWER") || strings.Contains(r.stderr, "UUID") {
		t.Fatalf("online: %v\n%s", r.err, r.stderr)
	}
	if hits != 2 {
		t.Errorf("%d downloads, want 2 (the module and its relative import)", hits)
	}
	srv.Close()
	r = run()
	if r.err != nil || strings.Contains(r.stderr, "ANSWER") {
		t.Fatalf("offline from the cache: %v\n%s", r.err, r.stderr)
	}
	os.RemoveAll(cache)
	r = run()
	if ExitCode(r.err) != ExitScriptException || !strings.Contains(r.err.Error(), EnvModulesDir) {
		t.Fatalf("unreachable and not cached: exit %d, %v; want 107 naming %s", ExitCode(r.err), r.err, EnvModulesDir)
	}
}
