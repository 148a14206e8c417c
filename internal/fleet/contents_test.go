package fleet

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// contentsModel is the subset of jupyter_server's contents model the tests read.
type contentsModel struct {
	Name         string          `json:"name"`
	Path         string          `json:"path"`
	Type         string          `json:"type"`
	Format       *string         `json:"format"`
	Mimetype     *string         `json:"mimetype"`
	Content      json.RawMessage `json:"content"`
	Writable     bool            `json:"writable"`
	Created      string          `json:"created"`
	LastModified string          `json:"last_modified"`
	Size         *int            `json:"size"`
}

func TestContents(t *testing.T) {
	f := newTestFleet(t, Config{})
	f.put("alice", "s1")
	f.put("bob", "")
	f.hub.addUser("ta", "alice")
	f.hub.addUser("tb", "bob")
	base := "/user/alice/s1/api/contents"

	// the root lists the default files; directories have no size
	var root contentsModel
	resp := f.do("GET", base, "ta", nil)
	wantStatus(t, resp, http.StatusOK)
	decodeJSON(t, resp, &root)
	if root.Type != "directory" || root.Size != nil || *root.Format != "json" {
		t.Fatalf("root model %+v", root)
	}
	var kids []contentsModel
	json.Unmarshal(root.Content, &kids)
	names := []string{}
	for _, k := range kids {
		names = append(names, k.Name)
		if string(k.Content) != "null" {
			t.Errorf("listing entry %s carries content", k.Name)
		}
	}
	if strings.Join(names, ",") != "README.md,data,workshop.ipynb" {
		t.Fatalf("root lists %v", names)
	}

	// a notebook with content
	var nb contentsModel
	resp = f.do("GET", base+"/workshop.ipynb", "ta", nil)
	wantStatus(t, resp, http.StatusOK)
	decodeJSON(t, resp, &nb)
	var doc struct {
		Cells    []any `json:"cells"`
		Nbformat int   `json:"nbformat"`
	}
	if err := json.Unmarshal(nb.Content, &doc); err != nil || doc.Nbformat != 4 || len(doc.Cells) == 0 || nb.Type != "notebook" {
		t.Fatalf("notebook model %+v (%v)", nb, err)
	}
	if !strings.HasSuffix(nb.LastModified, "Z") || len(nb.LastModified) != len("2025-01-01T09:00:00.000000Z") {
		t.Errorf("last_modified %q is not jupyter_server's isoformat", nb.LastModified)
	}

	// content=0 leaves it out; a text file has a mimetype
	var md contentsModel
	resp = f.do("GET", base+"/README.md?content=0", "ta", nil)
	decodeJSON(t, resp, &md)
	if string(md.Content) != "null" || md.Mimetype == nil || *md.Mimetype != "text/markdown" {
		t.Errorf("README.md?content=0: %+v", md)
	}
	resp = f.do("GET", base+"/data/measurements.csv", "ta", nil)
	var csv contentsModel
	decodeJSON(t, resp, &csv)
	if *csv.Format != "text" || !strings.Contains(string(csv.Content), "t,value") {
		t.Errorf("csv: %+v", csv)
	}

	// POST creates Untitled.ipynb, then Untitled1.ipynb
	for _, want := range []string{"Untitled.ipynb", "Untitled1.ipynb"} {
		var m contentsModel
		resp = f.do("POST", base, "ta", map[string]string{"type": "notebook"})
		wantStatus(t, resp, http.StatusCreated)
		if loc := resp.Header.Get("Location"); loc != "/user/alice/s1/api/contents/"+want {
			t.Errorf("Location %q", loc)
		}
		decodeJSON(t, resp, &m)
		if m.Path != want || m.Type != "notebook" {
			t.Errorf("POST created %+v, want %s", m, want)
		}
	}

	// PUT saves a notebook (200, existing) and uploads a new file (201)
	saved := map[string]any{"type": "notebook", "format": "json", "content": map[string]any{
		"cells":    []any{map[string]any{"cell_type": "code", "source": "print(1)", "metadata": map[string]any{}, "outputs": []any{}, "execution_count": nil}},
		"metadata": map[string]any{}, "nbformat": 4, "nbformat_minor": 5}}
	resp = f.do("PUT", base+"/Untitled.ipynb", "ta", saved)
	wantStatus(t, resp, http.StatusOK)
	resp.Body.Close()
	resp = f.do("GET", base+"/Untitled.ipynb", "ta", nil)
	decodeJSON(t, resp, &nb)
	if !strings.Contains(string(nb.Content), "print(1)") {
		t.Errorf("saved notebook reads back as %s", nb.Content)
	}
	resp = f.do("PUT", base+"/data/notes.txt", "ta", map[string]any{"type": "file", "format": "text", "content": "hello"})
	wantStatus(t, resp, http.StatusCreated)
	resp.Body.Close()
	resp = f.do("PUT", base+"/nodir/notes.txt", "ta", map[string]any{"type": "file", "format": "text", "content": "x"})
	wantStatus(t, resp, http.StatusNotFound)
	resp.Body.Close()

	// another server still has only the defaults (copy on write)
	resp = f.do("GET", "/user/bob/api/contents", "tb", nil)
	decodeJSON(t, resp, &root)
	json.Unmarshal(root.Content, &kids)
	if len(kids) != 3 {
		t.Errorf("bob's server sees %d files, want the 3 defaults", len(kids))
	}

	// rename, delete, missing files, hidden files
	resp = f.do("PATCH", base+"/Untitled1.ipynb", "ta", map[string]string{"path": "renamed.ipynb"})
	wantStatus(t, resp, http.StatusOK)
	resp.Body.Close()
	resp = f.do("DELETE", base+"/renamed.ipynb", "ta", nil)
	wantStatus(t, resp, http.StatusNoContent)
	resp.Body.Close()
	resp = f.do("DELETE", base+"/data", "ta", nil)
	wantStatus(t, resp, http.StatusBadRequest) // not empty
	resp.Body.Close()
	for _, p := range []string{"/renamed.ipynb", "/.hidden", "/../etc/passwd", "/data/%2e%2e/README.md"} {
		resp = f.do("GET", base+p, "ta", nil)
		wantStatus(t, resp, http.StatusNotFound)
		resp.Body.Close()
	}
	resp = f.do("GET", base+"/README.md?format=xml", "ta", nil)
	wantStatus(t, resp, http.StatusBadRequest)
	resp.Body.Close()

	// checkpoints
	resp = f.do("POST", base+"/Untitled.ipynb/checkpoints", "ta", nil)
	wantStatus(t, resp, http.StatusCreated)
	resp.Body.Close()
	var cps []map[string]string
	resp = f.do("GET", base+"/Untitled.ipynb/checkpoints", "ta", nil)
	decodeJSON(t, resp, &cps)
	if len(cps) != 1 || cps[0]["id"] != "checkpoint" {
		t.Errorf("checkpoints %v", cps)
	}
}

