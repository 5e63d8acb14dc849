package controller

import (
	"context"
	"math"
	"slices"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/policy"
)

// writeOnlyLoad is fakeLoad that also reads the write side alone, counting
// the streams asked for by each kind of read.
type writeOnlyLoad struct {
	*fakeLoad
	full, writeOnly []string
}

func (w *writeOnlyLoad) ReadLoad(ctx context.Context, streams []string, start, end time.Time) (map[string][]policy.Minute, error) {
	w.full = append(w.full, streams...)
	return w.fakeLoad.ReadLoad(ctx, streams, start, end)
}

func (w *writeOnlyLoad) ReadWriteLoad(ctx context.Context, streams []string, start, end time.Time) (map[string][]policy.Minute, error) {
	w.writeOnly = append(w.writeOnly, streams...)
	ms, err := w.fakeLoad.ReadLoad(ctx, streams, start, end)
	for _, s := range ms {
		for i := range s {
			s[i].ReadBytes, s[i].HasReadBytes = 0, false
		}
	}
	return ms, err
}

func TestPollScheduleReadsCalmStreamsLessOften(t *testing.T) {
	tests := []struct {
		name string
		util float64
		// reads makes the stream's consumers read.
		reads     bool
		wantReads int
		// wantFull is how many of the reads asked for the read side.
		wantFull int
	}{
		// 30 cycles: the first three (the first knows no shard count yet,
		// the next two have seen fewer than policy.RiseHorizon minutes),
		// then every MaxInterval (5 minutes); the read side at the first read
		// and every ConsumerRecheck (15); and once the warm-up's read of the
		// stream's history (warmUp), which is not the schedule's.
		{name: "calm, no consumers", util: 0.3, wantReads: 9 + 1, wantFull: 2 + 1},
		{name: "calm, consumers read", util: 0.3, reads: true, wantReads: 9 + 1, wantFull: 9 + 1},
		// Within NearThreshold (10 points) of scale_up_threshold 75 %.
		{name: "near the threshold", util: 0.7, wantReads: 30 + 1, wantFull: 2 + 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, Options{}, map[string]int{"clicks": 4}, map[string]float64{"clicks": tt.util})
			r.load.reads = tt.reads
			load := &writeOnlyLoad{fakeLoad: r.load}
			// min_shards 4: the stream stays at 4 shards.
			s := settings()
			s.MinShards = 4
			seen := &seenPolicy{Threshold: policy.Threshold{Settings: s}}
			r.c = New([]StreamSpec{{Name: "clicks", Settings: s, Policy: seen}},
				Deps{Load: load, Streams: r.streams, History: r.history, Notifier: r.alerts, Clock: r.clock},
				Options{PollInterval: time.Minute, DedupWindow: time.Hour}, zaptest.NewLogger(t))
			r.cycles(30)
			if got := len(load.full) + len(load.writeOnly); got != tt.wantReads {
				t.Errorf("%d reads in 30 cycles, want %d", got, tt.wantReads)
			}
			if len(load.full) != tt.wantFull {
				t.Errorf("%d reads with the read side, want %d", len(load.full), tt.wantFull)
			}
			// Between reads the decision sees the minutes of the last read.
			if known := slices.ContainsFunc(seen.minutes, func(m policy.Minute) bool { return m.Known }); !known {
				t.Errorf("the last cycle's decision saw no known minute: %+v", seen.minutes)
			}
		})
	}
}

// seenPolicy is the default policy, keeping the minutes of the last
// observation it decided on.
type seenPolicy struct {
	policy.Threshold
	minutes []policy.Minute
}

func (p *seenPolicy) Decide(obs policy.Observation) policy.Decision {
	p.minutes = slices.Clone(obs.Minutes)
	return p.Threshold.Decide(obs)
}

// watchLoad is writeOnlyLoad that also makes watch reads, counting the
// streams asked for.
type watchLoad struct {
	*writeOnlyLoad
	watched []string
	// records are the load metrics the watch reads asked for, in order.
	records []bool
}

func (w *watchLoad) ReadWatchLoad(ctx context.Context, streams []string, records bool, start, end time.Time) (map[string][]policy.Minute, error) {
	w.watched = append(w.watched, streams...)
	w.records = append(w.records, records)
	ms, err := w.fakeLoad.ReadLoad(ctx, streams, start, end)
	for _, s := range ms {
		for i := range s {
			s[i].ReadBytes, s[i].HasReadBytes = 0, false
			if records {
				s[i].IncomingBytes = 0
			} else {
				s[i].IncomingRecords = 0
			}
		}
	}
	return ms, err
}

