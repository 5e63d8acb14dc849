package controller

import (
	"context"
	"fmt"
	"math/big"
	"slices"
	"time"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/policy"
)

// fakeShards is a ShardStreams over fakeStreams: it keeps each stream's open
// shards, splits and merges them (the stream goes UPDATING, as AWS does),
// and keeps shard-level histories in memory.
type fakeShards struct {
	streams *fakeStreams
	clock   *fakeClock
	open    map[string][]policy.OpenShard
	// made are every shard ever made, by id, with the minutes they were
	// open: from born, until died when set.
	made       map[string]policy.OpenShard
	born, died map[string]time.Time
	next       map[string]int

	lists, monitors             int
	splits                      []fakeSplit
	merges                      [][2]string
	splitErr, mergeErr, listErr error
}

type fakeSplit struct {
	shard string
	key   *big.Int
}

// newFakeShards makes a stream of n even shards in streams and in the fake.
func newFakeShards(streams *fakeStreams, clock *fakeClock, name string, n int) *fakeShards {
	f := &fakeShards{streams: streams, clock: clock, open: map[string][]policy.OpenShard{}, next: map[string]int{},
		made: map[string]policy.OpenShard{}, born: map[string]time.Time{}, died: map[string]time.Time{}}
	space := new(big.Int).Lsh(big.NewInt(1), 128)
	for i := range n {
		start := new(big.Int).Div(new(big.Int).Mul(space, big.NewInt(int64(i))), big.NewInt(int64(n)))
		end := new(big.Int).Sub(new(big.Int).Div(new(big.Int).Mul(space, big.NewInt(int64(i+1))), big.NewInt(int64(n))), big.NewInt(1))
		f.add(name, start, end, "", "")
	}
	streams.state[name] = policy.StreamState{OpenShards: n, Status: policy.StatusActive, Mode: policy.ModeProvisioned}
	return f
}

func (f *fakeShards) add(name string, start, end *big.Int, parent, adjacent string) policy.OpenShard {
	s := policy.OpenShard{
		ID: fmt.Sprintf("shardId-%012d", f.next[name]), StartingHashKey: start, EndingHashKey: end,
		Range: policy.RangeOf(start, end), Parent: parent, AdjacentParent: adjacent,
	}
	f.next[name]++
	f.made[s.ID] = s
	if parent != "" {
		// Children report from the minute after the call; the parent up to
		// it.
		f.born[s.ID] = f.clock.now.Truncate(time.Minute).Add(time.Minute)
	}
	f.open[name] = append(f.open[name], s)
	slices.SortFunc(f.open[name], func(a, b policy.OpenShard) int { return a.StartingHashKey.Cmp(b.StartingHashKey) })
	return s
}

func (f *fakeShards) remove(name, id string) policy.OpenShard {
	i := slices.IndexFunc(f.open[name], func(s policy.OpenShard) bool { return s.ID == id })
	s := f.open[name][i]
	f.open[name] = slices.Delete(f.open[name], i, i+1)
	f.died[id] = f.clock.now.Truncate(time.Minute).Add(time.Minute)
	return s
}

func (f *fakeShards) updating(name string) {
	st := f.streams.state[name]
	st.OpenShards, st.Status = len(f.open[name]), policy.StatusUpdating
	f.streams.state[name] = st
}

// shard returns the open shard with id.
func (f *fakeShards) shard(name, id string) policy.OpenShard {
	i := slices.IndexFunc(f.open[name], func(s policy.OpenShard) bool { return s.ID == id })
	return f.open[name][i]
}

func (f *fakeShards) ListShards(_ context.Context, name string) ([]policy.OpenShard, error) {
	f.lists++
	if f.listErr != nil {
		return nil, f.listErr
	}
	return slices.Clone(f.open[name]), nil
}

func (f *fakeShards) SplitShard(_ context.Context, name, id string, key *big.Int) error {
	f.splits = append(f.splits, fakeSplit{shard: id, key: key})
	if f.splitErr != nil {
		if f.streams.afterFailedUpdate != nil {
			f.streams.afterFailedUpdate()
		}
		return f.splitErr
	}
	p := f.remove(name, id)
	f.add(name, p.StartingHashKey, new(big.Int).Sub(key, big.NewInt(1)), id, "")
	f.add(name, key, p.EndingHashKey, id, "")
	f.updating(name)
	return nil
}

