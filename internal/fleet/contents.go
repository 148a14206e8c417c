package fleet

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Contents: an in-memory file tree per server, modelled on jupyter_server's
// FileContentsManager. Every server starts with the same read-only default
// tree (shared); its first write copies the map of (immutable) entries.

// entry is one file, notebook or directory. Entries are never mutated
// after creation: writes replace them.
type entry struct {
	typ      string // "notebook", "file", "directory"
	content  []byte // notebook JSON or file bytes
	created  time.Time
	modified time.Time
}

// contentsFS maps clean paths ("a/b.ipynb", no leading slash) to entries;
// the root "" is implicit.
type contentsFS struct {
	entries map[string]*entry
	bytes   int64
}

const maxEntriesPerServer = 1000

var defaultFS = func() *contentsFS {
	t := time.Date(2025, 1, 1, 9, 0, 0, 0, time.UTC)
	fs := &contentsFS{entries: map[string]*entry{}}
	add := func(p, typ, content string) {
		fs.entries[p] = &entry{typ: typ, content: []byte(content), created: t, modified: t}
		fs.bytes += int64(len(content))
	}
	add("workshop.ipynb", "notebook", workshopNotebook)
	add("README.md", "file", "# Workshop\n\nOpen `workshop.ipynb` and run the cells.\n")
	add("data", "directory", "")
	add("data/measurements.csv", "file", "t,value\n0,1\n1,4\n2,9\n3,16\n")
	return fs
}()

// workshopNotebook is the notebook a workshop opens: cells the tiny
// evaluator answers.
const workshopNotebook = `{
 "cells": [
  {"cell_type": "markdown", "id": "a1", "metadata": {}, "source": ["# Workshop\n", "Run each cell."]},
  {"cell_type": "code", "execution_count": null, "id": "c1", "metadata": {}, "outputs": [], "source": ["print(6 * 7)"]},
  {"cell_type": "code", "execution_count": null, "id": "c2", "metadata": {}, "outputs": [], "source": ["import time\n", "time.sleep(0.5)\n", "(1 + 2) * 3"]},
  {"cell_type": "code", "execution_count": null, "id": "c3", "metadata": {}, "outputs": [], "source": ["1 / 0"]}
 ],
 "metadata": {
  "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
  "language_info": {"name": "python", "version": "3.11.2"}
 },
 "nbformat": 4,
 "nbformat_minor": 5
}`

const emptyNotebook = `{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}`

// files returns the server's tree for reading (caller holds inst.mu).
func (inst *instance) files() *contentsFS {
	if inst.fs == nil {
		return defaultFS
	}
	return inst.fs
}

// writableFiles returns a private copy of the tree (caller holds inst.mu).
func (inst *instance) writableFiles() *contentsFS {
	if inst.fs == nil {
		fs := &contentsFS{entries: make(map[string]*entry, len(defaultFS.entries)+4), bytes: defaultFS.bytes}
		for k, v := range defaultFS.entries {
			fs.entries[k] = v
		}
		inst.fs = fs
	}
	return inst.fs
}

func (fs *contentsFS) get(p string) (*entry, bool) {
	if p == "" {
		return &entry{typ: "directory"}, true
	}
	e, ok := fs.entries[p]
	return e, ok
}

