package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/controller"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/policy"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/stream"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/testkit/emulator"
)

// status shows each stream's shards, load, last action, calls left and what
// the policy would do, and changes nothing.
func TestStatusCommand(t *testing.T) {
	a := newAcceptance(t)
	hot := a.stream("status-hot", 2)
	a.load(hot, 15, 2, 1.2)
	kin := stream.New(a.kinesis)
	at := time.Now().Add(-40 * time.Minute).UTC().Truncate(time.Second)
	history := policy.History{LastAction: &policy.Action{At: at, From: 1, To: 2, Direction: policy.DirectionUp}, Calls: []time.Time{at}}
	if err := kin.SaveRecord(a.ctx, hot, policy.Record{History: history}); err != nil {
		t.Fatal(err)
	}
	missing := emulator.UniqueName("status-missing")
	table := a.leaseTable()
	path := a.daemonConfig([]string{hot, missing}, fmt.Sprintf("lease:\n  table: %s\n", table))

	code, stdout, stderr := runCLI(t, "status", "--config", path)
	if code != 1 || !strings.Contains(stderr, "1 of 2 streams could not be read") {
		t.Errorf("exit %d, stderr %q: want 1 for the missing stream", code, stderr)
	}
	for _, want := range []string{
		"lease: kinesis-autoscaler in table " + table + ": nobody holds it",
		"STREAM", "MODE", "WRITE RECORDS", "LAST ACTION", "CALLS LEFT", "POLICY NOW",
		hot, "PROVISIONED", "ACTIVE", "120%", "up 1->2", at.Format(time.RFC3339) + " (40m ago)", "scale up to 4",
		missing, "unreadable",
		"Why:", hot + ": write records at 120% of 2 shards",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("status lacks %q:\n%s", want, stdout)
		}
	}
	if !regexjoin(stdout, hot, `\s+9\s+scale up to 4`) {
		t.Errorf("calls left is not 9 in:\n%s", stdout)
	}
	// Its own bill: read every cycle (10 s here; it is still being learnt),
	// 2 metrics a read between full reads (its record size was measured),
	// and the read side's 6 every 15 minutes: 360 × 2 + 4 × 4 = 736 metrics
	// an hour, $5.37 a month.
	if !regexjoin(stdout, "  "+hot, `\s+2\s+10s\s+\$5\.37\s+.*`) {
		t.Errorf("the own bill of %s is not 2 metrics every 10 s, $5.37 a month, in:\n%s", hot, stdout)
	}
	// It only looks.
	if n, _ := a.shards(hot); n != 2 {
		t.Errorf("status resharded: %d shards", n)
	}
	rec, err := kin.LoadRecord(a.ctx, hot)
	got := rec.History
	if err != nil || got.LastAction == nil || !got.LastAction.At.Equal(at) || len(got.Calls) != 1 {
		t.Errorf("status changed the history: %+v, %v", got, err)
	}
	a.kumo.ReceiveNone(a.ctx, t, a.queueURL, time.Second)
}

// regexjoin reports whether a line of s starts with name and ends as re.
func regexjoin(s, name, re string) bool {
	for _, line := range strings.Split(s, "\n") {
		if strings.HasPrefix(line, name+" ") && regexpMatch(re+`$`, line) {
			return true
		}
	}
	return false
}

func regexpMatch(re, s string) bool { return regexp.MustCompile(re).MatchString(s) }

func TestHealthcheckCommand(t *testing.T) {
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(status)
		fmt.Fprintln(w, "ok")
	}))
	defer srv.Close()
	if code, stdout, stderr := runCLI(t, "healthcheck", "--url", srv.URL); code != 0 || stdout != "ok\n" {
		t.Errorf("healthy: exit %d, %q, %q", code, stdout, stderr)
	}
	status = http.StatusServiceUnavailable
	if code, _, stderr := runCLI(t, "healthcheck", "--url", srv.URL); code != 1 || !strings.Contains(stderr, "503") {
		t.Errorf("unhealthy: exit %d, %q", code, stderr)
	}
	srv.Close()
	if code, _, _ := runCLI(t, "healthcheck", "--url", srv.URL, "--timeout", "1s"); code != 1 {
		t.Errorf("nobody listening: exit %d", code)
	}
}

// The status of a stream with shard-level scaling lists its shards.
func TestWriteShardStatus(t *testing.T) {
	now := time.Date(2026, 11, 25, 14, 0, 0, 0, time.UTC)
	hot := policy.ShardMinute{Start: now.Add(-3 * time.Minute), Known: true, IncomingRecords: 0.9 * 60 * 1000, IncomingBytes: 60 * 1000, WriteThrottled: 12}
	out := &controller.ShardOutcome{
		Loads: []policy.ShardLoad{
			{ShardID: "shardId-000000000001", Range: policy.KeyRange{Lo: 0.25, Hi: 0.5}, Minute: hot, Known: true},
			{ShardID: "shardId-000000000005", Range: policy.KeyRange{Lo: 0.5, Hi: 0.625}},
		},
		Actions: []policy.ShardAction{{Kind: policy.ShardSplit, ShardID: "shardId-000000000001", Reason: "shard shardId-000000000001 at 90%"}},
		HotKeys: []policy.KeyRange{{Lo: 0.75, Hi: 0.8125}}, CallsLeft: 47,
	}
	var b strings.Builder
	writeShardStatus(&b, "clicks", out)
	for _, want := range []string{
		"Shards of clicks (shard-level scaling; 47 split and merge calls left in the rolling 24 h):",
		"SHARD", "KEY SPACE", "LOAD", "THROTTLED",
		"shardId-000000000001  25.0%      0.250000-0.500000  100%  900        1000     12         13:57", // throttled: at least 100 %
		"shardId-000000000005  12.5%      0.500000-0.625000  -     -          -        -          no data yet",
		"hot partition key in 0.750000-0.812500",
		"shard level now: split: shard shardId-000000000001 at 90%",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("shard status lacks %q:\n%s", want, b.String())
		}
	}
}
