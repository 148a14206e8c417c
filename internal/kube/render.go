// Package kube renders the Kubernetes manifests of a hubcap run split over
// N instances: a ConfigMap holding the scenario script and its local
// imports, and an Indexed Job whose pods each run one execution segment
// (the pod's completion index picks it from the sequence 0,1/N,…,1) against
// the same hub, with the same run id and start time. The manifests are
// YAML written from a template, every value JSON-quoted (JSON strings are
// YAML scalars), so no YAML library is linked into the binary; the tests
// decode them strictly into the Kubernetes API's types.
package kube

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"text/template"
	"time"
	"unicode"
	"unicode/utf8"
)

// ErrOptions wraps every problem with the options.
var ErrOptions = errors.New("kube: bad options")

// File is a file the pods need, by its path relative to the scripts
// directory (/scripts in the pod).
type File struct {
	Path    string // slash-separated, relative, e.g. "workshop.js", "lib/util.js"
	Content []byte
}

// Defaults.
const (
	DefaultImage          = "hubcap:latest"
	DefaultTokenKey       = "token"
	DefaultCPU            = "1"
	DefaultMemory         = "1Gi"
	ScriptsDir            = "/scripts"
	ResultsDir            = "/results"
	maxConfigMapBytes     = 1000000 // the API server refuses larger ConfigMaps (1 MiB with overhead)
	indexEnv              = "HUBCAP_INDEX"
	completionIndexAnnot  = "batch.kubernetes.io/job-completion-index"
	runIDLabel            = "hubcap.dev/run-id"
	appLabel              = "app.kubernetes.io/name"
	tokenEnv, runIDEnv    = "HUBCAP_TOKEN", "HUBCAP_RUN_ID"
	startAtEnv            = "HUBCAP_START_AT"
	defaultNamePrefixRoot = "hubcap-"
)

// Options are what `hubcap k8s render` is given.
type Options struct {
	// Instances is the number of pods, each one segment of the test (≥ 1).
	Instances int
	// Files are the script and its local imports; Script names the one run.
	Files  []File
	Script string
	// HubURL is the hub's URL as the pods reach it.
	HubURL string
	// TokenSecret is the Secret holding the admin token under TokenKey
	// (default "token"); it reaches the pods as $HUBCAP_TOKEN.
	TokenSecret, TokenKey string
	// Image is hubcap's image (default DefaultImage).
	Image string
	// Name names the Job and the ConfigMap (<Name>-scripts); default
	// hubcap-<RunID>.
	Name, Namespace string
	// RunID is shared by every pod (required; see results.TagRunID).
	RunID string
	// StartAt is when every pod starts its test (the start barrier).
	StartAt time.Time
	// Env are the script's -e NAME=VALUE parameters.
	Env map[string]string
	// ResultsClaim is a PersistentVolumeClaim (ReadWriteMany) mounted at
	// /results, where each pod writes <run id>-<index>.ndjson.gz. Without
	// it the pods write their results to the standard output, for kubectl
	// logs.
	ResultsClaim string
	// CPU and Memory are each pod's request (memory also its limit).
	CPU, Memory string
	// ExtraArgs are further `hubcap run` flags, as given.
	ExtraArgs []string
}

