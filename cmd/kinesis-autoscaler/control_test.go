package main

import (
	"strings"
	"testing"
	"time"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/stream"
)

// pause, resume and scale against kinesis-mock, kumo's SNS and the
// CloudWatch test server, through the binary's own code path.
func TestControlCommands(t *testing.T) {
	recordCalls(t)
	a := newAcceptance(t)
	hot := a.stream("paused", 2)
	a.load(hot, 15, 2, 0.9)
	cfg := a.config([]string{hot}, nil)

	// Paused: the daemon leaves the hot stream alone and says so (once per
	// pause in a running daemon; controller.TestPausedStreamAlertsOnce).
	if code, stdout, stderr := runCLI(t, "pause", hot, "--config", cfg); code != 0 || !strings.Contains(stdout, "paused "+hot) {
		t.Fatalf("pause: exit %d, %q %q", code, stdout, stderr)
	}
	a.once("--config", cfg)
	if n, _ := a.shards(hot); n != 2 {
		t.Fatalf("a paused stream was resharded to %d", n)
	}
	checkAlert(t, a.alerts(1)[hot], "paused", []string{hot, "paused"}, []string{"paused by an operator", "resume " + hot})
	code, stdout, _ := runCLI(t, "status", "--config", cfg)
	if code != 0 || !strings.Contains(stdout, "PAUSED since") || !regexjoin(stdout, hot, `\s+10\s+paused`) {
		t.Errorf("status (exit %d) does not show the pause:\n%s", code, stdout)
	}

	// An operator's scale works on a paused stream, through the record.
	code, stdout, stderr := runCLI(t, "scale", hot, "--to", "3", "--config", cfg)
	if code != 0 || !strings.Contains(stdout, "resharding to 3") {
		t.Fatalf("scale: exit %d, %q %q", code, stdout, stderr)
	}
	a.waitShards(hot, 3)
	checkAlert(t, a.alerts(1)[hot], "scaled_up", []string{"scaled up 2 -> 3"}, []string{"an operator asked for 3 shards"})
	rec, err := stream.New(a.kinesis).LoadRecord(a.ctx, hot)
	if err != nil || rec.History.CallsUsed(time.Now()) != 1 || rec.History.Expected() != 3 || rec.Paused.IsZero() {
		t.Fatalf("record after scale: %+v, %v; want one call, 3 shards, still paused", rec, err)
	}

	// Refused with the rule it would break, exit 1, nothing changed.
	for _, tt := range []struct {
		name   string
		to     string
		reason string
	}{
		{name: "above max_shards", to: "17", reason: "max_shards 16"},
		{name: "beyond one call", to: "7", reason: "6 at most"},
	} {
		code, _, stderr := runCLI(t, "scale", hot, "--to", tt.to, "--config", cfg)
		if code != 1 || !strings.Contains(stderr, tt.reason) {
			t.Errorf("%s: exit %d, stderr %q; want 1 naming %q", tt.name, code, stderr, tt.reason)
		}
	}
	if code, _, stderr := runCLI(t, "scale", hot, "--config", cfg); code != 2 || !strings.Contains(stderr, "--to") {
		t.Errorf("scale without --to: exit %d, %q; want 2", code, stderr)
	}

	// Resumed: the daemon acts again (its cooldown from the manual change
	// has passed once the recorded change is old enough; here the load of 90 %
	// of 2 shards is 60 % of 3, inside the band: nothing to do), and the
	// tag is gone.
	if code, stdout, stderr := runCLI(t, "resume", hot, "--config", cfg); code != 0 || !strings.Contains(stdout, "resumed "+hot) {
		t.Fatalf("resume: exit %d, %q %q", code, stdout, stderr)
	}
	if rec, err := stream.New(a.kinesis).LoadRecord(a.ctx, hot); err != nil || !rec.Paused.IsZero() {
		t.Fatalf("record after resume: %+v, %v", rec, err)
	}
	a.load(hot, 15, 3, 0.95)
	a.once("--config", cfg)
	a.kumo.ReceiveNone(a.ctx, t, a.queueURL, time.Second)
}
