package policy

import (
	"fmt"
	"math"
	"slices"
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
	// WatchMetricsPerStream are a watch read's metrics (PollMemory.Watch):
	// one load metric, IncomingBytes or IncomingRecords, whichever is nearer
	// its limit at the stream's record size, and
	// WriteProvisionedThroughputExceeded.
	WatchMetricsPerStream = 2
	// HourMetricsPerStream are the metrics of a read of a stream's hours
	// (Hour): IncomingBytes, IncomingRecords and GetRecords.Bytes.
	HourMetricsPerStream = 3
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
	// Surge is the sudden jump any stream is assumed able to make from one
	// minute to the next, seen before or not: a stream that Surge times its
	// load would bring to scale_up_threshold is read every cycle.
	Surge float64
	// FullRecheck is how long watch reads may stand in for full ones: a
	// stream's write side is read in full (both load metrics) at least this
	// often, to measure its record size again (PollMemory.Watch).
	FullRecheck time.Duration
}

// DefaultPollSettings are the poll rule's defaults.
var DefaultPollSettings = PollSettings{
	MaxInterval: 5 * time.Minute, ReshardTime: 3 * time.Minute, ConsumerRecheck: 15 * time.Minute, NearThreshold: 0.10,
	RecentChange: 10 * time.Minute, Surge: 1.5, FullRecheck: 15 * time.Minute,
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
	if p.Surge <= 0 {
		p.Surge = d.Surge
	}
	if p.FullRecheck <= 0 {
		p.FullRecheck = d.FullRecheck
	}
	return p
}

// RiseHorizon is how many minutes ahead the poll rule looks: the longest
// MaxInterval plus reshard time plus metric delay it needs to bound.
const RiseHorizon = 20

// PollMemory is what the poll rule keeps of a stream from read to read.
type PollMemory struct {
	// Rises[h-1] is the largest rise of the stream's write load seen over h
	// minutes (between two known minutes h apart), in shards of capacity.
	// A minute-to-minute jitter shows in every entry, a sustained ramp grows
	// with h: the rule bounds what h minutes can bring by what they have
	// brought before.
	Rises [RiseHorizon]float64
	// Seen is the newest minute learnt from; Learnt counts the minutes
	// learnt from (up to RiseHorizon): until it is full the stream is read
	// every cycle.
	Seen   time.Time
	Learnt int
	// BytesPerRecord is the stream's mean record size as the last full read
	// measured it (0 before any), and Measured is when (Measure).
	BytesPerRecord float64
	Measured       time.Time
}

// Measure notes the mean record size of the known minutes of a full read
// (both load metrics read) made at now. A read without records leaves the
// last measurement, which then ages.
func (m *PollMemory) Measure(ms []Minute, now time.Time) {
	var bytes, records float64
	for _, k := range ms {
		if k.Known {
			bytes, records = bytes+k.IncomingBytes, records+k.IncomingRecords
		}
	}
	if size := bytes / records; records > 0 && size > 0 && !math.IsInf(size, 0) {
		m.BytesPerRecord, m.Measured = size, now
	}
}

// Watch says whether the read due at now may be a watch read
// (WatchMetricsPerStream metrics instead of WriteMetricsPerStream), and if
// so whether the load metric it asks for is IncomingRecords rather than
// IncomingBytes: it may when a full read measured the record size within
// FullRecheck, and it asks for the metric nearer its shard limit at that
// size (records when the mean record is under 1 MiB / 1,000 = 1,048.576
// bytes). The other metric is then estimated from that size (FillWatched):
// only a change of record size since the measurement, which FullRecheck
// bounds, makes the estimate wrong, and then only where the two metrics are
// close to each other's limits. Throttling is read on every read.
func (m PollMemory) Watch(p PollSettings, now time.Time) (watch, records bool) {
	p = p.OrDefault()
	if m.BytesPerRecord <= 0 || now.Sub(m.Measured) >= p.FullRecheck {
		return false, false
	}
	return true, m.BytesPerRecord < ShardWriteBytesPerSecond/ShardWriteRecordsPerSecond
}

// FillWatched returns the minutes of a watch read (records says which load
// metric it asked for) with the other load metric of each known minute
// estimated from the record size m measured.
func FillWatched(ms []Minute, m PollMemory, records bool) []Minute {
	out := slices.Clone(ms)
	if m.BytesPerRecord <= 0 {
		return out
	}
	for i := range out {
		switch {
		case !out[i].Known:
		case records:
			out[i].IncomingBytes = out[i].IncomingRecords * m.BytesPerRecord
		default:
			out[i].IncomingRecords = out[i].IncomingBytes / m.BytesPerRecord
		}
	}
	return out
}

