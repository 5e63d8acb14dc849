package policy

import (
	"math"
	"testing"
	"time"
)

// FuzzDecide checks the decision's invariants on arbitrary observations:
// the target stays within [min, max] and [half, double], no scale-down on
// unknown data, the quota holds, and nothing is NaN.
func FuzzDecide(f *testing.F) {
	f.Add(uint16(2), uint8(15), uint8(3), 0.9, 1e6, uint32(0), uint8(0), uint16(1), uint16(16), 0.75, 0.25, false)
	f.Add(uint16(8), uint8(15), uint8(3), 0.1, 1e3, uint32(0xffff), uint8(9), uint16(2), uint16(8), 0.6, 0.3, true)
	f.Add(uint16(500), uint8(40), uint8(0), 5.0, 0.0, uint32(1<<20), uint8(10), uint16(1), uint16(1000), 0.95, 0.05, false)
	f.Fuzz(func(t *testing.T, shards uint16, n, delay uint8, u, bytesPerMin float64, unknownMask uint32, calls uint8,
		minShards, maxShards uint16, upT, downT float64, throttled bool) {
		if math.IsNaN(u) || math.IsInf(u, 0) || math.IsNaN(bytesPerMin) || math.IsInf(bytesPerMin, 0) ||
			math.IsNaN(upT) || math.IsNaN(downT) {
			t.Skip()
		}
		s := testSettings()
		s.MinShards = max(int(minShards), 1)
		s.MaxShards = max(int(maxShards), s.MinShards)
		s.ScaleUpThreshold = math.Min(math.Max(math.Abs(upT), 0.5), 0.95)
		s.ScaleDownThreshold = math.Min(math.Max(math.Abs(downT), 0.05), s.ScaleUpThreshold-0.1)
		ms := minutesAt(t0, int(n%60), time.Duration(delay%20)*time.Minute, max(int(shards), 1), math.Abs(u))
		for i := range ms {
			ms[i].IncomingBytes = math.Abs(bytesPerMin)
			ms[i].Known = unknownMask&(1<<(i%32)) == 0
			if throttled {
				ms[i].WriteThrottled = 1
			}
		}
		o := obsWith(int(shards), ms)
		var h History
		for i := 0; i < int(calls%(MaxUpdateCalls+3)); i++ {
			h.Calls = append(h.Calls, t0.Add(-time.Duration(i)*time.Hour))
		}
		d := Gate(Decide(o, s), h, s, o.Now)
		checkInvariants(t, o, h, s, d)
		if d.Scales() && d.Current < 1 {
			t.Fatalf("scaled a stream with %d shards", d.Current)
		}
		if d.Reason == "" {
			t.Fatal("empty reason")
		}
	})
}
