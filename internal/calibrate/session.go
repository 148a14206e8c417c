package calibrate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/hubcap-dev/hubcap/internal/fleet"
	"github.com/hubcap-dev/hubcap/internal/hub"
	"github.com/hubcap-dev/hubcap/internal/localhub"
	"github.com/hubcap-dev/hubcap/internal/proc"
	"github.com/hubcap-dev/hubcap/internal/seed"
	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/hubapi"
)

// dbFile is the hub's SQLite database in its run directory
// (hub.GenerateConfig's db_url).
const dbFile = "jupyterhub.sqlite"

// session is one local hub with its fleet whose database is rewritten
// between restarts: the hub process is stopped, a database snapshot is put
// in place and/or seeded with the fast path, and the hub is restarted and
// measured. Snapshots live in dir and are plain copies of the SQLite file
// (the hub is stopped while they are taken or restored).
type session struct {
	release string
	l       *localhub.Local
	python  string
	live    string // the hub's database
	dir     string // snapshots
	client  *hubapi.Client
	// stateBytes is FleetSpawner's state size (also what ApplyDB pads to).
	stateBytes int
	hubUp      bool
	log        io.Writer
}

// sessionOptions configure startSession.
type sessionOptions struct {
	Release, Root, RunDir string
	// JupyterHub is the install to run instead of Root's venv of Release.
	JupyterHub string
	StateBytes int
	Log        io.Writer
	// StartTimeout bounds each start (a quadratic release needs minutes
	// for a million joined rows).
	StartTimeout time.Duration
}

