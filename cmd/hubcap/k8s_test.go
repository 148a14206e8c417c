package main

import (
	"bytes"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// hubcap k8s render of a shipped scenario: the manifests decode strictly
// into the Kubernetes API's types (test-only dependency), the ConfigMap
// carries the script and its import, and each pod's arguments, expanded as
// the kubelet expands $(VAR), are a valid hubcap run command line whose
// segments partition the test, with one run id, distinct name prefixes and
// one telemetry reader.
func TestK8sRender(t *testing.T) {
	var out, errb bytes.Buffer
	now := time.Date(2026, 5, 4, 8, 58, 0, 0, time.UTC)
	err := k8sRender(IO{Stdout: &out, Stderr: &errb}, []string{"--instances", "3", "--script", "../../scenarios/workshop.js",
		"--hub", "http://proxy-public.jhub.svc.cluster.local", "--token-secret", "hubcap-token", "--run-id", "ws-0504",
		"--image", "registry.example.org/hubcap:1", "-e", "ATTENDEES=30"}, now)
	if err != nil {
		t.Fatalf("%v\n%s", err, errb.String())
	}
	docs := strings.Split(out.String(), "\n---\n")
	if len(docs) != 2 {
		t.Fatalf("%d documents", len(docs))
	}
	var cm corev1.ConfigMap
	if err := yaml.UnmarshalStrict([]byte(docs[0]+"\n"), &cm); err != nil {
		t.Fatal(err)
	}
	var job batchv1.Job
	if err := yaml.UnmarshalStrict([]byte(docs[1]), &job); err != nil {
		t.Fatal(err)
	}
	for key, path := range map[string]string{"workshop.js": "../../scenarios/workshop.js", "lib__common.js": "../../scenarios/lib/common.js"} {
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if cm.Data[key] != string(want) {
			t.Errorf("ConfigMap %s differs from %s", key, path)
		}
	}
	c := job.Spec.Template.Spec.Containers[0]
	if c.Image != "registry.example.org/hubcap:1" || *job.Spec.Parallelism != 3 {
		t.Errorf("image %q parallelism %d", c.Image, *job.Spec.Parallelism)
	}
	env := map[string]string{}
	for _, e := range c.Env {
		env[e.Name] = e.Value
	}
	if env["HUBCAP_START_AT"] != "2026-05-04T09:00:00Z" {
		t.Errorf("start barrier %q, want 2 minutes after rendering", env["HUBCAP_START_AT"])
	}
	ref := regexp.MustCompile(`\$\(([A-Z_]+)\)`)
	covered := new(big.Rat)
	prefixes := map[string]bool{}
	readers := 0
	for i := range 3 {
		env["HUBCAP_INDEX"] = strconv.Itoa(i)
		var args []string
		for _, a := range c.Args {
			args = append(args, ref.ReplaceAllStringFunc(a, func(m string) string { return env[m[2:len(m)-1]] }))
		}
		if args[0] != "run" {
			t.Fatalf("args %q", args)
		}
		f, positional, err := parseRunFlags(IO{Stdout: &errb, Stderr: &errb}, args[1:])
		if err != nil || len(positional) != 1 || positional[0] != "/scripts/workshop.js" {
			t.Fatalf("pod %d: %v %q", i, err, positional)
		}
		if _, err := f.options(positional[0], IO{Stdout: &errb, Stderr: &errb}); err != nil {
			t.Errorf("pod %d: %v", i, err)
		}
		inst, err := f.instance(func(k string) string { return env[k] })
		if err != nil {
			t.Fatalf("pod %d: %v", i, err)
		}
		from, to, _ := strings.Cut(inst.segment, ":")
		fr, _ := new(big.Rat).SetString(from)
		tr, _ := new(big.Rat).SetString(to)
		if fr.Cmp(covered) != 0 {
			t.Errorf("pod %d starts at %s, the previous ended at %s", i, from, covered.RatString())
		}
		covered = tr
		if inst.runID != "ws-0504" || prefixes[inst.prefix] || !inst.startAt.Equal(now.Add(2*time.Minute)) {
			t.Errorf("pod %d: run %q prefix %q start %v", i, inst.runID, inst.prefix, inst.startAt)
		}
		prefixes[inst.prefix] = true
		if inst.telemetry {
			readers++
		}
	}
	if covered.Cmp(big.NewRat(1, 1)) != 0 || readers != 1 {
		t.Errorf("segments end at %s, %d telemetry readers", covered.RatString(), readers)
	}
	for _, e := range c.Env {
		if e.Name == "HUBCAP_TOKEN" && (e.Value != "" || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil || e.ValueFrom.SecretKeyRef.Name != "hubcap-token") {
			t.Errorf("the token does not come from the Secret: %+v", e)
		}
	}
}

func TestK8sRenderUsage(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"k8s"}, "Usage: hubcap k8s render"},
		{[]string{"k8s", "apply"}, "use render"},
		{[]string{"k8s", "render", "--instances", "3", "--hub", "http://h", "--token-secret", "s"}, "--script"},
		{[]string{"k8s", "render", "--instances", "0", "--script", "../../scenarios/smoke.js", "--hub", "http://h", "--token-secret", "s"}, "--instances"},
		{[]string{"k8s", "render", "--instances", "2", "--script", "../../scenarios/smoke.js", "--hub", "h", "--token-secret", "s"}, "--hub"},
	} {
		code, stdout, stderr := runArgs(t, c.args...)
		if code != ExitUsage || !strings.Contains(stdout+stderr, c.want) {
			t.Errorf("%q: exit %d\n%s%s\nwant %q", c.args, code, stdout, stderr, c.want)
		}
	}
}

// kubectl logs of the pods (results on stdout, the runner's messages
// between them) make one report with --from-logs.
func TestReportFromLogs(t *testing.T) {
	emptyHome(t)
	dir := t.TempDir()
	t0 := time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC)
	for i, seg := range []string{"0:1/2", "1/2:1"} {
		var b bytes.Buffer
		b.WriteString("      instance: s" + strconv.Itoa(i) + "\n")
		writeInstance(&b, t0, "wk", "s"+strconv.Itoa(i), seg)
		b.WriteString("hubcap run: cleanup: removed 2 users\n")
		if err := os.WriteFile(filepath.Join(dir, "wk-"+strconv.Itoa(i)+".log"), b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(t.TempDir(), "r.html")
	code, stdout, stderr := runArgs(t, "report", "--from-logs", dir, "-o", out)
	if code != ExitOK || !strings.Contains(stdout, "merged: 2 instances of run wk") {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	code, stdout, stderr = runArgs(t, "report", dir, "-o", out)
	if code != ExitUsage || !strings.Contains(stdout+stderr, "no .ndjson") {
		t.Errorf("logs without --from-logs: exit %d\n%s%s", code, stdout, stderr)
	}
}
