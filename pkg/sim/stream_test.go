package sim

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/policy"
)

func newTestStream(shards int, ttl, reshard time.Duration) (*Stream, *Clock) {
	c := NewClock(DefaultStart)
	return NewStream(StreamName, shards, c, ttl, reshard), c
}

// offer steps the stream through seconds 0.. with the given new records per
// second (size bytes each) and returns the sum of what happened.
func offer(s *Stream, from int64, perSecond []int64, size float64) Second {
	var sum Second
	for i, n := range perSecond {
		t := from + int64(i)
		s.clock.Set(t)
		s.Advance(t)
		sec := s.Step(t, n, size)
		sum.Accepted += sec.Accepted
		sum.Throttled += sec.Throttled
		sum.Refused += sec.Refused
		sum.Lost += sec.Lost
		sum.AcceptedBytes += sec.AcceptedBytes
	}
	return sum
}

func TestStreamCapacity(t *testing.T) {
	tests := []struct {
		name                string
		shards              int
		records             int64
		size                float64
		accepted, throttled int64
	}{
		{name: "under capacity", shards: 2, records: 1500, size: 100, accepted: 1500},
		{name: "records limit", shards: 1, records: 1500, size: 100, accepted: 1000, throttled: 500},
		{name: "bytes limit", shards: 1, records: 1000, size: 2048, accepted: 512, throttled: 488},
		{name: "three shards", shards: 3, records: 3001, size: 1, accepted: 3000, throttled: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newTestStream(tt.shards, 30*time.Second, 3*time.Minute)
			got := offer(s, 0, []int64{tt.records}, tt.size)
			if got.Accepted != tt.accepted || got.Throttled != tt.throttled || s.Backlog() != tt.throttled {
				t.Errorf("accepted %d throttled %d backlog %d, want %d, %d, %d",
					got.Accepted, got.Throttled, s.Backlog(), tt.accepted, tt.throttled, tt.throttled)
			}
			if got.AcceptedBytes > float64(tt.shards)*policy.ShardWriteBytesPerSecond {
				t.Errorf("accepted %v bytes, more than %d shards take", got.AcceptedBytes, tt.shards)
			}
		})
	}
}

// The widest shard of an uneven stream throttles first.
func TestStreamUnevenAfterSplit(t *testing.T) {
	s, c := newTestStream(2, 30*time.Second, time.Minute)
	if err := s.SplitShardIndex(0); err != nil {
		t.Fatal(err)
	}
	c.Set(60)
	s.Advance(60)
	if s.OpenShards() != 3 || s.MaxWidth() != 0.5 {
		t.Fatalf("widths %v", s.Widths())
	}
	// 2,000 records/s: the half-width shard gets 1,000, exactly its limit.
	if got := offer(s, 60, []int64{2000}, 10); got.Throttled != 0 {
		t.Errorf("2000 records/s: %d throttled", got.Throttled)
	}
	// 2,400 records/s: the wide shard gets 1,200 and refuses 200 although
	// the stream's three shards could take 3,000.
	if got := offer(s, 61, []int64{2400}, 10); got.Throttled != 200 || got.Accepted != 2200 {
		t.Errorf("2400 records/s: accepted %d throttled %d, want 2200 and 200", got.Accepted, got.Throttled)
	}
	if err := s.MergeShardsIndex(1); err != nil {
		t.Fatal(err)
	}
	c.Set(200)
	s.Advance(200)
	if w := s.Widths(); len(w) != 2 || w[0] != 0.25 || w[1] != 0.75 {
		t.Errorf("after merge: %v", w)
	}
}

