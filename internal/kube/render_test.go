package kube

import (
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"
)

// These tests decode the manifests strictly into the Kubernetes API's types
// (k8s.io/api; unknown or misspelt fields fail), test-only dependencies:
// the binary renders YAML from a template and links none of them.

func opts() Options {
	return Options{
		Instances: 3, Script: "workshop.js", HubURL: "http://proxy-public.jhub.svc.cluster.local",
		TokenSecret: "hubcap-token", RunID: "ws-0504", StartAt: time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC),
		Env: map[string]string{"ATTENDEES": "300", "TIME_SCALE": "30"},
		Files: []File{
			{Path: "workshop.js", Content: []byte("import { x } from './lib/common.js';\nexport default function () {}\n")},
			{Path: "lib/common.js", Content: []byte("export const x = 1;\n")},
		},
	}
}

// decode splits a rendered stream into its ConfigMap and Job, strictly.
func decode(t *testing.T, out []byte) (*corev1.ConfigMap, *batchv1.Job) {
	t.Helper()
	docs := strings.Split(string(out), "\n---\n")
	if len(docs) != 2 {
		t.Fatalf("%d documents, want a ConfigMap and a Job:\n%s", len(docs), out)
	}
	docs[0] += "\n" // the separator's line break ends the first document
	var cm corev1.ConfigMap
	if err := yaml.UnmarshalStrict([]byte(docs[0]), &cm); err != nil {
		t.Fatalf("ConfigMap: %v\n%s", err, docs[0])
	}
	var job batchv1.Job
	if err := yaml.UnmarshalStrict([]byte(docs[1]), &job); err != nil {
		t.Fatalf("Job: %v\n%s", err, docs[1])
	}
	if cm.APIVersion != "v1" || cm.Kind != "ConfigMap" || job.APIVersion != "batch/v1" || job.Kind != "Job" {
		t.Fatalf("kinds %s/%s and %s/%s", cm.APIVersion, cm.Kind, job.APIVersion, job.Kind)
	}
	return &cm, &job
}

func TestRenderIndexedJob(t *testing.T) {
	for _, claim := range []string{"", "hubcap-results"} {
		o := opts()
		o.ResultsClaim, o.Namespace = claim, "load"
		out, err := Render(o)
		if err != nil {
			t.Fatal(err)
		}
		cm, job := decode(t, out)
		for _, name := range []string{cm.Name, job.Name} {
			if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
				t.Errorf("name %q: %v", name, errs)
			}
		}
		if cm.Namespace != "load" || job.Namespace != "load" {
			t.Errorf("namespaces %q %q", cm.Namespace, job.Namespace)
		}
		// The files travel unchanged, each under a valid key that the
		// volume maps back to its path.
		spec := job.Spec.Template.Spec
		var scripts *corev1.ConfigMapVolumeSource
		for _, v := range spec.Volumes {
			if v.Name == "scripts" {
				scripts = v.ConfigMap
			}
		}
		if scripts == nil || scripts.Name != cm.Name || len(scripts.Items) != len(o.Files) {
			t.Fatalf("scripts volume %+v", scripts)
		}
		for _, it := range scripts.Items {
			if errs := validation.IsConfigMapKey(it.Key); len(errs) > 0 {
				t.Errorf("key %q: %v", it.Key, errs)
			}
			var want string
			for _, f := range o.Files {
				if f.Path == it.Path {
					want = string(f.Content)
				}
			}
			if got, ok := cm.Data[it.Key]; !ok || got != want {
				t.Errorf("%s (key %s): %q, want %q", it.Path, it.Key, got, want)
			}
		}
		s := job.Spec
		if s.CompletionMode == nil || *s.CompletionMode != batchv1.IndexedCompletion || *s.Parallelism != 3 || *s.Completions != 3 ||
			*s.BackoffLimit != 0 || spec.RestartPolicy != corev1.RestartPolicyNever {
			t.Errorf("job spec: mode %v parallelism %v completions %v backoff %v restart %v",
				s.CompletionMode, *s.Parallelism, *s.Completions, *s.BackoffLimit, spec.RestartPolicy)
		}
		c := spec.Containers[0]
		env := map[string]corev1.EnvVar{}
		for _, e := range c.Env {
			env[e.Name] = e
		}
		if ref := env["HUBCAP_INDEX"].ValueFrom; ref == nil || ref.FieldRef == nil ||
			ref.FieldRef.FieldPath != "metadata.annotations['batch.kubernetes.io/job-completion-index']" {
			t.Errorf("the pod's index does not come from its completion index: %+v", env["HUBCAP_INDEX"])
		}
		if ref := env["HUBCAP_TOKEN"].ValueFrom; ref == nil || ref.SecretKeyRef == nil || ref.SecretKeyRef.Name != "hubcap-token" || ref.SecretKeyRef.Key != "token" {
			t.Errorf("token: %+v", env["HUBCAP_TOKEN"])
		}
		if env["HUBCAP_START_AT"].Value != "2026-05-04T09:00:00Z" || env["HUBCAP_RUN_ID"].Value != "ws-0504" {
			t.Errorf("start %q run %q", env["HUBCAP_START_AT"].Value, env["HUBCAP_RUN_ID"].Value)
		}
		args := strings.Join(c.Args, " ")
		for _, want := range []string{"--execution-segment-sequence 0,1/3,2/3,1", "--execution-segment-index $(HUBCAP_INDEX)",
			"-e ATTENDEES=300 -e TIME_SCALE=30", "/scripts/workshop.js"} {
			if !strings.Contains(args, want) {
				t.Errorf("args %q lack %q", args, want)
			}
		}
		if strings.Contains(string(out), "hubcap-token-value") || strings.Contains(args, "token-file") {
			t.Error("a token in the manifests")
		}
		if claim == "" {
			if !strings.Contains(args, "--out json=-") || !strings.Contains(string(out), "kubectl -n load logs") {
				t.Errorf("stdout results: args %q", args)
			}
		} else {
			var pvc string
			for _, v := range spec.Volumes {
				if v.PersistentVolumeClaim != nil {
					pvc = v.PersistentVolumeClaim.ClaimName
				}
			}
			if pvc != claim || !strings.Contains(args, "--out json=/results/$(HUBCAP_RUN_ID)-$(HUBCAP_INDEX).ndjson.gz") {
				t.Errorf("volume results: claim %q args %q", pvc, args)
			}
		}
	}
}

