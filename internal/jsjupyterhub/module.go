// Package jsjupyterhub is the k6/x/jupyterhub JavaScript module of hubcap's
// script runtime: a thin binding over the traffic packages hubapi (admin
// client) and attendee (browser-like sessions). It converts JavaScript values
// to Go and back and calls those packages; it holds no domain logic. Errors
// are thrown as JavaScript exceptions carrying the Go error's message (which
// never contains a token). The API is documented in docs/jupyterhub-module.md.
//
// The module registers itself from init(); a program links it in with a
// blank import. The CLI binds each run's target (hub URL, token, name prefix)
// with Bind, and unbinds it with Binding.Close.
package jsjupyterhub

import (
	"net/http"

	"github.com/hubcap-dev/hubcap/internal/script"
	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/attendee"
	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/samples"
)

// ImportPath is the module's import path in scripts.
const ImportPath = "k6/x/jupyterhub"

func init() { script.RegisterModule(ImportPath, RootModule{}) }

// RootModule is the module registered once per process.
type RootModule struct{}

var (
	_ script.Module          = RootModule{}
	_ script.MetricsDeclarer = RootModule{}
	_ script.Instance        = (*ModuleInstance)(nil)
)

// NewModuleInstance is called once per VU that imports the module; the
// instance talks to the target bound when it is made.
func (RootModule) NewModuleInstance(vu script.VU) script.Instance {
	b := current.Load()
	if b != nil {
		// Every VU of a run shares one sink, the run's stream.
		b.sink.set(vu.Sink())
	}
	return &ModuleInstance{vu: vu, b: b}
}

// Metrics declares what attendees and the admin client emit, so that
// thresholds can name them.
func (RootModule) Metrics() []samples.Metric { return attendee.Metrics }

// ModuleInstance is one VU's instance of the module.
type ModuleInstance struct {
	vu script.VU
	b  *Binding // nil: no hub
	// transport is the VU's connection pool, shared by its attendees.
	transport http.RoundTripper
	insecure  bool
}

// Exports returns the default export: hubURL, prefix, version, admin and
// attendee.
func (m *ModuleInstance) Exports() script.Exports {
	return script.Exports{Default: map[string]any{
		"hubURL":   m.hubURL,
		"prefix":   m.prefix,
		"version":  m.version,
		"admin":    m.adminExports(),
		"attendee": m.newAttendee,
	}}
}

func (m *ModuleInstance) hubURL() string {
	if m.b == nil {
		return ""
	}
	return m.b.target.HubURL
}

func (m *ModuleInstance) prefix() string {
	if m.b == nil {
		return ""
	}
	return m.b.target.NamePrefix
}

func (m *ModuleInstance) version() (map[string]any, error) {
	if err := script.RequireVUContext(m.vu, "jupyterhub.version()"); err != nil {
		return nil, err
	}
	if m.b == nil || m.b.admin == nil {
		return nil, noHubError()
	}
	v, err := m.b.admin.Version(m.vu.Context())
	if err != nil {
		return nil, err
	}
	return versionValue(v), nil
}
