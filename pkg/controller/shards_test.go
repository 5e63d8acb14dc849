package controller

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/policy"
)

const shardStream = "skewed"

// shardRig is one stream with shard-level scaling over the fakes.
type shardRig struct {
	c       *Controller
	streams *fakeStreams
	shards  *fakeShards
	load    *shardLoad
	history *memHistory
	alerts  *recorder
	clock   *fakeClock
	spec    StreamSpec
}

func newShardRig(t *testing.T, opts Options, n int, keys keyLoad, leader Leadership, shardLevel bool) *shardRig {
	t.Helper()
	r := &shardRig{
		streams: &fakeStreams{state: map[string]policy.StreamState{}, describeErr: map[string]error{}},
		history: &memHistory{shards: map[string]policy.ShardLevelHistory{}}, alerts: &recorder{}, clock: &fakeClock{now: start},
	}
	r.shards = newFakeShards(r.streams, r.clock, shardStream, n)
	r.load = &shardLoad{shards: r.shards, keys: keys, delay: time.Minute}
	if opts.PollInterval == 0 {
		opts.PollInterval = time.Minute
	}
	if opts.DedupWindow == 0 {
		opts.DedupWindow = time.Hour
	}
	r.spec = StreamSpec{Name: shardStream, Settings: settings()}
	if shardLevel {
		r.spec.Shards = &ShardLevel{Settings: policy.DefaultShardSettings(settings())}
	}
	r.c = New([]StreamSpec{r.spec}, Deps{Load: r.load, Streams: r.streams, History: r.history, Notifier: r.alerts, Clock: r.clock,
		Leader: leader, ShardLoad: r.load, Shards: r.shards}, opts, zaptest.NewLogger(t))
	return r
}

// cycles runs n cycles a minute apart, finishing reshards in between, and
// returns the outcomes of the stream.
func (r *shardRig) cycles(n int) []Outcome {
	var out []Outcome
	for range n {
		o := r.c.RunCycle(context.Background())
		out = append(out, o...)
		r.streams.finish()
		r.clock.Advance(time.Minute)
	}
	return out
}

// hottest is the highest utilisation of the open shards now.
func (r *shardRig) hottest() float64 {
	u := 0.0
	for _, s := range r.shards.open[shardStream] {
		u = math.Max(u, r.load.keys.minute(s.Range).Utilisation())
	}
	return u
}

// hotspot: 0.3 of a shard's capacity on each of four shards' keys, and 0.5
// more on 2 % of the key space inside the second shard.
var hotspot = keyLoad{{lo: 0, hi: 1, load: 1.2}, {lo: 0.3, hi: 0.32, load: 0.5}}

func TestShardLevelSplitsTheHotShardOnly(t *testing.T) {
	r := newShardRig(t, Options{}, 4, hotspot, nil, true)
	hot := r.shards.open[shardStream][1]
	r.cycles(30)

	if len(r.shards.splits) == 0 {
		t.Fatal("no split")
	}
	first := r.shards.splits[0]
	if first.shard != hot.ID {
		t.Fatalf("first split of %s, want the hot %s", first.shard, hot.ID)
	}
	mid := policy.HashKey((hot.Range.Lo + hot.Range.Hi) / 2)
	if first.key.Cmp(mid) != 0 || first.key.Cmp(hot.StartingHashKey) <= 0 || first.key.Cmp(hot.EndingHashKey) > 0 {
		t.Errorf("split at %v, want the midpoint %v of [%v, %v]", first.key, mid, hot.StartingHashKey, hot.EndingHashKey)
	}
	if len(r.streams.updates) != 0 {
		t.Errorf("UpdateShardCount calls %v: one hot shard must not reshard the whole stream", r.streams.updates)
	}
	if n := len(r.shards.open[shardStream]); n != 5 || r.hottest() > settings().ScaleUpThreshold {
		t.Errorf("%d shards, hottest at %.2f: want the hot spot below the threshold after one split", n, r.hottest())
	}
	if got := countKind(r.alerts.kinds(), policy.AlertShardSplit); got != len(r.shards.splits) {
		t.Errorf("%d split alerts for %d splits", got, len(r.shards.splits))
	}
	a := r.alerts.alerts[0]
	if a.Shard == nil || a.Shard.Action.ShardID != hot.ID || a.Shard.Loads[0].ShardID != hot.ID || a.Decision.Target != a.Decision.Current+1 {
		t.Errorf("split alert %+v, want the hot shard first in its loads and one more shard", a)
	}
	h := r.history.shards[shardStream]
	if len(h.Calls) != len(r.shards.splits) || len(h.Splits) != len(r.shards.splits) || h.Splits[0].Parent != hot.ID || h.Splits[0].Range != hot.Range {
		t.Errorf("shard-level history %+v after %d splits", h, len(r.shards.splits))
	}
	if got := r.history.h[shardStream].Shards; got != len(r.shards.open[shardStream]) {
		t.Errorf("stream history records %d shards, the stream has %d", got, len(r.shards.open[shardStream]))
	}
	if r.shards.monitors != 1 {
		t.Errorf("EnableEnhancedMonitoring called %d times, want once", r.shards.monitors)
	}
}

