package script

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/grafana/sobek"
	"github.com/grafana/sobek/parser"
)

// Program is a script compiled once: its module graph is parsed, linked and
// compiled, and every VU instantiates it in its own runtime.
type Program struct {
	Path string // absolute path of the main script
	main *sobek.SourceTextModuleRecord

	mu       sync.Mutex
	cache    map[string]sobek.ModuleRecord // by absolute path or module name
	paths    map[sobek.ModuleRecord]string // module → absolute path
	goMods   []*goModule
	unknown  []string
	cjs      map[string]*cjsFile // CommonJS files by absolute path or URL
	loadErrs []error
	files    map[string][]byte // open() cache

	sharedMu sync.Mutex
	shared   map[string]string // SharedArray data as JSON, by name

	vus sync.Map // *sobek.Runtime → *vu
}

// Compile loads, parses and links the script at path and every module it
// imports. Syntax errors come back as *ScriptError with file:line:col.
func Compile(path string) (*Program, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrScript, err)
	}
	src, err := os.ReadFile(abs)
	if err != nil {
		return nil, fmt.Errorf("cannot read the script: %w", err)
	}
	return CompileSource(abs, src)
}

// CompileSource compiles src as the main module named path (k6 run -
// reads the script from stdin): its imports and open() resolve from path's
// directory.
func CompileSource(path string, src []byte) (*Program, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrScript, err)
	}
	p := &Program{
		Path:  abs,
		cache: make(map[string]sobek.ModuleRecord),
		paths: make(map[sobek.ModuleRecord]string),
		files: make(map[string][]byte),
	}
	m, err := p.parse(abs, src)
	if err != nil {
		return nil, err
	}
	p.cache[abs] = m
	p.paths[m] = abs
	p.main = m
	if err := m.Link(); err != nil {
		if len(p.loadErrs) > 0 {
			return nil, p.loadErrs[0]
		}
		return nil, syntaxError(err)
	}
	if len(p.loadErrs) > 0 {
		return nil, p.loadErrs[0]
	}
	if len(p.unknown) > 0 {
		known := RegisteredModules()
		sort.Strings(known)
		return nil, fmt.Errorf("%w: unknown modules %s; hubcap provides %s and relative imports of local .js files",
			ErrScript, quoteAll(p.unknown), strings.Join(known, ", "))
	}
	return p, nil
}

func quoteAll(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}

// isPathSpecifier reports whether spec names a file rather than a module.
func isPathSpecifier(spec string) bool {
	return strings.HasPrefix(spec, "./") || strings.HasPrefix(spec, "../") || strings.HasPrefix(spec, "/") ||
		strings.HasPrefix(spec, "file://") || spec == "." || spec == ".."
}

// resolve is sobek's HostResolveImportedModule: bare names are Go modules,
// paths are files relative to the importing module, URLs are remote modules
// (see fetchRemote); files without import or export statements are
// CommonJS.
func (p *Program) resolve(referrer any, spec string) (sobek.ModuleRecord, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if isURL(spec) {
		return p.loadRemote(referrer, spec)
	}
	if !isPathSpecifier(spec) {
		if m, ok := p.cache[spec]; ok {
			return m, nil
		}
		mod, ok := lookupModule(spec)
		if !ok {
			p.unknown = append(p.unknown, spec)
			mod = unknownModule{}
		}
		g := &goModule{path: spec, m: mod, prog: p}
		p.cache[spec] = g
		p.goMods = append(p.goMods, g)
		return g, nil
	}
	if base := p.nameOf(referrer); isURL(base) && !strings.HasPrefix(spec, "file://") {
		u, err := url.Parse(base)
		if err == nil {
			var ref *url.URL
			if ref, err = url.Parse(spec); err == nil {
				return p.loadRemote(referrer, u.ResolveReference(ref).String())
			}
		}
		err = fmt.Errorf("%w: cannot import %q from %s: %w", ErrScript, spec, base, err)
		p.loadErrs = append(p.loadErrs, err)
		return nil, err
	}
	abs, err := p.absPath(referrer, spec)
	if err != nil {
		return nil, err
	}
	if m, ok := p.cache[abs]; ok {
		return m, nil
	}
	src, err := os.ReadFile(abs)
	if err != nil {
		err = fmt.Errorf("%w: cannot import %q from %s: %w", ErrScript, spec, p.nameOf(referrer), err)
		p.loadErrs = append(p.loadErrs, err)
		return nil, err
	}
	return p.load(abs, src)
}

