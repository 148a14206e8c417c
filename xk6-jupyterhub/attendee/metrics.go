package attendee

import (
	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/hubapi"
	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/samples"
)

// Metric names of the phases (trends of milliseconds, tag "result" = ok or
// error) and of the other measurements an attendee emits.
const (
	MetricLogin          = "jupyterhub_login_duration"
	MetricSpawn          = "jupyterhub_spawn_duration"
	MetricOAuth          = "jupyterhub_oauth_duration"
	MetricLabLoad        = "jupyterhub_lab_load_duration"
	MetricListContents   = "jupyterhub_list_contents_duration"
	MetricOpenNotebook   = "jupyterhub_open_notebook_duration"
	MetricSaveNotebook   = "jupyterhub_save_notebook_duration"
	MetricStartKernel    = "jupyterhub_kernel_start_duration"
	MetricConnectKernel  = "jupyterhub_kernel_connect_duration"
	MetricExecute        = "jupyterhub_execute_duration"
	MetricShutdownKernel = "jupyterhub_kernel_shutdown_duration"
	MetricStopServer     = "jupyterhub_stop_server_duration"
	MetricLogout         = "jupyterhub_logout_duration"

	// MetricHTTPDuration is one HTTP request to a page or a single-user
	// server (hub API requests go to hubapi.MetricAPIDuration). Tags: method,
	// endpoint (path template), status.
	MetricHTTPDuration = "jupyterhub_http_duration"
	// MetricOAuthRedirects is the number of redirects of the OAuth phase.
	MetricOAuthRedirects = "jupyterhub_oauth_redirects"
	// MetricLabBytes is the size of the lab page body.
	MetricLabBytes = "jupyterhub_lab_bytes"
	// MetricWSDrops counts kernel websockets that ended without Close.
	MetricWSDrops = "jupyterhub_ws_drops"
	// MetricErrors, MetricThrottled, MetricDataSent and MetricDataReceived
	// are shared with hubapi. Errors are counted once per failed phase, with
	// tags phase, status (HTTP status, "0" without an answer) and error
	// (http, timeout, network, websocket, kernel, check, flow).
	MetricErrors       = hubapi.MetricErrors
	MetricThrottled    = hubapi.MetricThrottled
	MetricDataSent     = hubapi.MetricDataSent
	MetricDataReceived = hubapi.MetricDataReceived
)

// PhaseMetric maps each phase to its trend.
var PhaseMetric = map[Phase]string{
	PhaseLogin:          MetricLogin,
	PhaseSpawn:          MetricSpawn,
	PhaseOAuth:          MetricOAuth,
	PhaseLabLoad:        MetricLabLoad,
	PhaseListContents:   MetricListContents,
	PhaseOpenNotebook:   MetricOpenNotebook,
	PhaseSaveNotebook:   MetricSaveNotebook,
	PhaseStartKernel:    MetricStartKernel,
	PhaseConnectKernel:  MetricConnectKernel,
	PhaseExecute:        MetricExecute,
	PhaseShutdownKernel: MetricShutdownKernel,
	PhaseStopServer:     MetricStopServer,
	PhaseLogout:         MetricLogout,
}

// Metrics describes every metric an attendee emits.
var Metrics = func() []samples.Metric {
	var ms []samples.Metric
	for _, p := range Phases {
		ms = append(ms, samples.Metric{Name: PhaseMetric[p], Kind: samples.Trend, Contains: samples.Time})
	}
	ms = append(ms,
		samples.Metric{Name: MetricHTTPDuration, Kind: samples.Trend, Contains: samples.Time},
		samples.Metric{Name: MetricOAuthRedirects, Kind: samples.Trend},
		samples.Metric{Name: MetricLabBytes, Kind: samples.Trend, Contains: samples.Data},
		samples.Metric{Name: MetricWSDrops, Kind: samples.Counter},
	)
	return append(ms, hubapi.Metrics...)
}()
