package calibrate

import (
	"context"
	"fmt"
	"net/url"

	"github.com/hubcap-dev/hubcap/internal/hub"
	"github.com/hubcap-dev/hubcap/internal/seed"
)

// routesFor is the proxy's user routes (CHP path → route) of a hub whose
// database holds exactly p, its servers at target.
func routesFor(p seed.Plan, target string) map[string]hub.Route {
	t := map[string]hub.Route{}
	for _, u := range p {
		for i := range u.Running {
			name := seed.ServerName(i)
			t["/user/"+url.PathEscape(u.Name)+"/"+url.PathEscape(name)] = hub.Route{Target: target, JupyterHub: true, User: u.Name, ServerName: name}
		}
	}
	return t
}

// syncRoutes makes the proxy's user routes those of a hub holding exactly
// p (hub.SyncUserRoutes): a restart onto another database then does not
// spend its first seconds, and tens of MiB, deleting the previous
// database's routes and adding its own. The hub must be stopped.
func (s *session) syncRoutes(ctx context.Context, p seed.Plan) error {
	if err := s.l.Hub.SyncUserRoutes(ctx, routesFor(p, s.l.FleetURL)); err != nil {
		return fmt.Errorf("calibrate: %w", err)
	}
	return nil
}
