package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/hubcap-dev/hubcap/internal/output"
	"github.com/hubcap-dev/hubcap/internal/script"
)

// outSpec is an --out besides json: a CSV file or Prometheus remote write.
type outSpec struct {
	csvFile string
	csvOpts output.CSVOptions
	prom    *output.PromRWConfig
}

// csvSpec reads --out csv=FILE (or file_name=...,time_format=...) with
// K6_CSV_TIME_FORMAT and K6_CSV_SAVE_INTERVAL from environ; the argument
// wins.
func csvSpec(arg string, environ []string) (outSpec, error) {
	var env output.CSVOptions
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "K6_CSV_TIME_FORMAT":
			env.TimeFormat = v
		case "K6_CSV_SAVE_INTERVAL":
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return outSpec{}, fmt.Errorf("K6_CSV_SAVE_INTERVAL=%q: want a positive duration", v)
			}
			env.SaveInterval = d
		}
	}
	file, o, err := output.ParseCSVArg(arg)
	if err != nil {
		return outSpec{}, err
	}
	if file == "" {
		return outSpec{}, fmt.Errorf("name the file, as in csv=results.csv")
	}
	if o.TimeFormat == "" {
		o.TimeFormat = env.TimeFormat
	}
	if o.SaveInterval == 0 {
		o.SaveInterval = env.SaveInterval
	}
	return outSpec{csvFile: file, csvOpts: o}, nil
}

func (s outSpec) open() (script.Output, error) {
	if s.prom != nil {
		return output.NewPromRW(*s.prom), nil
	}
	return output.OpenCSV(s.csvFile, s.csvOpts)
}
