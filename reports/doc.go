// Package reports turns a hubcap run into one self-contained HTML capacity
// report that a workshop organiser can open offline and a partner can sign off.
//
// The pipeline is:
//
//	res, err := reports.ReadNDJSON(f)          // k6 `--out json` stream
//	err = reports.Render(w, reports.Input{     // one HTML file
//	        Results: res, Verdict: &v, Model: &m, Check: &c, Env: &e})
//
// Every number the charts show is also written as a plain HTML table, so the
// report reads without JavaScript. Charts are built with go-echarts option
// types; the page itself is assembled here with html/template and the ECharts
// library (Apache-2.0) is embedded inline, so the output references no URL.
// The library is read at run time from the npm package installed by
// `make setup` (see [LocateECharts]) or passed in [Input.EChartsJS].
//
// Metric names of the traffic module are not hard-coded: phase latencies are
// the Trend metrics carrying a `phase` tag, errors the Counter metrics carrying
// a `status` tag. Only the hub telemetry gauges and the run-status marker have
// fixed names (the Metric… constants).
package reports
