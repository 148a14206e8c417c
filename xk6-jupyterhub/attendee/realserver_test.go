package attendee

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/hubcap-dev/hubcap/internal/hub"
	"github.com/hubcap-dev/hubcap/internal/hub/hubtest"
	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/samples"
)

// TestIntegrationRealSingleUser runs one attendee's whole journey against a
// real JupyterHub with a real jupyterhub-singleuser (jupyter_server) and a
// real ipykernel: the OAuth chain, xsrf on contents and sessions, and the
// kernel websocket with cookies are jupyter_server's own, not the fleet's.
// jupyter_server without JupyterLab has no /lab page, so LabLoad fetches
// api/status (which also needs the OAuth cookie).
func TestIntegrationRealSingleUser(t *testing.T) {
	h := hubtest.Start(t, hub.Options{Release: "5.5.1", Spawner: hub.SpawnerLocal, StartTimeout: 60 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 80*time.Second)
	defer cancel()
	buf := &samples.Buffer{}
	s, err := New(Config{HubURL: h.URL(), Username: "hubcap-real-0", Password: "x", Server: "real",
		Sink: buf, Rand: rand.NewPCG(3, 4), LabPath: "api/status", RemoveServer: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Run(ctx, Journey{}); err != nil {
		t.Fatal(err)
	}
	for _, p := range Phases {
		if ok, failed := countOK(buf, PhaseMetric[p]); ok != 1 || failed != 0 {
			t.Errorf("%s: %d ok, %d failed", p, ok, failed)
		}
	}
}
