package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/sim"
)

func TestSimulateScenarioList(t *testing.T) {
	code, stdout, stderr := runCLI(t, "simulate", "--scenario", "list")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, g := range sim.Scenarios() {
		if !strings.Contains(stdout, g.Name) || !strings.Contains(stdout, g.Description) {
			t.Errorf("list lacks %s and its description:\n%s", g.Name, stdout)
		}
	}
	if !strings.Contains(stdout, "14.0 days") || !strings.Contains(stdout, "peak  40") {
		t.Errorf("list lacks lengths or peaks:\n%s", stdout)
	}
}

func TestSimulateScenario(t *testing.T) {
	code, stdout, stderr := runCLI(t, "simulate", "--scenario", "step-up", "--policy", "default")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"trace: scenario:step-up (2 days steady", "2,880 minutes", "busiest minute needs 8 shards", "\n  default "} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	code, stdout, stderr = runCLI(t, "simulate", "--scenario", "scheduled-bursts", "--seed", "5", "--policy", "fixed", "--json")
	var r map[string]any
	if code != 0 || json.Unmarshal([]byte(stdout), &r) != nil {
		t.Fatalf("exit %d: %s %s", code, stdout, stderr)
	}
	// Without --peak-shards a scenario is scaled to its own peak: fixed
	// holds it for 72 hours.
	if r["trace"] != "scenario:scheduled-bursts@seed=5" || r["shard_hours"] != 40.0*72 {
		t.Errorf("trace %v, %v shard-hours; want the seed in the name and 40 shards for 72 h", r["trace"], r["shard_hours"])
	}
}

func TestSimulateMatrix(t *testing.T) {
	dir := t.TempDir()
	small, err := os.ReadFile(filepath.Join(traceFixtures, "small.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "small.csv"), small, 0o644); err != nil {
		t.Fatal(err)
	}
	// Seed 13 is step-up's own: the same trace as 0, replayed once.
	code, stdout, stderr := runCLI(t, "simulate", "--matrix", "--peaks", "4,6", "--metric-delays", "3m", "--scenarios", "step-up", "--seeds", "0,7,13", "--traces", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{
		"trace", "peak", "delay", "lost", "lost later", "throttled", "calls/24h", "x hindsight", "vs ksu", "vs alarm", "vs fixed", "verdict",
		"scenario:step-up         4     3m", "scenario:step-up         6     3m", "scenario:step-up@seed=7  4     3m", "small.csv",
		"median x hindsight:", "runs passing:", "targets: ",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	if n := strings.Count(stdout, "\nscenario:step-up "); n != 2 {
		t.Errorf("step-up's own trace replayed %d times at peaks 4 and 6, want twice:\n%s", n, stdout)
	}
	if n := strings.Count(stdout, "PASS") + strings.Count(stdout, "FAIL "); n < 6 {
		t.Errorf("%d verdicts, want one per run (and FAIL lines):\n%s", n, stdout)
	}
	cache := filepath.Join(dir, "cache")
	code, stdout, stderr = runCLI(t, "simulate", "--matrix", "--peaks", "4", "--metric-delays", "1m,3m", "--scenarios", "step-up", "--json",
		"--hindsight-cache", cache)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var rep sim.MatrixReport
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("--json: %v\n%s", err, stdout)
	}
	if len(rep.Runs) != 2 || rep.Runs[0].MetricDelay != "1m" || rep.Runs[1].MetricDelay != "3m" || len(rep.Runs[0].Results) != len(sim.MatrixPolicies()) {
		t.Errorf("runs %+v", rep.Runs)
	}
	if files, _ := filepath.Glob(filepath.Join(cache, "hindsight-*.json")); len(files) != 1 {
		t.Errorf("%d files in the hindsight cache, want one (one trace, one peak)", len(files))
	}
	// The default --traces directory does not exist beside this package.
	if !strings.Contains(stderr, "no shared traces") {
		t.Errorf("no note about the missing shared traces: %s", stderr)
	}

	// The same matrix against its own report: every run matched, none
	// changed.
	earlier := filepath.Join(dir, "before.json")
	if err := os.WriteFile(earlier, []byte(stdout), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr = runCLI(t, "simulate", "--matrix", "--peaks", "4", "--metric-delays", "1m,3m", "--scenarios", "step-up",
		"--hindsight-cache", cache, "--against", earlier)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"against " + earlier + " (2 runs in both):", "0 runs fell (by 0.00 in all), 0 rose",
		"0 runs lost more records", "0 runs throttled more records"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("--against: output lacks %q:\n%s", want, stdout)
		}
	}
}

func TestSimulateScenarioAndMatrixBadInput(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{name: "unknown scenario", args: []string{"--scenario", "tsunami"}, want: `unknown scenario "tsunami"`},
		{name: "scenario and trace", args: []string{"--scenario", "step-up", "--trace", "x.csv"}, want: "--scenario excludes --trace"},
		{name: "seed without scenario", args: []string{"--seed", "3"}, want: "--seed needs --scenario"},
		{name: "matrix and scenario", args: []string{"--matrix", "--scenario", "step-up"}, want: "excludes --trace, --from-cloudwatch and --scenario"},
		{name: "matrix and policy", args: []string{"--matrix", "--policy", "ksu"}, want: "excludes --policy"},
		{name: "matrix and peak", args: []string{"--matrix", "--peak-shards", "5"}, want: "--peaks"},
		{name: "matrix and timeline", args: []string{"--matrix", "--timeline", "t.csv"}, want: "no timeline"},
		{name: "bad peak", args: []string{"--matrix", "--peaks", "8,x"}, want: `--peaks "8,x"`},
		{name: "zero peak", args: []string{"--matrix", "--peaks", "0"}, want: `"0" is not a shard count`},
		{name: "bad delay", args: []string{"--matrix", "--metric-delays", "1m,soon"}, want: `--metric-delays "1m,soon"`},
		{name: "bad seed", args: []string{"--matrix", "--seeds", "0,-1"}, want: `"-1" is not a seed`},
		{name: "seed twice", args: []string{"--matrix", "--seeds", "5,0,5"}, want: "5 is given twice"},
		{name: "matrix and seed", args: []string{"--matrix", "--seed", "5"}, want: "the seeds of --seeds"},
		{name: "unknown matrix scenario", args: []string{"--matrix", "--scenarios", "step-up,tsunami"}, want: `unknown scenario "tsunami"`},
		{name: "missing trace directory", args: []string{"--matrix", "--traces", "no/such/dir"}, want: "--traces no/such/dir"},
		{name: "nothing to replay", args: []string{"--matrix", "--scenarios", "none", "--traces", "none"}, want: "nothing to replay"},
		{name: "bad trace in the directory", args: []string{"--matrix", "--scenarios", "none", "--traces", traceFixtures}, want: "bad_"},
		{name: "against and json", args: []string{"--matrix", "--against", "x.json", "--json"}, want: "--against prints its comparison after the table"},
		{name: "against a missing report", args: []string{"--matrix", "--against", "no/such/report.json"}, want: "--against: open no/such/report.json"},
		{name: "against a trace, not a report", args: []string{"--matrix", "--against", filepath.Join(traceFixtures, "small.csv")}, want: "not a report of simulate --matrix --json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, append([]string{"simulate"}, tt.args...)...)
			if code != 2 || stdout != "" || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, stdout %q, stderr %q; want 2 and %q", code, stdout, stderr, tt.want)
			}
		})
	}
}
