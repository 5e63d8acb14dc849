package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/sim"
)

const traceFixtures = "../../testdata/traces"

func TestSimulateWithoutArguments(t *testing.T) {
	code, stdout, stderr := runCLI(t, "simulate")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{
		"trace: builtin:clickstream-2d", "busiest minute needs 8 shards", "CloudWatch shows a minute 1m after it ends",
		"10 calls per rolling 24 h", "references: oracle", "hindsight", "on-demand mode $",
		"policy", "lost", "throttled", "shard-hours", "x oracle", "x hindsight", "reshard calls", "cost", "own bill /mo", "vs on-demand",
		" default ", " ksu ", " ksu-readme ", " alarm ", " fixed ", " on-demand ", " on-demand-advantage ", "lost: records dropped after",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
}

// A list of metric delays replays each: one JSON array of every result,
// each naming its delay.
func TestSimulateMetricDelaySweep(t *testing.T) {
	trace := filepath.Join(traceFixtures, "small.csv")
	code, stdout, stderr := runCLI(t, "simulate", "--trace", trace, "--policy", "default", "--json", "--metric-delay", "1m,2m,3m")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var all []map[string]any
	if err := json.Unmarshal([]byte(stdout), &all); err != nil {
		t.Fatalf("not an array: %v\n%s", err, stdout)
	}
	var delays []any
	for _, r := range all {
		delays = append(delays, r["metric_delay"])
	}
	if fmt.Sprint(delays) != "[1m 2m 3m]" {
		t.Errorf("delays %v, want [1m 2m 3m]", delays)
	}
	if code, _, _ := runCLI(t, "simulate", "--metric-delay", "1m,soon"); code != 2 {
		t.Errorf("a bad delay in the list: exit %d, want 2", code)
	}
}

func TestSimulateJSON(t *testing.T) {
	keys := []string{"trace", "policy", "minutes", "offered_records", "throttled_records", "lost_records", "shard_hours",
		"oracle_shard_hours", "hindsight_shard_hours", "reshard_calls", "max_reshard_calls_24h", "cost_usd",
		"on_demand_cost_usd", "fixed_peak_cost_usd", "metrics_requested", "monitoring_cost_usd",
		"monitoring_usd_per_stream_month", "on_demand_advantage_cost_usd", "efo_cost_usd", "metric_delay"}
	trace := filepath.Join(traceFixtures, "small.csv")

	code, stdout, stderr := runCLI(t, "simulate", "--trace", trace, "--compare", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var all []map[string]any
	if err := json.Unmarshal([]byte(stdout), &all); err != nil {
		t.Fatalf("--compare --json is not an array: %v\n%s", err, stdout)
	}
	if len(all) != len(sim.Policies) {
		t.Fatalf("got %d objects", len(all))
	}
	for i, obj := range all {
		for _, k := range keys {
			if _, ok := obj[k]; !ok {
				t.Errorf("object %d lacks %q", i, k)
			}
		}
		if obj["policy"] != sim.Policies[i] || obj["trace"] != trace || obj["minutes"] != 10.0 {
			t.Errorf("object %d: policy %v, trace %v, minutes %v", i, obj["policy"], obj["trace"], obj["minutes"])
		}
	}

	code, stdout, _ = runCLI(t, "simulate", "--trace", trace, "--policy", "default", "--json")
	var one map[string]any
	if code != 0 || json.Unmarshal([]byte(stdout), &one) != nil || one["policy"] != "default" {
		t.Errorf("--policy default --json: exit %d, %s", code, stdout)
	}
}

func TestSimulateWritesTimelineAndChart(t *testing.T) {
	dir := t.TempDir()
	timeline, chart := filepath.Join(dir, "t.csv"), filepath.Join(dir, "c.svg")
	code, _, stderr := runCLI(t, "simulate", "--trace", filepath.Join(traceFixtures, "small.csv"), "--peak-shards", "6",
		"--timeline", timeline, "--chart", chart)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, p := range sim.Policies {
		data, err := os.ReadFile(filepath.Join(dir, "t-"+p+".csv"))
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		if lines[0] != sim.TimelineHeader || len(lines) != 11 {
			t.Errorf("%s timeline: header %q, %d lines", p, lines[0], len(lines))
		}
	}
	if info, err := os.Stat(chart); err != nil || info.Size() < 1000 {
		t.Errorf("chart: %v", err)
	}

	png := filepath.Join(dir, "one.png")
	code, _, stderr = runCLI(t, "simulate", "--policy", "alarm", "--timeline", filepath.Join(dir, "one.csv"), "--chart", png)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "one.csv")); err != nil {
		t.Errorf("one policy writes the timeline where asked: %v", err)
	}
	if data, err := os.ReadFile(png); err != nil || !strings.HasPrefix(string(data), "\x89PNG") {
		t.Errorf("chart is not a PNG: %v", err)
	}
}