// startSession starts the hub and its fleet in o.RunDir, on a new
// database (one left there is deleted), and saves it as the "pristine"
// snapshot.
func startSession(ctx context.Context, o sessionOptions) (*session, error) {
	root := o.Root
	if root == "" {
		var err error
		if root, err = hub.FindRoot(); err != nil {
			return nil, err
		}
	}
	in, err := installOf(root, o.Release, o.JupyterHub)
	if err != nil {
		return nil, err
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	// A fresh database: a run directory used before keeps its logs, not
	// its users and servers.
	snap := filepath.Join(o.RunDir, "snapshots")
	if err := os.RemoveAll(snap); err != nil {
		return nil, err
	}
	for _, suffix := range []string{"", "-journal", "-wal", "-shm"} {
		if err := os.Remove(filepath.Join(o.RunDir, dbFile+suffix)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
	}
	if err := os.MkdirAll(snap, 0o700); err != nil {
		return nil, err
	}
	l, err := localhub.Start(ctx, localhub.Options{
		Hub: hub.Options{
			Release: o.Release, Root: root, JupyterHub: o.JupyterHub, RunDir: o.RunDir, Log: o.Log,
			StartTimeout: o.StartTimeout,
		},
		// every calibration server is registered by ApplyDB
		Fleet:   fleet.Config{MaxServers: 1 << 20},
		Spawner: fleet.SpawnerOptions{StateBytes: o.StateBytes},
	})
	if err != nil {
		return nil, err
	}
	s := &session{
		release: o.Release, l: l, python: in.Bin("python"),
		live: filepath.Join(o.RunDir, dbFile), dir: snap,
		stateBytes: o.StateBytes, hubUp: true, log: o.Log,
	}
	tok, err := l.Hub.Token()
	if err == nil {
		s.client, err = hubapi.New(hubapi.Config{BaseURL: l.Hub.URL(), Token: tok, MaxRetries: -1})
	}
	if err == nil {
		err = s.stopHub(ctx)
	}
	if err == nil {
		err = s.save("pristine")
	}
	if err != nil {
		s.close(context.WithoutCancel(ctx))
		return nil, err
	}
	return s, nil
}

// stopHub stops the hub process (hub.StopProcess) and leaves the proxy
// and the fleet running, so that the database can be rewritten before the
// next restart.
func (s *session) stopHub(ctx context.Context) error {
	if !s.hubUp {
		return nil
	}
	if err := s.l.Hub.StopProcess(ctx); err != nil {
		return err
	}
	s.hubUp = false
	return nil
}

func (s *session) snapshot(label string) string {
	return filepath.Join(s.dir, label+".sqlite")
}

// save copies the live database to the snapshot label (hub stopped).
func (s *session) save(label string) error {
	if s.hubUp {
		return errors.New("calibrate: internal error: snapshot while the hub runs")
	}
	return copyFile(s.live, s.snapshot(label))
}

// restore puts snapshot label in place of the live database (hub stopped).
func (s *session) restore(label string) error {
	if s.hubUp {
		return errors.New("calibrate: internal error: restore while the hub runs")
	}
	for _, suffix := range []string{"-journal", "-wal", "-shm"} {
		if err := os.Remove(s.live + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return copyFile(s.snapshot(label), s.live)
}

// seed writes p into the live database with the fast path (hub stopped).
func (s *session) seed(ctx context.Context, p seed.Plan) (seed.DBResult, error) {
	return s.seedContent(ctx, p, Content{StateBytes: s.stateBytes})
}

// seedContent writes p with rows carrying c (hub stopped).
func (s *session) seedContent(ctx context.Context, p seed.Plan, c Content) (seed.DBResult, error) {
	if s.hubUp {
		return seed.DBResult{}, errors.New("calibrate: internal error: seeding while the hub runs")
	}
	return seed.ApplyDB(ctx, p, c.dbOptions(seed.DBOptions{
		Python: s.python, DB: s.live, Fleet: s.l.Fleet, ServerURL: s.l.FleetURL,
		HubAPIURL: fmt.Sprintf("http://127.0.0.1:%d/hub/api", s.l.Hub.Ports().Hub),
	}))
}

// setLimit sets the memory limit of the next start (0: none).
func (s *session) setLimit(limit int64) error { return s.l.Hub.SetMemoryLimit(limit) }

// measurement is one restart of the hub on the live database.
type measurement struct {
	Report hub.StartReport
	// Healthy: the hub answered /hub/health and was still alive once its
	// spawners were initialised.
	Healthy bool
	// OOMKilled: killed by its memory cgroup, during the start or after it
	// answered /hub/health but before its start-up finished.
	OOMKilled bool
	// PeakRSS is VmHWM read when the start-up was over (init_spawners
	// done and Settle passed), so it covers the whole start-up; PeakAtHealthy
	// is VmHWM when /hub/health first answered.
	PeakRSS, PeakAtHealthy int64
	Seconds                float64
	// InitSpawners is jupyterhub_init_spawners_duration_seconds, NaN if
	// the hub did not report it.
	InitSpawners float64
	SteadyRSS    int64
	// Wall is the time the restart took, from stopping the old process to
	// the last reading.
	Wall time.Duration
}

// restart stops the hub if it runs, starts it on the live database and
// measures the start-up. A start that fails for another reason than the
// memory limit is an error.
func (s *session) restart(ctx context.Context, settle, initWait time.Duration) (measurement, error) {
	t0 := time.Now()
	var m measurement
	if err := s.stopHub(ctx); err != nil {
		return m, err
	}
	rep, err := s.l.Hub.Restart(ctx)
	m.Report = rep
	m.Seconds = rep.SecondsToHealthy
	m.PeakAtHealthy, m.PeakRSS = rep.PeakRSS, rep.PeakRSS
	m.InitSpawners = math.NaN()
	if err != nil {
		if rep.Outcome.Kind == hub.OutcomeOOMKilled {
			m.OOMKilled = true
			m.Wall = time.Since(t0)
			return m, nil
		}
		if rep.PID != 0 && rep.Outcome.Kind != "" {
			// the harness killed what it started; nothing runs
			return m, err
		}
		return m, err
	}
	s.hubUp = true
	pid := rep.PID
	// The hub answers /hub/health while init_spawners may still run (it
	// waits init_spawners_timeout, 10 s, then goes on): wait for the
	// metric that is observed when it finishes, then let it settle.
	deadline := time.Now().Add(initWait)
	for time.Now().Before(deadline) {
		if !s.alive(pid) {
			break
		}
		mctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		hm, err := s.client.Metrics(mctx)
		cancel()
		if err == nil && !math.IsNaN(hm.InitSpawnersSeconds) {
			m.InitSpawners = hm.InitSpawnersSeconds
			break
		}
		if ctx.Err() != nil {
			return m, ctx.Err()
		}
		sleep(ctx, 250*time.Millisecond)
	}
	if s.alive(pid) {
		sleep(ctx, settle)
	}
	if ctx.Err() != nil {
		return m, ctx.Err()
	}
	mem, err := proc.ReadMem(pid)
	if err != nil || !s.alive(pid) {
		// died after /hub/health answered: under a limit, the OOM killer
		s.hubUp = false
		m.OOMKilled = rep.Limit > 0
		m.Wall = time.Since(t0)
		if !m.OOMKilled {
			return m, fmt.Errorf("jupyterhub %s pid %d exited after it became healthy (log %s)", s.release, pid, s.l.Hub.LogFile())
		}
		return m, nil
	}
	m.Healthy = true
	m.PeakRSS = max(m.PeakRSS, mem.HWM)
	m.SteadyRSS = mem.RSS
	m.Wall = time.Since(t0)
	return m, nil
}

func (s *session) alive(pid int) bool {
	p, err := proc.Identify(pid)
	return err == nil && proc.Alive(p)
}

// close stops everything: hub, proxy, fleet and cgroups.
func (s *session) close(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	return s.l.Stop(ctx)
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".copy-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, in); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), dst)
}
