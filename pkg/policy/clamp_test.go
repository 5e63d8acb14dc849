package policy

import (
	"math"
	"testing"
	"time"
)

func TestCeilShards(t *testing.T) {
	tests := []struct {
		name string
		f    float64
		want int
	}{
		{name: "whole", f: 4, want: 4},
		{name: "fraction rounds up", f: 4.2, want: 5},
		{name: "below one", f: 0.3, want: 1},
		{name: "negative", f: -7, want: 1},
		{name: "NaN", f: math.NaN(), want: 1},
		{name: "beyond an int", f: 1e25, want: MaxShardCount},
		{name: "infinity", f: math.Inf(1), want: MaxShardCount},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ceilShards(tt.f); got != tt.want {
				t.Errorf("ceilShards(%g) = %d, want %d", tt.f, got, tt.want)
			}
		})
	}
}

// TestDecideHostileMinutes feeds the decision figures a broken or hostile
// metric source can produce.
func TestDecideHostileMinutes(t *testing.T) {
	s := testSettings()
	tests := []struct {
		name       string
		obs        Observation
		wantDir    Direction
		wantTarget int
	}{
		{
			// A minute of 1e25 records overflowed the shard count to a
			// negative int, which held the stream at 2 shards.
			name: "1e25 records a minute scales up",
			obs: obsWith(2, func() []Minute {
				ms := minutesAt(t0, 15, 3*time.Minute, 2, 0.9)
				for i := range ms {
					ms[i].IncomingRecords = 1e25
				}
				return ms
			}()),
			wantDir: DirectionUp, wantTarget: 4,
		},
		{
			name: "the largest float64 records a minute, rising, scales up",
			obs: obsWith(2, func() []Minute {
				ms := minutesAt(t0, 15, 3*time.Minute, 2, 0.9)
				for i := range ms {
					ms[i].IncomingRecords = math.MaxFloat64 / float64(len(ms)-i)
					ms[i].IncomingBytes = math.MaxFloat64 / float64(len(ms)-i)
				}
				return ms
			}()),
			wantDir: DirectionUp, wantTarget: 4,
		},
		{
			// Ten minutes of a ten-minute scale-down window, but only five
			// distinct ones: each was read twice. The other five are a gap.
			name: "duplicate minutes do not fill a gap in the scale-down window",
			obs: obsWith(8, func() []Minute {
				ms := minutesAt(t0, 5, 3*time.Minute, 8, 0.1)
				return append(ms, ms...)
			}()),
			wantDir: DirectionNone, wantTarget: 8,
		},
		{
			name: "a minute read twice, once low and once high, counts high",
			obs: obsWith(8, func() []Minute {
				ms := minutesAt(t0, 15, 3*time.Minute, 8, 0.1)
				hot := ms[len(ms)-4]
				hot.IncomingRecords *= 6 // 60 %: 4.8 shards, 7 at the threshold
				return append(ms, hot)
			}()),
			// Counted low, the window's peak would let it go to half; counted
			// high, 7 shards is too small a step to spend a call on.
			wantDir: DirectionNone, wantTarget: 8,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Gate(Decide(tt.obs, s), History{}, s, tt.obs.Now)
			if d.Direction != tt.wantDir || d.Target != tt.wantTarget {
				t.Errorf("decision %s to %d (%s), want %s to %d", d.Direction, d.Target, d.Reason, tt.wantDir, tt.wantTarget)
			}
		})
	}
}

func TestOneAMinute(t *testing.T) {
	a := Minute{Start: t0, Known: true, IncomingRecords: 5, WriteThrottled: 1}
	b := Minute{Start: t0.Add(30 * time.Second), Known: true, IncomingRecords: 9, HasReadBytes: true}
	c := Minute{Start: t0.Add(-time.Minute), Known: true, IncomingRecords: 1}
	got := oneAMinute([]Minute{a, b, c})
	if len(got) != 2 {
		t.Fatalf("got %d minutes, want 2: %+v", len(got), got)
	}
	if !got[0].Start.Equal(c.Start) || !got[1].Start.Equal(t0) {
		t.Errorf("starts %s, %s; want %s, %s", got[0].Start, got[1].Start, c.Start, t0)
	}
	if m := got[1]; m.IncomingRecords != 9 || m.WriteThrottled != 1 || !m.HasReadBytes {
		t.Errorf("merged minute %+v keeps less than the highest of each figure", m)
	}
}

func TestCallsUsedCountsSkewedCalls(t *testing.T) {
	now := t0
	tests := []struct {
		name  string
		calls []time.Time
		want  int
	}{
		{name: "inside the window", calls: []time.Time{now.Add(-23 * time.Hour), now}, want: 2},
		{name: "older than the window", calls: []time.Time{now.Add(-QuotaWindow)}, want: 0},
		{
			// A replica whose clock runs ten minutes ahead recorded them.
			name:  "ten minutes in the future",
			calls: []time.Time{now.Add(time.Minute), now.Add(5 * time.Minute), now.Add(10 * time.Minute)},
			want:  3,
		},
		{name: "beyond the skew allowed", calls: []time.Time{now.Add(MaxClockSkew + time.Second)}, want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := History{Calls: tt.calls}
			if got := h.CallsUsed(now); got != tt.want {
				t.Errorf("CallsUsed = %d, want %d", got, tt.want)
			}
		})
	}
	t.Run("a spent quota in the future blocks a scale-up", func(t *testing.T) {
		var calls []time.Time
		for i := range MaxUpdateCalls {
			calls = append(calls, now.Add(time.Duration(i)*time.Minute))
		}
		obs := obsWith(2, minutesAt(t0, 15, 3*time.Minute, 2, 0.9))
		if d := Gate(Decide(obs, testSettings()), History{Calls: calls}, testSettings(), obs.Now); d.Scales() || !d.QuotaExhausted {
			t.Errorf("decision %s to %d (%s); want held with the quota spent", d.Direction, d.Target, d.Reason)
		}
	})
}