func TestContentsLimits(t *testing.T) {
	// room for two 700-byte files beside the defaults
	f := newTestFleet(t, Config{MaxBodyBytes: 1000, MaxContentsBytes: defaultFS.bytes + 1500})
	f.put("alice", "")
	f.hub.addUser("t", "alice")
	big := strings.Repeat("x", 2000)
	resp := f.do("PUT", "/user/alice/api/contents/big.txt", "t", map[string]any{"type": "file", "format": "text", "content": big})
	wantStatus(t, resp, http.StatusRequestEntityTooLarge)
	resp.Body.Close()
	chunk := strings.Repeat("x", 700)
	for i, want := range []int{201, 201, 413} {
		resp = f.do("PUT", "/user/alice/api/contents/f"+string(rune('0'+i))+".txt", "t", map[string]any{"type": "file", "format": "text", "content": chunk})
		wantStatus(t, resp, want)
		resp.Body.Close()
	}
}

func TestSessionsAndKernels(t *testing.T) {
	f := newTestFleet(t, Config{MaxKernelsPerServer: 2})
	f.put("alice", "s1")
	f.hub.addUser("t", "alice")
	base := "/user/alice/s1/api/"

	var ks map[string]any
	resp := f.do("GET", base+"kernelspecs", "t", nil)
	decodeJSON(t, resp, &ks)
	if ks["default"] != "python3" {
		t.Fatalf("kernelspecs %v", ks)
	}

	type sessionModel struct {
		ID     string         `json:"id"`
		Path   string         `json:"path"`
		Type   string         `json:"type"`
		Kernel map[string]any `json:"kernel"`
	}
	var se sessionModel
	resp = f.do("POST", base+"sessions", "t", map[string]any{"path": "workshop.ipynb", "type": "notebook", "name": "", "kernel": map[string]string{"name": "python3"}})
	wantStatus(t, resp, http.StatusCreated)
	decodeJSON(t, resp, &se)
	kid, _ := se.Kernel["id"].(string)
	if se.ID == "" || kid == "" || se.Kernel["name"] != "python3" || se.Kernel["execution_state"] != "idle" {
		t.Fatalf("session %+v", se)
	}
	// the same path gives the same session
	var again sessionModel
	resp = f.do("POST", base+"sessions", "t", map[string]any{"path": "workshop.ipynb", "type": "notebook", "kernel": map[string]string{"name": "python3"}})
	wantStatus(t, resp, http.StatusCreated)
	decodeJSON(t, resp, &again)
	if again.ID != se.ID {
		t.Errorf("second POST for the same path made a new session")
	}
	resp = f.do("POST", base+"sessions", "t", map[string]any{"type": "notebook"})
	wantStatus(t, resp, http.StatusBadRequest)
	resp.Body.Close()
	resp = f.do("POST", base+"sessions", "t", map[string]any{"path": "x.ipynb", "type": "notebook", "kernel": map[string]string{"name": "julia"}})
	wantStatus(t, resp, http.StatusNotImplemented)
	resp.Body.Close()

	// kernels: a second one fits, a third is over the limit
	resp = f.do("POST", base+"kernels", "t", map[string]string{"name": "python3"})
	wantStatus(t, resp, http.StatusCreated)
	var k2 map[string]any
	decodeJSON(t, resp, &k2)
	resp = f.do("POST", base+"kernels", "t", nil)
	wantStatus(t, resp, http.StatusServiceUnavailable)
	resp.Body.Close()
	var list []map[string]any
	resp = f.do("GET", base+"kernels", "t", nil)
	decodeJSON(t, resp, &list)
	if len(list) != 2 {
		t.Fatalf("%d kernels listed, want 2", len(list))
	}
	resp = f.do("POST", base+"kernels/"+kid+"/interrupt", "t", nil)
	wantStatus(t, resp, http.StatusNoContent)
	resp.Body.Close()
	resp = f.do("POST", base+"kernels/"+kid+"/restart", "t", nil)
	wantStatus(t, resp, http.StatusOK)
	resp.Body.Close()
	resp = f.do("DELETE", base+"kernels/"+k2["id"].(string), "t", nil)
	wantStatus(t, resp, http.StatusNoContent)
	resp.Body.Close()
	resp = f.do("GET", base+"kernels/"+k2["id"].(string), "t", nil)
	wantStatus(t, resp, http.StatusNotFound)
	resp.Body.Close()

	// deleting the session shuts its kernel down
	resp = f.do("DELETE", base+"sessions/"+se.ID, "t", nil)
	wantStatus(t, resp, http.StatusNoContent)
	resp.Body.Close()
	resp = f.do("GET", base+"kernels", "t", nil)
	decodeJSON(t, resp, &list)
	if len(list) != 0 {
		t.Fatalf("%d kernels after deleting the session, want 0", len(list))
	}
	var st map[string]any
	resp = f.do("GET", base+"status", "t", nil)
	decodeJSON(t, resp, &st)
	if st["kernels"] != float64(0) {
		t.Errorf("status %v", st)
	}
}
