package reports

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"github.com/hubcap-dev/hubcap/internal/testenv"
	"html"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"
)

const chromiumPath = "/usr/bin/chromium"

// requireBrowser skips (or, with HUBCAP_REQUIRE_BROWSER=1, fails) when
// Chromium or the ECharts library is not installed.
func requireBrowser(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		testenv.MissingBrowser(t, chromiumPath, "HUBCAP_SETUP_BROWSER=1 make setup (Debian: apt-get install chromium)")
	}
	if _, err := LocateECharts(); err != nil {
		testenv.MissingBrowser(t, err.Error(), testenv.SetupHint)
	}
}

// artifactDir is $HUBCAP_ARTIFACTS/<test name> when set (kept for people and
// CI), else a temporary directory.
func artifactDir(t *testing.T) string {
	t.Helper()
	base := os.Getenv("HUBCAP_ARTIFACTS")
	if base == "" {
		return t.TempDir()
	}
	dir := filepath.Join(base, t.Name())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// runChromium runs headless Chromium with args in its own process group and
// kills the whole group when it returns, so no renderer outlives the test.
func runChromium(t *testing.T, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--user-data-dir=" + t.TempDir(), "--virtual-time-budget=5000"}
	cmd := exec.CommandContext(ctx, chromiumPath, append(base, args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Start()
	if err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	pgid := cmd.Process.Pid
	err = cmd.Wait()
	_ = syscall.Kill(-pgid, syscall.SIGKILL) // stragglers of the group, if any
	if err != nil {
		t.Fatalf("chromium %v: %v\nstderr (tail): %s", args, err, tail(stderr.Bytes(), 2000))
	}
	return stdout.Bytes()
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

type verifyResult struct {
	Errors    []string `json:"errors"`
	Resources []string `json:"resources"`
	Charts    []struct {
		ID      string `json:"id"`
		Canvas  bool   `json:"canvas"`
		Width   int    `json:"width"`
		Height  int    `json:"height"`
		Painted int    `json:"painted"`
		Colored int    `json:"colored"`
		Series  int    `json:"series"`
		Points  int    `json:"points"`
	} `json:"charts"`
}

var verifyPre = regexp.MustCompile(`(?s)<pre id="hubcap-verify"[^>]*>(.*?)</pre>`)

// The report as a partner opens it: a file:// page in Chromium with no
// network. Every chart must draw (painted canvas pixels and data in its
// option), nothing may be logged as an error, nothing fetched. A screenshot
// is kept for a person to look at.
func TestReportInBrowser(t *testing.T) {
	requireBrowser(t)
	dir := artifactDir(t)
	in := fixtureInput(t)
	in.EChartsJS = nil
	page := filepath.Join(dir, "report.html")
	var buf bytes.Buffer
	if err := render(&buf, in, renderOptions{verify: true}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(page, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	url := "file://" + page
	shot := filepath.Join(dir, "report.png")
	dom := runChromium(t, "--window-size=1400,3000", "--screenshot="+shot, "--dump-dom", url)

	m := verifyPre.FindSubmatch(dom)
	if m == nil {
		t.Fatalf("the verification script did not run (no #hubcap-verify in the DOM); DOM tail: %s", tail(dom, 1500))
	}
	var v verifyResult
	if err := json.Unmarshal([]byte(html.UnescapeString(string(m[1]))), &v); err != nil {
		t.Fatalf("verification output: %v: %s", err, m[1])
	}
	for _, e := range v.Errors {
		t.Errorf("page error: %s", e)
	}
	for _, r := range v.Resources {
		t.Errorf("page fetched %s", r)
	}
	want := map[string]bool{chartTimeline: true, chartLatency: true, chartErrors: true, chartModel: true, chartWave: true, chartDBShape: true}
	for _, c := range v.Charts {
		t.Logf("chart %-15s %4dx%-4d painted %6d px (%d in series colours), %d series, %d points",
			c.ID, c.Width, c.Height, c.Painted, c.Colored, c.Series, c.Points)
		delete(want, c.ID)
		total := c.Width * c.Height
		switch {
		case !c.Canvas:
			t.Errorf("chart %s: no canvas", c.ID)
		case total == 0 || c.Painted < total/100:
			t.Errorf("chart %s: %d of %d canvas pixels painted; looks blank", c.ID, c.Painted, total)
		case c.Colored < 1000:
			t.Errorf("chart %s: only %d pixels in series colours; the data was not drawn", c.ID, c.Colored)
		case c.Series == 0 || c.Points == 0:
			t.Errorf("chart %s: %d series with %d points", c.ID, c.Series, c.Points)
		}
	}
	for id := range want {
		t.Errorf("chart %s was not found on the page", id)
	}
	if fi, err := os.Stat(shot); err != nil || fi.Size() < 50_000 {
		t.Errorf("screenshot %s missing or tiny: %v", shot, errors.Join(err))
	} else {
		t.Logf("screenshot: %s", shot)
	}
}