func TestSimulateWithConfig(t *testing.T) {
	code, stdout, stderr := runCLI(t, "simulate", "--config", "../../config/example.yaml", "--policy", "default")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "../../config/example.yaml, stream clickstream") {
		t.Errorf("settings origin not shown:\n%s", stdout)
	}
}

// --headroom sets the default policy's headroom over the built-in
// defaults (or --config's), and the header says so.
func TestSimulateHeadroom(t *testing.T) {
	shardHours := func(headroom string) float64 {
		t.Helper()
		code, stdout, stderr := runCLI(t, "simulate", "--policy", "default", "--json", "--headroom", headroom)
		if code != 0 {
			t.Fatalf("--headroom %s: exit %d: %s", headroom, code, stderr)
		}
		var r struct {
			ShardHours float64 `json:"shard_hours"`
		}
		if err := json.Unmarshal([]byte(stdout), &r); err != nil {
			t.Fatalf("--headroom %s: %v", headroom, err)
		}
		return r.ShardHours
	}
	if lossless, balanced := shardHours("lossless"), shardHours("balanced"); lossless <= balanced {
		t.Errorf("lossless used %.1f shard-hours, balanced %.1f: the margin did not reach the policy", lossless, balanced)
	}
	code, stdout, stderr := runCLI(t, "simulate", "--policy", "default", "--headroom", "economy")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "headroom economy (--headroom)") {
		t.Errorf("header does not say the headroom:\n%s", stdout)
	}
}

