package script

import (
	"encoding/json"
	"maps"
	"sort"
	"time"

	"github.com/grafana/sobek"
)

// executionModule is `import exec from 'k6/execution'`.
type executionModule struct{}

var _ Module = executionModule{}

func (executionModule) NewModuleInstance(vi VU) Instance {
	return &executionInstance{v: vi.(*vu)}
}

type executionInstance struct{ v *vu }

func (e *executionInstance) Exports() Exports {
	rt := e.v.rt
	o := rt.NewObject()
	_ = o.Set("vu", e.vuObject())
	_ = o.Set("scenario", e.scenarioObject())
	_ = o.Set("instance", e.instanceObject())
	_ = o.Set("test", e.testObject())
	return Exports{Default: o}
}

// getters defines read-only accessor properties.
func getters(rt *sobek.Runtime, props map[string]func() any) *sobek.Object {
	o := rt.NewObject()
	names := make([]string, 0, len(props))
	for n := range props {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		get := props[n]
		_ = o.DefineAccessorProperty(n, rt.ToValue(func() any { return get() }), nil, sobek.FLAG_FALSE, sobek.FLAG_TRUE)
	}
	return o
}

func (e *executionInstance) needVU(what string) {
	if e.v.inInit || e.v.params == nil && e.v.scenario == "" {
		throw(e.v.rt, "getting "+what+" information outside of the VU context is not supported")
	}
}

func (e *executionInstance) vuObject() *sobek.Object {
	v := e.v
	o := getters(v.rt, map[string]func() any{
		"idInInstance": func() any { return v.id },
		// Striped over the execution segments, as k6 numbers VUs, so that
		// instances running parts of one test do not share ids.
		"idInTest": func() any {
			if t := v.sh.tuple.Load(); t != nil && v.id > 0 {
				return t.Global(int64(v.id)-1) + 1
			}
			return v.id
		},
		"iterationInInstance": func() any { e.needVU("VU"); return v.iteration },
		"iterationInScenario": func() any { e.needVU("VU"); return v.scenarioIter[v.scenario] },
	})
	tags := v.rt.NewDynamicObject(&vuTags{v: v})
	_ = o.Set("tags", tags)
	m := v.rt.NewObject()
	_ = m.Set("tags", tags)
	_ = o.Set("metrics", m)
	return o
}

// vuTags is exec.vu.tags: reading shows the current tags, writing adds a
// tag to the VU's later samples.
type vuTags struct{ v *vu }

func (t *vuTags) Get(key string) sobek.Value {
	tags := t.v.Tags()
	if val, ok := tags[key]; ok {
		return t.v.rt.ToValue(val)
	}
	return nil
}

func (t *vuTags) Set(key string, val sobek.Value) bool {
	switch key {
	case "scenario", "group", "check":
		throw(t.v.rt, "exec.vu.tags: the "+key+" tag is set by hubcap and can't be changed")
	}
	if o, ok := val.(*sobek.Object); ok && o.ClassName() != "String" {
		panic(t.v.rt.NewTypeError("exec.vu.tags: tag values must be strings, numbers or booleans"))
	}
	if t.v.userTags == nil {
		t.v.userTags = map[string]string{}
	}
	t.v.userTags[key] = val.String()
	return true
}

func (t *vuTags) Has(key string) bool { _, ok := t.v.Tags()[key]; return ok }

func (t *vuTags) Delete(key string) bool { delete(t.v.userTags, key); return true }

func (t *vuTags) Keys() []string {
	keys := make([]string, 0)
	for k := range maps.Keys(t.v.Tags()) {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func (e *executionInstance) scenarioObject() *sobek.Object {
	v := e.v
	return getters(v.rt, map[string]func() any{
		"name": func() any { e.needVU("scenario"); return v.scenario },
		"executor": func() any {
			e.needVU("scenario")
			if v.params == nil {
				return ""
			}
			return v.params.Scenario.Executor
		},
		"startTime": func() any {
			e.needVU("scenario")
			if v.params == nil {
				return 0
			}
			return v.params.Scenario.StartTime.UnixMilli()
		},
		"progress": func() any {
			e.needVU("scenario")
			if v.params == nil || v.params.Scenario.Progress == nil {
				return 0
			}
			return v.params.Scenario.Progress()
		},
		"iterationInInstance": func() any { e.needVU("scenario"); return v.scLocal },
		"iterationInTest":     func() any { e.needVU("scenario"); return v.scGlobal },
	})
}

func (e *executionInstance) instanceObject() *sobek.Object {
	v := e.v
	st := func() (active, initialized, completed, interrupted int64) {
		s := v.sh.state.Load()
		if s == nil {
			return 0, 0, 0, 0
		}
		var init int64
		if s.Pool != nil {
			init = s.Pool.Initialized()
		}
		return s.VUsActive(), init, s.IterationsCompleted(), s.IterationsInterrupted()
	}
	return getters(v.rt, map[string]func() any{
		"vusActive":             func() any { a, _, _, _ := st(); return a },
		"vusInitialized":        func() any { _, i, _, _ := st(); return i },
		"iterationsCompleted":   func() any { _, _, c, _ := st(); return c },
		"iterationsInterrupted": func() any { _, _, _, i := st(); return i },
		"currentTestRunDuration": func() any {
			if t := v.sh.start.Load(); t != nil {
				return float64(time.Since(*t).Microseconds()) / 1000
			}
			return 0
		},
	})
}

func (e *executionInstance) testObject() *sobek.Object {
	v := e.v
	o := v.rt.NewObject()
	_ = o.Set("abort", func(call sobek.FunctionCall) sobek.Value {
		reason := ""
		if a := call.Argument(0); !sobek.IsUndefined(a) {
			reason = a.String()
		}
		if v.sh.abort != nil {
			v.sh.abort(reason)
		}
		v.rt.Interrupt(&abortError{reason: reason})
		return sobek.Undefined()
	})
	_ = o.Set("fail", func(call sobek.FunctionCall) sobek.Value {
		reason := ""
		if a := call.Argument(0); !sobek.IsUndefined(a) {
			reason = a.String()
		}
		if v.sh.failed.CompareAndSwap(nil, &reason) {
			msg := "test marked as failed"
			if reason != "" {
				msg += ": " + reason
			}
			v.sh.log.print("error", msg, "source=script")
		}
		return sobek.Undefined()
	})
	_ = o.DefineAccessorProperty("options", v.rt.ToValue(func() sobek.Value {
		var x any
		if js := v.sh.consolidated.Load(); js != nil {
			if json.Unmarshal([]byte(*js), &x) == nil {
				return v.rt.ToValue(x)
			}
		}
		if v.sh.optsJS == "" || json.Unmarshal([]byte(v.sh.optsJS), &x) != nil {
			return v.rt.NewObject()
		}
		return v.rt.ToValue(x)
	}), nil, sobek.FLAG_FALSE, sobek.FLAG_TRUE)
	return o
}
