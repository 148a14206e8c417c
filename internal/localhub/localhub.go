// Package localhub starts a real JupyterHub of an installed release whose
// single-user servers are served by an in-process fleet: the composition
// that integration tests, calibration and `hubcap run --hub local:VERSION`
// share. The hub (and its proxy) are the harness's; the fleet lives in this
// process and stops with Stop.
package localhub

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/hubcap-dev/hubcap/internal/fleet"
	"github.com/hubcap-dev/hubcap/internal/hub"
)

// Options configure Start.
type Options struct {
	// Hub are the harness options; Spawner, SpawnerConfig, SpawnerFiles and
	// the fleet's Env entries are filled in by Start.
	Hub hub.Options
	// Fleet configures the in-process fleet; Secret and URL are generated.
	Fleet fleet.Config
	// Spawner configures FleetSpawner (state size, profile).
	Spawner fleet.SpawnerOptions
}

// Local is a running hub with its fleet.
type Local struct {
	Hub   *hub.Hub
	Fleet *fleet.Server
	// FleetURL is where the proxy sends /user/... requests.
	FleetURL string
	ln       net.Listener
	done     chan error
}

// Start starts the fleet on a free loopback port, then the hub configured
// to spawn into it, and waits until the hub is healthy.
func Start(ctx context.Context, o Options) (*Local, error) {
	if errs := o.Spawner.Validate(); len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	secret, err := newSecret()
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("localhub: listen for the fleet: %w", err)
	}
	url := "http://" + ln.Addr().String()
	fc := o.Fleet
	fc.Secret = secret
	fc.URL = url
	srv, err := fleet.Open(fc)
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("localhub: fleet: %w", err)
	}
	l := &Local{Fleet: srv, FleetURL: url, ln: ln, done: make(chan error, 1)}
	go func() { l.done <- srv.Serve(ln) }()

	ho := o.Hub
	ho.Spawner = hub.SpawnerFleet
	ho.SpawnerConfig = fleet.SpawnerConfig(o.Spawner)
	files := map[string][]byte{fleet.SpawnerModule + ".py": []byte(fleet.SpawnerPython)}
	for k, v := range o.Hub.SpawnerFiles {
		files[k] = v
	}
	ho.SpawnerFiles = files
	env := map[string]string{fleet.EnvFleetURL: url, fleet.EnvFleetSecret: secret}
	for k, v := range o.Hub.Env {
		env[k] = v
	}
	ho.Env = env
	h, err := hub.Start(ctx, ho)
	if err != nil {
		l.closeFleet()
		return nil, err
	}
	l.Hub = h
	return l, nil
}

// Stop stops the hub, its proxy and every child, then the fleet. It is
// safe to call more than once.
func (l *Local) Stop(ctx context.Context) error {
	var err error
	if l.Hub != nil {
		err = l.Hub.Stop(ctx)
	}
	l.closeFleet()
	return err
}

func (l *Local) closeFleet() {
	if l.Fleet != nil {
		_ = l.Fleet.Close()
	}
	if l.ln != nil {
		_ = l.ln.Close()
	}
	select {
	case <-l.done:
	case <-time.After(5 * time.Second):
	}
}

func newSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("localhub: fleet secret: %w", err)
	}
	return hex.EncodeToString(b), nil
}
