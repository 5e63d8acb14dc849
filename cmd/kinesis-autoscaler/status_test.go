package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/policy"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/stream"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/testkit/emulator"
)

// status shows each stream's shards, load, last action, calls left and what
// the policy would do, and changes nothing.
func TestStatusCommand(t *testing.T) {
	a := newAcceptance(t)
	hot := a.stream("status-hot", 2)
	a.load(hot, 15, 2, 0.9)
	kin := stream.New(a.kinesis)
	at := time.Now().Add(-40 * time.Minute).UTC().Truncate(time.Second)
	history := policy.History{LastAction: &policy.Action{At: at, From: 1, To: 2, Direction: policy.DirectionUp}, Calls: []time.Time{at}}
	if err := kin.SaveHistory(a.ctx, hot, history); err != nil {
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
		hot, "PROVISIONED", "ACTIVE", "90%", "up 1->2", at.Format(time.RFC3339) + " (40m ago)", "scale up to 4",
		missing, "unreadable",
		"Why:", hot + ": write records at 90% of 2 shards",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("status lacks %q:\n%s", want, stdout)
		}
	}
	if !regexjoin(stdout, hot, `\s+9\s+scale up to 4`) {
		t.Errorf("calls left is not 9 in:\n%s", stdout)
	}
	// It only looks.
	if n, _ := a.shards(hot); n != 2 {
		t.Errorf("status resharded: %d shards", n)
	}
	got, err := kin.LoadHistory(a.ctx, hot)
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
