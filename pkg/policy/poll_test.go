package policy

import (
	"math"
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

func TestWatchReads(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 30, 0, time.UTC)
	minute := func(i int, bytes, records float64) Minute {
		return Minute{Start: now.Truncate(time.Minute).Add(time.Duration(i-4) * time.Minute), Known: true, IncomingBytes: bytes, IncomingRecords: records}
	}
	tests := []struct {
		name string
		full []Minute
		// at is how long after the full read the watch read comes.
		at          time.Duration
		wantWatch   bool
		wantRecords bool
		wantSize    float64
	}{
		{name: "small records", full: []Minute{minute(0, 5_000, 50), minute(1, 15_000, 150)}, at: time.Minute,
			wantWatch: true, wantRecords: true, wantSize: 100},
		{name: "large records", full: []Minute{minute(0, 4_000_000, 1_000), minute(1, 2_000_000, 500)}, at: 14 * time.Minute,
			wantWatch: true, wantSize: 4_000},
		// 1 MiB per 1,000 records: bytes are nearer their limit from
		// 1,048.576 bytes a record.
		{name: "records at the tie", full: []Minute{minute(0, 1_048_576, 1_000)}, at: time.Minute,
			wantWatch: true, wantSize: 1_048.576},
		{name: "measured too long ago", full: []Minute{minute(0, 5_000, 50)}, at: 15 * time.Minute, wantSize: 100},
		// Unknown minutes and minutes without records measure nothing.
		{name: "no records", full: []Minute{minute(0, 0, 0), {Start: now, IncomingBytes: 9, IncomingRecords: 1}}, at: time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m PollMemory
			m.Measure(tt.full, now)
			if math.Abs(m.BytesPerRecord-tt.wantSize) > 1e-9 {
				t.Errorf("measured %v bytes a record, want %v", m.BytesPerRecord, tt.wantSize)
			}
			watch, records := m.Watch(PollSettings{}, now.Add(tt.at))
			if watch != tt.wantWatch || records != tt.wantRecords {
				t.Fatalf("Watch = %v, records %v; want %v, records %v", watch, records, tt.wantWatch, tt.wantRecords)
			}
			if !watch {
				return
			}
			read := []Minute{minute(2, 0, 0), {Start: now}}
			if records {
				read[0].IncomingRecords = 300
			} else {
				read[0].IncomingBytes = 300
			}
			got := FillWatched(read, m, records)
			if want := 300 * tt.wantSize; records && math.Abs(got[0].IncomingBytes-want) > 1e-6 {
				t.Errorf("bytes estimated %v, want %v", got[0].IncomingBytes, want)
			}
			if want := 300 / tt.wantSize; !records && math.Abs(got[0].IncomingRecords-want) > 1e-9 {
				t.Errorf("records estimated %v, want %v", got[0].IncomingRecords, want)
			}
			if got[1].Known || got[1].IncomingBytes != 0 || got[1].IncomingRecords != 0 {
				t.Errorf("an unknown minute was filled: %+v", got[1])
			}
			if read[0].IncomingBytes+read[0].IncomingRecords != 300 {
				t.Errorf("FillWatched changed its input: %+v", read[0])
			}
		})
	}
	// A later read without records keeps the last measurement and its age.
	var m PollMemory
	m.Measure([]Minute{minute(0, 5_000, 50)}, now)
	m.Measure([]Minute{minute(1, 0, 0)}, now.Add(10*time.Minute))
	if m.BytesPerRecord != 100 || !m.Measured.Equal(now) {
		t.Errorf("after a read without records: %v bytes a record measured at %s", m.BytesPerRecord, m.Measured)
	}
}
