package script

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/grafana/sobek"
)

// cjsFile is a CommonJS file (module.exports, exports, require), as the
// jslib bundles k6 users vendor: compiled once, run once per VU that
// imports or requires it. Imported with `import`, its module.exports is
// the default export and its properties the named exports.
type cjsFile struct {
	key  string // absolute path or URL
	prog *sobek.Program
}

var _ Module = (*cjsFile)(nil)

// compileCJS wraps src in k6's CommonJS function; the wrapper starts on
// the first line so that positions in errors are the file's.
func (p *Program) compileCJS(key string, src []byte) (*cjsFile, error) {
	if f, ok := p.cjs[key]; ok {
		return f, nil
	}
	code := "(function (exports, require, module, __filename, __dirname) {" + string(src) + "\n})"
	prog, err := sobek.Compile(key, code, false)
	if err != nil {
		return nil, syntaxError(err)
	}
	f := &cjsFile{key: key, prog: prog}
	if p.cjs == nil {
		p.cjs = map[string]*cjsFile{}
	}
	p.cjs[key] = f
	return f, nil
}

// cjsFor loads the CommonJS file at key (a path or URL) for require().
func (p *Program) cjsFor(key string) (*cjsFile, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if f, ok := p.cjs[key]; ok {
		return f, nil
	}
	var src []byte
	var err error
	if isURL(key) {
		src, err = fetchRemote(key)
	} else {
		src, err = os.ReadFile(key)
	}
	if err != nil {
		return nil, err
	}
	return p.compileCJS(key, src)
}

func (f *cjsFile) NewModuleInstance(vi VU) Instance {
	v := vi.(*vu)
	exp, err := v.requireCJS(f)
	if err != nil {
		panic(err)
	}
	return cjsInstance{exp: exp}
}

type cjsInstance struct{ exp sobek.Value }

func (c cjsInstance) Exports() Exports { return Exports{Default: c.exp} }

// requireCJS runs f in v once and returns its module.exports.
func (v *vu) requireCJS(f *cjsFile) (sobek.Value, error) {
	if exp, ok := v.cjsExports[f.key]; ok {
		return exp.Get("exports"), nil
	}
	rt := v.rt
	fnVal, err := rt.RunProgram(f.prog)
	if err != nil {
		return nil, err
	}
	fn, _ := sobek.AssertFunction(fnVal)
	module := rt.NewObject()
	exports := rt.NewObject()
	_ = module.Set("exports", exports)
	_ = module.Set("id", f.key)
	if v.cjsExports == nil {
		v.cjsExports = map[string]*sobek.Object{}
	}
	v.cjsExports[f.key] = module // cycles see the exports so far, as in Node
	dir := f.key
	if !isURL(f.key) {
		dir = filepath.Dir(f.key)
	}
	if _, err := fn(sobek.Undefined(), exports, rt.ToValue(v.requireFrom(f.key)), module, rt.ToValue(f.key), rt.ToValue(dir)); err != nil {
		delete(v.cjsExports, f.key)
		return nil, err
	}
	return module.Get("exports"), nil
}

// requireFrom returns require() for code in the file base.
func (v *vu) requireFrom(base string) func(call sobek.FunctionCall) sobek.Value {
	return func(call sobek.FunctionCall) sobek.Value {
		return v.require(base, call.Argument(0).String())
	}
}

// globalRequire is require() in ES modules: relative to the calling file.
func (v *vu) globalRequire(call sobek.FunctionCall) sobek.Value {
	base := v.sh.prog.Path
	for _, fr := range v.rt.CaptureCallStack(0, nil) {
		if src := fr.SrcName(); src != "" && (filepath.IsAbs(src) || isURL(src)) {
			base = src
			break
		}
	}
	return v.require(base, call.Argument(0).String())
}

// require loads spec for code in base: a module name (k6, k6/http, ...)
// gives that module's exports; a path or URL a CommonJS file's
// module.exports.
func (v *vu) require(base, spec string) sobek.Value {
	rt := v.rt
	if spec == "" {
		panic(rt.NewTypeError("require() needs a module name or path"))
	}
	if !isPathSpecifier(spec) && !isURL(spec) {
		if inst, ok := v.requireMods[spec]; ok {
			return inst
		}
		mod, ok := lookupModule(spec)
		if !ok {
			throw(rt, fmt.Sprintf("require(%q): unknown module", spec))
		}
		exp := mod.NewModuleInstance(v).Exports()
		val := (&goModuleInstance{rt: rt, exp: exp}).defaultExport()
		if v.requireMods == nil {
			v.requireMods = map[string]sobek.Value{}
		}
		v.requireMods[spec] = val
		return val
	}
	key := spec
	switch {
	case isURL(spec):
	case isURL(base):
		u, err := urlJoin(base, spec)
		if err != nil {
			throw(rt, fmt.Sprintf("require(%q): %v", spec, err))
		}
		key = u
	case strings.HasPrefix(spec, "file://"):
		key = strings.TrimPrefix(spec, "file://")
	case filepath.IsAbs(spec):
	default:
		key = filepath.Join(filepath.Dir(base), spec)
	}
	if !isURL(key) && filepath.Ext(key) == "" {
		if _, err := os.Stat(key); err != nil {
			key += ".js"
		}
	}
	f, err := v.sh.prog.cjsFor(key)
	if err != nil {
		throw(rt, fmt.Sprintf("require(%q): %v", spec, err))
	}
	exp, err := v.requireCJS(f)
	if err != nil {
		panic(err)
	}
	return exp
}