func TestSimulateBadInputExitsTwo(t *testing.T) {
	fixture := func(name string) string { return filepath.Join(traceFixtures, name) }
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{name: "gap", args: []string{"--trace", fixture("bad_gap.csv")}, want: []string{"bad_gap.csv:4:", "minutes 2 to 2 are missing"}},
		{name: "negative", args: []string{"--trace", fixture("bad_negative.csv")}, want: []string{"bad_negative.csv:3:", "negative"}},
		{name: "empty", args: []string{"--trace", fixture("empty.csv")}, want: []string{"empty.csv", "empty"}},
		{name: "header only", args: []string{"--trace", fixture("header_only.csv")}, want: []string{"header_only.csv", "no minutes"}},
		{name: "malformed header", args: []string{"--trace", fixture("bad_header.csv")}, want: []string{"bad_header.csv:1:", "header"}},
		{name: "non-integer minute", args: []string{"--trace", fixture("bad_minute.csv")}, want: []string{"bad_minute.csv:3:", "not an integer"}},
		{name: "NaN", args: []string{"--trace", fixture("bad_nan.csv")}, want: []string{"bad_nan.csv:3:", "NaN"}},
		{name: "missing file", args: []string{"--trace", fixture("nope.csv")}, want: []string{"nope.csv", "no such file"}},
		{name: "unknown policy", args: []string{"--policy", "magic"}, want: []string{`unknown policy "magic"`}},
		{name: "policy and compare", args: []string{"--policy", "ksu", "--compare"}, want: []string{"exclude each other"}},
		{name: "chart format", args: []string{"--chart", "x.gif"}, want: []string{".png or .svg"}},
		{name: "argument", args: []string{"trace.csv"}, want: []string{"no arguments", "--trace"}},
		{name: "negative peak", args: []string{"--peak-shards", "-3"}, want: []string{"peak shards -3"}},
		{name: "peak need above the maximum", args: []string{"--trace", fixture("bad_peak.csv")}, want: []string{"bad_peak.csv:2:", "most a simulation takes"}},
		{name: "peak shards above the maximum", args: []string{"--peak-shards", "10001"}, want: []string{"peak shards 10001", "0 (trace as it is) to 10000"}},
		{name: "zero ttl", args: []string{"--producer-ttl", "0s"}, want: []string{"producer TTL"}},
		{name: "bad flag value", args: []string{"--metric-delay", "soon"}, want: []string{"metric-delay"}},
		{name: "days out of range", args: []string{"--from-cloudwatch", "orders", "--days", "40"}, want: []string{"--days 40"}},
		{name: "trace and history", args: []string{"--trace", fixture("small.csv"), "--from-cloudwatch", "orders"}, want: []string{"exclude each other"}},
		{name: "key skew shape", args: []string{"--key-skew", "hotspot:0.1"}, want: []string{"--key-skew", "hotspot:F:W"}},
		{name: "key skew kind", args: []string{"--key-skew", "zipf:1.1:0.02"}, want: []string{"--key-skew", "hotspot:F:W"}},
		{name: "key skew fraction", args: []string{"--key-skew", "hotspot:1.5:0.02"}, want: []string{"--key-skew", "0 < F <= 1"}},
		{name: "key skew width", args: []string{"--key-skew", "hotspot:0.1:0"}, want: []string{"--key-skew", "0 < W <= 1"}},
		{name: "key skew number", args: []string{"--key-skew", "hotspot:a:b"}, want: []string{"--key-skew", "numbers"}},
		{name: "hot key out of range", args: []string{"--hot-key", "1"}, want: []string{"--hot-key 1", "0 to below 1"}},
		{name: "hot key negative", args: []string{"--hot-key", "-0.1"}, want: []string{"--hot-key -0.1"}},
		{name: "hot key not a number", args: []string{"--hot-key", "lots"}, want: []string{"hot-key"}},
		{name: "skew and hot key above all the load", args: []string{"--key-skew", "hotspot:0.8:0.1", "--hot-key", "0.5"}, want: []string{"together at most 1"}},
		{name: "bad config", args: []string{"--config", "../../testdata/config/bad/unknown-key-defaults.yaml"}, want: []string{"unknown-key-defaults.yaml"}},
		{name: "headroom", args: []string{"--headroom", "max"}, want: []string{`--headroom "max"`, "lossless, balanced, economy"}},
		{name: "matrix headroom", args: []string{"--matrix", "--headroom", "tight"}, want: []string{`--headroom "tight"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, append([]string{"simulate"}, tt.args...)...)
			if code != 2 {
				t.Fatalf("exit %d, want 2; stderr: %s", code, stderr)
			}
			if stdout != "" {
				t.Errorf("stdout not empty: %s", stdout)
			}
			for _, w := range tt.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q: %s", w, stderr)
				}
			}
			if strings.Contains(stderr, "goroutine ") {
				t.Errorf("stack trace: %s", stderr)
			}
		})
	}
}

// The --from-cloudwatch flags reach the history hook, and its failures are
// reported (the hook itself is tested against a CloudWatch server in
// history_test.go).
func TestSimulateFromCloudWatchHook(t *testing.T) {
	saved := testHooks.historyTrace
	defer func() { testHooks.historyTrace = saved }()
	var gotStream string
	var gotDays int
	testHooks.historyTrace = func(_ context.Context, _, stream string, days int) (sim.Trace, error) {
		gotStream, gotDays = stream, days
		return sim.NewTrace("cloudwatch:"+stream, []int64{6000, 60000, 120000, 6000}, []int64{6e6, 6e7, 1.2e8, 6e6})
	}
	code, stdout, stderr := runCLI(t, "simulate", "--from-cloudwatch", "orders", "--days", "3", "--policy", "fixed")
	if code != 0 || gotStream != "orders" || gotDays != 3 || !strings.Contains(stdout, "trace: cloudwatch:orders") {
		t.Errorf("exit %d, stream %q, days %d: %s %s", code, gotStream, gotDays, stdout, stderr)
	}
	testHooks.historyTrace = func(context.Context, string, string, int) (sim.Trace, error) {
		return sim.Trace{}, errors.New("throttled")
	}
	if code, _, stderr := runCLI(t, "simulate", "--from-cloudwatch", "orders"); code != 1 || !strings.Contains(stderr, "throttled") {
		t.Errorf("failing history: exit %d, %s", code, stderr)
	}
}

// A hot key is described in the header and reported in an alert line by
// the shard policy.
func TestSimulateHotKey(t *testing.T) {
	code, stdout, stderr := runCLI(t, "simulate", "--policy", "shard", "--peak-shards", "50", "--hot-key", "0.05")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, w := range []string{"partition keys: 0.05 on one hot key", "alert (shard):", "hot partition key: shard shardId-"} {
		if !strings.Contains(stdout, w) {
			t.Errorf("output lacks %q:\n%s", w, stdout)
		}
	}
}
