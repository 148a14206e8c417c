package script

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/grafana/sobek"

	"github.com/hubcap-dev/hubcap/internal/metrics"
	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/samples"
)

// k6Module is `import { check, group, sleep, fail } from 'k6'`.
type k6Module struct{}

var _ Module = k6Module{}

func (k6Module) NewModuleInstance(vi VU) Instance {
	v := vi.(*vu)
	return &k6Instance{v: v}
}

type k6Instance struct {
	v *vu
	// timer is the VU's sleep timer, reused by every sleep().
	timer *time.Timer
}

func (k *k6Instance) Exports() Exports {
	return Exports{Named: map[string]any{
		"check":      k.check,
		"group":      k.group,
		"sleep":      k.sleep,
		"fail":       k.fail,
		"randomSeed": k.randomSeed,
	}}
}

// throw raises a JS Error with msg.
func throw(rt *sobek.Runtime, msg string) {
	ctor := rt.Get("Error")
	obj, err := rt.New(ctor, rt.ToValue(msg))
	if err != nil {
		panic(rt.NewTypeError(msg))
	}
	panic(obj)
}

func (k *k6Instance) notInInit(what string) {
	if k.v.inInit {
		throw(k.v.rt, fmt.Sprintf("%s() is not supported in the init context; call it from an exported function", what))
	}
}

// tagsArg reads an optional {key: value} tags argument.
func tagsArg(rt *sobek.Runtime, v sobek.Value) map[string]string {
	if v == nil || sobek.IsUndefined(v) || sobek.IsNull(v) {
		return nil
	}
	obj := v.ToObject(rt)
	out := make(map[string]string)
	for _, key := range obj.Keys() {
		out[key] = obj.Get(key).String()
	}
	return out
}

// check evaluates each named condition on val, emits a `checks` sample per
// condition (tags check and group) and returns whether all passed.
func (k *k6Instance) check(call sobek.FunctionCall) sobek.Value {
	k.notInInit("check")
	rt := k.v.rt
	val := call.Argument(0)
	setsArg := call.Argument(1)
	if sobek.IsUndefined(setsArg) || sobek.IsNull(setsArg) {
		return rt.ToValue(true)
	}
	sets := setsArg.ToObject(rt)
	extra := tagsArg(rt, call.Argument(2))
	base := k.v.Tags()
	for key, value := range extra {
		base[key] = value
	}
	all := true
	for _, name := range sets.Keys() {
		cond := sets.Get(name)
		if fn, ok := sobek.AssertFunction(cond); ok {
			res, err := fn(sobek.Undefined(), val)
			if err != nil {
				panic(err)
			}
			cond = res
		}
		ok := cond.ToBoolean()
		tags := make(map[string]string, len(base)+1)
		for key, value := range base {
			tags[key] = value
		}
		tags["check"] = name
		value := 0.0
		if ok {
			value = 1
		} else {
			all = false
		}
		k.v.sh.sink.AddSample(samples.Sample{Metric: metrics.Checks, Time: time.Now(), Value: value, Tags: tags})
	}
	return rt.ToValue(all)
}

// group runs fn with the group tag extended by name and emits its
// group_duration.
func (k *k6Instance) group(name string, fn sobek.Value) sobek.Value {
	k.notInInit("group")
	rt := k.v.rt
	if strings.Contains(name, "::") {
		throw(rt, fmt.Sprintf("group and check names may not contain '::' (group %q)", name))
	}
	call, ok := sobek.AssertFunction(fn)
	if !ok {
		panic(rt.NewTypeError("group() needs a function as its second argument"))
	}
	prev := k.v.group
	k.v.group = prev + "::" + name
	defer func() { k.v.group = prev }()
	start := time.Now()
	ret, err := call(sobek.Undefined())
	end := time.Now()
	if err != nil {
		panic(err)
	}
	k.v.sh.sink.AddSample(samples.Sample{Metric: metrics.GroupDuration, Time: end,
		Value: float64(end.Sub(start)) / float64(time.Millisecond), Tags: k.v.Tags()})
	return ret
}

// sleep(secs) pauses the VU; it returns early when the iteration is
// stopped. A native function: no reflection per call.
func (k *k6Instance) sleep(call sobek.FunctionCall) sobek.Value {
	k.sleepFor(call.Argument(0).ToFloat())
	return sobek.Undefined()
}

func (k *k6Instance) sleepFor(secs float64) {
	if math.IsNaN(secs) || secs <= 0 {
		return
	}
	d := time.Duration(secs * float64(time.Second))
	if k.timer == nil {
		k.timer = time.NewTimer(d)
	} else {
		k.timer.Reset(d) // Go ≥ 1.23: no stale value after Stop or expiry
	}
	select {
	case <-k.timer.C:
	case <-k.v.Context().Done():
		k.timer.Stop()
	}
}

// fail throws an Error with msg, failing the iteration.
func (k *k6Instance) fail(msg sobek.Value) {
	s := "fail"
	if msg != nil && !sobek.IsUndefined(msg) {
		s = msg.String()
	}
	throw(k.v.rt, s)
}

// randomSeed seeds Math.random for this VU.
func (k *k6Instance) randomSeed(seed int64) {
	r := rand.New(rand.NewPCG(uint64(seed), 0)) //nolint:gosec // Math.random, not security
	k.v.rt.SetRandSource(r.Float64)
}
