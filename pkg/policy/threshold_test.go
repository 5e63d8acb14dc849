package policy

import (
	"math"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func testSettings() Settings {
	return Settings{
		MinShards: 1, MaxShards: 16,
		ScaleUpThreshold: 0.75, ScaleDownThreshold: 0.25,
		ScaleUpAfter: 2 * time.Minute, ScaleDownAfter: 10 * time.Minute,
		CooldownUp: 5 * time.Minute, CooldownDown: time.Hour,
		MaxIteratorAge: 5 * time.Minute,
	}
}

// minutesAt builds n known minutes ending delay before now, each carrying
// utilisation u of shards in write records.
func minutesAt(now time.Time, n int, delay time.Duration, shards int, u float64) []Minute {
	end := now.Truncate(time.Minute).Add(-delay)
	out := make([]Minute, n)
	for i := range out {
		out[i] = Minute{
			Start:           end.Add(-time.Duration(n-i) * time.Minute),
			Known:           true,
			IncomingRecords: u * float64(shards) * 60 * ShardWriteRecordsPerSecond,
			IncomingBytes:   u * float64(shards) * 60 * 100, // small records: bytes never dominate
		}
	}
	return out
}

func obsWith(shards int, ms []Minute) Observation {
	return Observation{Stream: "clicks", Now: t0, OpenShards: shards, Status: StatusActive, Mode: ModeProvisioned, Minutes: ms}
}

func TestDecide(t *testing.T) {
	s := testSettings()
	unknownTail := func(ms []Minute, k int) []Minute {
		for i := len(ms) - k; i < len(ms); i++ {
			ms[i].Known = false
		}
		return ms
	}
	tests := []struct {
		name       string
		obs        Observation
		hist       History
		settings   func(*Settings)
		wantDir    Direction
		wantTarget int
		wantAtMax  bool
		wantQuota  bool
		reason     string
	}{
		{
			name:    "90 percent of 2 shards goes to what carries it at the threshold",
			obs:     obsWith(2, minutesAt(t0, 15, 3*time.Minute, 2, 0.9)),
			wantDir: DirectionUp, wantTarget: 3, reason: "write records at 90% of 2 shards; level 1.8 shards: 3 shards needed",
		},
		{
			name:    "a stream at 40 percent goes down to carry its level at the aim",
			obs:     obsWith(4, minutesAt(t0, 15, 3*time.Minute, 4, 0.4)),
			wantDir: DirectionDown, wantTarget: 3, reason: "3 shards needed",
		},
		{
			name:    "a stream at its need holds",
			obs:     obsWith(3, minutesAt(t0, 15, 3*time.Minute, 3, 0.7)),
			wantDir: DirectionNone, wantTarget: 3, reason: "3 shards needed: held",
		},
		{
			name:    "one minute above on a flat load is not enough",
			obs:     obsWith(2, append(minutesAt(t0.Add(-time.Minute), 14, 3*time.Minute, 2, 0.6), minutesAt(t0, 1, 3*time.Minute, 2, 0.76)...)),
			wantDir: DirectionNone, wantTarget: 2,
		},
		{
			name: "a rising load is met before it crosses the threshold",
			obs: obsWith(4, func() []Minute {
				ms := minutesAt(t0, 15, 3*time.Minute, 4, 0.3)
				for i, u := range []float64{0.40, 0.45, 0.50, 0.55, 0.60, 0.65} {
					m := minutesAt(t0, 6, 3*time.Minute, 4, u)[i]
					ms[9+i] = m
				}
				return ms
			}()),
			wantDir: DirectionUp, wantTarget: 8, reason: "100% expected in 7m0s",
		},
		{
			name: "one throttled minute of a stream with no bursts learned is met at once",
			obs: obsWith(4, func() []Minute {
				ms := minutesAt(t0, 15, 3*time.Minute, 4, 0.5)
				ms[14].WriteThrottled = 42
				return ms
			}()),
			wantDir: DirectionUp, wantTarget: 8, reason: "42 records refused",
		},
		{
			name: "two throttled minutes scale up at once",
			obs: obsWith(4, func() []Minute {
				ms := minutesAt(t0, 15, 3*time.Minute, 4, 0.5)
				ms[13].WriteThrottled, ms[14].WriteThrottled = 42, 60_000
				return ms
			}()),
			wantDir: DirectionUp, wantTarget: 8, reason: "60000 records refused",
		},
		{
			name:    "far above is capped at double",
			obs:     obsWith(2, minutesAt(t0, 15, 3*time.Minute, 2, 3)),
			wantDir: DirectionUp, wantTarget: 4, reason: "reached in further steps",
		},
		{
			name:    "at max shards is held and flagged",
			obs:     obsWith(16, minutesAt(t0, 15, 3*time.Minute, 16, 0.9)),
			wantDir: DirectionNone, wantTarget: 16, wantAtMax: true, reason: "held at max_shards 16",
		},
		{
			name:    "up is capped at max shards",
			obs:     obsWith(12, minutesAt(t0, 15, 3*time.Minute, 12, 1.1)),
			wantDir: DirectionUp, wantTarget: 16,
		},
		{
			name:    "10 percent for long enough goes down toward min",
			obs:     obsWith(8, minutesAt(t0, 15, 3*time.Minute, 8, 0.1)),
			wantDir: DirectionDown, wantTarget: 4, reason: "2 wanted, reached in further steps",
		},
		{
			name:    "down aims at the middle of the band",
			obs:     obsWith(10, minutesAt(t0, 15, 3*time.Minute, 10, 0.2)),
			wantDir: DirectionDown, wantTarget: 5,
		},
		{
			name:     "down stops at min shards",
			obs:      obsWith(3, minutesAt(t0, 15, 3*time.Minute, 3, 0.01)),
			settings: func(s *Settings) { s.MinShards = 2 },
			wantDir:  DirectionDown, wantTarget: 2,
		},
		{
			name:    "at min shards stays",
			obs:     obsWith(1, minutesAt(t0, 15, 3*time.Minute, 1, 0.01)),
			wantDir: DirectionNone, wantTarget: 1,
		},
		{
			name:    "no scale down on a missing minute",
			obs:     obsWith(8, func() []Minute { ms := minutesAt(t0, 15, 3*time.Minute, 8, 0.1); ms[10].Known = false; return ms }()),
			wantDir: DirectionNone, wantTarget: 8, reason: "partial data",
		},
		{
			name: "no scale down while a reader's metrics are missing",
			obs: obsWith(8, func() []Minute {
				ms := minutesAt(t0, 15, 3*time.Minute, 8, 0.1)
				for i := range ms {
					ms[i].HasReadBytes, ms[i].ReadBytes = i != 12, 1e6
				}
				return ms
			}()),
			wantDir: DirectionNone, wantTarget: 8, reason: "no read metrics",
		},
		{
			name: "no scale down when a known reader's metrics are all missing",
			obs: func() Observation {
				o := obsWith(8, minutesAt(t0, 15, 3*time.Minute, 8, 0.1))
				o.ConsumersSeen = true
				return o
			}(),
			wantDir: DirectionNone, wantTarget: 8, reason: "no read metrics",
		},
		{
			name: "NaN and negative figures are unknown data",
			obs: obsWith(8, func() []Minute {
				ms := minutesAt(t0, 15, 3*time.Minute, 8, 0.1)
				ms[10].IncomingBytes, ms[11].IncomingRecords = math.NaN(), -1
				return ms
			}()),
			wantDir: DirectionNone, wantTarget: 8, reason: "2 of the last 10 minutes have no metrics",
		},
		{
			name:    "no scale down on too short a window",
			obs:     obsWith(8, minutesAt(t0, 5, 3*time.Minute, 8, 0.1)),
			wantDir: DirectionNone, wantTarget: 8, reason: "5 of the last 10 minutes have no metrics",
		},
		{
			name:    "no scale up on stale data",
			obs:     obsWith(2, minutesAt(t0, 15, 30*time.Minute, 2, 0.9)),
			wantDir: DirectionNone, wantTarget: 2, reason: "stale data",
		},
		{
			name:    "no scale down on stale data",
			obs:     obsWith(8, minutesAt(t0, 15, 20*time.Minute, 8, 0.1)),
			wantDir: DirectionNone, wantTarget: 8, reason: "stale data",
		},
		{
			name:    "no scale down on no data",
			obs:     obsWith(8, unknownTail(minutesAt(t0, 15, 3*time.Minute, 8, 0.1), 15)),
			wantDir: DirectionNone, wantTarget: 8, reason: "unknown data",
		},
		{
			name: "no scale down while consumers lag",
			obs: obsWith(8, func() []Minute {
				ms := minutesAt(t0, 15, 3*time.Minute, 8, 0.1)
				ms[12].HasIteratorAge, ms[12].IteratorAge = true, 20*time.Minute
				return ms
			}()),
			wantDir: DirectionNone, wantTarget: 8, reason: "consumers lag",
		},
		{
			name: "throttled minutes count as full",
			obs: obsWith(4, func() []Minute {
				ms := minutesAt(t0, 15, 3*time.Minute, 4, 0.3)
				for i := range ms {
					ms[i].WriteThrottled = 500
				}
				return ms
			}()),
			wantDir: DirectionUp, wantTarget: 8, reason: "writes throttled",
		},
		{
			name: "throttling before a scale-up is judged against the old count",
			obs: obsWith(8, func() []Minute {
				ms := minutesAt(t0, 15, 3*time.Minute, 8, 0.3)
				for i := range ms {
					ms[i].WriteThrottled, ms[i].Shards = 500, 4
				}
				return ms
			}()),
			wantDir: DirectionNone, wantTarget: 8,
		},
		{
			name:     "cooldown up holds a scale-up",
			obs:      obsWith(2, minutesAt(t0, 15, time.Minute, 2, 0.9)),
			hist:     History{LastAction: &Action{At: t0.Add(-12 * time.Minute), From: 1, To: 2, Direction: DirectionUp}, Calls: []time.Time{t0.Add(-12 * time.Minute)}},
			settings: func(s *Settings) { s.CooldownUp = 15 * time.Minute },
			wantDir:  DirectionNone, wantTarget: 2, reason: "in cooldown_up until",
		},
		{
			name:    "cooldown down holds a scale-down",
			obs:     obsWith(8, minutesAt(t0, 15, 3*time.Minute, 8, 0.1)),
			hist:    History{LastAction: &Action{At: t0.Add(-30 * time.Minute), From: 4, To: 8, Direction: DirectionUp}, Calls: []time.Time{t0.Add(-30 * time.Minute)}},
			wantDir: DirectionNone, wantTarget: 8, reason: "in cooldown_down until",
		},
		{
			name: "quota spent blocks a scale-up and says so",
			obs:  obsWith(2, minutesAt(t0, 15, 3*time.Minute, 2, 0.9)),
			hist: func() (h History) {
				for i := 0; i < MaxUpdateCalls; i++ {
					h.Calls = append(h.Calls, t0.Add(-23*time.Hour+time.Duration(i)*time.Minute))
				}
				return h
			}(),
			wantDir: DirectionNone, wantTarget: 2, wantQuota: true, reason: "next one free at 2026-11-25T13:00:00Z",
		},
		{
			name: "last calls are kept for scale-ups",
			obs:  obsWith(8, minutesAt(t0, 15, 3*time.Minute, 8, 0.1)),
			hist: func() (h History) {
				for i := 0; i < MaxUpdateCalls-ReservedForScaleUp; i++ {
					h.Calls = append(h.Calls, t0.Add(-20*time.Hour+time.Duration(i)*time.Minute))
				}
				return h
			}(),
			wantDir: DirectionNone, wantTarget: 8, reason: "kept for scale-ups",
		},
		{
			name: "calls older than 24h do not count",
			obs:  obsWith(2, minutesAt(t0, 15, 3*time.Minute, 2, 0.9)),
			hist: func() (h History) {
				for i := 0; i < MaxUpdateCalls; i++ {
					h.Calls = append(h.Calls, t0.Add(-25*time.Hour))
				}
				return h
			}(),
			wantDir: DirectionUp, wantTarget: 3,
		},
		{
			name:     "below min shards is raised",
			obs:      obsWith(1, minutesAt(t0, 15, 3*time.Minute, 1, 0.1)),
			settings: func(s *Settings) { s.MinShards = 3 },
			wantDir:  DirectionUp, wantTarget: 2, reason: "below min_shards 3",
		},
		{
			name:    "above max shards is lowered",
			obs:     obsWith(20, minutesAt(t0, 15, 3*time.Minute, 20, 0.3)),
			wantDir: DirectionDown, wantTarget: 16, reason: "above max_shards 16",
		},
		{
			name:     "a loaded stream above max shards is held, not halved onto its load",
			obs:      obsWith(20, minutesAt(t0, 15, 3*time.Minute, 20, 0.5)),
			settings: func(s *Settings) { s.MaxShards = 1 },
			wantDir:  DirectionNone, wantTarget: 20, reason: "held, not scaled down onto its load",
		},
		{
			name: "updating stream is left alone",
			obs: func() Observation {
				o := obsWith(2, minutesAt(t0, 15, 3*time.Minute, 2, 0.9))
				o.Status = StatusUpdating
				return o
			}(),
			wantDir: DirectionNone, wantTarget: 2, reason: "UPDATING",
		},
		{
			name: "on-demand stream is left alone",
			obs: func() Observation {
				o := obsWith(2, minutesAt(t0, 15, 3*time.Minute, 2, 0.9))
				o.Mode = ModeOnDemand
				return o
			}(),
			wantDir: DirectionNone, wantTarget: 2, reason: "ON_DEMAND",
		},
		{
			name: "bytes dominate when records are large",
			obs: func() Observation {
				ms := minutesAt(t0, 15, 3*time.Minute, 2, 0.1)
				for i := range ms {
					ms[i].IncomingBytes = 0.9 * 2 * 60 * ShardWriteBytesPerSecond
				}
				return obsWith(2, ms)
			}(),
			wantDir: DirectionUp, wantTarget: 3, reason: "write bytes at 90%",
		},
		{
			name: "read bytes count",
			obs: func() Observation {
				ms := minutesAt(t0, 15, 3*time.Minute, 2, 0.1)
				for i := range ms {
					ms[i].ReadBytes = 0.9 * 2 * 60 * ShardReadBytesPerSecond
				}
				return obsWith(2, ms)
			}(),
			wantDir: DirectionUp, wantTarget: 3, reason: "read bytes at 90%",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := s
			if tt.settings != nil {
				tt.settings(&s)
			}
			d := Gate(Decide(tt.obs, s), tt.hist, s, tt.obs.Now)
			if d.Direction != tt.wantDir || d.Target != tt.wantTarget {
				t.Fatalf("got %s to %d, want %s to %d; reason: %s", d.Direction, d.Target, tt.wantDir, tt.wantTarget, d.Reason)
			}
			if d.AtMax != tt.wantAtMax || d.QuotaExhausted != tt.wantQuota {
				t.Errorf("AtMax=%v QuotaExhausted=%v, want %v %v", d.AtMax, d.QuotaExhausted, tt.wantAtMax, tt.wantQuota)
			}
			if !strings.Contains(d.Reason, tt.reason) {
				t.Errorf("reason %q does not contain %q", d.Reason, tt.reason)
			}
			if d.Reason == "" {
				t.Error("empty reason")
			}
			checkInvariants(t, tt.obs, tt.hist, s, d)
		})
	}
}

