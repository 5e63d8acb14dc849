package sim

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/policy"
)

// BenchmarkCompare replays each shared trace at a peak of 50 shards under
// every policy, with the oracle and the hindsight plan, and reports each
// policy's figures beside the time taken.
func BenchmarkCompare(b *testing.B) {
	for _, path := range sharedTraces(b) {
		tr := readTraceFile(b, path)
		name := strings.TrimSuffix(filepath.Base(path), "_per_minute.csv")
		b.Run(name, func(b *testing.B) {
			m := DefaultModel()
			m.PeakShards = 50
			var rs []Result
			var h HindsightResult
			for b.Loop() {
				sc, err := NewScenario(tr, m, DefaultSettings(50))
				if err != nil {
					b.Fatal(err)
				}
				if rs, err = sc.Compare(context.Background()); err != nil {
					b.Fatal(err)
				}
				h = sc.Hindsight()
			}
			b.ReportMetric(float64(len(tr.Minutes)), "minutes")
			b.ReportMetric(float64(h.Elapsed.Milliseconds()), "hindsight-ms")
			if len(rs) > 0 {
				b.ReportMetric(rs[0].HindsightShardHours, "hindsight-shard-hours")
				b.ReportMetric(rs[0].OracleShardHours, "oracle-shard-hours")
			}
			for _, r := range rs {
				b.ReportMetric(r.ShardHours, r.Policy+"-shard-hours")
				b.ReportMetric(r.XHindsight, r.Policy+"-x-hindsight")
				b.ReportMetric(100*float64(r.LostRecords)/float64(max(r.OfferedRecords, 1)), r.Policy+"-lost-pct")
				b.ReportMetric(r.CostUSD, r.Policy+"-usd")
			}
		})
	}
}

// BenchmarkHindsight times the hindsight programmes alone on each shared
// trace at a peak of 50 shards.
func BenchmarkHindsight(b *testing.B) {
	for _, path := range sharedTraces(b) {
		tr := readTraceFile(b, path)
		name := strings.TrimSuffix(filepath.Base(path), "_per_minute.csv")
		b.Run(name, func(b *testing.B) {
			m := DefaultModel()
			m.PeakShards = 50
			l, err := prepare(tr, m)
			if err != nil {
				b.Fatal(err)
			}
			var h HindsightResult
			for b.Loop() {
				h = Hindsight(l.needs, AWSPlanRules(m.ReshardTime))
			}
			b.ReportMetric(float64(h.Lower)/60, "lower-shard-hours")
			b.ReportMetric(float64(h.Upper)/60, "upper-shard-hours")
		})
	}
}

// BenchmarkRunScenario replays a day of scenarios at a peak of 400 shards
// under each policy (the matrix's costliest peak), to profile the replay.
func BenchmarkRunScenario(b *testing.B) {
	for _, name := range []string{"scheduled-bursts", "diurnal-noise"} {
		g, err := LookupScenario(name)
		if err != nil {
			b.Fatal(err)
		}
		tr := g.Trace(0)
		tr.Minutes = tr.Minutes[:day]
		m := DefaultModel()
		m.PeakShards = 400
		sc, err := NewScenario(tr, m, DefaultSettings(400))
		if err != nil {
			b.Fatal(err)
		}
		sc.Hindsight()
		for _, p := range Policies {
			b.Run(name+"/"+p, func(b *testing.B) {
				for b.Loop() {
					if _, err := sc.Run(context.Background(), p); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(len(tr.Minutes)), "minutes")
			})
		}
	}
}

// BenchmarkThresholdFloor measures how much of the default policy's
// shard-hours over the hindsight bound any policy that keeps its level at
// scale_up_threshold pays, even one that knows the future: it solves the
// hindsight programmes again with each minute needing, besides its own load
// at 100 %, the level (the median need of the newest policy.LevelMinutes
// minutes, as the policy measures it) at DefaultSettings' threshold. It
// reports, against the hindsight lower bound of the plain needs, that
// floor's lower bound and the cost of its rolling-feasible plan, and a fixed
// fleet at the peak need (what holding bursts shorter than the loop costs
// without knowing when they come), for every scenario and shared trace at
// a peak of 50 shards:
//
//	go test -run '^$' -bench BenchmarkThresholdFloor ./pkg/sim
func BenchmarkThresholdFloor(b *testing.B) {
	traces := map[string]Trace{}
	var names []string
	for _, g := range Scenarios() {
		traces[g.Name], names = g.Trace(0), append(names, g.Name)
	}
	for _, path := range sharedTraces(b) {
		name := strings.TrimSuffix(filepath.Base(path), "_per_minute.csv")
		traces[name], names = readTraceFile(b, path), append(names, name)
	}
	for _, name := range names {
		b.Run(name, func(b *testing.B) {
			m := DefaultModel()
			m.PeakShards = 50
			l, err := prepare(traces[name], m)
			if err != nil {
				b.Fatal(err)
			}
			threshold := DefaultSettings(m.PeakShards).ScaleUpThreshold
			needs := make([]float64, len(l.needs))
			floorNeeds := make([]int, len(l.needs))
			for i, n := range l.needs {
				needs[i] = float64(n)
				floorNeeds[i] = max(n, policy.ShardsForNeed(policy.Level(needs[:i+1]), threshold))
			}
			rules := AWSPlanRules(m.ReshardTime)
			var plain, floor HindsightResult
			for b.Loop() {
				plain = HindsightBounds(l.needs, rules)
				floor = HindsightBounds(floorNeeds, rules)
			}
			base := float64(plain.Lower)
			b.ReportMetric(float64(floor.Lower)/base, "floor-lower-x")
			b.ReportMetric(float64(floor.Upper)/base, "floor-plan-x")
			b.ReportMetric(float64(slices.Max(l.needs)*len(l.needs))/base, "fixed-x")
		})
	}
}
