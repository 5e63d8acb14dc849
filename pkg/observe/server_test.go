package observe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/smithy-go"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/controller"
)

// startServer serves a /healthz handler on a loopback port under limits and
// reports each connection the server takes on accepted.
func startServer(t *testing.T, limits ServerLimits) (*Server, <-chan struct{}) {
	t.Helper()
	h := http.NewServeMux()
	h.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	s, err := Listen("127.0.0.1:0", h, limits)
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan struct{}, 10_000)
	s.srv.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateNew {
			accepted <- struct{}{}
		}
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve() }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	})
	return s, accepted
}

// TestServerLimitsConnections floods the endpoint with idle connections, as
// the red team did (8,000 of them took 160 MB): the server takes on only
// MaxConnections at once, and one more for each that closes.
func TestServerLimitsConnections(t *testing.T) {
	limits := DefaultServerLimits
	limits.MaxConnections = 16
	s, accepted := startServer(t, limits)
	const clients = 300
	conns := make([]net.Conn, 0, clients)
	t.Cleanup(func() {
		for _, c := range conns {
			_ = c.Close()
		}
	})
	for range clients {
		c, err := net.DialTimeout("tcp", s.Addr().String(), 5*time.Second)
		if err != nil {
			t.Fatalf("dial %d: %v", len(conns), err)
		}
		conns = append(conns, c)
	}
	expect := func(n int) {
		t.Helper()
		for i := range n {
			select {
			case <-accepted:
			case <-time.After(5 * time.Second):
				t.Fatalf("the server took on %d connections, want %d", i, n)
			}
		}
		select {
		case <-accepted:
			t.Fatalf("the server took on more than %d connections", n)
		case <-time.After(300 * time.Millisecond):
		}
	}
	expect(limits.MaxConnections)
	_ = conns[0].Close()
	expect(1)
}

// TestServerClosesIdleConnections: a client that connects and sends nothing
// is let go after ReadHeaderTimeout, freeing its slot.
func TestServerClosesIdleConnections(t *testing.T) {
	limits := DefaultServerLimits
	limits.MaxConnections = 1
	limits.ReadHeaderTimeout = 100 * time.Millisecond
	s, _ := startServer(t, limits)
	idle, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	_ = idle.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := idle.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("idle connection still open after 5 s (read: %v)", err)
	}
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get("http://" + s.Addr().String() + "/healthz")
	if err != nil {
		t.Fatalf("the slot was not freed: %v", err)
	}
	resp.Body.Close()
}

func TestDefaultServerLimitsAreSet(t *testing.T) {
	l := DefaultServerLimits
	if l.MaxConnections <= 0 || l.ReadHeaderTimeout <= 0 || l.ReadTimeout <= 0 || l.WriteTimeout <= 0 || l.IdleTimeout <= 0 || l.MaxHeaderBytes <= 0 {
		t.Fatalf("a limit is unset: %+v", l)
	}
}

// TestReadyzHidesAWSMessages: /readyz names the check that failed and AWS's
// error code, never AWS's message, which carries account ids and ARNs.
func TestReadyzHidesAWSMessages(t *testing.T) {
	m := New(BuildInfo{Version: "dev"}, func() string { return RoleLeader })
	m.ConfigLoaded()
	denied := fmt.Errorf("read load: %w", &smithy.GenericAPIError{Code: "AccessDeniedException",
		Message: "User: arn:aws:sts::123456789012:assumed-role/autoscaler/i-0abc is not authorized to perform: cloudwatch:GetMetricData"})
	m.ObserveCycle(controller.CycleReport{Streams: []string{"clicks"}, LoadErr: denied})
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("status %d, want 503", resp.StatusCode)
	}
	for _, secret := range []string{"123456789012", "arn:", "assumed-role", "not authorized"} {
		if strings.Contains(string(body), secret) {
			t.Errorf("/readyz shows %q:\n%s", secret, body)
		}
	}
	if want := "FAIL AWS not reached at the last cycle: CloudWatch metrics could not be read (AccessDeniedException)"; !strings.Contains(string(body), want) {
		t.Errorf("/readyz lacks %q:\n%s", want, body)
	}
}
