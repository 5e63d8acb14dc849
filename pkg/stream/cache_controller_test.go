package stream

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/controller"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/policy"
)

// steadyLoad is a LoadReader whose streams each accept a fixed number of
// records a second, every minute known.
type steadyLoad map[string]float64

func (l steadyLoad) ReadLoad(_ context.Context, streams []string, start, end time.Time) (map[string][]policy.Minute, error) {
	out := map[string][]policy.Minute{}
	for _, s := range streams {
		for m := start.Truncate(time.Minute); m.Before(end); m = m.Add(time.Minute) {
			// The streams are new: no history older than 40 minutes, so that
			// the daemon's rebuilt learning does not expect yesterday's load.
			known := !m.Before(end.Add(-40 * time.Minute))
			out[s] = append(out[s], policy.Minute{Start: m, Known: known, IncomingRecords: l[s] * 60, IncomingBytes: l[s] * 60 * 100})
		}
	}
	return out, nil
}

// memoryHistory keeps histories in memory.
type memoryHistory struct {
	mu sync.Mutex
	h  map[string]policy.Record
}

func (m *memoryHistory) LoadRecord(_ context.Context, stream string) (policy.Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.h[stream], nil
}

func (m *memoryHistory) SaveRecord(_ context.Context, stream string, r policy.Record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.h[stream] = r
	return nil
}

// alertLog records alerts.
type alertLog struct {
	mu     sync.Mutex
	alerts []policy.Alert
}

func (a *alertLog) Notify(_ context.Context, alert policy.Alert) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.alerts = append(a.alerts, alert)
	return nil
}

type clockAdapter struct{ c *testClock }

func (c clockAdapter) Now() time.Time { return c.c.Now() }

// The real controller over the cache: another tool halves a stream behind the
// cache's back, so the cached count says 16 shards where there are 8, and the
// load (20 % of 16 shards, 40 % of 8) looks like a scale-down. The decision
// made on the stale count never reaches AWS: the describe-before-act check
// refuses it as busy, without an alert, and the next cycle decides on the
// fresh count, which calls for nothing.
func TestCacheStaleCountNeverScalesDown(t *testing.T) {
	f := newAccountFake()
	f.add("orders", 16)
	c, clock := newTestCache(f)
	settings := policy.Settings{MinShards: 1, MaxShards: 64, ScaleUpThreshold: 0.75, ScaleDownThreshold: 0.25,
		ScaleUpAfter: 2 * time.Minute, ScaleDownAfter: 10 * time.Minute, CooldownUp: 5 * time.Minute, CooldownDown: 30 * time.Minute,
		MaxIteratorAge: 5 * time.Minute}
	// The load is 60 % of 16 shards at first: nothing to do.
	load := steadyLoad{"orders": 0.6 * 16 * policy.ShardWriteRecordsPerSecond}
	alerts := &alertLog{}
	history := &memoryHistory{h: map[string]policy.Record{}}
	ctrl := controller.New([]controller.StreamSpec{{Name: "orders", Settings: settings}},
		controller.Deps{Load: load, Streams: c, History: history, Notifier: alerts, Clock: clockAdapter{clock}},
		controller.Options{PollInterval: time.Minute, DedupWindow: time.Hour}, zaptest.NewLogger(t))

	mustSweep(t, c)
	if out := ctrl.RunCycle(t.Context()); out[0].Decision.Scales() || out[0].State.OpenShards != 16 {
		t.Fatalf("priming cycle: %+v", out[0])
	}

	// Another tool halves the stream, quickly enough that no sweep sees it
	// UPDATING, and the load falls to 30 % of 16 shards (60 % of 8: what
	// 8 shards carry).
	f.finish("orders", 8)
	load["orders"] = 0.3 * 16 * policy.ShardWriteRecordsPerSecond
	clock.advance(time.Minute)
	mustSweep(t, c)
	out := ctrl.RunCycle(t.Context())[0]
	if out.State.OpenShards != 16 || out.Decision.Direction != policy.DirectionDown {
		t.Fatalf("stale cycle: saw %d shards and decided %s; the test needs the stale count to call for a scale-down",
			out.State.OpenShards, out.Decision.Direction)
	}
	if out.Result != controller.ResultBusy || !errors.Is(out.Err, policy.ErrStreamBusy) || out.Acted {
		t.Errorf("stale cycle: result %q, err %v, acted %v; want busy, nothing called", out.Result, out.Err, out.Acted)
	}

	clock.advance(time.Minute)
	out = ctrl.RunCycle(t.Context())[0]
	if out.State.OpenShards != 8 || out.Decision.Scales() {
		t.Errorf("fresh cycle: saw %d shards and decided %s (%s); want 8 and nothing", out.State.OpenShards, out.Decision.Direction, out.Decision.Reason)
	}
	if f.count("UpdateShardCount") != 0 {
		t.Errorf("UpdateShardCount called with targets %v", f.targets)
	}
	for _, a := range alerts.alerts {
		if a.Kind == policy.AlertScaledDown || a.Kind == policy.AlertScaleFailed {
			t.Errorf("alert %s: %s", a.Kind, a.Err)
		}
	}
}
