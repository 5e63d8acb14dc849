package controller

import (
	"context"
	"sync"
	"time"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/policy"
)

// fakeClock is a settable clock.
type fakeClock struct{ now time.Time }

func (c *fakeClock) Now() time.Time          { return c.now }
func (c *fakeClock) Advance(d time.Duration) { c.now = c.now.Add(d) }

// fakeLoad serves per-stream utilisation as known minutes, or an error.
type fakeLoad struct {
	// util is the write-records utilisation of shards[stream] shards per stream.
	util   map[string]float64
	shards map[string]int
	// throttled marks streams whose minutes carry refused writes.
	throttled map[string]bool
	err       error
	calls     int
	delay     time.Duration
	// reads makes every known minute carry consumer reads.
	reads bool
}

func (f *fakeLoad) ReadLoad(_ context.Context, streams []string, start, end time.Time) (map[string][]policy.Minute, error) {
	f.calls++
	if f.err != nil {
		return nil, f.err
	}
	out := map[string][]policy.Minute{}
	for _, s := range streams {
		var ms []policy.Minute
		for t := start; t.Before(end); t = t.Add(time.Minute) {
			m := policy.Minute{Start: t}
			if t.Before(end.Add(-f.delay)) {
				m.Known = true
				m.IncomingRecords = f.util[s] * float64(f.shards[s]) * 60 * policy.ShardWriteRecordsPerSecond
				m.IncomingBytes = m.IncomingRecords * 100
				if f.throttled[s] {
					m.WriteThrottled = 100
				}
				if f.reads {
					m.ReadBytes, m.HasReadBytes = m.IncomingBytes, true
				}
			}
			ms = append(ms, m)
		}
		out[s] = ms
	}
	return out, nil
}

// fakeStreams keeps stream states and records UpdateShardCount calls.
type fakeStreams struct {
	state       map[string]policy.StreamState
	describeErr map[string]error
	updateErr   error
	updates     []update
	// afterFailedUpdate, when set, runs after an UpdateShardCount that
	// returns updateErr: it changes what the next Describe sees.
	afterFailedUpdate func()
	// deadlines are how long each UpdateShardCount's context had left.
	deadlines []time.Duration
}

type update struct {
	stream string
	target int
}

func (f *fakeStreams) Describe(_ context.Context, name string) (policy.StreamState, error) {
	if err := f.describeErr[name]; err != nil {
		return policy.StreamState{}, err
	}
	return f.state[name], nil
}

func (f *fakeStreams) UpdateShardCount(ctx context.Context, name string, target int) error {
	f.updates = append(f.updates, update{stream: name, target: target})
	if d, ok := ctx.Deadline(); ok {
		f.deadlines = append(f.deadlines, time.Until(d))
	}
	if f.updateErr != nil {
		if f.afterFailedUpdate != nil {
			f.afterFailedUpdate()
		}
		return f.updateErr
	}
	s := f.state[name]
	s.OpenShards, s.Status = target, policy.StatusUpdating
	f.state[name] = s
	return nil
}

// finish completes every reshard in progress.
func (f *fakeStreams) finish() {
	for n, s := range f.state {
		s.Status = policy.StatusActive
		f.state[n] = s
	}
}

// memHistory is a RecordStore in memory that outlives controllers: the
// stream-level parts in h, the shard-level ones in shards.
type memHistory struct {
	mu      sync.Mutex
	h       map[string]policy.History
	shards  map[string]policy.ShardLevelHistory
	term    map[string]uint64
	paused  map[string]time.Time
	saves   int
	loads   int
	err     error
	saveErr error
	// onSave, when set, runs after each saved record.
	onSave func()
}

func (m *memHistory) LoadRecord(_ context.Context, name string) (policy.Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.loads++
	if m.err != nil {
		return policy.Record{}, m.err
	}
	return policy.Record{History: m.h[name], Shards: m.shards[name], Term: m.term[name], Paused: m.paused[name]}, nil
}

func (m *memHistory) SaveRecord(_ context.Context, name string, r policy.Record) error {
	m.mu.Lock()
	if m.saveErr != nil {
		m.mu.Unlock()
		return m.saveErr
	}
	if m.h == nil {
		m.h = map[string]policy.History{}
	}
	if m.shards == nil {
		m.shards = map[string]policy.ShardLevelHistory{}
	}
	if m.term == nil {
		m.term = map[string]uint64{}
	}
	m.saves++
	m.h[name], m.shards[name], m.term[name] = r.History, r.Shards, r.Term
	onSave := m.onSave
	m.mu.Unlock()
	if onSave != nil {
		onSave()
	}
	return nil
}

// recorder collects alerts.
type recorder struct{ alerts []policy.Alert }

func (r *recorder) Notify(_ context.Context, a policy.Alert) error {
	r.alerts = append(r.alerts, a)
	return nil
}

func (r *recorder) kinds() []policy.AlertKind {
	var out []policy.AlertKind
	for _, a := range r.alerts {
		out = append(out, a.Kind)
	}
	return out
}

// fakeLeader is a Leadership whose answers tests set. When script is not
// empty, each call takes its next answer from it instead of ok.
type fakeLeader struct {
	term   uint64
	ok     bool
	script []bool
	calls  int
	// left is the time left to act while leading; a minute when zero.
	left time.Duration
	// onCall, when set, runs before each answer (to change hands).
	onCall func(f *fakeLeader)
}

func (f *fakeLeader) Leading() (uint64, bool) {
	f.calls++
	if f.onCall != nil {
		f.onCall(f)
	}
	if len(f.script) > 0 {
		ok := f.script[0]
		f.script = f.script[1:]
		return f.term, ok
	}
	return f.term, f.ok
}

func (f *fakeLeader) TimeLeft(term uint64) time.Duration {
	if t, ok := f.Leading(); !ok || t != term {
		return 0
	}
	if f.left == 0 {
		return time.Minute
	}
	return f.left
}

// minuteLoad serves minutes that a function makes, per stream and start.
type minuteLoad struct {
	minute func(stream string, start time.Time) policy.Minute
}

func (l *minuteLoad) ReadLoad(_ context.Context, streams []string, start, end time.Time) (map[string][]policy.Minute, error) {
	out := map[string][]policy.Minute{}
	for _, s := range streams {
		for t := start; t.Before(end); t = t.Add(time.Minute) {
			out[s] = append(out[s], l.minute(s, t))
		}
	}
	return out, nil
}

// observed records what an Observer is told.
type observed struct {
	streams []Outcome
	cycles  []CycleReport
}

func (o *observed) ObserveStream(out Outcome)  { o.streams = append(o.streams, out) }
func (o *observed) ObserveCycle(r CycleReport) { o.cycles = append(o.cycles, r) }

// count is how many alerts of kind were sent.
func (r *recorder) count(kind policy.AlertKind) int {
	n := 0
	for _, a := range r.alerts {
		if a.Kind == kind {
			n++
		}
	}
	return n
}
