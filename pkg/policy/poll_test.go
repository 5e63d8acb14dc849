package policy

import (
	"strings"
	"testing"
	"time"
)

func TestNextRead(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 30, 0, time.UTC)
	s := Settings{ScaleUpThreshold: 0.75, ScaleDownThreshold: 0.25, ScaleUpAfter: 2 * time.Minute, ScaleDownAfter: 30 * time.Minute}
	// minutes are n minutes of load in shards (write records), the newest
	// ending a minute before now.
	minutes := func(load ...float64) []Minute {
		ms := make([]Minute, len(load))
		first := now.Truncate(time.Minute).Add(-time.Duration(len(load)+1) * time.Minute)
		for i, l := range load {
			ms[i] = Minute{Start: first.Add(time.Duration(i) * time.Minute), Known: true,
				IncomingRecords: l * 60 * ShardWriteRecordsPerSecond, IncomingBytes: l * 60 * 100}
		}
		return ms
	}
	throttled := minutes(1, 1, 1)
	throttled[1].WriteThrottled = 5
	resharded := minutes(1, 1, 1)
	resharded[0].Shards = 2
	tests := []struct {
		name    string
		ms      []Minute
		shards  int
		mem     PollMemory
		want    time.Duration
		because string
	}{
		{name: "no metrics", shards: 4, want: 0, because: "no metrics"},
		{name: "calm and flat", ms: minutes(1, 1, 1, 1), shards: 4, want: 5 * time.Minute, because: "calm"},
		{name: "near the threshold", ms: minutes(2.7, 2.7, 2.7), shards: 4, want: 0, because: "near scale_up_threshold"},
		{name: "throttled", ms: throttled, shards: 4, want: 0, because: "throttled"},
		{name: "resharded", ms: resharded, shards: 4, want: 0, because: "resharded"},
		// Rising 0.5 shards a minute to 1 of 5: the newest minute is a
		// minute and a half old, so 1.75 now; 3.75 (75 %) in 4 minutes, 5
		// (full) in 6.5, less 3 of reshard time: 3.5.
		{name: "rising", ms: minutes(0, 0.5, 1), shards: 5, want: 3 * time.Minute, because: "fastest rise"},
		// Flat now, but a rise of 2 shards a minute seen before: 1.5 minutes
		// less the reshard time leaves no room.
		{name: "fast riser remembered", ms: minutes(1, 1, 1), shards: 4, mem: PollMemory{FastestRise: 2}, want: 0, because: "fastest rise"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan := NextRead(tt.ms, tt.shards, s, PollSettings{}, tt.mem, now)
			if got := plan.Next.Sub(now); got != tt.want {
				t.Errorf("next read in %s, want %s (%s)", got, tt.want, plan.Reason)
			}
			if !strings.Contains(plan.Reason, tt.because) {
				t.Errorf("reason %q does not say %q", plan.Reason, tt.because)
			}
			if plan.Memory.FastestRise < tt.mem.FastestRise {
				t.Errorf("memory forgot the fastest rise: %v < %v", plan.Memory.FastestRise, tt.mem.FastestRise)
			}
		})
	}
}
