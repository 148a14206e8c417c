package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/hubcap-dev/hubcap/internal/bytesize"
	"github.com/hubcap-dev/hubcap/internal/check"
	"github.com/hubcap-dev/hubcap/internal/hub"
	"github.com/hubcap-dev/hubcap/internal/hubdb"
	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/hubapi"
)

// Exit codes of hubcap check (20–30). Scripts gating a deployment rely on
// them; do not renumber. They are attached by runCheck with withExitCode,
// so they never change other commands' codes.
const (
	// ExitCheckFailed: the verdict is FAIL (the predicted start-up peak is
	// over the memory limit).
	ExitCheckFailed = 20
	// ExitDBNotFound: --db names a file that does not exist.
	ExitDBNotFound = 21
	// ExitNotSQLite: the file is not a SQLite database.
	ExitNotSQLite = 22
	// ExitNotHubDB: the database has no JupyterHub schema.
	ExitNotHubDB = 23
	// ExitUnknownRevision: the alembic revision is unknown and no --release
	// was given.
	ExitUnknownRevision = 24
	// ExitDBConnect: the PostgreSQL server refused or could not be reached.
	ExitDBConnect = 25
	// ExitTokenScopes: the token lacks list:users or read:servers.
	ExitTokenScopes = 26
	// ExitNotAHub: --hub does not answer as a JupyterHub.
	ExitNotAHub = 27
	// ExitTokenRejected: the hub answered 401 to the token.
	ExitTokenRejected = 28
	// ExitHubUnreachable: nothing answered at --hub.
	ExitHubUnreachable = 29
	// ExitNoCalibration: no calibration to predict with.
	ExitNoCalibration = 30
)

// checkExitCodes maps check's errors to exit codes; the first match wins.
var checkExitCodes = []struct {
	err  error
	code int
}{
	{context.Canceled, ExitInterrupted},
	{hubdb.ErrNotFound, ExitDBNotFound},
	{hubdb.ErrNotSQLite, ExitNotSQLite},
	{hubdb.ErrNotJupyterHub, ExitNotHubDB},
	{hubdb.ErrUnknownRevision, ExitUnknownRevision},
	{hubdb.ErrConnect, ExitDBConnect},
	{hubdb.ErrBadDSN, ExitUsage},
	{check.ErrTokenScopes, ExitTokenScopes},
	{hubapi.ErrNotJupyterHub, ExitNotAHub},
	{check.ErrTokenRejected, ExitTokenRejected},
	{check.ErrHubUnreachable, ExitHubUnreachable},
	{check.ErrNoCalibration, ExitNoCalibration},
	{check.ErrNoToken, ExitUsage},
	{check.ErrBadOptions, ExitUsage},
	{bytesize.ErrInvalid, ExitUsage},
}

func checkExitCode(err error) int {
	for _, m := range checkExitCodes {
		if errors.Is(err, m.err) {
			return m.code
		}
	}
	return ExitError
}

// TokenEnv is the environment variable check reads the hub API token from.
const TokenEnv = "HUBCAP_TOKEN"

func init() {
	register(&command{
		Name:    "check",
		Summary: "pre-workshop sign-off: predict a hub's restart memory from its database or API (PASS/WARN/FAIL)",
		Run:     runCheck,
	})
}

const checkSynopsis = `check (--db PATH|URL | --hub URL) [--memory-limit 3Gi] [--release 5.3.0] [flags]

Reads the hub's database shape read-only (--db: a jupyterhub.sqlite path,
sqlite:///path, or postgresql://user@host/db with the password in $PGPASSWORD
or ~/.pgpass rather than on the command line), or lists it through the
hub's API (--hub URL, token from $HUBCAP_TOKEN or --token-file, with scopes
list:users and read:servers), predicts the peak memory and time of the hub's
next start-up, and signs off against --memory-limit:

  PASS  the upper bound plus headroom fits under the limit
  WARN  within headroom of the limit, no limit given, calibration of another
        release, or a 5.x database without --release (worst case assumed)
  FAIL  the predicted peak is over the limit, or the predicted start-up time
        is over --startup-budget (exit code 20)

The prediction uses what the rows carry (state and user_options, read from
the database, or from the API with a token that has admin:server_state; else
assumed and the interval widened). More than 1.5× beyond the calibrated range
it is at most WARN: measure with hubcap replay instead.

Every 5.x database has the same schema revision, so --db cannot tell 5.3.0
(quadratic start-up) from 5.5.1 (linear): without --release the worst case
is assumed and the verdict is at least WARN.

--replay FILE shows a measured restart of the database (hubcap replay --json
output) beside the prediction, with the prediction's error against it.

Exit codes: 0 PASS/WARN, 20 FAIL, 21 database file not found, 22 not SQLite,
23 not a JupyterHub database, 24 unknown schema revision (pass --release),
25 PostgreSQL refused, 26 token lacks scopes, 27 URL is not a JupyterHub,
28 token rejected, 29 hub unreachable, 30 no calibration, 2 usage.`

