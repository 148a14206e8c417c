// Package capreport assembles the capacity report of a run: it turns what a
// run wrote (k6 NDJSON results), a calibration of the hub release, an optional
// `hubcap check` result, the planned workshop size and the hub's memory limit
// into a [reports.Input], and writes the HTML file with [reports.Render].
//
//	r, err := capreport.Build(capreport.Inputs{
//		ResultsPath: "out/results.ndjson",
//		Calibration: &cal, Planned: 700, LimitBytes: 3 << 30})
//	err = r.WriteFile("out/report.html")
//
// What it decides, all as pure functions of its inputs:
//
//   - The size family the capacity model is drawn over (see [Family]): for a
//     workshop, k attendees each costing the per-attendee database shape the
//     run measured (spawner rows, running servers and joined rows per user);
//     for a named-server stress test, n users holding k named servers each.
//   - The model view: the fitted start-up peak over the family with its
//     prediction band, the calibration's measured restarts placed at the size
//     with the same predicted load, the limit line and the predicted
//     threshold (the largest size whose upper band stays under the limit,
//     [models.Threshold]).
//   - The verdict: the run's thresholds (from the run itself, a summary
//     export, or the thresholds the NDJSON declares, evaluated on its points),
//     the hub's peak RSS during the run against the limit, the planned size
//     against the predicted threshold, and the headroom at the planned size.
//   - The run status: the stream's hubcap_run_status marker; a run whose hub
//     telemetry last saw the hub down counts as "hub died"; a stream without
//     a marker as cut short (the report says so).
//
// Scenarios record their parameters in the stream as one point of the gauge
// [MetricScenarioInfo]; its upper-case tags are the parameters (ATTENDEES,
// ARRIVAL_WINDOW, …), and the lower-case tags script, family and hub_version
// say which scenario ran, which size family it plans for and which
// JupyterHub release answered. The report's defaults (planned size, family,
// release, memory limit) come from there.
package capreport