func TestPollScheduleWatchesBetweenFullReads(t *testing.T) {
	tests := []struct {
		name        string
		fullRecheck time.Duration
		// The warm-up's read of the history (warmUp) is one more full read.
		wantFull, wantWriteOnly, wantWatched int
		wantPerHour                          float64
	}{
		// Every cycle (the stream is near scale_up_threshold): the read side
		// at the first read and at 15 minutes (ConsumerRecheck), each of them
		// measuring the record size, and watch reads between them.
		{name: "default", wantFull: 2 + 1, wantWriteOnly: 0, wantWatched: 28, wantPerHour: 60*2 + 4*4},
		// A write-side read at 5, 10, 20 and 25 minutes measures it as well.
		{name: "full recheck 5m", fullRecheck: 5 * time.Minute, wantFull: 2 + 1, wantWriteOnly: 4, wantWatched: 24, wantPerHour: 60*2 + 4*4 + 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, Options{}, map[string]int{"clicks": 4}, map[string]float64{"clicks": 0.7})
			load := &watchLoad{writeOnlyLoad: &writeOnlyLoad{fakeLoad: r.load}}
			s := settings()
			s.MinShards = 4
			seen := &seenPolicy{Threshold: policy.Threshold{Settings: s}}
			r.c = New([]StreamSpec{{Name: "clicks", Settings: s, Policy: seen}},
				Deps{Load: load, Streams: r.streams, History: r.history, Notifier: r.alerts, Clock: r.clock},
				Options{PollInterval: time.Minute, DedupWindow: time.Hour, Poll: policy.PollSettings{FullRecheck: tt.fullRecheck}},
				zaptest.NewLogger(t))
			r.cycles(30)
			if len(load.full) != tt.wantFull || len(load.writeOnly) != tt.wantWriteOnly || len(load.watched) != tt.wantWatched {
				t.Errorf("%d full, %d write-side and %d watch reads in 30 cycles, want %d, %d and %d",
					len(load.full), len(load.writeOnly), len(load.watched), tt.wantFull, tt.wantWriteOnly, tt.wantWatched)
			}
			// Records of 100 bytes reach their limit first: the watch reads
			// ask for IncomingRecords.
			if slices.Contains(load.records, false) {
				t.Errorf("a watch read asked for IncomingBytes: %v", load.records)
			}
			// The last cycle (a watch read) decided on the bytes estimated
			// from the record size measured.
			known := 0
			for _, m := range seen.minutes {
				if !m.Known {
					continue
				}
				known++
				if m.IncomingRecords == 0 || math.Abs(m.IncomingBytes-100*m.IncomingRecords) > 1e-6*m.IncomingBytes {
					t.Errorf("minute %s: %.0f bytes for %.0f records, want 100 bytes a record", m.Start.Format("15:04"), m.IncomingBytes, m.IncomingRecords)
				}
			}
			if known == 0 {
				t.Errorf("the last cycle's decision saw no known minute: %+v", seen.minutes)
			}
			// Asked at 20 minutes, the next read is a watch read; at 30, the
			// read side's recheck (15 minutes after the last) is due.
			plan, ok := r.c.PlanRead("clicks", r.clock.Now().Add(-10*time.Minute))
			if !ok || plan.Metrics != policy.WatchMetricsPerStream {
				t.Errorf("PlanRead at 20m = %+v, %v; want a watch read of %d metrics", plan, ok, policy.WatchMetricsPerStream)
			}
			// An hour of reads every minute: 60 watch reads of 2 metrics,
			// 4 of them read in full with the read side (4 more each), and
			// with a 5-minute full recheck 8 more with the write side (1
			// more each).
			if want := tt.wantPerHour; plan.MetricsPerHour != want {
				t.Errorf("PlanRead at 20m: %v metrics an hour, want %v", plan.MetricsPerHour, want)
			}
			if plan, ok := r.c.PlanRead("clicks", r.clock.Now()); !ok || plan.Metrics != policy.MetricsPerStream {
				t.Errorf("PlanRead at 30m = %+v, %v; want a full read of %d metrics", plan, ok, policy.MetricsPerStream)
			}
		})
	}
}

func TestPollEveryCycleReadsEveryCycle(t *testing.T) {
	r := newRig(t, Options{PollEveryCycle: true}, map[string]int{"clicks": 4}, map[string]float64{"clicks": 0.3})
	r.cycles(7)
	// And once the warm-up's read of the stream's history (warmUp).
	if r.load.calls != 7+1 {
		t.Errorf("%d reads in 7 cycles, want 7 and the warm-up's", r.load.calls)
	}
}

func TestWindowKeepsMinutesOfAnEarlierRead(t *testing.T) {
	t0 := start.Truncate(time.Minute)
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Minute) }
	read := []policy.Minute{{Start: at(0), Known: true}, {Start: at(1), Known: true}, {Start: at(2)}}
	got := window(read, at(1), at(4))
	if len(got) != 3 || !got[0].Start.Equal(at(1)) || !got[0].Known || got[1].Known || got[2].Known || !got[2].Start.Equal(at(3)) {
		t.Errorf("window = %+v", got)
	}
}