func TestShardLevelThrottledHotShardDoesNotDoubleTheStream(t *testing.T) {
	// The second shard is asked for 1.3 of its capacity by a busy slice of
	// keys that its midpoint divides: it refuses writes, which the stream's
	// metrics show too.
	keys := keyLoad{{lo: 0, hi: 1, load: 1.2}, {lo: 0.3, hi: 0.45, load: 1.0}}
	without := newShardRig(t, Options{}, 4, keys, nil, false)
	without.cycles(10)
	if len(without.streams.updates) == 0 {
		t.Fatal("without shard-level scaling the stream-level policy did not scale up: the test shows nothing")
	}
	with := newShardRig(t, Options{}, 4, keys, nil, true)
	with.cycles(30)
	if len(with.streams.updates) != 0 {
		t.Errorf("UpdateShardCount %v with shard-level scaling, want none: the hot shard is split instead", with.streams.updates)
	}
	if len(with.shards.splits) == 0 || with.hottest() >= 1 {
		t.Errorf("%d splits, hottest shard at %.2f: want the throttling shard split", len(with.shards.splits), with.hottest())
	}
	if countKind(with.alerts.kinds(), policy.AlertThrottling) == 0 {
		t.Errorf("alerts %v: the throttling is still reported", with.alerts.kinds())
	}
}

func TestShardLevelReportsAHotKeyAndStopsSplitting(t *testing.T) {
	// One key at 0.3 is written at 1.3 times a shard's capacity: no split
	// can divide it.
	keys := keyLoad{{lo: 0, hi: 1, load: 1.2}, {lo: 0.3, hi: 0.3 + 1e-9, load: 1.3}}
	r := newShardRig(t, Options{}, 4, keys, nil, true)
	r.cycles(60)

	holds := func(id string) bool {
		s := r.shards.made[id]
		return s.Range.Lo <= 0.3 && 0.3 < s.Range.Hi
	}
	splitsOfKey := 0
	for _, s := range r.shards.splits {
		if holds(s.shard) {
			splitsOfKey++
		}
	}
	if got := countKind(r.alerts.kinds(), policy.AlertHotPartitionKey); got != 1 {
		t.Fatalf("%d hot partition key alerts, want 1: %v", got, r.alerts.kinds())
	}
	var alert policy.Alert
	for _, a := range r.alerts.alerts {
		if a.Kind == policy.AlertHotPartitionKey {
			alert = a
		}
	}
	if alert.Shard == nil || !holds(alert.Shard.Action.ShardID) || alert.Shard.Loads[0].ShardID != alert.Shard.Action.ShardID ||
		alert.Shard.Action.Share < 0.9 || alert.Decision.Target != alert.Decision.Current {
		t.Errorf("hot key alert %+v, want the shard holding the key, first in its loads, with the share it kept", alert.Shard)
	}
	if splitsOfKey > 2 {
		t.Errorf("the shard holding the key was split %d times, want at most 2 (one split cannot tell a key from a slice)", splitsOfKey)
	}
	hot := r.history.shards[shardStream].HotKeys
	if len(hot) != 1 || !(hot[0].Lo <= 0.3 && 0.3 < hot[0].Hi) {
		t.Errorf("hot keys recorded %v, want the range holding 0.3", hot)
	}

	// A restart reads the hot key from the tags: still no split, no alert.
	splits, alerts := len(r.shards.splits), len(r.alerts.alerts)
	r.c = New([]StreamSpec{r.spec}, r.c.deps, r.c.opts, zaptest.NewLogger(t))
	r.cycles(20)
	if len(r.shards.splits) != splits || countKind(r.alerts.kinds()[alerts:], policy.AlertHotPartitionKey) != 0 {
		t.Errorf("after a restart: %d more splits, alerts %v", len(r.shards.splits)-splits, r.alerts.kinds()[alerts:])
	}
}