// checkInvariants holds for every decision on every input.
func checkInvariants(t *testing.T, obs Observation, h History, s Settings, d Decision) {
	t.Helper()
	if !d.Scales() {
		if d.Target != d.Current {
			t.Errorf("no action but target %d != current %d", d.Target, d.Current)
		}
		return
	}
	if d.Target > 2*d.Current || 2*d.Target < d.Current {
		t.Errorf("target %d outside [half, double] of %d", d.Target, d.Current)
	}
	if d.Direction == DirectionUp && d.Target > s.MaxShards {
		t.Errorf("up to %d beyond max %d", d.Target, s.MaxShards)
	}
	if d.Direction == DirectionDown && d.Target < s.MinShards {
		t.Errorf("down to %d below min %d", d.Target, s.MinShards)
	}
	if d.Direction == DirectionDown {
		// Every minute of the window before the newest known one is known.
		known := knownMinutes(obs.Minutes, obs.Now)
		if len(known) == 0 {
			t.Fatal("scaled down with no known minute")
		}
		latest := known[len(known)-1].Start
		for _, m := range obs.Minutes {
			if !m.Known && m.Start.After(latest.Add(-s.ScaleDownAfter)) && !m.Start.After(latest) {
				t.Errorf("scaled down with unknown minute %s in the window", m.Start)
			}
		}
	}
	if math.IsNaN(d.Utilisation.Max()) {
		t.Error("NaN utilisation")
	}
	if used := h.CallsUsed(obs.Now); used >= MaxUpdateCalls {
		t.Errorf("scaled with %d calls used", used)
	}
}

func TestHistory(t *testing.T) {
	var h History
	for i := 0; i < 12; i++ {
		h = h.Record(Action{At: t0.Add(time.Duration(i) * 3 * time.Hour), From: 1, To: 2, Direction: DirectionUp})
	}
	now := t0.Add(33 * time.Hour)
	// Calls at 9h..33h: those after now-24h = 9h are 12h..33h: 8 calls.
	if got := h.CallsUsed(now); got != 8 {
		t.Errorf("CallsUsed = %d, want 8", got)
	}
	if len(h.Calls) > MaxUpdateCalls {
		t.Errorf("Record kept %d calls, want at most %d", len(h.Calls), MaxUpdateCalls)
	}
	if h.LastAction == nil || !h.LastAction.At.Equal(t0.Add(33*time.Hour)) {
		t.Errorf("LastAction = %+v", h.LastAction)
	}
	full := History{}
	for i := 0; i < MaxUpdateCalls; i++ {
		full.Calls = append(full.Calls, t0.Add(time.Duration(i)*time.Hour))
	}
	if got, want := full.NextCallFree(t0.Add(12*time.Hour)), t0.Add(24*time.Hour); !got.Equal(want) {
		t.Errorf("NextCallFree = %s, want %s", got, want)
	}
}
