package main

import (
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"

	"github.com/hubcap-dev/hubcap/internal/executor"
)

// k6EnvFlags are the K6_* environment variables that set a flag of hubcap
// run, as they set k6 run's (the flag on the command line wins).
var k6EnvFlags = map[string]string{
	"K6_VUS":                        "vus",
	"K6_DURATION":                   "duration",
	"K6_ITERATIONS":                 "iterations",
	"K6_STAGES":                     "stage",
	"K6_NO_THRESHOLDS":              "no-thresholds",
	"K6_NO_SUMMARY":                 "no-summary",
	"K6_SUMMARY_EXPORT":             "summary-export",
	"K6_SUMMARY_TREND_STATS":        "summary-trend-stats",
	"K6_SUMMARY_MODE":               "summary-mode",
	"K6_OUT":                        "out",
	"K6_NO_COLOR":                   "no-color",
	"K6_QUIET":                      "quiet",
	"K6_LOG_OUTPUT":                 "log-output",
	"K6_EXECUTION_SEGMENT":          "execution-segment",
	"K6_EXECUTION_SEGMENT_SEQUENCE": "execution-segment-sequence",
	"K6_INCLUDE_SYSTEM_ENV_VARS":    "include-system-env-vars",
}

// k6EnvOptions are K6_* variables for options without a flag here; they
// replace the script's option of that name.
var k6EnvOptions = map[string]struct {
	option string
	kind   byte // s string, i integer, b boolean, d duration
}{
	"K6_USER_AGENT":               {"userAgent", 's'},
	"K6_MAX_REDIRECTS":            {"maxRedirects", 'i'},
	"K6_INSECURE_SKIP_TLS_VERIFY": {"insecureSkipTLSVerify", 'b'},
	"K6_NO_CONNECTION_REUSE":      {"noConnectionReuse", 'b'},
	"K6_DISCARD_RESPONSE_BODIES":  {"discardResponseBodies", 'b'},
	"K6_BATCH":                    {"batch", 'i'},
	"K6_BATCH_PER_HOST":           {"batchPerHost", 'i'},
	"K6_THROW":                    {"throw", 'b'},
	"K6_SETUP_TIMEOUT":            {"setupTimeout", 'd'},
	"K6_TEARDOWN_TIMEOUT":         {"teardownTimeout", 'd'},
	"K6_SUMMARY_TIME_UNIT":        {"summaryTimeUnit", 's'},
}

// applyK6Env sets fs's flags from the K6_* variables of environ (before
// the command line is parsed, so that flags win) and returns the options
// the other variables set. Every bad value is reported at once.
func applyK6Env(fs *flag.FlagSet, environ []string) (map[string]any, error) {
	opts := map[string]any{}
	var errs []error
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(k, "K6_") {
			continue
		}
		if name, ok := k6EnvFlags[k]; ok {
			vals := []string{v}
			if name == "stage" || name == "out" {
				vals = strings.Split(v, ",")
			}
			for _, one := range vals {
				if err := fs.Set(name, strings.TrimSpace(one)); err != nil {
					errs = append(errs, fmt.Errorf("%s=%q: %w", k, v, err))
				}
			}
			continue
		}
		o, ok := k6EnvOptions[k]
		if !ok {
			continue
		}
		switch o.kind {
		case 's':
			opts[o.option] = v
		case 'i':
			n, err := strconv.Atoi(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: want an integer", k, v))
				continue
			}
			opts[o.option] = float64(n)
		case 'b':
			b, err := strconv.ParseBool(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: want true or false", k, v))
				continue
			}
			opts[o.option] = b
		case 'd':
			if _, err := executor.ParseDuration(v); err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: %w", k, v, err))
				continue
			}
			opts[o.option] = v
		}
	}
	return opts, errors.Join(errs...)
}

// parseStages reads --stage values DURATION:TARGET (each may hold several,
// comma-separated, as K6_STAGES does).
func parseStages(vals []string) ([]executor.Stage, error) {
	var out []executor.Stage
	for _, v := range vals {
		for _, one := range strings.Split(v, ",") {
			d, t, ok := strings.Cut(strings.TrimSpace(one), ":")
			if !ok {
				return nil, fmt.Errorf("--stage %q: want DURATION:TARGET, e.g. 30s:10", one)
			}
			dur, err := executor.ParseDuration(d)
			if err != nil {
				return nil, fmt.Errorf("--stage %q: %w", one, err)
			}
			n, err := strconv.ParseInt(t, 10, 64)
			if err != nil || n < 0 {
				return nil, fmt.Errorf("--stage %q: the target must be a whole number of VUs", one)
			}
			out = append(out, executor.Stage{Duration: dur, Target: n})
		}
	}
	return out, nil
}
