package policy

import (
	"fmt"
	"math"
	"time"
)

// What one read of a stream asks CloudWatch for. GetMetricData bills per
// metric requested (whatever the number of datapoints each returns), so these
// counts are the daemon's CloudWatch bill; the AWS adapter (pkg/metrics) and
// the simulator both take them from here.
const (
	// WriteMetricsPerStream are the write-side metrics of a stream:
	// IncomingBytes, IncomingRecords, WriteProvisionedThroughputExceeded.
	WriteMetricsPerStream = 3
	// ReadMetricsPerStream are the read-side metrics of a stream, of use only
	// where consumers read: GetRecords.Bytes,
	// ReadProvisionedThroughputExceeded, GetRecords.IteratorAgeMilliseconds.
	ReadMetricsPerStream = 3
	// MetricsPerStream are both sides.
	MetricsPerStream = WriteMetricsPerStream + ReadMetricsPerStream
	// MetricsPerShard are the enhanced shard-level metrics of one shard:
	// IncomingBytes, IncomingRecords, WriteProvisionedThroughputExceeded.
	MetricsPerShard = 3
)

// PollSettings bound how often a stream's metrics are read (NextRead).
type PollSettings struct {
	// MaxInterval is the longest a calm stream goes unread.
	MaxInterval time.Duration
	// ReshardTime is how long a scale-up takes to carry load once asked for.
	ReshardTime time.Duration
	// ConsumerRecheck is how often a stream whose consumers were never seen
	// has its read-side metrics read, to notice consumers that start.
	ConsumerRecheck time.Duration
	// NearThreshold: a stream whose utilisation is within this of
	// scale_up_threshold is read every cycle.
	NearThreshold float64
	// RecentChange: a stream whose shard count changed within this is read
	// every cycle.
	RecentChange time.Duration
}

// DefaultPollSettings are the poll rule's defaults.
var DefaultPollSettings = PollSettings{
	MaxInterval: 5 * time.Minute, ReshardTime: 3 * time.Minute, ConsumerRecheck: 15 * time.Minute, NearThreshold: 0.10,
	RecentChange: 10 * time.Minute,
}

// OrDefault returns p with every zero field taken from DefaultPollSettings.
func (p PollSettings) OrDefault() PollSettings {
	d := DefaultPollSettings
	if p.MaxInterval <= 0 {
		p.MaxInterval = d.MaxInterval
	}
	if p.ReshardTime <= 0 {
		p.ReshardTime = d.ReshardTime
	}
	if p.ConsumerRecheck <= 0 {
		p.ConsumerRecheck = d.ConsumerRecheck
	}
	if p.NearThreshold <= 0 {
		p.NearThreshold = d.NearThreshold
	}
	if p.RecentChange <= 0 {
		p.RecentChange = d.RecentChange
	}
	return p
}

// PollMemory is what the poll rule keeps of a stream from read to read.
type PollMemory struct {
	// FastestRise is the largest rise of the stream's load seen from one
	// known minute to the next, in shards of write capacity per minute.
	FastestRise float64
}

// PollPlan is when a stream must be read again, and why.
type PollPlan struct {
	// Next is the earliest time the stream must be read again; at or before
	// now means every cycle.
	Next   time.Time
	Reason string
	// Memory is the memory to keep for the next read.
	Memory PollMemory
}

// NextRead is how long a stream whose minutes (oldest first, Shards filled
// where known) were just read may go unread, a pure function of those
// minutes, its open shards, its settings, the poll settings, what earlier
// reads taught (mem) and now. Rules, in order:
//   - every cycle while the stream is unknown, stale, throttled (write or
//     read) in any minute read, resharded within RecentChange, or within
//     NearThreshold of scale_up_threshold;
//   - otherwise as long as its fastest rise seen (this read's or an earlier
//     one's) needs to bring the load, as it may be now (the newest minute is
//     some minutes old), to scale_up_threshold, and never so long that the
//     same rise reaches full capacity before the next read plus ReshardTime;
//   - at most MaxInterval.
//
// The interval is whole minutes, so that a stream read every cycle of a
// 1-minute loop is read at the same second.
func NextRead(ms []Minute, shards int, s Settings, p PollSettings, mem PollMemory, now time.Time) PollPlan {
	p = p.OrDefault()
	plan := PollPlan{Next: now, Memory: mem}
	known := knownMinutes(ms, now)
	var prev *Minute
	for i := range known {
		m := &known[i]
		if prev != nil && m.Start.Sub(prev.Start) == time.Minute {
			if r := writeLoad(*m) - writeLoad(*prev); r > plan.Memory.FastestRise && !math.IsInf(r, 0) {
				plan.Memory.FastestRise = r
			}
		}
		prev = m
	}
	if len(known) == 0 || shards < 1 {
		plan.Reason = "no metrics known: read every cycle"
		return plan
	}
	latest := known[len(known)-1]
	if !isFresh(latest, now) {
		plan.Reason = "newest metrics are stale: read every cycle"
		return plan
	}
	for _, m := range known {
		if m.WriteThrottled > 0 || m.ReadThrottled > 0 {
			plan.Reason = fmt.Sprintf("throttled at %s: read every cycle", m.Start.UTC().Format("15:04"))
			return plan
		}
		if m.Shards > 0 && m.Shards != shards && now.Sub(m.Start) <= p.RecentChange {
			plan.Reason = fmt.Sprintf("resharded from %d to %d shards within %s: read every cycle", m.Shards, shards, p.RecentChange)
			return plan
		}
	}
	util := latest.UtilisationOf(shards).Max()
	if util >= s.ScaleUpThreshold-p.NearThreshold {
		plan.Reason = fmt.Sprintf("utilisation %s, near scale_up_threshold %s: read every cycle", percent(util), percent(s.ScaleUpThreshold))
		return plan
	}
	interval := p.MaxInterval
	why := fmt.Sprintf("calm at %s", percent(util))
	if r := plan.Memory.FastestRise; r > 0 {
		// The newest minute ended age ago: the load may have risen since.
		age := now.Sub(latest.Start.Add(time.Minute)).Minutes()
		load := writeLoad(latest) + r*age
		toUp := (s.ScaleUpThreshold*float64(shards) - load) / r
		toFull := (float64(shards)-load)/r - p.ReshardTime.Minutes()
		limit := math.Min(toUp, toFull)
		if limit < interval.Minutes() {
			interval = time.Duration(math.Max(limit, 0) * float64(time.Minute))
			why = fmt.Sprintf("at %s; its fastest rise seen (%.2f shards a minute) could reach scale_up_threshold in %.1f minutes",
				percent(util), r, toUp)
		}
	}
	interval = interval.Truncate(time.Minute)
	if interval < time.Minute {
		plan.Reason = why + ": read every cycle"
		return plan
	}
	plan.Next = now.Add(interval)
	plan.Reason = fmt.Sprintf("%s: read again in %s", why, interval)
	return plan
}

// writeLoad is a minute's write load in shards of capacity.
func writeLoad(m Minute) float64 {
	u := m.UtilisationOf(1)
	return math.Max(u.WriteBytes, u.WriteRecords)
}