// Refused records are retried oldest first, before new ones, and dropped
// after the TTL: a case worked by hand with a TTL of 3 s and one shard.
func TestStreamRetryAndTTL(t *testing.T) {
	s, _ := newTestStream(1, 3*time.Second, time.Minute)
	// s0: 1000 of 2000 accepted, A(born 0)=1000 waits.
	// s1: A accepted; 2000 new refused, B(1)=2000.
	// s2: 1000 of B accepted; C(2)=2000.   s3: rest of B; D(3)=2000.
	// s4: 1000 of C.   s5: C's other 1000 are 3 s old: lost; 1000 of D.
	// s6: D's other 1000 lost.
	var perSecond []Second
	for i, n := range []int64{2000, 2000, 2000, 2000, 0, 0, 0, 0} {
		perSecond = append(perSecond, offer(s, int64(i), []int64{n}, 1))
	}
	wantAccepted := []int64{1000, 1000, 1000, 1000, 1000, 1000, 0, 0}
	wantLost := []int64{0, 0, 0, 0, 0, 1000, 1000, 0}
	wantThrottled := []int64{1000, 2000, 2000, 2000, 0, 0, 0, 0}
	var acc, lost, thr int64
	for i, sec := range perSecond {
		if sec.Accepted != wantAccepted[i] || sec.Lost != wantLost[i] || sec.Throttled != wantThrottled[i] {
			t.Errorf("second %d: accepted %d lost %d throttled %d, want %d %d %d",
				i, sec.Accepted, sec.Lost, sec.Throttled, wantAccepted[i], wantLost[i], wantThrottled[i])
		}
		acc, lost, thr = acc+sec.Accepted, lost+sec.Lost, thr+sec.Throttled
	}
	if acc+lost+s.Backlog() != 8000 || lost != 2000 || thr != 7000 {
		t.Errorf("offered 8000 = accepted %d + lost %d + backlog %d; throttled %d", acc, lost, s.Backlog(), thr)
	}
	// Refused attempts count every retry: s1 refused 2000, s2 refused
	// 1000 (B) + 2000 (C).
	if perSecond[2].Refused != 3000 {
		t.Errorf("second 2 refused %d attempts, want 3000", perSecond[2].Refused)
	}
}

func TestStreamReshardTakesTime(t *testing.T) {
	s, c := newTestStream(4, 30*time.Second, 3*time.Minute)
	c.Set(10)
	if err := s.UpdateShardCount(context.Background(), StreamName, 8); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		at     int64
		shards int
		status policy.Status
	}{{10, 4, policy.StatusUpdating}, {189, 4, policy.StatusUpdating}, {190, 8, policy.StatusActive}} {
		c.Set(tt.at)
		s.Advance(tt.at)
		st, err := s.Describe(context.Background(), StreamName)
		if err != nil || st.OpenShards != tt.shards || st.Status != tt.status {
			t.Errorf("at %ds: %+v %v, want %d shards %s", tt.at, st, err, tt.shards, tt.status)
		}
	}
}

// Records waiting when a reshard takes effect move to the new shards.
func TestStreamReshardKeepsBacklog(t *testing.T) {
	s, c := newTestStream(1, 30*time.Second, time.Second)
	offer(s, 0, []int64{5000}, 10)
	if s.Backlog() != 4000 {
		t.Fatalf("backlog %d", s.Backlog())
	}
	if err := s.UpdateShardCount(context.Background(), StreamName, 2); err != nil {
		t.Fatal(err)
	}
	c.Set(1)
	s.Advance(1)
	if s.Backlog() != 4000 || s.OpenShards() != 2 {
		t.Fatalf("after reshard: backlog %d, %d shards", s.Backlog(), s.OpenShards())
	}
	if got := offer(s, 1, []int64{0, 0}, 10); got.Accepted != 4000 || s.Backlog() != 0 {
		t.Errorf("accepted %d, backlog %d", got.Accepted, s.Backlog())
	}
}