type checkFlags struct {
	check.Options
	TokenFile   string
	MemoryLimit string
	JSON        bool
	ArgvToken   string
	// StartupBudgetD is --startup-budget.
	StartupBudgetD time.Duration
	// ReplayFile is --replay: hubcap replay --json output.
	ReplayFile string
}

func runCheck(ctx context.Context, stdio IO, args []string) error {
	var f checkFlags
	fs := newFlags("check", stdio, checkSynopsis)
	fs.StringVar(&f.DB, "db", "", "hub database: jupyterhub.sqlite path, sqlite:///abs/path, or postgresql://… (read-only)")
	fs.StringVar(&f.Hub, "hub", "", "hub's public URL, e.g. https://hub.example.org (token from $"+TokenEnv+" or --token-file)")
	fs.StringVar(&f.TokenFile, "token-file", "", "file holding the hub API token (default: $"+TokenEnv+")")
	fs.StringVar(&f.ArgvToken, "token", "", "refused: tokens never go on the command line (use $"+TokenEnv+" or --token-file)")
	fs.StringVar(&f.Release, "release", "", "JupyterHub release the hub runs, e.g. 5.3.0 (default: from the hub's API or the database revision)")
	fs.StringVar(&f.MemoryLimit, "memory-limit", "", "the hub's memory limit, a Kubernetes quantity: 3Gi, 2048Mi, 3G")
	fs.StringVar(&f.Calibration, "calibration", "", "calibration file (default: the shipped one closest to the release, from models/calibrations)")
	fs.Float64Var(&f.Headroom, "headroom", check.DefaultHeadroom, "safety fraction above the prediction's upper bound (0.2 = 20%)")
	fs.IntVar(&f.Top, "top", check.DefaultTop, "how many users to list by share of J")
	fs.DurationVar(&f.StartupBudgetD, "startup-budget", time.Duration(check.DefaultStartupBudget)*time.Second,
		"how long the deployment lets the hub start before its probe restarts it (liveness/startup probe: initialDelaySeconds + periodSeconds × failureThreshold); 0 = not checked")
	fs.DurationVar(&f.Timeout, "timeout", 0, "per-request timeout for --hub (default 60s)")
	fs.BoolVar(&f.JSON, "json", false, "print the report as JSON")
	fs.StringVar(&f.ReplayFile, "replay", "", "show this measured restart (hubcap replay --json output) beside the prediction")
	if err := parseFlags(fs, args, false); err != nil {
		return err
	}
	if f.StartupBudgetD < 0 {
		return withExitCode(ExitUsage, fmt.Errorf("--startup-budget %v: give a duration ≥ 0 (0 = not checked), e.g. 5m", f.StartupBudgetD))
	}
	f.StartupBudget = f.StartupBudgetD.Seconds()
	if f.ArgvToken != "" {
		return withExitCode(ExitUsage, fmt.Errorf("--token is refused: a token on the command line leaks into shell history and ps; export %s or pass --token-file FILE", TokenEnv))
	}
	if f.MemoryLimit != "" {
		n, err := bytesize.Parse(f.MemoryLimit)
		if err != nil {
			return withExitCode(ExitUsage, fmt.Errorf("--memory-limit: %w", err))
		}
		f.Options.MemoryLimit = n
	}
	if f.Hub != "" {
		switch {
		case f.TokenFile != "":
			tok, err := hub.ReadToken(f.TokenFile)
			if err != nil {
				return withExitCode(ExitUsage, fmt.Errorf("--token-file: %w", err))
			}
			if tok == "" {
				return withExitCode(ExitUsage, fmt.Errorf("--token-file %s is empty", f.TokenFile))
			}
			f.Token = tok
		default:
			f.Token = strings.TrimSpace(os.Getenv(TokenEnv))
		}
	}
	var rp *check.Replay
	if f.ReplayFile != "" {
		var err error
		if rp, err = check.LoadReplay(f.ReplayFile); err != nil {
			return withExitCode(ExitUsage, fmt.Errorf("--replay: %w", err))
		}
	}
	r, err := check.Run(ctx, f.Options)
	if err != nil {
		return withExitCode(checkExitCode(err), err)
	}
	r.AttachReplay(rp)
	if f.JSON {
		err = r.JSON(stdio.Stdout)
	} else {
		err = r.Text(stdio.Stdout)
	}
	if err != nil {
		return err
	}
	if r.Verdict == check.Fail {
		return withExitCode(ExitCheckFailed, errSilentWrap(errors.New("verdict FAIL")))
	}
	return nil
}
