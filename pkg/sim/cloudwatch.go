package sim

import (
	"context"
	"sync"
	"time"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/controller"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/policy"
)

// CloudWatch is simulated CloudWatch for one stream: it shows each finished
// minute's accepted records and bytes and refused records as 1-minute Sums,
// Delay after the minute ends. It satisfies controller.LoadReader,
// controller.WriteLoadReader and controller.WatchLoadReader, and counts the
// metrics each read asks for as GetMetricData bills them
// (policy.MetricsPerStream, policy.WriteMetricsPerStream or
// policy.WatchMetricsPerStream per stream asked for, whatever the window).
type CloudWatch struct {
	stream string
	start  time.Time
	delay  time.Duration
	clock  *Clock
	// minutes are the finished minutes, from the start of the trace.
	minutes []cloudWatchMinute
	// metrics counts the metrics requested.
	metrics int64
	// past, when set, are the minutes of a day shown before start,
	// repeated (Model.WarmStart), with nothing refused.
	past []cloudWatchMinute
}

type cloudWatchMinute struct {
	records, bytes, refused float64
}

var (
	_ controller.LoadReader      = (*CloudWatch)(nil)
	_ controller.WriteLoadReader = (*CloudWatch)(nil)
	_ controller.WatchLoadReader = (*CloudWatch)(nil)
	_ controller.PastReader      = (*CloudWatch)(nil)
)

// MetricsRequested is how many metrics the reads so far asked for.
func (cw *CloudWatch) MetricsRequested() int64 { return cw.metrics }

// NewCloudWatch returns CloudWatch for stream, whose trace starts at start.
func NewCloudWatch(stream string, start time.Time, delay time.Duration, clock *Clock) *CloudWatch {
	return &CloudWatch{stream: stream, start: start, delay: delay, clock: clock}
}

// SetPast makes the day of minutes given (records and bytes each) the
// stream's past: CloudWatch shows them, repeated, before start.
func (cw *CloudWatch) SetPast(records []int64, bytes []float64) {
	cw.past = make([]cloudWatchMinute, len(records))
	for i := range records {
		cw.past[i] = cloudWatchMinute{records: float64(records[i]), bytes: bytes[i]}
	}
}

// Put records the figures of the next finished minute.
func (cw *CloudWatch) Put(acceptedRecords int64, acceptedBytes float64, refused int64) {
	cw.minutes = append(cw.minutes, cloudWatchMinute{records: float64(acceptedRecords), bytes: acceptedBytes, refused: float64(refused)})
}

// ReadLoad implements controller.LoadReader: one Minute per minute in
// [start, end), Known when CloudWatch has published it by now.
func (cw *CloudWatch) ReadLoad(_ context.Context, streams []string, start, end time.Time) (map[string][]policy.Minute, error) {
	cw.metrics += int64(len(streams)) * policy.MetricsPerStream
	return cw.read(streams, start, end), nil
}

// ReadWriteLoad implements controller.WriteLoadReader: ReadLoad without the
// read-side metrics, which the simulated stream, without consumers, never
// has anyway.
func (cw *CloudWatch) ReadWriteLoad(_ context.Context, streams []string, start, end time.Time) (map[string][]policy.Minute, error) {
	cw.metrics += int64(len(streams)) * policy.WriteMetricsPerStream
	return cw.read(streams, start, end), nil
}

// ReadWatchLoad implements controller.WatchLoadReader: the refusals and one
// load metric, records or bytes; the other is 0, as the AWS adapter leaves
// it.
func (cw *CloudWatch) ReadWatchLoad(_ context.Context, streams []string, records bool, start, end time.Time) (map[string][]policy.Minute, error) {
	cw.metrics += int64(len(streams)) * policy.WatchMetricsPerStream
	out := cw.read(streams, start, end)
	for _, ms := range out {
		for i := range ms {
			if records {
				ms[i].IncomingBytes = 0
			} else {
				ms[i].IncomingRecords = 0
			}
		}
	}
	return out, nil
}

// ReadHours implements controller.PastReader: each hour's Sums of what
// CloudWatch shows of its minutes by now, Known when it shows them all.
func (cw *CloudWatch) ReadHours(_ context.Context, stream string, start, end time.Time) ([]policy.Hour, error) {
	cw.metrics += policy.HourMetricsPerStream
	var out []policy.Hour
	for t := start.Truncate(time.Hour); t.Before(end.Truncate(time.Hour)); t = t.Add(time.Hour) {
		h := policy.Hour{Start: t, Known: true}
		for _, m := range cw.read([]string{stream}, t, t.Add(time.Hour))[stream] {
			h.Known = h.Known && m.Known
			h.IncomingBytes, h.IncomingRecords = h.IncomingBytes+m.IncomingBytes, h.IncomingRecords+m.IncomingRecords
		}
		h.Known = h.Known && stream == cw.stream
		out = append(out, h)
	}
	return out, nil
}

func (cw *CloudWatch) read(streams []string, start, end time.Time) map[string][]policy.Minute {
	out := map[string][]policy.Minute{}
	now := cw.clock.Now()
	for _, name := range streams {
		if name != cw.stream {
			continue
		}
		ms := make([]policy.Minute, 0, max(int(end.Sub(start)/time.Minute)+1, 0))
		for t := start.Truncate(time.Minute); t.Before(end); t = t.Add(time.Minute) {
			m := policy.Minute{Start: t}
			i := int(t.Sub(cw.start) / time.Minute)
			if n := len(cw.past); t.Before(cw.start) && n > 0 {
				c := cw.past[(i%n+n)%n]
				m.Known, m.IncomingRecords, m.IncomingBytes = true, c.records, c.bytes
			}
			if !t.Before(cw.start) && i < len(cw.minutes) && !t.Add(time.Minute+cw.delay).After(now) {
				c := cw.minutes[i]
				m.Known, m.IncomingRecords, m.IncomingBytes, m.WriteThrottled = true, c.records, c.bytes, c.refused
			}
			ms = append(ms, m)
		}
		out[name] = ms
	}
	return out
}

// memoryHistory keeps streams' records in memory; it satisfies
// controller.RecordStore.
type memoryHistory struct {
	mu sync.Mutex
	r  map[string]policy.Record
}

// LoadRecord implements controller.RecordStore.
func (m *memoryHistory) LoadRecord(_ context.Context, stream string) (policy.Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.r[stream], nil
}

// SaveRecord implements controller.RecordStore.
func (m *memoryHistory) SaveRecord(_ context.Context, stream string, r policy.Record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.r == nil {
		m.r = map[string]policy.Record{}
	}
	m.r[stream] = r
	return nil
}

// alertCounter collects the controller's alerts and counts them by kind; it
// satisfies controller.Notifier.
type alertCounter struct {
	counts map[policy.AlertKind]int
}

// Notify implements controller.Notifier.
func (a *alertCounter) Notify(_ context.Context, al policy.Alert) error {
	if a.counts == nil {
		a.counts = map[policy.AlertKind]int{}
	}
	a.counts[al.Kind]++
	return nil
}