// File contents a YAML block scalar could mangle come back exactly.
func TestRenderKeepsContents(t *testing.T) {
	contents := []string{
		"no final newline",
		"  leading spaces\n\tand a tab\n",
		"two final newlines\n\n",
		"\n\nstarts with blank lines\n",
		"carriage\r\nreturns\r\n",
		"a # comment: and 'quotes' \"too\" {x: [1]} & * ! | > % @ `\n",
		"unicode: é ✓ 日本\n",
		"\x1b[31mcontrol\n",
		"---\n...\n",
		"trailing spaces   \n   \n",
	}
	o := opts()
	for i, c := range contents {
		o.Files = append(o.Files, File{Path: "data/f" + string(rune('a'+i)) + ".txt", Content: []byte(c)})
	}
	out, err := Render(o)
	if err != nil {
		t.Fatal(err)
	}
	cm, _ := decode(t, out)
	for i, c := range contents {
		key := configMapKey("data/f" + string(rune('a'+i)) + ".txt")
		if got := cm.Data[key]; got != c {
			t.Errorf("%q came back as %q", c, got)
		}
	}
}

func TestRenderRefuses(t *testing.T) {
	mut := func(f func(*Options)) Options { o := opts(); f(&o); return o }
	for _, c := range []struct {
		o    Options
		want string
	}{
		{mut(func(o *Options) { o.Instances = 0 }), "--instances"},
		{mut(func(o *Options) { o.HubURL = "proxy-public" }), "--hub"},
		{mut(func(o *Options) { o.TokenSecret = "" }), "--token-secret"},
		{mut(func(o *Options) { o.Script = "missing.js" }), "not among the files"},
		{mut(func(o *Options) { o.Files = append(o.Files, File{Path: "lib__common.js"}) }), "share the ConfigMap key"},
		{mut(func(o *Options) { o.Files[0].Content = make([]byte, 2<<20) }), "a ConfigMap holds at most"},
		{mut(func(o *Options) { o.Name = "Hubcap_Run" }), "--name"},
		{mut(func(o *Options) { o.StartAt = time.Time{} }), "start time"},
		{mut(func(o *Options) { o.Env = map[string]string{"A B": "x"} }), "not a variable name"},
	} {
		_, err := Render(c.o)
		if !errors.Is(err, ErrOptions) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v, want ErrOptions about %s", err, c.want)
		}
	}
}

// Sequence splits the test evenly, in k6's notation.
func TestSequence(t *testing.T) {
	for n, want := range map[int]string{1: "0,1", 2: "0,1/2,1", 4: "0,1/4,1/2,3/4,1"} {
		if got := Sequence(n); got != want {
			t.Errorf("Sequence(%d) = %q, want %q", n, got, want)
		}
	}
}

// Whatever a file holds, the ConfigMap gives it back unchanged.
func FuzzRenderContent(f *testing.F) {
	for _, s := range []string{"a\n", "  x\n\n", "\r\n", "", "\t- y: [z]\n...", "\x00", "é\u2028", "a\u0085b", "\u2029", "\x7f"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, content string) {
		o := opts()
		o.Files = append(o.Files, File{Path: "data.txt", Content: []byte(content)})
		out, err := Render(o)
		if err != nil {
			t.Fatal(err)
		}
		cm, _ := decode(t, out)
		got := cm.Data["data.txt"]
		if !utf8.ValidString(content) {
			return // JSON (and the API) carry UTF-8 strings only
		}
		if got != content {
			t.Fatalf("%q came back as %q", content, got)
		}
	})
}