var (
	dns1123 = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	runID   = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$`)
	keyBad  = regexp.MustCompile(`[^-._a-zA-Z0-9]`)
)

// Validate reports every problem of o at once, each wrapping ErrOptions.
func (o Options) Validate() []error {
	var errs []error
	bad := func(format string, a ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrOptions}, a...)...))
	}
	if o.Instances < 1 || o.Instances > 1000 {
		bad("--instances %d: want 1 to 1000", o.Instances)
	}
	if o.HubURL == "" || !(strings.HasPrefix(o.HubURL, "http://") || strings.HasPrefix(o.HubURL, "https://")) {
		bad("--hub %q: want the hub's URL as the pods reach it, e.g. http://proxy-public.jhub.svc", o.HubURL)
	}
	if !dns1123.MatchString(o.TokenSecret) || len(o.TokenSecret) > 253 {
		bad("--token-secret %q: name the Secret holding the admin token (kubectl create secret generic NAME --from-file=token=FILE)", o.TokenSecret)
	}
	if !runID.MatchString(o.RunID) {
		bad("run id %q: use 1–32 lower-case letters, digits and inner dashes", o.RunID)
	}
	if name := o.name(); !dns1123.MatchString(name) || len(name) > 52 {
		bad("--name %q: use lower-case letters, digits and dashes, at most 52 characters (the Job's pods add to it)", name)
	}
	if o.Namespace != "" && (!dns1123.MatchString(o.Namespace) || len(o.Namespace) > 63) {
		bad("--namespace %q: not a namespace name", o.Namespace)
	}
	if o.ResultsClaim != "" && !dns1123.MatchString(o.ResultsClaim) {
		bad("--results-claim %q: not a PersistentVolumeClaim name", o.ResultsClaim)
	}
	for k := range o.Env {
		if !envName.MatchString(k) {
			bad("-e %s: not a variable name", k)
		}
	}
	if o.StartAt.IsZero() {
		bad("no start time: every pod must start at the same time")
	}
	found, size := false, 0
	keys := map[string]string{}
	for _, f := range o.Files {
		if f.Path == "" || strings.HasPrefix(f.Path, "/") || strings.Contains("/"+f.Path+"/", "/../") {
			bad("file %q: want a path relative to the scripts directory", f.Path)
		}
		if f.Path == o.Script {
			found = true
		}
		k := configMapKey(f.Path)
		if prev, dup := keys[k]; dup {
			bad("files %q and %q would share the ConfigMap key %q; rename one", prev, f.Path, k)
		}
		keys[k] = f.Path
		size += len(f.Content)
	}
	if !found {
		bad("the script %q is not among the files", o.Script)
	}
	if size > maxConfigMapBytes {
		bad("the script and its imports are %d bytes; a ConfigMap holds at most %d (bake large files into the image)", size, maxConfigMapBytes)
	}
	return errs
}

func (o Options) name() string {
	if o.Name != "" {
		return o.Name
	}
	return defaultNamePrefixRoot + o.RunID
}

// configMapKey is a file's key in the ConfigMap: its path with every
// character a key may not hold (such as "/") replaced by "_".
func configMapKey(path string) string {
	return keyBad.ReplaceAllString(strings.ReplaceAll(path, "/", "__"), "_")
}

// Sequence is the execution segment sequence of n instances: 0,1/n,…,1.
func Sequence(n int) string {
	parts := make([]string, n+1)
	for i := range parts {
		parts[i] = big.NewRat(int64(i), int64(n)).RatString()
	}
	return strings.Join(parts, ",")
}

// Args are the `hubcap run` arguments of every pod ($(VAR) references are
// expanded by the kubelet from the container's environment).
func (o Options) Args() []string {
	args := []string{"run", "--hub", o.HubURL,
		"--execution-segment-sequence", Sequence(o.Instances),
		"--execution-segment-index", "$(" + indexEnv + ")",
		"--progress", "off", "--no-color"}
	if o.ResultsClaim != "" {
		args = append(args, "--out", "json="+ResultsDir+"/$("+runIDEnv+")-$("+indexEnv+").ndjson.gz")
	} else {
		args = append(args, "--out", "json=-")
	}
	keys := make([]string, 0, len(o.Env))
	for k := range o.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		args = append(args, "-e", k+"="+o.Env[k])
	}
	args = append(args, o.ExtraArgs...)
	return append(args, ScriptsDir+"/"+o.Script)
}

// Render writes the ConfigMap and the Job as one YAML stream, headed by
// comments that say how to run them and collect the results.
func Render(o Options) ([]byte, error) {
	if errs := o.Validate(); len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if o.Image == "" {
		o.Image = DefaultImage
	}
	if o.TokenKey == "" {
		o.TokenKey = DefaultTokenKey
	}
	if o.CPU == "" {
		o.CPU = DefaultCPU
	}
	if o.Memory == "" {
		o.Memory = DefaultMemory
	}
	files := append([]File(nil), o.Files...)
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	var kf []keyedFile
	for _, f := range files {
		kf = append(kf, keyedFile{Key: configMapKey(f.Path), Path: f.Path, Content: string(f.Content)})
	}
	d := data{O: o, Name: o.name(), Files: kf, Args: o.Args(), Collect: collect(o)}
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, d); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

type keyedFile struct{ Key, Path, Content string }

type data struct {
	O       Options
	Name    string
	Files   []keyedFile
	Args    []string
	Collect []string
}

// collect is how the operator gets the results and the report.
func collect(o Options) []string {
	ns := ""
	if o.Namespace != "" {
		ns = " -n " + o.Namespace
	}
	name := o.name()
	lines := []string{
		fmt.Sprintf("kubectl%s apply -f THIS_FILE   (before %s: the pods start their test then)", ns, o.StartAt.UTC().Format(time.RFC3339)),
		fmt.Sprintf("kubectl%s wait --for=condition=complete --timeout=24h job/%s", ns, name),
	}
	if o.ResultsClaim != "" {
		lines = append(lines,
			fmt.Sprintf("copy %s/%s-*.ndjson.gz out of the volume %s (e.g. from a pod that mounts it: kubectl%s cp POD:%s ./results)", ResultsDir, o.RunID, o.ResultsClaim, ns, ResultsDir),
			fmt.Sprintf("hubcap report 'results/%s-*.ndjson.gz' -o report.html", o.RunID))
	} else {
		lines = append(lines,
			fmt.Sprintf("for i in $(seq 0 %d); do kubectl%s logs --tail=-1 -l job-name=%s,%s=$i > results/%s-$i.log; done",
				o.Instances-1, ns, name, completionIndexAnnot, o.RunID),
			"hubcap report --from-logs results/ -o report.html",
			"(logs rotate at 10 MiB by default: for long runs use --results-claim)")
	}
	return lines
}

// text writes a file's content as a YAML literal block scalar indented by
// indent spaces (readable in kubectl get -o yaml), or as a JSON-quoted
// string when the content holds characters a block scalar cannot carry
// (carriage returns, control characters, a byte-order mark) or is not
// UTF-8. The indentation indicator keeps leading spaces; the chomping
// indicator keeps the trailing newlines exactly.
func text(content string, indent int) string {
	if strings.Trim(content, "\n") == "" || !utf8.ValidString(content) {
		return q(content)
	}
	for _, r := range content {
		if r == '\n' || r == '\t' {
			continue
		}
		if r == '\uFEFF' || r == 0x85 || r == 0x2028 || r == 0x2029 || !unicode.IsPrint(r) && r != ' ' {
			return q(content)
		}
	}
	chomp := "-"
	body := content
	switch {
	case strings.HasSuffix(content, "\n\n"):
		chomp = "+"
		body = strings.TrimSuffix(content, "\n")
	case strings.HasSuffix(content, "\n"):
		chomp = ""
		body = strings.TrimSuffix(content, "\n")
	}
	pad := strings.Repeat(" ", indent)
	var b strings.Builder
	b.WriteString("|2" + chomp)
	for _, line := range strings.Split(body, "\n") {
		b.WriteString("\n")
		if line != "" {
			b.WriteString(pad + line)
		}
	}
	return b.String()
}

// q quotes a value as a JSON string, which YAML reads as the same string.
func q(v any) string {
	switch v := v.(type) {
	case int:
		return strconv.Itoa(v)
	}
	b, _ := json.Marshal(v)
	// JSON leaves some characters raw that YAML does not allow in a
	// document (DEL, C1 controls, U+FFFE/U+FFFF) or reads as line breaks
	// (NEL, LS, PS in YAML 1.1): escape them, as YAML's double-quoted style
	// reads \uXXXX.
	var out strings.Builder
	for _, r := range string(b) {
		if r == 0x7f || r >= 0x80 && r <= 0x9f || r == 0x2028 || r == 0x2029 || r == 0xfffe || r == 0xffff {
			fmt.Fprintf(&out, "\\u%04x", r)
			continue
		}
		out.WriteRune(r)
	}
	return out.String()
}

var tmpl = template.Must(template.New("k8s").Funcs(template.FuncMap{"q": q, "text": text}).Parse(`# hubcap: {{.O.Instances}} instances of {{.O.Script}} against {{.O.HubURL}}, run {{.O.RunID}}
{{- range .Collect}}
#   {{.}}
{{- end}}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{q (printf "%s-scripts" .Name)}}
{{- if .O.Namespace}}
  namespace: {{q .O.Namespace}}
{{- end}}
  labels:
    app.kubernetes.io/name: "hubcap"
    hubcap.dev/run-id: {{q .O.RunID}}
