package attendee

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/kernel"
)

// TestKernelWebsocket: the dial carries the session's cookies, Origin,
// User-Agent and the server's X-XSRFToken; a websocket the server drops is
// counted once in MetricWSDrops, and a closed one is not.
func TestKernelWebsocket(t *testing.T) {
	var mu sync.Mutex
	var gotHeader http.Header
	drop := make(chan struct{})
	up := websocket.Upgrader{}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/user/alice/ws/api/sessions":
			w.WriteHeader(201)
			w.Write([]byte(`{"id": "s-1", "kernel": {"id": "k-1", "name": "python3"}}`))
		case r.URL.Path == "/user/alice/ws/api/kernels/k-1/channels":
			mu.Lock()
			gotHeader = r.Header.Clone()
			mu.Unlock()
			c, err := up.Upgrade(w, r, nil) // no subprotocol: legacy JSON frames
			if err != nil {
				return
			}
			defer c.Close()
			for {
				typ, b, err := c.ReadMessage()
				if err != nil {
					return
				}
				if typ != websocket.TextMessage {
					continue
				}
				req, err := kernel.DecodeJSON(b)
				if err != nil || req.Header.MsgType != "kernel_info_request" {
					continue
				}
				rep := kernel.NewMessage("shell", "kernel_info_reply", req.Header.Session, "k", map[string]any{
					"status": "ok", "protocol_version": "5.3", "implementation": "fake",
					"language_info": map[string]any{"name": "python"},
				})
				rep.ParentHeader, _ = json.Marshal(req.Header)
				out, _ := kernel.EncodeJSON(rep)
				if err := c.WriteMessage(websocket.TextMessage, out); err != nil {
					return
				}
				<-drop // then the server goes away
				return
			}
		}
	})
	s, buf, _ := newSession(t, h, nil)
	srvURL := s.serverURL("", nil)
	s.jar.SetCookies(srvURL, []*http.Cookie{
		{Name: "_xsrf", Value: "srv-xsrf", Path: "/user/alice/ws/"},
		{Name: "jupyterhub-user-alice-ws", Value: "oauth-cookie", Path: "/user/alice/ws/"},
	})
	ctx := context.Background()
	if _, err := s.StartKernel(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.ConnectKernel(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	hdr := gotHeader
	mu.Unlock()
	base, _ := url.Parse(s.base.String())
	if hdr.Get("X-XSRFToken") != "srv-xsrf" || hdr.Get("Origin") != "http://"+base.Host ||
		hdr.Get("User-Agent") != DefaultUserAgent("alice") || !strings.Contains(hdr.Get("Cookie"), "jupyterhub-user-alice-ws=oauth-cookie") {
		t.Errorf("upgrade headers %v", hdr)
	}
	close(drop)
	deadline := time.Now().Add(5 * time.Second)
	for s.currentConn() != nil && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	drops := 0
	deadline = time.Now().Add(5 * time.Second)
	var wsRecv float64
	for wsRecv == 0 && time.Now().Before(deadline) {
		drops = 0
		for _, smp := range buf.Samples() {
			switch {
			case smp.Metric == MetricWSDrops:
				drops++
			case smp.Metric == MetricDataReceived && strings.HasSuffix(smp.Tags["endpoint"], "/channels"):
				wsRecv += smp.Value
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	if wsRecv <= 0 {
		t.Errorf("no websocket bytes reported")
	}
	if drops != 1 {
		t.Errorf("%d drop samples, want 1", drops)
	}
	if _, err := s.Execute(ctx, "1"); !errors.Is(err, ErrNoKernel) {
		t.Errorf("Execute after the drop = %v, want ErrNoKernel", err)
	}
}
