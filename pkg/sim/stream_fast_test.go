package sim

import (
	"math/rand/v2"
	"testing"
	"time"
)

// Step's fast path (one group, nothing waiting, the second's records fit)
// gives what the general path gives: a stream that tracks shards takes the
// general path always, and both see the same seconds.
func TestStepFastPathMatchesGeneralPath(t *testing.T) {
	for _, tt := range []struct {
		name string
		size float64
	}{{name: "records bound", size: 200}, {name: "bytes bound", size: 3000}, {name: "no size", size: 0}} {
		t.Run(tt.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 2))
			clock := NewClock(DefaultStart)
			fast := NewStream("s", 4, clock, 30*time.Second, 3*time.Minute)
			general := NewStream("s", 4, clock, 30*time.Second, 3*time.Minute)
			general.TrackShards()
			for sec := range int64(3000) {
				clock.Set(sec)
				// Mostly within the 4 shards' capacity, sometimes over it
				// (a backlog forms and drains), sometimes nothing.
				records := rng.Int64N(5000)
				if sec%7 == 0 {
					records = 0
				}
				a, b := fast.Step(sec, records, tt.size), general.Step(sec, records, tt.size)
				if a != b {
					t.Fatalf("second %d, %d records: fast path %+v, general %+v", sec, records, a, b)
				}
			}
		})
	}
}