data:
{{- range .Files}}
  {{q .Key}}: {{text .Content 4}}
{{- end}}
---
apiVersion: batch/v1
kind: Job
metadata:
  name: {{q .Name}}
{{- if .O.Namespace}}
  namespace: {{q .O.Namespace}}
{{- end}}
  labels:
    app.kubernetes.io/name: "hubcap"
    hubcap.dev/run-id: {{q .O.RunID}}
spec:
  completionMode: "Indexed"
  completions: {{q .O.Instances}}
  parallelism: {{q .O.Instances}}
  # An instance is not retried: a rerun would play its share of the test twice.
  backoffLimit: 0
  template:
    metadata:
      labels:
        app.kubernetes.io/name: "hubcap"
        hubcap.dev/run-id: {{q .O.RunID}}
    spec:
      restartPolicy: "Never"
      securityContext:
        runAsNonRoot: true
        runAsUser: 65532
        runAsGroup: 65532
        fsGroup: 65532
      containers:
        - name: "hubcap"
          image: {{q .O.Image}}
          imagePullPolicy: "IfNotPresent"
          args:
{{- range .Args}}
            - {{q .}}
{{- end}}
          env:
            - name: "HUBCAP_INDEX"
              valueFrom:
                fieldRef:
                  fieldPath: "metadata.annotations['batch.kubernetes.io/job-completion-index']"
            - name: "HUBCAP_RUN_ID"
              value: {{q .O.RunID}}
            - name: "HUBCAP_START_AT"
              value: {{q (.O.StartAt.UTC.Format "2006-01-02T15:04:05Z07:00")}}
            - name: "HUBCAP_TOKEN"
              valueFrom:
                secretKeyRef:
                  name: {{q .O.TokenSecret}}
                  key: {{q .O.TokenKey}}
          resources:
            requests:
              cpu: {{q .O.CPU}}
              memory: {{q .O.Memory}}
            limits:
              memory: {{q .O.Memory}}
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities:
              drop: ["ALL"]
          volumeMounts:
            - name: "scripts"
              mountPath: "/scripts"
              readOnly: true
            - name: "tmp"
              mountPath: "/tmp"
{{- if .O.ResultsClaim}}
            - name: "results"
              mountPath: "/results"
{{- end}}
      volumes:
        - name: "scripts"
          configMap:
            name: {{q (printf "%s-scripts" .Name)}}
            items:
{{- range .Files}}
              - key: {{q .Key}}
                path: {{q .Path}}
{{- end}}
        - name: "tmp"
          emptyDir: {}
{{- if .O.ResultsClaim}}
        - name: "results"
          persistentVolumeClaim:
            claimName: {{q .O.ResultsClaim}}
{{- end}}
`))
