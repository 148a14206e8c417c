package fleet

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// SpawnerPython is the source of the hubcap_fleetspawner Python module,
// which defines FleetSpawner(jupyterhub.spawner.Spawner). The hub harness
// writes it to <rundir>/hubcap_fleetspawner.py, puts the run directory on
// sys.path in jupyterhub_config.py and appends SpawnerConfig's lines.
//
//go:embed fleetspawner.py
var SpawnerPython string

// SpawnerModule is the module name SpawnerConfig imports FleetSpawner from:
// the harness writes SpawnerPython to SpawnerModule + ".py".
const SpawnerModule = "hubcap_fleetspawner"

// Environment variables of the hub process that tell FleetSpawner where the
// fleet is and which secret its control API wants. Never pass these in argv.
const (
	EnvFleetURL    = "HUBCAP_FLEET_URL"
	EnvFleetSecret = "HUBCAP_FLEET_SECRET"
)

// SpawnerOptions are FleetSpawner's settings written into the hub config.
// The zero value gives the defaults noted on each field.
type SpawnerOptions struct {
	// StateBytes is the size of the JSON state each spawner row stores
	// (KubeSpawner's pod_name, namespace, dns_name plus padding). 0 = 512.
	StateBytes int
	// UserOptionsBytes is extra padding added to the default user_options
	// (used when a spawn request gives none). 0 = none.
	UserOptionsBytes int
	// Profile and Image go into the default user_options.
	// "" = "workshop" and a scipy-notebook image.
	Profile, Image string
	// Namespace is the Kubernetes namespace recorded in the state. "" = "jhub".
	Namespace string
	// PollFailures is how many consecutive failed polls (fleet unreachable
	// or 5xx) make poll() report the server stopped. 0 = 3.
	PollFailures int
}

// ErrSpawnerOptions is wrapped by the errors of SpawnerOptions.Validate.
var ErrSpawnerOptions = errors.New("fleet: invalid spawner options")

// maxPadding bounds state and user_options padding (a spawner row of more
// than a few MiB is not a realistic deployment).
const maxPadding = 4 << 20

var namespaceRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// Validate reports every problem with o at once.
func (o SpawnerOptions) Validate() []error {
	var errs []error
	if o.StateBytes < 0 || o.StateBytes > maxPadding {
		errs = append(errs, fmt.Errorf("%w: state bytes %d outside 0..%d", ErrSpawnerOptions, o.StateBytes, maxPadding))
	}
	if o.UserOptionsBytes < 0 || o.UserOptionsBytes > maxPadding {
		errs = append(errs, fmt.Errorf("%w: user options bytes %d outside 0..%d", ErrSpawnerOptions, o.UserOptionsBytes, maxPadding))
	}
	if o.Namespace != "" && (len(o.Namespace) > 63 || !namespaceRE.MatchString(o.Namespace)) {
		errs = append(errs, fmt.Errorf("%w: namespace %q is not a Kubernetes name (lowercase letters, digits, '-')", ErrSpawnerOptions, o.Namespace))
	}
	if o.PollFailures < 0 {
		errs = append(errs, fmt.Errorf("%w: poll failures %d is negative", ErrSpawnerOptions, o.PollFailures))
	}
	return errs
}

// SpawnerConfig returns the jupyterhub_config.py lines that make the hub use
// FleetSpawner with options o. The run directory holding
// SpawnerModule+".py" must already be on sys.path. Invalid numbers are
// clamped to their defaults; call Validate first to report them.
func SpawnerConfig(o SpawnerOptions) string {
	if o.StateBytes <= 0 || o.StateBytes > maxPadding {
		o.StateBytes = 512
	}
	if o.UserOptionsBytes < 0 || o.UserOptionsBytes > maxPadding {
		o.UserOptionsBytes = 0
	}
	if o.Profile == "" {
		o.Profile = "workshop"
	}
	if o.Image == "" {
		o.Image = "quay.io/jupyter/scipy-notebook:2025-03-17"
	}
	if o.Namespace == "" || !namespaceRE.MatchString(o.Namespace) {
		o.Namespace = "jhub"
	}
	if o.PollFailures <= 0 {
		o.PollFailures = 3
	}
	var b strings.Builder
	b.WriteString("# hubcap fleet: simulated single-user servers (" + EnvFleetURL + " and " + EnvFleetSecret + " come from the environment)\n")
	b.WriteString("from " + SpawnerModule + " import FleetSpawner\n")
	b.WriteString("c.JupyterHub.spawner_class = FleetSpawner\n")
	fmt.Fprintf(&b, "c.FleetSpawner.state_bytes = %d\n", o.StateBytes)
	fmt.Fprintf(&b, "c.FleetSpawner.user_options_bytes = %d\n", o.UserOptionsBytes)
	fmt.Fprintf(&b, "c.FleetSpawner.default_profile = %s\n", pyString(o.Profile))
	fmt.Fprintf(&b, "c.FleetSpawner.default_image = %s\n", pyString(o.Image))
	fmt.Fprintf(&b, "c.FleetSpawner.namespace = %s\n", pyString(o.Namespace))
	fmt.Fprintf(&b, "c.FleetSpawner.poll_failures_before_gone = %d\n", o.PollFailures)
	return b.String()
}

// pyString quotes s as a Python string literal. JSON string syntax is a
// subset of Python's, and json.Marshal escapes every control character.
func pyString(s string) string {
	b, _ := json.Marshal(s) // a string always marshals
	return string(b)
}