// load parses src as an ES module, or wraps it as CommonJS when it has no
// import or export statement, and caches it under key. Parsing calls back
// into resolve only at link time, not here, so holding the lock is fine.
func (p *Program) load(key string, src []byte) (sobek.ModuleRecord, error) {
	body, err := parser.ParseFile(nil, key, string(src), 0, parser.IsModule, parser.WithDisableSourceMaps)
	if err != nil {
		err = syntaxError(err)
		p.loadErrs = append(p.loadErrs, err)
		return nil, err
	}
	if len(body.ImportEntries) == 0 && len(body.ExportEntries) == 0 && !body.HasTLA {
		f, err := p.compileCJS(key, src)
		if err != nil {
			p.loadErrs = append(p.loadErrs, err)
			return nil, err
		}
		g := &goModule{path: key, m: f, prog: p}
		p.cache[key] = g
		p.paths[g] = key
		p.goMods = append(p.goMods, g)
		return g, nil
	}
	m, err := sobek.ModuleFromAST(body, p.resolve)
	if err != nil {
		err = syntaxError(err)
		p.loadErrs = append(p.loadErrs, err)
		return nil, err
	}
	p.cache[key] = m
	p.paths[m] = key
	return m, nil
}

// loadRemote loads a module by URL (see fetchRemote).
func (p *Program) loadRemote(referrer any, u string) (sobek.ModuleRecord, error) {
	if m, ok := p.cache[u]; ok {
		return m, nil
	}
	src, err := fetchRemote(u)
	if err != nil {
		err = fmt.Errorf("%w: cannot import %q from %s: %w", ErrScript, u, p.nameOf(referrer), err)
		p.loadErrs = append(p.loadErrs, err)
		return nil, err
	}
	return p.load(u, src)
}

func isURL(s string) bool { return strings.HasPrefix(s, "https://") || strings.HasPrefix(s, "http://") }

// parse parses an ES module, keeping the parser's error positions (sobek's
// ParseModule flattens them into a message).
func (p *Program) parse(name string, src []byte) (*sobek.SourceTextModuleRecord, error) {
	body, err := parser.ParseFile(nil, name, string(src), 0, parser.IsModule, parser.WithDisableSourceMaps)
	if err != nil {
		return nil, syntaxError(err)
	}
	m, err := sobek.ModuleFromAST(body, p.resolve)
	if err != nil {
		return nil, syntaxError(err)
	}
	return m, nil
}

func (p *Program) nameOf(referrer any) string {
	if m, ok := referrer.(sobek.ModuleRecord); ok {
		if path, ok := p.paths[m]; ok {
			return path
		}
	}
	return p.Path
}

// absPath resolves a file specifier against the importing module's
// directory.
func (p *Program) absPath(referrer any, spec string) (string, error) {
	if strings.HasPrefix(spec, "file://") {
		u, err := url.Parse(spec)
		if err != nil {
			return "", fmt.Errorf("%w: bad module URL %q: %w", ErrScript, spec, err)
		}
		return filepath.Clean(u.Path), nil
	}
	if filepath.IsAbs(spec) {
		return filepath.Clean(spec), nil
	}
	return filepath.Join(filepath.Dir(p.nameOf(referrer)), spec), nil
}

// readFile returns a file's content, reading each file once for all VUs.
func (p *Program) readFile(abs string) ([]byte, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if b, ok := p.files[abs]; ok {
		return b, nil
	}
	b, err := os.ReadFile(abs)
	if err != nil {
		return nil, err
	}
	p.files[abs] = b
	return b, nil
}

// sharedData returns the JSON of SharedArray name, computing it once.
func (p *Program) sharedData(name string, compute func() (string, error)) (string, error) {
	p.sharedMu.Lock()
	defer p.sharedMu.Unlock()
	if js, ok := p.shared[name]; ok {
		return js, nil
	}
	js, err := compute()
	if err != nil {
		return "", err
	}
	if p.shared == nil {
		p.shared = map[string]string{}
	}
	p.shared[name] = js
	return js, nil
}

func (p *Program) goModules() []*goModule {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]*goModule(nil), p.goMods...)
}

func (p *Program) vuOf(rt *sobek.Runtime) *vu {
	v, ok := p.vus.Load(rt)
	if !ok {
		return nil
	}
	return v.(*vu)
}

// unknownModule stands in for a module nobody registered, so that Compile
// can list every unknown import at once.
type unknownModule struct{}

func (unknownModule) NewModuleInstance(VU) Instance { return unknownInstance{} }

type unknownInstance struct{}

func (unknownInstance) Exports() Exports { return Exports{Named: map[string]any{}} }

// LocalFiles lists the absolute paths of the script and every local module
// it imports, sorted: what must travel with the script to run it elsewhere
// (files read with open() at run time are not known here).
func (p *Program) LocalFiles() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]string, 0, len(p.paths))
	for _, path := range p.paths {
		out = append(out, path)
	}
	sort.Strings(out)
	return out
}