func TestShardLevelReportsAHotKeyBelowOneShardsCapacity(t *testing.T) {
	// One key at 0.3 carries 0.85 of a shard: it throttles nothing, and no
	// split can divide it.
	keys := keyLoad{{lo: 0, hi: 1, load: 1.2}, {lo: 0.3, hi: 0.3 + 1e-9, load: 0.85}}
	r := newShardRig(t, Options{}, 4, keys, nil, true)
	r.cycles(60)
	holdsKey := 0
	for _, s := range r.shards.splits {
		if sh := r.shards.made[s.shard]; sh.Range.Lo <= 0.3 && 0.3 < sh.Range.Hi {
			holdsKey++
		}
	}
	if got := countKind(r.alerts.kinds(), policy.AlertHotPartitionKey); got != 1 || holdsKey > 2 {
		t.Errorf("%d hot partition key alerts, %d splits of the shard holding the key; want 1 and at most 2: %v",
			got, holdsKey, r.alerts.kinds())
	}
}

func TestShardLevelMergesColdNeighbours(t *testing.T) {
	// The first half of the keys is nearly idle, the second half busy. The
	// stream-level policy is held (the default policy would give the idle
	// capacity back with a uniform reshard): the shard level merges it.
	keys := keyLoad{{lo: 0, hi: 0.5, load: 0.1}, {lo: 0.5, hi: 1, load: 1.2}}
	r := newShardRig(t, Options{}, 4, keys, nil, true)
	r.spec.Policy = holdPolicy{}
	r.c = New([]StreamSpec{r.spec}, r.c.deps, r.c.opts, zaptest.NewLogger(t))
	cold0, cold1 := r.shards.open[shardStream][0], r.shards.open[shardStream][1]
	r.cycles(40)
	if len(r.shards.merges) != 1 || r.shards.merges[0] != [2]string{cold0.ID, cold1.ID} {
		t.Fatalf("merges %v, want one of %s and %s", r.shards.merges, cold0.ID, cold1.ID)
	}
	if len(r.shards.splits) != 0 || len(r.streams.updates) != 0 {
		t.Errorf("splits %v, updates %v: want neither", r.shards.splits, r.streams.updates)
	}
	if countKind(r.alerts.kinds(), policy.AlertShardsMerged) != 1 {
		t.Errorf("alerts %v, want one shards_merged", r.alerts.kinds())
	}
	if got := r.history.h[shardStream].Shards; got != 3 {
		t.Errorf("stream history records %d shards, want 3", got)
	}
}

func TestShardLevelDryRunAlertsWithoutActing(t *testing.T) {
	r := newShardRig(t, Options{DryRun: true}, 4, hotspot, nil, true)
	outs := r.cycles(15)
	// A dry run changes nothing at all (issue 13.11): not even enhanced
	// monitoring, which AWS bills.
	if len(r.shards.splits) != 0 || len(r.shards.merges) != 0 || r.shards.monitors != 0 ||
		r.history.saves != 0 || len(r.streams.updates) != 0 {
		t.Errorf("dry run split %v, merged %v, saved the record %d times, turned enhanced monitoring on %d times, updated the shard count %v",
			r.shards.splits, r.shards.merges, r.history.saves, r.shards.monitors, r.streams.updates)
	}
	if got := countKind(r.alerts.kinds(), policy.AlertWouldSplitShard); got != 1 {
		t.Errorf("%d would_split_shard alerts, want 1: %v", got, r.alerts.kinds())
	}
	last := outs[len(outs)-1].Shards
	if last == nil || last.Result != ResultDryRun || len(last.Actions) == 0 || last.Actions[0].Kind != policy.ShardSplit {
		t.Errorf("last outcome %+v, want a dry-run split", last)
	}
}