func (f *fakeShards) MergeShards(_ context.Context, name, id, adjacent string) error {
	f.merges = append(f.merges, [2]string{id, adjacent})
	if f.mergeErr != nil {
		return f.mergeErr
	}
	a, b := f.remove(name, id), f.remove(name, adjacent)
	f.add(name, a.StartingHashKey, b.EndingHashKey, id, adjacent)
	f.updating(name)
	return nil
}

func (f *fakeShards) EnableEnhancedMonitoring(context.Context, string) (bool, error) {
	f.monitors++
	return f.monitors == 1, nil
}

// shardLoad serves per-shard minutes of the shards of a fakeShards that
// were open in the minute, their load from a keyLoad, and stream minutes
// that are their sums, as CloudWatch would; minutes newer than delay
// before the clock are not known yet.
type shardLoad struct {
	shards *fakeShards
	keys   keyLoad
	delay  time.Duration
	reads  int
	asked  map[string][]string
}

// keyLoad is where a stream's load is in the hash-key space: segments, each
// carrying a load in shards' capacity (records), evenly over its keys.
type keyLoad []segment

type segment struct {
	lo, hi, load float64
}

// minute is the minute of a shard that owns r: what it accepts and, beyond
// one shard's capacity, refuses.
func (k keyLoad) minute(r policy.KeyRange) policy.ShardMinute {
	u := 0.0
	for _, s := range k {
		if ov := min(s.hi, r.Hi) - max(s.lo, r.Lo); ov > 0 {
			u += s.load * ov / (s.hi - s.lo)
		}
	}
	m := records(min(u, 1))
	if u > 1 {
		m.WriteThrottled = (u - 1) * 60 * policy.ShardWriteRecordsPerSecond
	}
	return m
}

func (l *shardLoad) ReadLoad(ctx context.Context, streams []string, start, end time.Time) (map[string][]policy.Minute, error) {
	loads, _, err := l.ReadShardLoad(ctx, streams, nil, start, end)
	return loads, err
}

func (l *shardLoad) ReadShardLoad(_ context.Context, streams []string, shards map[string][]string, start, end time.Time) (
	map[string][]policy.Minute, map[string]map[string][]policy.ShardMinute, error) {
	l.reads++
	l.asked = shards
	loads := map[string][]policy.Minute{}
	perShard := map[string]map[string][]policy.ShardMinute{}
	for _, s := range streams {
		for t := start; t.Before(end); t = t.Add(time.Minute) {
			loads[s] = append(loads[s], policy.Minute{Start: t})
		}
	}
	// Every shard ever open reports, as CloudWatch keeps a closed shard's
	// minutes; only those asked for are returned. (One stream per fake.)
	for _, stream := range streams {
		perShard[stream] = map[string][]policy.ShardMinute{}
		for id, sh := range l.shards.made {
			for i, t := 0, start; t.Before(end); i, t = i+1, t.Add(time.Minute) {
				died, dead := l.shards.died[id]
				known := !t.Before(l.shards.born[id]) && (!dead || t.Before(died)) && t.Add(time.Minute+l.delay).Before(l.shards.clock.now)
				var m policy.ShardMinute
				if known {
					m = l.keys.minute(sh.Range)
					sm := &loads[stream][i]
					sm.Known = true
					sm.IncomingRecords += m.IncomingRecords
					sm.IncomingBytes += m.IncomingBytes
					sm.WriteThrottled += m.WriteThrottled
				}
				m.Start, m.Known = t, known
				if slices.Contains(shards[stream], id) {
					perShard[stream][id] = append(perShard[stream][id], m)
				}
			}
		}
	}
	return loads, perShard, nil
}

// records is a shard minute at utilisation u of one shard's records.
func records(u float64) policy.ShardMinute {
	return policy.ShardMinute{IncomingRecords: u * 60 * policy.ShardWriteRecordsPerSecond, IncomingBytes: u * 60 * 100}
}
