package policy

import (
	"testing"
	"time"
)

func TestHistoryReconcile(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	now := t0.Add(2 * time.Hour)
	upTo8 := History{}.Record(Action{At: t0, From: 4, To: 8, Direction: DirectionUp})
	split := upTo8
	split.Shards = 9 // a split after the reshard
	cases := []struct {
		name     string
		h        History
		open     int
		inferred bool
		want     Action // the inferred action, when inferred
	}{
		{name: "no history", h: History{}, open: 5},
		{name: "stream at the recorded target", h: upTo8, open: 8},
		{name: "recorded call never made", h: upTo8, open: 4},
		{name: "unrecorded scale-up", h: upTo8, open: 16, inferred: true,
			want: Action{At: now, From: 8, To: 16, Direction: DirectionUp}},
		{name: "unrecorded scale-down", h: upTo8, open: 6, inferred: true,
			want: Action{At: now, From: 8, To: 6, Direction: DirectionDown}},
		{name: "stream at the count a split left", h: split, open: 9},
		{name: "split recorded, stream back at the reshard's start: not explained", h: split, open: 4, inferred: true,
			want: Action{At: now, From: 9, To: 4, Direction: DirectionDown}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, inferred := c.h.Reconcile(c.open, now)
			if inferred != c.inferred {
				t.Fatalf("inferred = %v, want %v", inferred, c.inferred)
			}
			if !inferred {
				if got.CallsUsed(now) != c.h.CallsUsed(now) || got.Expected() != c.h.Expected() {
					t.Fatalf("history changed without an inferred call: %+v -> %+v", c.h, got)
				}
				return
			}
			if *got.LastAction != c.want {
				t.Errorf("last action %+v, want %+v", *got.LastAction, c.want)
			}
			if got.CallsUsed(now) != c.h.CallsUsed(now)+1 {
				t.Errorf("calls used %d, want %d", got.CallsUsed(now), c.h.CallsUsed(now)+1)
			}
			if got.Expected() != c.open {
				t.Errorf("expected count %d, want %d", got.Expected(), c.open)
			}
			if again, more := got.Reconcile(c.open, now.Add(time.Minute)); more || again.CallsUsed(now) != got.CallsUsed(now) {
				t.Errorf("a second reconcile at the same count inferred another call")
			}
		})
	}
}