func TestShardLevelStandbyNeverActsNorAlerts(t *testing.T) {
	r := newShardRig(t, Options{}, 4, hotspot, &fakeLeader{ok: false}, true)
	outs := r.cycles(10)
	if len(r.shards.splits) != 0 || r.shards.monitors != 0 || len(r.alerts.alerts) != 0 || r.history.saves != 0 {
		t.Errorf("standby: splits %v, monitoring calls %d, alerts %v, history saves %d",
			r.shards.splits, r.shards.monitors, r.alerts.kinds(), r.history.saves)
	}
	last := outs[len(outs)-1].Shards
	if last == nil || len(last.Actions) == 0 || last.Result != "" || len(last.Loads) != 4 {
		t.Errorf("standby outcome %+v, want the split it would ask for, not made, and every shard's load", last)
	}
}

func TestShardLevelLeavesAChangingStreamAlone(t *testing.T) {
	r := newShardRig(t, Options{}, 4, hotspot, nil, true)
	st := r.streams.state[shardStream]
	st.Status = policy.StatusUpdating
	r.streams.state[shardStream] = st
	for range 10 {
		outs := r.c.RunCycle(context.Background())
		if outs[0].Shards == nil || outs[0].Shards.Waiting == "" {
			t.Fatalf("outcome %+v, want the shard level waiting", outs[0].Shards)
		}
		r.clock.Advance(time.Minute)
	}
	if len(r.shards.splits) != 0 {
		t.Errorf("splits %v of an UPDATING stream", r.shards.splits)
	}
}

func TestShardLevelKeepsTheDailyCapAcrossRestarts(t *testing.T) {
	r := newShardRig(t, Options{}, 4, hotspot, nil, true)
	r.spec.Shards.Settings.MaxCallsPerDay = 2
	r.history.shards[shardStream] = policy.ShardLevelHistory{Calls: []time.Time{start.Add(-3 * time.Hour), start.Add(-2 * time.Hour)}}
	r.c = New([]StreamSpec{r.spec}, r.c.deps, r.c.opts, zaptest.NewLogger(t))
	outs := r.cycles(10)
	if len(r.shards.splits) != 0 {
		t.Fatalf("splits %v with the daily cap spent", r.shards.splits)
	}
	if left := outs[len(outs)-1].Shards.CallsLeft; left != 0 {
		t.Errorf("calls left %d, want 0", left)
	}
	// A day after the first call, one is free again.
	r.clock.now = start.Add(21*time.Hour + 30*time.Second)
	r.cycles(5)
	if len(r.shards.splits) != 1 {
		t.Errorf("splits %v once a call is free, want 1", r.shards.splits)
	}
}

func TestShardLevelRefusedSplitIsTakenBack(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		wantCalls  int
		wantAlerts int
		wantResult Result
		// describeFails makes the stream unreadable after the failed call.
		describeFails bool
	}{
		{name: "busy", err: fmt.Errorf("%w: ResourceInUseException", policy.ErrStreamBusy), wantResult: ResultBusy},
		{name: "account shard limit", err: fmt.Errorf("%w: LimitExceededException", policy.ErrQuotaExceeded), wantAlerts: 1, wantResult: ResultQuotaExceeded},
		// The stream, described after a lost answer, is ACTIVE at the old
		// count: the split did not land and its record is taken back.
		{name: "ambiguous, stream unchanged", err: errors.New("connection reset"), wantAlerts: 1, wantResult: ResultFailed},
		// The stream cannot tell: the split stays counted.
		{name: "ambiguous, stream unreadable", err: errors.New("connection reset"), wantCalls: 1, wantAlerts: 1, wantResult: ResultFailed, describeFails: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newShardRig(t, Options{}, 4, hotspot, nil, true)
			r.shards.splitErr = tt.err
			if tt.describeFails {
				r.streams.afterFailedUpdate = func() { r.streams.describeErr[shardStream] = errors.New("connection reset") }
			}
			var result Result
			for i := 0; i < 10 && len(r.shards.splits) == 0; i++ {
				outs := r.cycles(1)
				result = outs[0].Shards.Result
			}
			if len(r.shards.splits) != 1 || result != tt.wantResult {
				t.Fatalf("%d split calls, result %q; want 1, %q", len(r.shards.splits), result, tt.wantResult)
			}
			h := r.history.shards[shardStream]
			if len(h.Calls) != tt.wantCalls {
				t.Errorf("%d calls recorded, want %d", len(h.Calls), tt.wantCalls)
			}
			if got := countKind(r.alerts.kinds(), policy.AlertShardChangeFailed); got != tt.wantAlerts {
				t.Errorf("%d failure alerts, want %d", got, tt.wantAlerts)
			}
			if tt.wantCalls == 0 && r.history.h[shardStream].Shards != 0 {
				t.Errorf("stream history keeps the count %d of a refused split", r.history.h[shardStream].Shards)
			}
		})
	}
}

