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
	learnt := PollMemory{Learnt: RiseHorizon}
	fast := learnt
	for h := range fast.Rises {
		fast.Rises[h] = 3
	}
	tests := []struct {
		name    string
		ms      []Minute
		shards  int
		mem     PollMemory
		want    time.Duration
		because string
	}{
		{name: "no metrics", shards: 4, mem: learnt, want: 0, because: "no metrics"},
		{name: "still learning", ms: minutes(1, 1, 1, 1), shards: 4, want: 0, because: "still learning"},
		{name: "calm and flat", ms: minutes(1, 1, 1, 1), shards: 4, mem: learnt, want: 5 * time.Minute, because: "calm"},
		{name: "below scale_down_threshold", ms: minutes(0.5, 0.5), shards: 4, mem: learnt, want: 0, because: "below scale_down_threshold"},
		{name: "near the threshold", ms: minutes(2.7, 2.7, 2.7), shards: 4, mem: learnt, want: 0, because: "near scale_up_threshold"},
		{name: "throttled", ms: throttled, shards: 4, mem: learnt, want: 0, because: "throttled"},
		{name: "resharded", ms: resharded, shards: 4, mem: learnt, want: 0, because: "resharded"},
		// Rising 0.5 shards a minute to 1.5 of 6: the newest minute is a
		// minute and a half old; 6 (full) after 9 more minutes, less 3 of
		// reshard time and 1.5 of age: 4.
		{name: "rising", ms: minutes(0.5, 1, 1.5), shards: 6, mem: learnt, want: 4 * time.Minute, because: "calm"},
		// 55 % of 4: a sudden 1.5x (Surge) would cross 75 %.
		{name: "a surge would cross", ms: minutes(2.2, 2.2, 2.2), shards: 4, mem: learnt, want: 0, because: "near scale_up_threshold"},
		// Flat now, but rises of 3 shards seen before: 1 of 4 could be full
		// before the reshard a later read asks for.
		{name: "fast riser remembered", ms: minutes(1, 1, 1), shards: 4, mem: fast, want: 0, because: "rises it has shown"},
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
			for h, r := range tt.mem.Rises {
				if plan.Memory.Rises[h] < r {
					t.Errorf("memory forgot the rise over %d minutes: %v < %v", h+1, plan.Memory.Rises[h], r)
				}
			}
		})
	}
}
