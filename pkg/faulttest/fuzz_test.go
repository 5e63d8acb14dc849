package faulttest

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/policy"
)

// FuzzDecideOnBadMetrics feeds the decision minutes whose figures may be
// NaN, infinite or negative — what a broken or partial CloudWatch answer can
// carry — besides unknown minutes and arbitrary shard counts and bounds, and
// checks the invariants: a target within [min, max] and [half, double], no
// scale-down unless every minute of the window is known and sane, and no
// NaN or infinity in what the decision reports.
//
// Each minute is two bytes of data: the first picks what is wrong with it
// (low 4 bits: 0 NaN, 1 +Inf, 2 -Inf, 3 negative, 4 unknown, else nothing)
// and which figure (bits 4-5: records, bytes, read bytes, throttled); the
// second is its utilisation, 0-200 % of the shards' capacity.
func FuzzDecideOnBadMetrics(f *testing.F) {
	f.Add(uint16(8), uint16(1), uint16(16), uint8(0), []byte{9, 20, 9, 20, 9, 20, 9, 20, 9, 20, 9, 20, 9, 20, 9, 20, 9, 20, 9, 20, 9, 20})
	f.Add(uint16(4), uint16(1), uint16(16), uint8(2), []byte{9, 200, 9, 220, 9, 250, 9, 240})
	f.Fuzz(func(t *testing.T, shards, minShards, maxShards uint16, lateMinutes uint8, data []byte) {
		now := time.Date(2031, 1, 1, 12, 0, 0, 0, time.UTC)
		s := settings()
		s.MinShards = max(int(minShards%2000), 1)
		s.MaxShards = max(int(maxShards%2000), s.MinShards)
		cur := int(shards % 4000)
		n := min(len(data)/2, 120)
		end := now.Add(-time.Duration(lateMinutes%15) * time.Minute).Truncate(time.Minute)
		ms := make([]policy.Minute, n)
		bad := make([]bool, n)
		for i := range ms {
			kind, level := data[2*i], data[2*i+1]
			u := float64(level) / 127.5
			m := policy.Minute{Start: end.Add(-time.Duration(n-i) * time.Minute), Known: true,
				IncomingRecords: u * float64(max(cur, 1)) * 60 * policy.ShardWriteRecordsPerSecond}
			m.IncomingBytes = m.IncomingRecords * 10
			var v float64
			switch kind & 0x0f {
			case 0:
				v = math.NaN()
			case 1:
				v = math.Inf(1)
			case 2:
				v = math.Inf(-1)
			case 3:
				v = -float64(level) - 1
			case 4:
				m.Known = false
			}
			if k := kind & 0x0f; k <= 3 {
				bad[i] = true
				switch (kind >> 4) & 3 {
				case 0:
					m.IncomingRecords = v
				case 1:
					m.IncomingBytes = v
				case 2:
					m.ReadBytes = v
				case 3:
					m.WriteThrottled = v
				}
			}
			ms[i] = m
		}
		obs := policy.Observation{Stream: "s", Now: now, OpenShards: cur, Status: policy.StatusActive,
			Mode: policy.ModeProvisioned, Minutes: ms}
		d := policy.Gate(policy.Decide(obs, s), policy.History{}, s, now)

		var broken []string
		if d.Scales() {
			switch {
			case d.Current < 1:
				broken = append(broken, "scaled a stream without shards")
			case d.Target > 2*d.Current || 2*d.Target < d.Current:
				broken = append(broken, "target outside [half, double]")
			case d.Direction == policy.DirectionUp && d.Target > s.MaxShards:
				broken = append(broken, "scaled up beyond max_shards")
			case d.Direction == policy.DirectionDown && d.Target < s.MinShards:
				broken = append(broken, "scaled down below min_shards")
			}
		} else if d.Target != d.Current {
			broken = append(broken, "no action but a target")
		}
		if d.Direction == policy.DirectionDown {
			// The window is the ScaleDownAfter of minutes that ends with the
			// newest sane minute; every one of them must be known and sane.
			latest := -1
			for i, m := range ms {
				if m.Known && !bad[i] && !m.Start.Add(time.Minute).After(now) {
					latest = i
				}
			}
			from := latest - int(s.ScaleDownAfter/time.Minute) + 1
			anyBad := false
			for i, m := range ms {
				anyBad = anyBad || (bad[i] && !m.Start.Add(time.Minute).After(now))
			}
			for i := max(from, 0); i <= latest; i++ {
				switch {
				case !ms[i].Known && !anyBad:
					broken = append(broken, "scaled down with an unknown minute in the window")
				case !ms[i].Known:
					// Taking a bad minute for a known one shifted the window.
					broken = append(broken, "scaled down with an unknown minute in the window, counting a NaN, infinite or negative minute as known")
				case bad[i]:
					broken = append(broken, "scaled down on a NaN, infinite or negative figure")
				}
			}
			if latest < 0 || from < 0 {
				broken = append(broken, "scaled down without a window of sane minutes")
			}
		}
		u := d.Utilisation
		for _, f := range []float64{u.WriteBytes, u.WriteRecords, u.ReadBytes, u.Max()} {
			if math.IsNaN(f) || math.IsInf(f, 0) {
				broken = append(broken, "NaN or infinite utilisation in the decision")
			}
		}
		if strings.Contains(d.Reason, "NaN") || strings.Contains(d.Reason, "Inf") {
			broken = append(broken, "NaN or infinity in the reason: "+d.Reason)
		}
		if d.AtMax && d.Desired <= d.Current {
			broken = append(broken, "held at max_shards while wanting no more shards")
		}
		if len(broken) > 0 {
			t.Fatalf("%s\n%+v\n%s", strings.Join(broken, "; "), d, d.Reason)
		}
	})
}
