package kernel

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hubcap-dev/hubcap/internal/proc"
	"github.com/hubcap-dev/hubcap/internal/testenv"
	"github.com/hubcap-dev/hubcap/internal/testkit"
)

// installedBin returns <hubcap home>/.hubcap/venvs/<venv>/bin/<name>. The
// home is $HUBCAP_HOME, else the nearest directory above the working
// directory holding .hubcap/. Without it the test is skipped, or fails
// when HUBCAP_REQUIRE_HUBS=1.
func installedBin(t *testing.T, venv, name string) string {
	t.Helper()
	var roots []string
	if h := os.Getenv("HUBCAP_HOME"); h != "" {
		roots = append(roots, h)
	}
	if wd, err := os.Getwd(); err == nil {
		for d := wd; ; d = filepath.Dir(d) {
			roots = append(roots, d)
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	for _, r := range roots {
		p := filepath.Join(r, ".hubcap", "venvs", venv, "bin", name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	testenv.Missing(t, fmt.Sprintf("%s/bin/%s under .hubcap (or set HUBCAP_HOME)", venv, name), testenv.SetupHint)
	return ""
}

// jupyterServer is a real jupyter_server on 127.0.0.1.
type jupyterServer struct {
	base  string // http://127.0.0.1:PORT
	token string
}

func (s *jupyterServer) do(ctx context.Context, method, path, body string) (*http.Response, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, s.base+path, strings.NewReader(body))
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Authorization", "token "+s.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, err = b.ReadFrom(resp.Body)
	return resp, b.Bytes(), err
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startJupyterServer runs jupyter-server with a token from the environment
// and a temporary root and home; t.Cleanup stops it and its kernels.
func startJupyterServer(t *testing.T, bin string) *jupyterServer {
	t.Helper()
	tok := make([]byte, 16)
	_, _ = rand.Read(tok)
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	s := &jupyterServer{base: "http://127.0.0.1:" + strconv.Itoa(port), token: hex.EncodeToString(tok)}

	cmd := exec.Command(bin,
		"--allow-root", "--ServerApp.open_browser=False",
		"--ServerApp.ip=127.0.0.1", "--ServerApp.port="+strconv.Itoa(port), "--ServerApp.port_retries=0",
		"--ServerApp.root_dir="+root)
	cmd.Env = append(os.Environ(),
		"JUPYTER_TOKEN="+s.token, // never argv
		"HOME="+dir,
		"JUPYTER_CONFIG_DIR="+filepath.Join(dir, "config"),
		"JUPYTER_DATA_DIR="+filepath.Join(dir, "data"),
		"JUPYTER_RUNTIME_DIR="+filepath.Join(dir, "runtime"),
		"IPYTHONDIR="+filepath.Join(dir, "ipython"),
		"JUPYTER_PLATFORM_DIRS=1",
	)
	var log testkit.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	server, _ := proc.Identify(cmd.Process.Pid)
	t.Cleanup(func() {
		// Kernels run in their own sessions: collect the tree while the
		// server is alive, then SIGTERM all, SIGKILL what remains after 5 s.
		tree, _ := proc.Tree(server)
		if len(tree) == 0 {
			tree = []proc.Proc{server}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if err := proc.KillTree(ctx, tree, 5*time.Second); err != nil {
			t.Errorf("stopping jupyter-server: %v", err)
		}
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // anything left in its group
		<-exited
		if t.Failed() {
			t.Logf("jupyter-server log:\n%s", log.String())
		}
	})

	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		resp, _, err := s.do(ctx, "GET", "/api/status", "")
		cancel()
		if err == nil && resp.StatusCode == http.StatusOK {
			return s
		}
		select {
		case <-exited:
			t.Fatalf("jupyter-server exited at start-up:\n%s", log.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("jupyter-server not ready after 20 s:\n%s", log.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (s *jupyterServer) createKernel(t *testing.T, ctx context.Context) string {
	t.Helper()
	resp, body, err := s.do(ctx, "POST", "/api/kernels", `{"name":"python3"}`)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /api/kernels: HTTP %d %s", resp.StatusCode, body)
	}
	var k struct{ ID string }
	if err := json.Unmarshal(body, &k); err != nil || k.ID == "" {
		t.Fatalf("POST /api/kernels: %s: %v", body, err)
	}
	return k.ID
}

func (s *jupyterServer) deleteKernel(t *testing.T, ctx context.Context, id string) {
	t.Helper()
	resp, body, err := s.do(ctx, "DELETE", "/api/kernels/"+id, "")
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusNoContent {
		t.Errorf("DELETE /api/kernels/%s: HTTP %d %s", id, resp.StatusCode, body)
	}
}

func (s *jupyterServer) channelsURL(id string) string {
	return "ws" + strings.TrimPrefix(s.base, "http") + "/api/kernels/" + id + "/channels"
}

// TestRealKernel runs code on an ipykernel behind jupyter_server 2.17 over
// both framings.
func TestRealKernel(t *testing.T) {
	bin := installedBin(t, "jupyterhub-5.5.1", "jupyter-server")
	s := startJupyterServer(t, bin)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	hdr := http.Header{"Authorization": {"token " + s.token}}

	for _, proto := range []Protocol{ProtocolV1, ProtocolLegacy} {
		t.Run(proto.String(), func(t *testing.T) {
			id := s.createKernel(t, ctx)
			c, err := Dial(ctx, s.channelsURL(id), DialOptions{Header: hdr, Protocol: proto, Username: "tester"})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if c.Protocol() != proto {
				t.Fatalf("Protocol() = %v, want %v", c.Protocol(), proto)
			}
			info, err := c.KernelInfo(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if info.Status != "ok" || info.Implementation != "ipython" || info.LanguageInfo.Name != "python" || !strings.HasPrefix(info.ProtocolVersion, "5.") {
				t.Errorf("KernelInfo = %+v", info)
			}

			r, err := c.Execute(ctx, "print(6*7)")
			if err != nil {
				t.Fatal(err)
			}
			if r.Stdout != "42\n" || r.Status != "ok" || r.Result != "" || r.BusyAfter <= 0 || r.ReplyAfter <= 0 || r.IdleAfter <= 0 {
				t.Errorf("print(6*7): %+v", r)
			}
			first := r.ExecutionCount

			r, err = c.Execute(ctx, "1+1")
			if err != nil {
				t.Fatal(err)
			}
			if r.Result != "2" || r.Status != "ok" || r.ExecutionCount != first+1 {
				t.Errorf("1+1: %+v (first execution count %d)", r, first)
			}

			r, err = c.Execute(ctx, "1/0")
			if err != nil {
				t.Fatal(err)
			}
			if r.Status != "error" || r.Error == nil || r.Error.EName != "ZeroDivisionError" || len(r.Error.Traceback) == 0 {
				t.Errorf("1/0: %+v", r)
			}

			r, err = c.Execute(ctx, "import sys; print('err', file=sys.stderr)")
			if err != nil {
				t.Fatal(err)
			}
			if r.Stderr != "err\n" || r.Stdout != "" {
				t.Errorf("stderr: %+v", r)
			}

			// Concurrent requests: the kernel queues them; each call gets its own output.
			var wg sync.WaitGroup
			for i := range 3 {
				wg.Go(func() {
					r, err := c.Execute(ctx, fmt.Sprintf("print('call-%d')", i))
					if err != nil {
						t.Error(err)
						return
					}
					if want := fmt.Sprintf("call-%d\n", i); r.Stdout != want {
						t.Errorf("concurrent call %d got %q", i, r.Stdout)
					}
				})
			}
			wg.Wait()

			st := c.Stats()
			if st.BytesSent == 0 || st.BytesReceived == 0 || st.MessagesSent < 8 || st.BadFrames != 0 {
				t.Errorf("stats %+v", st)
			}

			if proto == ProtocolV1 {
				// Auto picks v1 on jupyter_server 2.x; a second client on the same kernel.
				c2, err := Dial(ctx, s.channelsURL(id), DialOptions{Header: hdr})
				if err != nil {
					t.Fatal(err)
				}
				if c2.Protocol() != ProtocolV1 {
					t.Errorf("auto negotiated %v, want v1", c2.Protocol())
				}
				if _, err := c2.KernelInfo(ctx); err != nil {
					t.Error(err)
				}
				c2.Close()
			}

			// Deleting the kernel while code runs: jupyter_client interrupts
			// it, so the pending call ends (it must not hang) and is no "ok".
			// (jupyter_server 2.17 keeps the websocket open afterwards.)
			type outcome struct {
				r   ExecResult
				err error
			}
			pending := make(chan outcome, 1)
			go func() {
				r, err := c.Execute(ctx, "import time; time.sleep(60)")
				pending <- outcome{r, err}
			}()
			time.Sleep(300 * time.Millisecond)
			s.deleteKernel(t, ctx, id)
			select {
			case o := <-pending:
				if o.err == nil && o.r.Status == "ok" {
					t.Errorf("sleep(60) on a deleted kernel ended ok: %+v", o.r)
				}
			case <-time.After(15 * time.Second):
				t.Error("pending Execute still waiting 15 s after the kernel was deleted")
			}
		})
	}
}
