package replay

import (
	"context"
	"fmt"
	"strings"

	"github.com/hubcap-dev/hubcap/internal/hub"
	"github.com/hubcap-dev/hubcap/internal/localhub"
)

// syncRoutes gives the proxy the route of every server, pointing at the
// fleet (hub.SyncUserRoutes), as a production proxy still holds them when
// its hub restarts (z2jh runs it in its own pod). Without them the restart
// would spend its first seconds, and memory, adding them. A route's CHP
// path is the server's base URL without its trailing slash.
func syncRoutes(ctx context.Context, l *localhub.Local, servers []server) error {
	want := make(map[string]hub.Route, len(servers))
	for _, s := range servers {
		want[strings.TrimSuffix(s.BaseURL, "/")] = hub.Route{Target: l.FleetURL, JupyterHub: true, User: s.User, ServerName: s.Server}
	}
	if err := l.Hub.SyncUserRoutes(ctx, want); err != nil {
		return fmt.Errorf("%w: add proxy routes: %w", ErrPrepare, err)
	}
	return nil
}
