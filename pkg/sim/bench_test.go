package sim

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
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
