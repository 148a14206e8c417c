package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hubcap-dev/hubcap/internal/kube"
	"github.com/hubcap-dev/hubcap/internal/script"
)

func init() {
	register(&command{
		Name:    "k8s",
		Summary: "run a split test on Kubernetes: k8s render --instances N --script FILE --hub URL --token-secret NAME",
		Run:     runK8s,
	})
}

const k8sSynopsis = `k8s render --instances N --script FILE --hub URL --token-secret NAME [--image IMAGE] [flags]

Prints the Kubernetes manifests of one test split over N pods (execution
segments 0:1/N … (N-1)/N:1): a ConfigMap holding the script and its local
imports, and an Indexed Job (completionMode: Indexed, parallelism N) whose
pod number i runs segment i of the sequence against --hub, with one run id,
the admin token from the Secret --token-secret (key "token"), and a start
time shared by every pod (--start-in from now, or --start-at). The header
comments say how to collect the results (a ReadWriteMany volume with
--results-claim, else kubectl logs) and make one report of them.
Apply with: hubcap k8s render … | kubectl apply -f -`

func runK8s(ctx context.Context, stdio IO, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintf(stdio.Stderr, "Usage: hubcap %s\n", k8sSynopsis)
		if len(args) == 0 {
			return withExitCode(ExitUsage, errSilentWrap(errors.New("no k8s subcommand")))
		}
		return nil
	}
	if args[0] != "render" {
		return withExitCode(ExitUsage, fmt.Errorf("unknown subcommand %q; use render", args[0]))
	}
	return k8sRender(stdio, args[1:], time.Now())
}

func k8sRender(stdio IO, args []string, now time.Time) error {
	var o kube.Options
	var scriptPath, startAt string
	var startIn time.Duration
	var env, files, extra multiFlag
	fs := newFlags("k8s render", stdio, k8sSynopsis)
	fs.IntVar(&o.Instances, "instances", 0, "number of pods, each one execution segment of the test")
	fs.StringVar(&scriptPath, "script", "", "the scenario script; its local imports travel with it")
	fs.StringVar(&o.HubURL, "hub", "", "the hub's URL as the pods reach it (e.g. http://proxy-public.jhub.svc.cluster.local)")
	fs.StringVar(&o.TokenSecret, "token-secret", "", "the Secret holding the hub's admin token")
	fs.StringVar(&o.TokenKey, "token-key", kube.DefaultTokenKey, "the key of the token in the Secret")
	fs.StringVar(&o.Image, "image", kube.DefaultImage, "hubcap's image (built from deploy/kubernetes/Dockerfile)")
	fs.StringVar(&o.Name, "name", "", "name of the Job (default hubcap-<run id>)")
	fs.StringVar(&o.Namespace, "namespace", "", "namespace of the Job and ConfigMap (default: kubectl's)")
	fs.StringVar(&o.RunID, "run-id", "", "the run id every pod records (default a new one)")
	fs.DurationVar(&startIn, "start-in", 2*time.Minute, "the pods start their test this long after rendering (their start barrier)")
	fs.StringVar(&startAt, "start-at", "", "the pods start their test at this RFC 3339 time instead")
	fs.StringVar(&o.ResultsClaim, "results-claim", "", "a ReadWriteMany PersistentVolumeClaim for the results (default: the pods' standard output, for kubectl logs)")
	fs.StringVar(&o.CPU, "cpu", kube.DefaultCPU, "CPU request of each pod")
	fs.StringVar(&o.Memory, "memory", kube.DefaultMemory, "memory request and limit of each pod")
	fs.Var(&env, "e", "add KEY=VALUE to the script's __ENV (repeatable)")
	fs.Var(&files, "file", "a further file the script reads with open(), relative to the script's directory (repeatable)")
	fs.Var(&extra, "run-arg", "a further hubcap run argument, e.g. --run-arg=--name-prefix=ws- (repeatable)")
	if err := parseFlags(fs, args, false); err != nil {
		return err
	}
	var errs []error
	if scriptPath == "" {
		errs = append(errs, errors.New("--script: name the scenario script"))
	}
	var err error
	if o.Env, err = keyValues(env, "-e"); err != nil {
		errs = append(errs, err)
	}
	if o.RunID == "" {
		o.RunID = newRunID()
	}
	if startAt != "" {
		if o.StartAt, err = time.Parse(time.RFC3339, startAt); err != nil {
			errs = append(errs, fmt.Errorf("--start-at %q: want an RFC 3339 time such as 2026-05-04T09:00:00Z", startAt))
		}
	} else {
		o.StartAt = now.Add(startIn).UTC().Truncate(time.Second)
	}
	o.ExtraArgs = extra
	if len(errs) > 0 {
		return withExitCode(ExitUsage, errors.Join(errs...))
	}
	prog, err := script.Compile(scriptPath)
	if err != nil {
		return withExitCode(script.ExitCode(err), err)
	}
	paths := prog.LocalFiles()
	dir := filepath.Dir(prog.Path)
	for _, f := range files {
		paths = append(paths, filepath.Join(dir, f))
	}
	root := commonDir(paths)
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return withExitCode(ExitUsage, fmt.Errorf("--file: %w", err))
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		o.Files = append(o.Files, kube.File{Path: filepath.ToSlash(rel), Content: b})
		if p == prog.Path {
			o.Script = filepath.ToSlash(rel)
		}
	}
	out, err := kube.Render(o)
	if err != nil {
		return withExitCode(ExitUsage, err)
	}
	_, err = stdio.Stdout.Write(out)
	return err
}

// commonDir is the deepest directory holding every path.
func commonDir(paths []string) string {
	if len(paths) == 0 {
		return "."
	}
	root := filepath.Dir(paths[0])
	for _, p := range paths[1:] {
		for root != filepath.Dir(root) && !strings.HasPrefix(p, root+string(filepath.Separator)) {
			root = filepath.Dir(root)
		}
	}
	return root
}