func TestShardLevelListsShardsOnlyWhenNeeded(t *testing.T) {
	// Even keys: nothing to split or merge.
	r := newShardRig(t, Options{}, 4, keyLoad{{lo: 0, hi: 1, load: 2.8}}, nil, true)
	r.cycles(30)
	if r.shards.lists > 1+30/int(ShardListMaxAge/time.Minute) {
		t.Errorf("ListShards called %d times in 30 quiet cycles", r.shards.lists)
	}
	if len(r.shards.splits) != 0 || len(r.shards.merges) != 0 || len(r.streams.updates) != 0 {
		t.Errorf("even keys changed the stream: splits %v, merges %v, updates %v", r.shards.splits, r.shards.merges, r.streams.updates)
	}
	if got := r.load.asked[shardStream]; len(got) != 4 {
		t.Errorf("shard metrics asked for %v, want the 4 open shards", got)
	}
}

func TestShardLevelSplitIsNotUndoneByAScaleDown(t *testing.T) {
	// Eight shards nearly idle but one hot: the stream as a whole is below
	// the scale-down threshold.
	keys := keyLoad{{lo: 0, hi: 1, load: 0.16}, {lo: 0.05, hi: 0.07, load: 0.78}}
	r := newShardRig(t, Options{}, 8, keys, nil, true)
	outs := r.cycles(25)
	if len(r.shards.splits) == 0 {
		t.Fatal("the hot shard was not split")
	}
	held := 0
	for _, o := range outs {
		if strings.Contains(o.Decision.Reason, "not scaling down") {
			held++
		}
	}
	if held == 0 {
		t.Errorf("the stream-level policy never wanted to scale down: the test shows nothing")
	}
	if len(r.streams.updates) != 0 {
		t.Errorf("UpdateShardCount %v within cooldown_down of a split", r.streams.updates)
	}
}

func TestShardLevelNewTermRereadsTheTags(t *testing.T) {
	leader := &fakeLeader{term: 1, ok: false}
	r := newShardRig(t, Options{}, 4, hotspot, leader, true)
	r.spec.Shards.Settings.MaxCallsPerDay = 2
	r.c = New([]StreamSpec{r.spec}, r.c.deps, r.c.opts, zaptest.NewLogger(t))
	r.cycles(3) // a standby reads the (empty) shard-level history once
	// Meanwhile the replica that led spent the daily cap.
	r.history.shards[shardStream] = policy.ShardLevelHistory{Calls: []time.Time{r.clock.now.Add(-time.Hour), r.clock.now.Add(-time.Minute)}}
	leader.ok = true
	outs := r.cycles(3)
	if len(r.shards.splits) != 0 {
		t.Errorf("splits %v: the new leader did not read the cap the other replica spent", r.shards.splits)
	}
	if left := outs[len(outs)-1].Shards.CallsLeft; left != 0 {
		t.Errorf("calls left %d, want 0", left)
	}
}

