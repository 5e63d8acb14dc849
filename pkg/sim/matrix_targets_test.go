package sim

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

// goodDefault is a default result that meets every target against the
// baselines of matrixRun.
func goodDefault() Result {
	return Result{Policy: PolicyDefault, OfferedRecords: 1_000_000, LostRecords: 0, ThrottledRecords: 1000,
		MaxReshardCalls24h: 6, XHindsight: 1.3, CostUSD: 90}
}

// matrixRun is a hand-made run: default as given, and baselines that lose
// more than it (ksu, alarm) or cost more (fixed).
func matrixRun(d Result) MatrixRun {
	return MatrixRun{Trace: "scenario:test", PeakShards: 50, MetricDelay: 3 * time.Minute, Minutes: 1440, Results: []Result{
		d,
		{Policy: PolicyShard, OfferedRecords: 1_000_000, CostUSD: 10},
		{Policy: PolicyKSU, OfferedRecords: 1_000_000, LostRecords: 5000, CostUSD: 40},
		{Policy: PolicyAlarm, OfferedRecords: 1_000_000, LostRecords: 1000, CostUSD: 80},
		{Policy: PolicyFixed, OfferedRecords: 1_000_000, LostRecords: 0, CostUSD: 100},
	}}
}

func TestCheckTargets(t *testing.T) {
	with := func(change func(*Result)) MatrixRun {
		d := goodDefault()
		change(&d)
		return matrixRun(d)
	}
	tests := []struct {
		name string
		runs []MatrixRun
		want []ViolationKind
		// baselines are the dominating baselines the violations name.
		baselines []string
	}{
		{name: "all targets met", runs: []MatrixRun{matrixRun(goodDefault())}},
		{name: "a cheaper baseline that loses as much dominates",
			runs: []MatrixRun{with(func(d *Result) { d.CostUSD = 101 })},
			want: []ViolationKind{ViolationDominated}, baselines: []string{PolicyFixed}},
		{name: "two baselines dominate",
			runs: []MatrixRun{with(func(d *Result) { d.LostRecords, d.CostUSD = 1000, 101 })},
			want: []ViolationKind{ViolationDominated, ViolationDominated, ViolationLost}, baselines: []string{PolicyAlarm, PolicyFixed}},
		{name: "a baseline that costs exactly as much does not dominate",
			runs: []MatrixRun{with(func(d *Result) { d.CostUSD = 100 })}},
		{name: "a cheaper baseline that loses more does not dominate",
			runs: []MatrixRun{with(func(d *Result) { d.LostRecords, d.CostUSD = 600, 85 })},
			want: []ViolationKind{ViolationLost}},
		{name: "shard is not a baseline",
			runs: []MatrixRun{with(func(d *Result) { d.CostUSD = 20 })}},
		{name: "losing 0.05 % is allowed",
			runs: []MatrixRun{with(func(d *Result) { d.LostRecords = 500 })}},
		{name: "losing more than 0.05 %",
			runs: []MatrixRun{with(func(d *Result) { d.LostRecords = 501 })},
			want: []ViolationKind{ViolationLost}},
		{name: "throttling more than 0.5 %",
			runs: []MatrixRun{with(func(d *Result) { d.ThrottledRecords = 5001 })},
			want: []ViolationKind{ViolationThrottled}},
		{name: "throttling 0.5 % is allowed",
			runs: []MatrixRun{with(func(d *Result) { d.ThrottledRecords = 5000 })}},
		{name: "11 calls in 24 h",
			runs: []MatrixRun{with(func(d *Result) { d.MaxReshardCalls24h = 11 })},
			want: []ViolationKind{ViolationCalls}},
		{name: "above 2.5x the hindsight bound on one run (and so at the median)",
			runs: []MatrixRun{with(func(d *Result) { d.XHindsight = 2.6 })},
			want: []ViolationKind{ViolationXHindsight, ViolationMedianXHindsight}},
		{name: "median above 1.6x though every run is within 2.5x",
			runs: []MatrixRun{
				with(func(d *Result) { d.XHindsight = 1.2 }),
				with(func(d *Result) { d.XHindsight = 1.7 }),
				with(func(d *Result) { d.XHindsight = 2.0 }),
			},
			want: []ViolationKind{ViolationMedianXHindsight}},
		{name: "median of an even number of runs is the mean of the middle two, 1.6: within",
			runs: []MatrixRun{
				with(func(d *Result) { d.XHindsight = 1.0 }),
				with(func(d *Result) { d.XHindsight = 1.5 }),
				with(func(d *Result) { d.XHindsight = 1.7 }),
				with(func(d *Result) { d.XHindsight = 2.4 }),
			}},
		{name: "a failed run",
			runs: []MatrixRun{{Trace: "bad", PeakShards: 8, Err: errors.New("no records")}},
			want: []ViolationKind{ViolationMissing}},
		{name: "a run without default",
			runs: []MatrixRun{{Trace: "x", PeakShards: 8, Results: []Result{{Policy: PolicyFixed}}}},
			want: []ViolationKind{ViolationMissing}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := CheckTargets(tt.runs)
			var kinds []ViolationKind
			var baselines []string
			for _, v := range got {
				kinds = append(kinds, v.Kind)
				if v.Baseline != "" {
					baselines = append(baselines, v.Baseline)
				}
				if v.Reason == "" {
					t.Errorf("violation %s has no reason", v.Kind)
				}
			}
			if strings.Join(kindStrings(kinds), ",") != strings.Join(kindStrings(tt.want), ",") {
				t.Fatalf("violations %v, want kinds %v", got, tt.want)
			}
			if strings.Join(baselines, ",") != strings.Join(tt.baselines, ",") {
				t.Errorf("dominating baselines %v, want %v", baselines, tt.baselines)
			}
		})
	}
}