func TestUpdateShardCountRules(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		prepare func(s *Stream, c *Clock)
		target  int
		want    error
	}{
		{name: "double", target: 8},
		{name: "half", target: 2},
		{name: "more than double", target: 9, want: policy.ErrInvalidTarget},
		{name: "below half", target: 1, want: policy.ErrInvalidTarget},
		{name: "same count", target: 4, want: policy.ErrInvalidTarget},
		{name: "zero", target: 0, want: policy.ErrInvalidTarget},
		{name: "while updating", target: 5, want: policy.ErrStreamBusy,
			prepare: func(s *Stream, c *Clock) { _ = s.UpdateShardCount(ctx, StreamName, 6) }},
		{name: "eleventh call in 24h", target: 5, want: policy.ErrQuotaExceeded,
			prepare: func(s *Stream, c *Clock) { calls(t, s, c, 10, 0) }},
		{name: "eleventh call after 24h", target: 5,
			prepare: func(s *Stream, c *Clock) { calls(t, s, c, 10, 1) }},
		{name: "split and merge are not under the quota", target: 6, want: policy.ErrQuotaExceeded,
			prepare: func(s *Stream, c *Clock) {
				calls(t, s, c, 10, 0)
				if err := s.SplitShardIndex(0); err != nil {
					t.Errorf("split after 10 calls: %v", err)
				}
				c.Set(c.Second() + 60)
				s.Advance(c.Second())
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, c := newTestStream(4, 30*time.Second, time.Minute)
			if tt.prepare != nil {
				tt.prepare(s, c)
			}
			err := s.UpdateShardCount(ctx, StreamName, tt.target)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Errorf("got %v, want %v", err, tt.want)
			}
			last := s.Calls()[len(s.Calls())-1]
			if last.Kind != CallUpdateShardCount || last.To != tt.target || !errors.Is(last.Err, tt.want) {
				t.Errorf("call log: %+v", last)
			}
		})
	}
	s, _ := newTestStream(1, time.Second, time.Second)
	if err := s.UpdateShardCount(ctx, "other", 2); !errors.Is(err, policy.ErrStreamNotFound) {
		t.Errorf("unknown stream: %v", err)
	}
	if err := s.MergeShardsIndex(0); !errors.Is(err, policy.ErrInvalidTarget) {
		t.Errorf("merge of a single shard: %v", err)
	}
}

// calls makes n (even) accepted UpdateShardCount calls between 4 and 5
// shards, one an hour; with after24h the clock then moves past 24 h from the
// first.
func calls(t *testing.T, s *Stream, c *Clock, n int, after24h int) {
	t.Helper()
	for i := range n {
		c.Set(int64(i) * 3600)
		s.Advance(c.Second())
		target := 5
		if s.OpenShards() == 5 {
			target = 4
		}
		if err := s.UpdateShardCount(context.Background(), StreamName, target); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	end := int64(n) * 3600
	if after24h > 0 {
		end = 24*3600 + 1
	}
	c.Set(end)
	s.Advance(end)
	if s.OpenShards() != 4 {
		t.Fatalf("calls ended at %d shards, want 4", s.OpenShards())
	}
}

func TestApportion(t *testing.T) {
	got := apportion(7, []float64{1, 1, 1})
	if got[0]+got[1]+got[2] != 7 || got[0] != 3 {
		t.Errorf("got %v", got)
	}
	if got := apportion(10, []float64{0, 0}); got[0]+got[1] != 0 {
		t.Errorf("zero weights: %v", got)
	}
	if got := apportion(5, []float64{0.25, 0.75}); got[0] != 1 || got[1] != 4 {
		t.Errorf("got %v", got)
	}
}

func TestSecondRecordsSpreadEvenly(t *testing.T) {
	for _, r := range []int64{0, 1, 59, 60, 61, 123457, 1e12} {
		var sum, hi, lo int64 = 0, 0, math.MaxInt64
		for s := range 60 {
			n := secondRecords(r, s)
			sum += n
			hi, lo = max(hi, n), min(lo, n)
		}
		if sum != r || hi-lo > 1 || hi != (r+59)/60 {
			t.Errorf("%d records: sum %d, seconds between %d and %d", r, sum, lo, hi)
		}
	}
}