func (fs *contentsFS) children(dir string) []string {
	var out []string
	for p := range fs.entries {
		if parent(p) == dir {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

func parent(p string) string {
	i := strings.LastIndexByte(p, '/')
	if i < 0 {
		return ""
	}
	return p[:i]
}

// cleanContentsPath turns an escaped URL tail into a contents path, or
// reports it invalid (.. segments, hidden files).
func cleanContentsPath(escaped string) (string, bool) {
	p, err := url.PathUnescape(escaped)
	if err != nil || !utf8.ValidString(p) {
		return "", false
	}
	p = strings.Trim(p, "/")
	if p == "" {
		return "", true
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == "" || seg == "." || seg == ".." || strings.HasPrefix(seg, ".") {
			return "", false
		}
	}
	return p, len(p) <= 1024
}

var extraMimeTypes = map[string]string{
	".md": "text/markdown", ".csv": "text/csv", ".py": "text/x-python", ".txt": "text/plain",
	".json": "application/json", ".ipynb": "application/x-ipynb+json",
}

func guessMime(p string) string {
	ext := strings.ToLower(path.Ext(p))
	if m, ok := extraMimeTypes[ext]; ok {
		return m
	}
	if m := mime.TypeByExtension(ext); m != "" {
		m, _, _ = strings.Cut(m, ";")
		return m
	}
	return ""
}

// model builds jupyter_server's contents model for p. format "" picks the
// natural one.
func (fs *contentsFS) model(p string, e *entry, withContent bool, format string) map[string]any {
	name := p
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		name = p[i+1:]
	}
	m := map[string]any{
		"name":           name,
		"path":           p,
		"last_modified":  isoTime(e.modified),
		"created":        isoTime(e.created),
		"content":        nil,
		"format":         nil,
		"mimetype":       nil,
		"size":           len(e.content),
		"writable":       true,
		"hash":           nil,
		"hash_algorithm": nil,
		"type":           e.typ,
	}
	switch e.typ {
	case "directory":
		m["size"] = nil
		if p == "" {
			m["last_modified"], m["created"] = isoTime(defaultFS.entries["workshop.ipynb"].modified), isoTime(defaultFS.entries["workshop.ipynb"].created)
		}
		if withContent {
			kids := fs.children(p)
			list := make([]map[string]any, 0, len(kids))
			for _, k := range kids {
				list = append(list, fs.model(k, fs.entries[k], false, ""))
			}
			m["content"], m["format"] = list, "json"
		}
	case "notebook":
		if withContent {
			m["content"], m["format"] = markUntrusted(e.content), "json"
		}
	case "file":
		mt := guessMime(p)
		text := format == "text" || (format == "" && utf8.Valid(e.content))
		if withContent {
			if text {
				m["content"], m["format"] = string(e.content), "text"
			} else {
				m["content"], m["format"] = base64.StdEncoding.EncodeToString(e.content), "base64"
			}
		}
		if mt == "" {
			mt = "text/plain"
			if !text {
				mt = "application/octet-stream"
			}
		}
		m["mimetype"] = mt
	}
	return m
}

func (s *Server) writeModel(w http.ResponseWriter, inst *instance, code int, m map[string]any, location bool) {
	if location {
		w.Header().Set("Location", inst.reg.BaseURL+"api/contents/"+escapePath(m["path"].(string)))
	}
	if lm, ok := m["last_modified"].(string); ok {
		w.Header().Set("Last-Modified", lm)
	}
	writeJSON(w, code, m)
}

func escapePath(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}

// apiContents serves /api/contents[/path][/checkpoints[/id]].
func (s *Server) apiContents(w http.ResponseWriter, r *http.Request, inst *instance, tail string) {
	if file, ok := strings.CutSuffix(tail, "/checkpoints"); ok {
		s.apiCheckpoints(w, r, inst, file, "")
		return
	}
	if i := strings.LastIndex(tail, "/checkpoints/"); i >= 0 && !strings.Contains(tail[i+len("/checkpoints/"):], "/") {
		s.apiCheckpoints(w, r, inst, tail[:i], tail[i+len("/checkpoints/"):])
		return
	}
	p, ok := cleanContentsPath(tail)
	if !ok {
		writeJSONError(w, http.StatusNotFound, fmt.Sprintf("file or directory %q does not exist", tail))
		return
	}
	switch r.Method {
	case http.MethodGet:
		s.contentsGet(w, r, inst, p)
	case http.MethodPut:
		s.contentsPut(w, r, inst, p)
	case http.MethodPost:
		s.contentsPost(w, r, inst, p)
	case http.MethodPatch:
		s.contentsPatch(w, r, inst, p)
	case http.MethodDelete:
		s.contentsDelete(w, inst, p)
	default:
		allowMethods(w, r, http.MethodGet, http.MethodPut, http.MethodPost, http.MethodPatch, http.MethodDelete)
	}
}

func (s *Server) contentsGet(w http.ResponseWriter, r *http.Request, inst *instance, p string) {
	q := r.URL.Query()
	format := q.Get("format")
	if format != "" && format != "text" && format != "base64" {
		writeJSONError(w, http.StatusBadRequest, fmt.Sprintf("Format %q is invalid", format))
		return
	}
	content := q.Get("content")
	if content == "" {
		content = "1"
	}
	if content != "0" && content != "1" {
		writeJSONError(w, http.StatusBadRequest, fmt.Sprintf("Content %q is invalid", content))
		return
	}
	typ := q.Get("type")
	inst.mu.Lock()
	fs := inst.files()
	e, ok := fs.get(p)
	if !ok || (typ == "directory" && e.typ != "directory") || (typ == "notebook" && e.typ != "notebook") {
		inst.mu.Unlock()
		writeJSONError(w, http.StatusNotFound, fmt.Sprintf("file or directory %q does not exist", p))
		return
	}
	m := fs.model(p, e, content == "1", format)
	inst.mu.Unlock()
	s.writeModel(w, inst, http.StatusOK, m, false)
}

// contentsPut saves (200) or uploads (201) the model in the body; no body
// creates a new untitled entity, as jupyter_server does.
func (s *Server) contentsPut(w http.ResponseWriter, r *http.Request, inst *instance, p string) {
	var model struct {
		Type     string          `json:"type"`
		Format   string          `json:"format"`
		Content  json.RawMessage `json:"content"`
		CopyFrom string          `json:"copy_from"`
	}
	present, ok := s.readJSONBody(w, r, &model)
	if !ok {
		return
	}
	if !present {
		s.newUntitled(w, inst, p, "", "")
		return
	}
	if model.CopyFrom != "" {
		writeJSONError(w, http.StatusBadRequest, "Cannot copy with PUT, only POST")
		return
	}
	if p == "" {
		writeJSONError(w, http.StatusBadRequest, "Cannot save the root directory")
		return
	}
	typ := model.Type
	switch typ {
	case "", "notebook", "file", "directory":
	default:
		typ = "file"
	}
	if typ == "" {
		if strings.HasSuffix(p, ".ipynb") {
			typ = "notebook"
		} else {
			typ = "file"
		}
	}
	var data []byte
	content := bytes.TrimSpace(model.Content)
	switch typ {
	case "notebook":
		if len(content) == 0 || string(content) == "null" {
			data = []byte(emptyNotebook)
		} else {
			if content[0] != '{' || !json.Valid(content) {
				writeJSONError(w, http.StatusBadRequest, "Unreadable Notebook: content is not a JSON object")
				return
			}
			var buf bytes.Buffer
			json.Compact(&buf, content)
			data = buf.Bytes()
		}
	case "file":
		if len(content) == 0 || string(content) == "null" {
			data = nil
		} else {
			var str string
			if err := json.Unmarshal(content, &str); err != nil {
				writeJSONError(w, http.StatusBadRequest, "file content must be a string")
				return
			}
			if model.Format == "base64" {
				b, err := base64.StdEncoding.DecodeString(strings.Map(func(r rune) rune {
					if r == '\n' || r == '\r' {
						return -1
					}
					return r
				}, str))
				if err != nil {
					writeJSONError(w, http.StatusBadRequest, "Encoding error saving "+p+": content is not base64")
					return
				}
				data = b
			} else {
				data = []byte(str)
			}
		}
	}
	now := s.now()
	inst.mu.Lock()
	if inst.gone {
		inst.mu.Unlock()
		writeJSONError(w, http.StatusServiceUnavailable, "server stopped")
		return
	}
	fs := inst.files()
	if pe, ok := fs.get(parent(p)); !ok || pe.typ != "directory" {
		inst.mu.Unlock()
		writeJSONError(w, http.StatusNotFound, "No such directory: "+parent(p))
		return
	}
	old, exists := fs.entries[p]
	if exists && old.typ == "directory" && typ != "directory" {
		inst.mu.Unlock()
		writeJSONError(w, http.StatusBadRequest, p+" is a directory")
		return
	}
	grow := int64(len(data))
	if exists {
		grow -= int64(len(old.content))
	}
	if fs.bytes+grow > s.cfg.MaxContentsBytes || (!exists && len(fs.entries) >= maxEntriesPerServer) {
		inst.mu.Unlock()
		writeJSONError(w, http.StatusRequestEntityTooLarge, "this server's files are full (hubcap fleet limit); delete some")
		return
	}
	fs = inst.writableFiles()
	created := now
	if exists {
		created = old.created
	}
	e := &entry{typ: typ, content: data, created: created, modified: now}
	fs.entries[p] = e
	fs.bytes += grow
	m := fs.model(p, e, false, "")
	inst.mu.Unlock()
	code := http.StatusOK
	if !exists {
		code = http.StatusCreated
	}
	s.writeModel(w, inst, code, m, true)
}

// contentsPost creates an untitled file, notebook or directory in the
// directory p, or copies copy_from into it.
func (s *Server) contentsPost(w http.ResponseWriter, r *http.Request, inst *instance, p string) {
	var model struct {
		Type     string `json:"type"`
		Ext      string `json:"ext"`
		CopyFrom string `json:"copy_from"`
	}
	if _, ok := s.readJSONBody(w, r, &model); !ok {
		return
	}
	inst.mu.Lock()
	e, exists := inst.files().get(p)
	inst.mu.Unlock()
	if exists && e.typ != "directory" {
		writeJSONError(w, http.StatusBadRequest, "Cannot POST to files, use PUT instead.")
		return
	}
	if model.CopyFrom != "" {
		s.copyInto(w, inst, model.CopyFrom, p)
		return
	}
	switch model.Type {
	case "", "directory", "file", "notebook":
	default:
		model.Type = "file"
	}
	s.newUntitled(w, inst, p, model.Type, model.Ext)
}

// newUntitled is ContentsManager.new_untitled + increment_filename.
func (s *Server) newUntitled(w http.ResponseWriter, inst *instance, dir, typ, ext string) {
	if typ == "" {
		if ext == ".ipynb" {
			typ = "notebook"
		} else {
			typ = "file"
		}
	}
	base, insert := "untitled", ""
	var data []byte
	switch typ {
	case "directory":
		base, insert, ext = "Untitled Folder", " ", ""
	case "notebook":
		base, ext, data = "Untitled", ".ipynb", []byte(emptyNotebook)
	}
	if len(ext) > 32 || strings.ContainsAny(ext, "/\\") {
		writeJSONError(w, http.StatusBadRequest, "bad extension")
		return
	}
	now := s.now()
	inst.mu.Lock()
	fs := inst.files()
	if d, ok := fs.get(dir); !ok || d.typ != "directory" {
		inst.mu.Unlock()
		writeJSONError(w, http.StatusNotFound, "No such directory: "+dir)
		return
	}
	if len(fs.entries) >= maxEntriesPerServer || fs.bytes+int64(len(data)) > s.cfg.MaxContentsBytes {
		inst.mu.Unlock()
		writeJSONError(w, http.StatusRequestEntityTooLarge, "this server's files are full (hubcap fleet limit); delete some")
		return
	}
	var p string
	for i := 0; ; i++ {
		name := base + ext
		if i > 0 {
			name = base + insert + strconv.Itoa(i) + ext
		}
		p = name
		if dir != "" {
			p = dir + "/" + name
		}
		if _, taken := fs.entries[p]; !taken {
			break
		}
	}
	fs = inst.writableFiles()
	e := &entry{typ: typ, content: data, created: now, modified: now}
	fs.entries[p] = e
	fs.bytes += int64(len(data))
	m := fs.model(p, e, false, "")
	inst.mu.Unlock()
	s.writeModel(w, inst, http.StatusCreated, m, true)
}

// copyInto is ContentsManager.copy: "name-Copy1.ext" in the target dir.
func (s *Server) copyInto(w http.ResponseWriter, inst *instance, from, dir string) {
	src, ok := cleanContentsPath(from)
	if !ok {
		writeJSONError(w, http.StatusNotFound, "file does not exist: "+from)
		return
	}
	now := s.now()
	inst.mu.Lock()
	fs := inst.files()
	e, ok := fs.entries[src]
	if !ok || e.typ == "directory" {
		inst.mu.Unlock()
		writeJSONError(w, http.StatusBadRequest, "Cannot copy "+from)
		return
	}
	if len(fs.entries) >= maxEntriesPerServer || fs.bytes+int64(len(e.content)) > s.cfg.MaxContentsBytes {
		inst.mu.Unlock()
		writeJSONError(w, http.StatusRequestEntityTooLarge, "this server's files are full (hubcap fleet limit); delete some")
		return
	}
	name := src[strings.LastIndexByte(src, '/')+1:]
	stem, ext := name, ""
	if i := strings.IndexByte(name, '.'); i > 0 {
		stem, ext = name[:i], name[i:]
	}
	var p string
	for i := 1; ; i++ {
		p = stem + "-Copy" + strconv.Itoa(i) + ext
		if dir != "" {
			p = dir + "/" + p
		}
		if _, taken := fs.entries[p]; !taken {
			break
		}
	}
	fs = inst.writableFiles()
	ne := &entry{typ: e.typ, content: e.content, created: now, modified: now}
	fs.entries[p] = ne
	fs.bytes += int64(len(e.content))
	m := fs.model(p, ne, false, "")
	inst.mu.Unlock()
	s.writeModel(w, inst, http.StatusCreated, m, true)
}

// contentsPatch renames p to the body's path.
func (s *Server) contentsPatch(w http.ResponseWriter, r *http.Request, inst *instance, p string) {
	var model struct {
		Path string `json:"path"`
	}
	present, ok := s.readJSONBody(w, r, &model)
	if !ok {
		return
	}
	if !present {
		writeJSONError(w, http.StatusBadRequest, "JSON body missing")
		return
	}
	dst, ok := cleanContentsPath(model.Path)
	if !ok || dst == "" || p == "" {
		writeJSONError(w, http.StatusBadRequest, fmt.Sprintf("Cannot rename file or directory %q", p))
		return
	}
	inst.mu.Lock()
	fs := inst.files()
	e, exists := fs.entries[p]
	if !exists {
		inst.mu.Unlock()
		writeJSONError(w, http.StatusNotFound, fmt.Sprintf("File or directory does not exist: %s", p))
		return
	}
	if _, taken := fs.entries[dst]; taken && dst != p {
		inst.mu.Unlock()
		writeJSONError(w, http.StatusConflict, "File already exists: "+dst)
		return
	}
	if d, ok := fs.get(parent(dst)); !ok || d.typ != "directory" || strings.HasPrefix(dst+"/", p+"/") && dst != p {
		inst.mu.Unlock()
		writeJSONError(w, http.StatusBadRequest, "Cannot rename "+p+" to "+dst)
		return
	}
	fs = inst.writableFiles()
	delete(fs.entries, p)
	fs.entries[dst] = e
	if e.typ == "directory" {
		for k, v := range fs.entries {
			if strings.HasPrefix(k, p+"/") {
				delete(fs.entries, k)
				fs.entries[dst+k[len(p):]] = v
			}
		}
	}
	m := fs.model(dst, e, false, "")
	inst.mu.Unlock()
	s.writeModel(w, inst, http.StatusOK, m, true)
}

func (s *Server) contentsDelete(w http.ResponseWriter, inst *instance, p string) {
	if p == "" {
		writeJSONError(w, http.StatusBadRequest, "Cannot delete the root directory")
		return
	}
	inst.mu.Lock()
	fs := inst.files()
	e, exists := fs.entries[p]
	if !exists {
		inst.mu.Unlock()
		writeJSONError(w, http.StatusNotFound, "File or directory does not exist: "+p)
		return
	}
	if e.typ == "directory" && len(fs.children(p)) > 0 {
		inst.mu.Unlock()
		writeJSONError(w, http.StatusBadRequest, "Directory "+p+" not empty")
		return
	}
	fs = inst.writableFiles()
	delete(fs.entries, p)
	fs.bytes -= int64(len(e.content))
	inst.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// apiCheckpoints: one checkpoint ("checkpoint") per file, as the default
// FileCheckpoints keeps.
func (s *Server) apiCheckpoints(w http.ResponseWriter, r *http.Request, inst *instance, escaped, id string) {
	p, ok := cleanContentsPath(escaped)
	if !ok {
		writeJSONError(w, http.StatusNotFound, "file does not exist")
		return
	}
	inst.mu.Lock()
	e, exists := inst.files().entries[p]
	inst.mu.Unlock()
	if !exists || e.typ == "directory" {
		writeJSONError(w, http.StatusNotFound, "file does not exist: "+p)
		return
	}
	cp := map[string]string{"id": "checkpoint", "last_modified": isoTime(e.modified)}
	switch {
	case id == "" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, []any{cp})
	case id == "" && r.Method == http.MethodPost:
		w.Header().Set("Location", inst.reg.BaseURL+"api/contents/"+escapePath(p)+"/checkpoints/checkpoint")
		writeJSON(w, http.StatusCreated, cp)
	case id != "" && (r.Method == http.MethodPost || r.Method == http.MethodDelete):
		w.WriteHeader(http.StatusNoContent)
	default:
		writeJSONError(w, http.StatusMethodNotAllowed, "Method Not Allowed")
	}
}

// serveFile serves /files/<path>: the raw bytes (notebooks as JSON).
func (s *Server) serveFile(w http.ResponseWriter, r *http.Request, inst *instance, escaped string) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "405: Method Not Allowed", http.StatusMethodNotAllowed)
		return
	}
	if _, ok := s.pageUser(w, r, inst); !ok {
		return
	}
	p, ok := cleanContentsPath(escaped)
	if !ok || p == "" {
		http.Error(w, "404: Not Found", http.StatusNotFound)
		return
	}
	inst.mu.Lock()
	e, exists := inst.files().entries[p]
	inst.mu.Unlock()
	if !exists || e.typ == "directory" {
		http.Error(w, "404: Not Found", http.StatusNotFound)
		return
	}
	mt := guessMime(p)
	if mt == "" {
		mt = "application/octet-stream"
	}
	w.Header().Set("Content-Type", mt)
	w.Write(e.content)
}

// markUntrusted returns notebook JSON with metadata.trusted = false on
// every code cell, as jupyter_server's mark_trusted_cells answers for a
// notebook whose signature it does not know (the fleet signs nothing).
// Content that is not a notebook object is returned as it is.
func markUntrusted(nb []byte) json.RawMessage {
	var doc map[string]any
	if json.Unmarshal(nb, &doc) != nil {
		return nb
	}
	cells, _ := doc["cells"].([]any)
	for _, c := range cells {
		cell, ok := c.(map[string]any)
		if !ok || cell["cell_type"] != "code" {
			continue
		}
		md, ok := cell["metadata"].(map[string]any)
		if !ok {
			md = map[string]any{}
			cell["metadata"] = md
		}
		md["trusted"] = false
	}
	out, err := json.Marshal(doc)
	if err != nil {
		return nb
	}
	return out
}
