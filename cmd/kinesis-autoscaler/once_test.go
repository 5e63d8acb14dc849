package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/controller"
)

func TestOnceError(t *testing.T) {
	tests := []struct {
		name        string
		summary     controller.CycleSummary
		discoverErr error
		wantErr     []string
		wantLine    string
	}{
		{
			name:     "a leader's clean cycle",
			summary:  controller.CycleSummary{Streams: 3, Actions: 1, Leading: true, Took: 1500 * time.Millisecond},
			wantLine: "run --once: ok: 3 streams, 1 actions, 0 would act, 0 deferred, 0 errors (leader, 1.5s)",
		},
		{
			name:     "a dry run",
			summary:  controller.CycleSummary{Streams: 1, WouldAct: 1, Leading: true, DryRun: true},
			wantLine: "run --once: ok: 1 streams, 0 actions, 1 would act, 0 deferred, 0 errors (leader, dry run, 0s)",
		},
		{
			name:     "a standby",
			summary:  controller.CycleSummary{Streams: 2},
			wantErr:  []string{"standby: another replica holds the lease"},
			wantLine: "run --once: could not act: 2 streams, 0 actions, 0 would act, 0 deferred, 0 errors (standby, 0s)",
		},
		{
			name:        "AWS out of reach",
			summary:     controller.CycleSummary{Streams: 2, Errors: 2, Leading: true, LoadErr: errors.New("dial tcp: connection refused")},
			discoverErr: errors.New("discover streams: connection refused"),
			wantErr:     []string{"discover streams", "read CloudWatch metrics: dial tcp", "2 of 2 streams failed"},
			wantLine:    "run --once: could not act: 2 streams",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := onceError(tt.summary, tt.discoverErr)
			if (err != nil) != (len(tt.wantErr) > 0) {
				t.Fatalf("onceError = %v, want errors %q", err, tt.wantErr)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q: %v", w, err)
				}
			}
			if line := onceLine(tt.summary, err); !strings.HasPrefix(line, tt.wantLine) || strings.Contains(line, "\n") {
				t.Errorf("line = %q, want one line starting %q", line, tt.wantLine)
			}
		})
	}
}

// TestOnceUnreachableAWS runs `run --once` with every endpoint on a closed
// loopback port: it must exit 1 and print its one summary line.
func TestOnceUnreachableAWS(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	body := "aws:\n  region: us-east-1\n  endpoints:\n" +
		"    kinesis: http://127.0.0.1:1\n    cloudwatch: http://127.0.0.1:1\n    sns: http://127.0.0.1:1\n" +
		"poll_interval: 10s\nmetrics:\n  listen: \"\"\nstreams:\n  - name: orders\n"
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCLI(t, "run", "--once", "--config", cfg)
	if code != exitError {
		t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, exitError, stdout, stderr)
	}
	if lines := strings.Split(strings.TrimSpace(stdout), "\n"); len(lines) != 1 ||
		!strings.HasPrefix(lines[0], "run --once: could not act: 1 streams") {
		t.Errorf("stdout = %q, want one summary line", stdout)
	}
	if !strings.Contains(stderr, "1 of 1 streams failed") {
		t.Errorf("stderr lacks the failure: %s", stderr)
	}
}
