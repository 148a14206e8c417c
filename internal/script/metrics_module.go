package script

import (
	"fmt"
	"math"

	"github.com/grafana/sobek"

	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/samples"
)

// metricsModule is `import { Counter, Gauge, Rate, Trend } from 'k6/metrics'`.
type metricsModule struct{}

var _ Module = metricsModule{}

func (metricsModule) NewModuleInstance(vi VU) Instance { return &metricsInstance{v: vi.(*vu)} }

type metricsInstance struct{ v *vu }

func (m *metricsInstance) Exports() Exports {
	return Exports{Named: map[string]any{
		"Counter": m.constructor(samples.Counter),
		"Gauge":   m.constructor(samples.Gauge),
		"Rate":    m.constructor(samples.Rate),
		"Trend":   m.constructor(samples.Trend),
	}}
}

// constructor returns the JS class for kind: new Trend(name, isTime).
func (m *metricsInstance) constructor(kind samples.Kind) func(call sobek.ConstructorCall) *sobek.Object {
	return func(call sobek.ConstructorCall) *sobek.Object {
		v := m.v
		rt := v.rt
		if !v.inInit {
			throw(rt, "metrics must be declared in the init context (the top level of the script), not in a function")
		}
		name := call.Argument(0).String()
		if sobek.IsUndefined(call.Argument(0)) {
			panic(rt.NewTypeError("a metric needs a name"))
		}
		contains := samples.Default
		if call.Argument(1).ToBoolean() {
			contains = samples.Time
		}
		metric := samples.Metric{Name: name, Kind: kind, Contains: contains}
		if err := v.sh.reg.Register(metric); err != nil {
			throw(rt, err.Error())
		}
		o := call.This
		_ = o.DefineDataProperty("name", rt.ToValue(name), sobek.FLAG_FALSE, sobek.FLAG_FALSE, sobek.FLAG_TRUE)
		_ = o.Set("add", func(c sobek.FunctionCall) sobek.Value {
			return rt.ToValue(m.add(metric, c))
		})
		return nil
	}
}

func (m *metricsInstance) add(metric samples.Metric, c sobek.FunctionCall) bool {
	v := m.v
	rt := v.rt
	if v.inInit {
		throw(rt, fmt.Sprintf("%s.add() can't be called in the init context", metric.Name))
	}
	arg := c.Argument(0)
	var value float64
	switch {
	case metric.Kind == samples.Rate:
		if arg.ToBoolean() {
			value = 1
		}
	default:
		if b, ok := arg.Export().(bool); ok {
			if b {
				value = 1
			}
			break
		}
		value = arg.ToFloat()
		if math.IsNaN(value) || math.IsInf(value, 0) {
			panic(rt.NewTypeError(fmt.Sprintf("%s.add(%s): not a number", metric.Name, arg.String())))
		}
	}
	v.Emit(metric.Name, value, tagsArg(rt, c.Argument(1)))
	return true
}