// rise is the largest rise seen over h minutes or fewer (h may be a
// fraction; beyond RiseHorizon the rate of the last entry goes on).
func (m PollMemory) rise(h float64) float64 {
	if h <= 0 {
		return 0
	}
	best := 0.0
	for i := 0; i < RiseHorizon && float64(i) < math.Ceil(h); i++ {
		best = math.Max(best, m.Rises[i])
	}
	if h > RiseHorizon {
		best = math.Max(best, m.Rises[RiseHorizon-1]*h/RiseHorizon)
	}
	return best
}

// learn notes the rises between the known minutes.
func (m *PollMemory) learn(known []Minute) {
	for _, k := range known {
		if k.Start.After(m.Seen) {
			m.Seen = k.Start
			m.Learnt = min(m.Learnt+1, RiseHorizon)
		}
	}
	for j := range known {
		for i := j - 1; i >= 0; i-- {
			h := int(known[j].Start.Sub(known[i].Start) / time.Minute)
			if h > RiseHorizon {
				break
			}
			if r := writeLoad(known[j]) - writeLoad(known[i]); h >= 1 && r > m.Rises[h-1] && !math.IsInf(r, 0) && !math.IsNaN(r) {
				m.Rises[h-1] = r
			}
		}
	}
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
//     read) in any minute read, resharded within RecentChange, seen for
//     fewer than RiseHorizon minutes, within NearThreshold of
//     scale_up_threshold, or where a sudden jump of Surge times its load,
//     seen before or not, would cross it;
//   - otherwise the longest whole number of minutes, at most MaxInterval,
//     over which the largest rises the stream has shown (PollMemory), or a
//     rise under way at its rate over the last two minutes, bring its load,
//     from the newest minute read (some minutes old), neither to
//     scale_up_threshold ScaleUpAfter before the next read (a scale-up
//     waits that long above it, whenever it is read) nor to full capacity
//     before the next read plus ReshardTime.
//
// A read missed no minute: each read asks for the whole decision window.
func NextRead(ms []Minute, shards int, s Settings, p PollSettings, mem PollMemory, now time.Time) PollPlan {
	p = p.OrDefault()
	plan := PollPlan{Next: now, Memory: mem}
	known := knownMinutes(ms, now)
	plan.Memory.learn(known)
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
	if plan.Memory.Learnt < RiseHorizon {
		plan.Reason = fmt.Sprintf("%d minutes seen, still learning how fast the stream rises: read every cycle", plan.Memory.Learnt)
		return plan
	}
	util := latest.UtilisationOf(shards).Max()
	if util >= s.ScaleUpThreshold-p.NearThreshold || util*p.Surge >= s.ScaleUpThreshold {
		plan.Reason = fmt.Sprintf("utilisation %s, near scale_up_threshold %s: read every cycle", percent(util), percent(s.ScaleUpThreshold))
		return plan
	}
	if util < s.ScaleDownThreshold && shards > s.MinShards {
		plan.Reason = fmt.Sprintf("utilisation %s, below scale_down_threshold %s: read every cycle, so that a scale-down comes when it would", percent(util), percent(s.ScaleDownThreshold))
		return plan
	}
	// The newest minute ended age ago: the load may have risen since. A
	// rise under way goes on at its rate over the last known minutes, or
	// as the largest rises seen, whichever brings more.
	age := now.Sub(latest.Start.Add(time.Minute)).Minutes()
	load, n := writeLoad(latest), float64(shards)
	trend := 0.0
	if k := len(known); k >= 3 && latest.Start.Sub(known[k-3].Start) == 2*time.Minute {
		trend = math.Max((load-writeLoad(known[k-3]))/2, 0)
	}
	rise := func(h float64) float64 { return math.Max(plan.Memory.rise(h), trend*h) }
	reshard := p.ReshardTime.Minutes()
	interval := 0
	for i := 1; i <= int(p.MaxInterval/time.Minute); i++ {
		// A crossing of scale_up_threshold acts after ScaleUpAfter above it:
		// the next read must come before a crossing that long ago, and the
		// shards before full capacity.
		if load+rise(age+float64(i)+reshard) >= n {
			break
		}
		interval = i
	}
	if interval <= 1 {
		plan.Reason = fmt.Sprintf("at %s, the rises it has shown could bring it to scale_up_threshold or full before a later read: read every cycle", percent(util))
		return plan
	}
	plan.Next = now.Add(time.Duration(interval) * time.Minute)
	plan.Reason = fmt.Sprintf("calm at %s: read again in %d minutes", percent(util), interval)
	return plan
}

// writeLoad is a minute's write load in shards of capacity.
func writeLoad(m Minute) float64 {
	u := m.UtilisationOf(1)
	return math.Max(u.WriteBytes, u.WriteRecords)
}