func kindStrings(ks []ViolationKind) []string {
	var out []string
	for _, k := range ks {
		out = append(out, string(k))
	}
	return out
}

func TestMatrixReport(t *testing.T) {
	bad := goodDefault()
	bad.LostRecords, bad.CostUSD = 1000, 101
	runs := []MatrixRun{matrixRun(goodDefault()), matrixRun(bad)}
	runs[1].PeakShards = 400
	rep := NewMatrixReport(runs, DefaultTargets)
	if rep.Passing != 1 || rep.Pass || !rep.Runs[0].Pass || rep.Runs[1].Pass {
		t.Fatalf("report %+v: want run 1 passing, run 2 failing", rep)
	}
	var table bytes.Buffer
	if err := WriteMatrixTable(&table, rep); err != nil {
		t.Fatal(err)
	}
	out := table.String()
	for _, want := range []string{
		"vs ksu", "vs alarm", "vs fixed", "PASS", "FAIL dominated by alarm,fixed; lost", "+26%", "-10%",
		"median x hindsight: 1.30 over 2 runs", "runs passing: 1 of 2", "targets: FAIL",
		"FAIL scenario:test @400/3m: lost: default lost 0.1% of the offered records, above 0.05%",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "vs shard") {
		t.Errorf("table compares with shard, which is not a baseline:\n%s", out)
	}
	// The bad run's 0.1 % were all lost in its first episode.
	if line := "runs losing more than 0.05% in their first episode of losses alone: 1; after it (lost later): 0"; !strings.Contains(out, line) {
		t.Errorf("table lacks %q:\n%s", line, out)
	}
	// Lost later: 0.08 % after a first episode of 0.02 % counts as later only.
	later := bad
	later.LostAfterFirstEpisode = 800
	if rep := NewMatrixReport([]MatrixRun{matrixRun(later), matrixRun(bad), matrixRun(goodDefault())}, DefaultTargets); rep.FirstEpisodeOverLoss != 1 || rep.LaterOverLoss != 1 {
		t.Errorf("first episode over the loss target on %d runs, later on %d; want 1 and 1", rep.FirstEpisodeOverLoss, rep.LaterOverLoss)
	}
	var js bytes.Buffer
	if err := WriteMatrixJSON(&js, rep); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"kind": "dominated"`, `"baseline": "alarm"`, `"passing": 1`, `"metric_delay": "3m"`, `"first_episode_over_loss": 1`} {
		if !strings.Contains(js.String(), want) {
			t.Errorf("JSON lacks %s", want)
		}
	}
}

func TestMatrixReportBySeed(t *testing.T) {
	slow := goodDefault()
	slow.XHindsight = 2.1
	lossy := goodDefault()
	lossy.LostRecords, lossy.XHindsight = 1000, 1.5
	runs := []MatrixRun{matrixRun(goodDefault()), matrixRun(slow), matrixRun(lossy), matrixRun(goodDefault())}
	runs[1].Trace = "scenario:test@seed=7"
	runs[2].Trace = "scenario:test@seed=7"
	runs[3].Trace = "trace.csv" // not a scenario: in no seed's summary
	rep := NewMatrixReport(runs, DefaultTargets)
	want := []SeedSummary{
		{Seed: "own", Runs: 1, Passing: 1, MedianXHindsight: 1.3, MaxXHindsight: 1.3},
		{Seed: "7", Runs: 2, Passing: 1, MedianXHindsight: 1.8, MaxXHindsight: 2.1},
	}
	if len(rep.BySeed) != len(want) {
		t.Fatalf("by seed %+v, want %+v", rep.BySeed, want)
	}
	for i, g := range rep.BySeed {
		w := want[i]
		if g.Seed != w.Seed || g.Runs != w.Runs || g.Passing != w.Passing || math.Abs(g.MedianXHindsight-w.MedianXHindsight) > 1e-9 || g.MaxXHindsight != w.MaxXHindsight {
			t.Errorf("seed summary %d: %+v, want %+v", i, g, w)
		}
	}
	var table bytes.Buffer
	if err := WriteMatrixTable(&table, rep); err != nil {
		t.Fatal(err)
	}
	if line := "scenarios, seed 7: 1 of 2 passing, median x hindsight 1.80, at most 2.10"; !strings.Contains(table.String(), line) {
		t.Errorf("table lacks %q:\n%s", line, table.String())
	}
	// One seed: no summary.
	if rep := NewMatrixReport(runs[:1], DefaultTargets); rep.BySeed != nil {
		t.Errorf("one seed summed up: %+v", rep.BySeed)
	}
}
