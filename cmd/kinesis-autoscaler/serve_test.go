package main

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/config"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/observe"
)

// TestDaemonEndpointLimitsConnections holds as many idle connections to
// the daemon's endpoint as it serves at once: one more client waits until
// one of them closes (before, every connection was served, and 8,000 idle
// ones took 160 MB).
func TestDaemonEndpointLimitsConnections(t *testing.T) {
	addr := freeAddr(t)
	path := filepath.Join(t.TempDir(), "config.yaml")
	yaml := "aws:\n  region: us-east-1\n  endpoints: {kinesis: \"http://127.0.0.1:1\", cloudwatch: \"http://127.0.0.1:1\", sns: \"http://127.0.0.1:1\"}\n" +
		"metrics: {listen: \"" + addr + "\"}\nstreams: [{name: orders}]\n"
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	d, err := newDaemon(context.Background(), cfg, runFlags{config: path}, false, zaptest.NewLogger(t), zap.NewAtomicLevel())
	if err != nil {
		t.Fatal(err)
	}
	stop, err := d.serve()
	if err != nil {
		t.Fatal(err)
	}
	defer stop()

	limit := observe.DefaultServerLimits.MaxConnections
	idle := make([]net.Conn, limit)
	for i := range idle {
		if idle[i], err = net.DialTimeout("tcp", addr, 5*time.Second); err != nil {
			t.Fatal(err)
		}
		defer idle[i].Close()
	}
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	answered := make(chan int, 1)
	go func() {
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			answered <- -1
			return
		}
		resp.Body.Close()
		answered <- resp.StatusCode
	}()
	select {
	case code := <-answered:
		t.Fatalf("connection %d was served (status %d) while %d idle ones were held", limit+1, code, limit)
	case <-time.After(300 * time.Millisecond):
	}
	_ = idle[0].Close()
	select {
	case code := <-answered:
		if code != http.StatusOK {
			t.Fatalf("status %d, want 200", code)
		}
	case <-time.After(4 * time.Second): // before ReadHeaderTimeout lets the idle ones go
		t.Fatal("not served after an idle connection closed")
	}
}
