package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/testkit/cwtest"
)

// simulate --from-cloudwatch replays a stream's own history, read through the
// real SDK client from the CloudWatch test server, which (unlike kumo) keeps
// datapoints in the past and aggregates them per minute.
func TestSimulateFromCloudWatch(t *testing.T) {
	cw := cwtest.New(t, cwtest.WithPageSize(500))
	end := time.Now().UTC().Truncate(time.Minute).Add(-5 * time.Minute)
	const minutes = 180
	var offered int64
	for i := 0; i < minutes; i++ {
		at := end.Add(-time.Duration(minutes-i) * time.Minute)
		records := float64(30000 + 300*i) // a steady ramp
		offered += int64(records)
		cw.Put("clicks", "IncomingRecords", at, records)
		cw.Put("clicks", "IncomingBytes", at, records*512)
	}
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	body := fmt.Sprintf("aws:\n  region: us-east-1\n  endpoints:\n    cloudwatch: %s\nstreams:\n  - name: clicks\n", cw.URL)
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCLI(t, "simulate", "--from-cloudwatch", "clicks", "--days", "1", "--config", cfg, "--policy", "default", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var r struct {
		Trace          string `json:"trace"`
		Minutes        int    `json:"minutes"`
		OfferedRecords int64  `json:"offered_records"`
		LostRecords    int64  `json:"lost_records"`
	}
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatalf("decode %q: %v", stdout, err)
	}
	if r.Minutes != minutes || r.OfferedRecords != offered || r.Trace != "cloudwatch:clicks" {
		t.Fatalf("replayed %+v, want %d minutes and %d records of cloudwatch:clicks", r, minutes, offered)
	}
	if len(cw.Calls()) == 0 {
		t.Fatal("no GetMetricData call reached the server")
	}

	code, _, stderr = runCLI(t, "simulate", "--from-cloudwatch", "nothing-here", "--days", "1", "--config", cfg)
	if code != 2 {
		t.Fatalf("a stream without data: exit %d, want 2: %s", code, stderr)
	}
}
