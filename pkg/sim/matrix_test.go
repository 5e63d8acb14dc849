package sim

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestTargetMatrix replays the scenario library and, where present, the
// shared traces under default and every baseline and holds issue 11's
// targets through CheckTargets.
//
// The package's tests run a subset a CI machine affords: the scenarios at
// peaks of 8 and 50 shards with metric delays of 1 and 3 minutes, the
// shared traces at a peak of 50 with a delay of 3 minutes. SIM_MATRIX=full
// runs the whole matrix (peaks 8, 50 and 400, both delays, every trace),
// what `simulate --matrix` runs.
//
// The targets are asserted only with SIM_TARGETS=1, until the policy that
// meets them is in; otherwise the violations are logged. The matrix's own
// properties (every run has every policy's result, the fixed fleet at the
// peak need refuses nothing, no policy's hindsight bound exceeds the fixed
// fleet) are always asserted.
func TestTargetMatrix(t *testing.T) {
	if testing.Short() {
		t.Skip("the target matrix replays days of traffic; skipped in -short")
	}
	var scenarios []Trace
	for _, g := range Scenarios() {
		scenarios = append(scenarios, g.Trace(0))
	}
	full := os.Getenv("SIM_MATRIX") == "full"
	o := MatrixOptions{Traces: scenarios, Peaks: []int{8, 50}, MetricDelays: DefaultMatrixMetricDelays, Model: DefaultModel()}
	if full {
		o.Peaks = DefaultMatrixPeaks
	}
	runs := runMatrix(t, o)
	if paths, _ := filepath.Glob(filepath.Join(sharedTraceDir, "*.csv")); len(paths) == 0 {
		t.Logf("no shared traces in %s: the matrix covers the scenarios only", sharedTraceDir)
	} else if full {
		var shared []Trace
		for _, p := range paths {
			shared = append(shared, readTraceFile(t, p))
		}
		o.Traces = shared
		runs = append(runs, runMatrix(t, o)...)
	} else {
		// The comparison the other tests make of each shared trace (peak 50,
		// the default model's 3-minute delay) is one run of the matrix.
		for _, p := range paths {
			sc, rs := compareAll(t, readTraceFile(t, p), 50)
			runs = append(runs, MatrixRun{Trace: sc.Trace.Name, PeakShards: 50, MetricDelay: sc.Model.MetricDelay,
				Minutes: len(sc.Trace.Minutes), Results: rs})
		}
	}

	for _, r := range runs {
		if r.Err != nil {
			t.Errorf("%s: %v", r.Label(), r.Err)
			continue
		}
		for _, p := range MatrixPolicies() {
			if _, ok := r.Result(p); !ok {
				t.Errorf("%s: no result for %s", r.Label(), p)
			}
		}
		if fixed, _ := r.Result(PolicyFixed); fixed.ThrottledRecords != 0 || fixed.LostRecords != 0 {
			t.Errorf("%s: the fixed fleet at the peak need throttled %d records", r.Label(), fixed.ThrottledRecords)
		}
		if d, _ := r.Result(PolicyDefault); d.HindsightShardHours <= 0 || d.HindsightShardHours > float64(r.PeakShards)*float64(r.Minutes)/60+1e-9 {
			t.Errorf("%s: hindsight bound %.1f shard-hours, above the fixed fleet's", r.Label(), d.HindsightShardHours)
		}
	}

	violations := CheckTargets(runs)
	med, n := MedianXHindsight(runs)
	t.Logf("%d runs, %d violations of issue 11's targets; default's median %.2fx the hindsight bound over %d runs",
		len(runs), len(violations), med, n)
	enforce := os.Getenv("SIM_TARGETS") == "1"
	for _, v := range violations {
		if enforce {
			t.Error(v)
		} else {
			t.Log(v)
		}
	}
	if !enforce && len(violations) > 0 {
		t.Log("targets not enforced: set SIM_TARGETS=1 to fail on them")
	}
}

func runMatrix(t *testing.T, o MatrixOptions) []MatrixRun {
	t.Helper()
	runs, err := RunMatrix(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	return runs
}

func TestRunMatrixShape(t *testing.T) {
	g := scenario(t, "step-up")
	tr := g.Trace(0)
	tr.Minutes = tr.Minutes[:6*60]
	empty, err := NewTrace("empty", make([]int64, 10), nil)
	if err != nil {
		t.Fatal(err)
	}
	runs := runMatrix(t, MatrixOptions{Traces: []Trace{tr, empty}, Peaks: []int{4, 8},
		MetricDelays: []time.Duration{time.Minute, 3 * time.Minute}, Model: DefaultModel()})
	if len(runs) != 8 {
		t.Fatalf("%d runs, want 2 traces x 2 peaks x 2 delays", len(runs))
	}
	i := 0
	for _, name := range []string{tr.Name, "empty"} {
		for _, peak := range []int{4, 8} {
			for _, delay := range []time.Duration{time.Minute, 3 * time.Minute} {
				r := runs[i]
				i++
				if r.Trace != name || r.PeakShards != peak || r.MetricDelay != delay {
					t.Fatalf("run %d is %s, want %s @%d/%s", i, r.Label(), name, peak, delay)
				}
				if name == "empty" {
					if r.Err == nil {
						t.Errorf("%s: a trace with no records cannot be scaled, want an error", r.Label())
					}
					continue
				}
				if r.Err != nil || len(r.Results) != len(MatrixPolicies()) {
					t.Fatalf("%s: %v, %d results", r.Label(), r.Err, len(r.Results))
				}
				for _, res := range r.Results {
					if res.Timeline != nil || res.Calls != nil {
						t.Errorf("%s %s keeps its timeline", r.Label(), res.Policy)
					}
				}
			}
		}
	}
	// The matrix replays exactly what a single comparison does.
	m := DefaultModel()
	m.PeakShards, m.MetricDelay = 8, time.Minute
	want, err := Compare(tr, m, DefaultSettings(8), PolicyDefault, PolicyAlarm)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range want {
		got, _ := runs[2].Result(w.Policy)
		if got.LostRecords != w.LostRecords || got.ShardHours != w.ShardHours || got.CostUSD != w.CostUSD || got.XHindsight != w.XHindsight {
			t.Errorf("matrix %s: lost %d, %.2f shard-hours, $%.2f; a comparison: lost %d, %.2f, $%.2f",
				w.Policy, got.LostRecords, got.ShardHours, got.CostUSD, w.LostRecords, w.ShardHours, w.CostUSD)
		}
	}
	// A cancelled matrix stops.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := RunMatrix(ctx, MatrixOptions{Traces: []Trace{tr}, Model: DefaultModel()}); err == nil {
		t.Error("a cancelled matrix returned no error")
	}
}