func TestShardLevelLeaseLostBeforeTheSplit(t *testing.T) {
	leader := &fakeLeader{term: 1, ok: true}
	r := newShardRig(t, Options{}, 4, hotspot, leader, true)
	// The lease is lost right after the split's record is written.
	r.history.onSave = func() { leader.ok = false }
	var result Result
	for i := 0; i < 10 && result == ""; i++ {
		result = r.cycles(1)[0].Shards.Result
	}
	if result != ResultLeaseLost || len(r.shards.splits) != 0 {
		t.Fatalf("result %q, splits %v: want the lease lost and no SplitShard call", result, r.shards.splits)
	}
	// The record stays for the new leader: it costs one call of the cap.
	if got := len(r.history.shards[shardStream].Calls); got != 1 {
		t.Errorf("%d calls recorded, want the 1 recorded before the lease was lost", got)
	}
	alerts := len(r.alerts.alerts)
	r.cycles(5)
	if len(r.shards.splits) != 0 || len(r.alerts.alerts) != alerts {
		t.Errorf("a standby split %v or alerted %v", r.shards.splits, r.alerts.kinds()[alerts:])
	}
}

func TestShardLevelUniformReshardOfAVeryUnevenLayout(t *testing.T) {
	// The layout two splits left, the hot spot gone: even keys.
	r := newShardRig(t, Options{}, 4, keyLoad{{lo: 0, hi: 1, load: 1.8}}, nil, true)
	for _, id := range []string{"shardId-000000000001", "shardId-000000000004"} {
		s := r.shards.shard(shardStream, id)
		if err := r.shards.SplitShard(context.Background(), shardStream, id, policy.HashKey((s.Range.Lo+s.Range.Hi)/2)); err != nil {
			t.Fatal(err)
		}
		r.streams.finish()
	}
	r.shards.splits = nil
	for id := range r.shards.made {
		r.shards.born[id] = time.Time{} // as if the layout had always been
	}
	r.cycles(40)
	// The stream level's own scale-down is a uniform reshard too.
	n := len(r.streams.updates)
	if n == 0 || n > 2 || r.streams.updates[0].target >= 6 {
		t.Fatalf("UpdateShardCount calls %v, want uniform reshards to fewer than 6 shards", r.streams.updates)
	}
	h := r.history.h[shardStream]
	if h.LastAction == nil || h.LastAction.To != r.streams.updates[n-1].target || len(h.Calls) != n {
		t.Errorf("stream history %+v: want the uniform reshard recorded as an UpdateShardCount call", h)
	}
	if countKind(r.alerts.kinds(), policy.AlertScaledDown) != n {
		t.Errorf("alerts %v, want one scaled_down a reshard", r.alerts.kinds())
	}
}

// A stream at max_shards with a hot shard is never split beyond it (issue
// 13.2: with max_shards 8 a hotspot took a stream 8 -> 9 -> 8 -> 9, the
// stream level taking each split back): the count stays within the bounds
// and the shard level and the stream level never undo each other.
func TestShardLevelKeepsWithinMaxShards(t *testing.T) {
	r := newShardRig(t, Options{}, 4, hotspot, nil, true)
	s := settings()
	s.MaxShards = 4
	r.spec.Settings = s
	r.spec.Shards = &ShardLevel{Settings: policy.DefaultShardSettings(s)}
	r.c.SetStreams([]StreamSpec{r.spec})
	most := 0
	for range 40 {
		r.cycles(1)
		most = max(most, len(r.shards.open[shardStream]))
	}
	if most > s.MaxShards || len(r.shards.splits) != 0 || len(r.streams.updates) != 0 {
		t.Errorf("up to %d shards with max_shards %d: splits %v, UpdateShardCount %v", most, s.MaxShards, r.shards.splits, r.streams.updates)
	}
}

// holdPolicy is a stream-level policy that never acts, so that a test sees
// the shard level alone.
type holdPolicy struct{}

func (holdPolicy) Decide(obs policy.Observation) policy.Decision {
	return policy.Decision{Stream: obs.Stream, Direction: policy.DirectionNone, Current: obs.OpenShards,
		Target: obs.OpenShards, Desired: obs.OpenShards, Reason: "held by the test"}
}

func (holdPolicy) Gate(d policy.Decision, h policy.History, now time.Time) policy.Decision {
	return policy.PassGate(d, h, now)
}
