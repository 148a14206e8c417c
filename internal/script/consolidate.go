package script

import (
	"encoding/json"
	"maps"

	"github.com/hubcap-dev/hubcap/internal/executor"
	"github.com/hubcap-dev/hubcap/internal/metrics"
)

// consolidatedOptions is what exec.test.options shows, as k6 consolidates
// them: the script's options with the command line's overrides, the
// defaults, and the scenarios (the shortcuts become the default scenario).
func consolidatedOptions(raw map[string]any, o *TestOptions) map[string]any {
	out := maps.Clone(raw)
	if out == nil {
		out = map[string]any{}
	}
	for _, k := range []string{"vus", "duration", "iterations", "stages"} {
		delete(out, k)
	}
	scenarios := map[string]any{}
	for _, c := range o.Scenarios {
		scenarios[c.Base().Name] = scenarioJSON(c)
	}
	out["scenarios"] = scenarios
	if len(o.Scenarios) == 1 && o.Scenarios[0].Base().Name == DefaultScenario {
		// The shortcuts as k6 reports them next to the default scenario.
		switch c := o.Scenarios[0].(type) {
		case *executor.SharedIterationsConfig:
			out["vus"], out["iterations"] = c.VUs, c.Iterations
		case *executor.ConstantVUsConfig:
			out["vus"], out["duration"] = c.VUs, executor.FormatDuration(c.Duration)
		case *executor.RampingVUsConfig:
			out["vus"], out["stages"] = c.StartVUs, stagesJSON(c.Stages)
		}
	}
	stats := o.SummaryTrendStats
	if stats == nil {
		stats = metrics.DefaultTrendStats
	}
	out["summaryTrendStats"] = stats
	if o.SummaryTimeUnit != "" {
		out["summaryTimeUnit"] = o.SummaryTimeUnit
	}
	out["setupTimeout"] = executor.FormatDuration(o.SetupTimeout)
	out["teardownTimeout"] = executor.FormatDuration(o.TeardownTimeout)
	if _, ok := out["tags"]; !ok {
		out["tags"] = map[string]string{}
	}
	if _, ok := out["thresholds"]; !ok {
		out["thresholds"] = map[string]any{}
	}
	return out
}

func consolidatedJSON(raw map[string]any, o *TestOptions) string {
	b, err := json.Marshal(consolidatedOptions(raw, o))
	if err != nil {
		return ""
	}
	return string(b)
}

func stagesJSON(st []executor.Stage) []map[string]any {
	out := make([]map[string]any, len(st))
	for i, s := range st {
		out[i] = map[string]any{"duration": executor.FormatDuration(s.Duration), "target": s.Target}
	}
	return out
}

// scenarioJSON writes a scenario with k6's field names.
func scenarioJSON(c executor.Config) map[string]any {
	b := c.Base()
	m := map[string]any{"executor": b.Type, "startTime": executor.FormatDuration(b.StartTime),
		"gracefulStop": executor.FormatDuration(b.GracefulStop), "exec": b.ExecName()}
	if len(b.Env) > 0 {
		m["env"] = b.Env
	}
	if len(b.Tags) > 0 {
		m["tags"] = b.Tags
	}
	switch x := c.(type) {
	case *executor.SharedIterationsConfig:
		m["vus"], m["iterations"], m["maxDuration"] = x.VUs, x.Iterations, executor.FormatDuration(x.MaxDuration)
	case *executor.PerVUIterationsConfig:
		m["vus"], m["iterations"], m["maxDuration"] = x.VUs, x.Iterations, executor.FormatDuration(x.MaxDuration)
	case *executor.ConstantVUsConfig:
		m["vus"], m["duration"] = x.VUs, executor.FormatDuration(x.Duration)
	case *executor.RampingVUsConfig:
		m["startVUs"], m["stages"], m["gracefulRampDown"] = x.StartVUs, stagesJSON(x.Stages), executor.FormatDuration(x.GracefulRampDown)
	case *executor.ConstantArrivalRateConfig:
		m["rate"], m["timeUnit"], m["duration"] = x.Rate, executor.FormatDuration(x.TimeUnit), executor.FormatDuration(x.Duration)
		m["preAllocatedVUs"], m["maxVUs"] = x.PreAllocatedVUs, x.MaxVUs
	case *executor.RampingArrivalRateConfig:
		m["startRate"], m["timeUnit"], m["stages"] = x.StartRate, executor.FormatDuration(x.TimeUnit), stagesJSON(x.Stages)
		m["preAllocatedVUs"], m["maxVUs"] = x.PreAllocatedVUs, x.MaxVUs
	}
	return m
}
