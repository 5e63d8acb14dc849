package stream

import (
	"context"
	"errors"
	"math/big"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/policy"
)

func listedShard(id, start, end, parent string, closed bool) types.Shard {
	s := types.Shard{
		ShardId:             aws.String(id),
		HashKeyRange:        &types.HashKeyRange{StartingHashKey: aws.String(start), EndingHashKey: aws.String(end)},
		SequenceNumberRange: &types.SequenceNumberRange{StartingSequenceNumber: aws.String("1")},
	}
	if parent != "" {
		s.ParentShardId = aws.String(parent)
	}
	if closed {
		s.SequenceNumberRange.EndingSequenceNumber = aws.String("9")
	}
	return s
}

func TestListShardsPagesAndSorts(t *testing.T) {
	max := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 128), big.NewInt(1)).String()
	half := new(big.Int).Lsh(big.NewInt(1), 127)
	fake := &fakeKinesis{}
	fake.shards.returns(&kinesis.ListShardsOutput{
		Shards:    []types.Shard{listedShard("shardId-000000000002", half.String(), max, "shardId-000000000000", false)},
		NextToken: aws.String("page-2"),
	}, nil).returns(&kinesis.ListShardsOutput{
		Shards: []types.Shard{
			listedShard("shardId-000000000000", "0", max, "", true),
			listedShard("shardId-000000000001", "0", new(big.Int).Sub(half, big.NewInt(1)).String(), "shardId-000000000000", false),
		},
	}, nil)
	got, err := New(fake).ListShards(context.Background(), "s")
	if err != nil {
		t.Fatal(err)
	}
	ids := []string{}
	for _, s := range got {
		ids = append(ids, s.ID)
	}
	if !slices.Equal(ids, []string{"shardId-000000000001", "shardId-000000000002"}) {
		t.Fatalf("open shards %v, want 1 then 2 (hash-key order, the closed parent left out)", ids)
	}
	if got[0].Range != (policy.KeyRange{Lo: 0, Hi: 0.5}) || got[1].Range != (policy.KeyRange{Lo: 0.5, Hi: 1}) {
		t.Errorf("ranges %v and %v, want [0, 0.5) and [0.5, 1)", got[0].Range, got[1].Range)
	}
	if got[0].Parent != "shardId-000000000000" || got[0].EndingHashKey.Cmp(new(big.Int).Sub(half, big.NewInt(1))) != 0 {
		t.Errorf("first shard %+v", got[0])
	}
	first, second := fake.shards.inputs[0], fake.shards.inputs[1]
	if aws.ToString(first.StreamName) != "s" || first.ShardFilter == nil || first.ShardFilter.Type != types.ShardFilterTypeAtLatest {
		t.Errorf("first call %+v, want the stream name and the AT_LATEST filter", first)
	}
	if aws.ToString(second.NextToken) != "page-2" || second.StreamName != nil || second.ShardFilter != nil {
		t.Errorf("second call %+v, want only the NextToken (AWS refuses it with a stream name)", second)
	}
}

func TestListShardsErrors(t *testing.T) {
	tests := []struct {
		name    string
		shard   types.Shard
		err     error
		wantErr error
	}{
		{name: "missing stream", err: &types.ResourceNotFoundException{Message: aws.String("no")}, wantErr: policy.ErrStreamNotFound},
		{name: "malformed range", shard: listedShard("shardId-000000000000", "10", "9", "", false)},
		{name: "range beyond 128 bits", shard: listedShard("shardId-000000000000", "0", new(big.Int).Lsh(big.NewInt(1), 128).String(), "", false)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := &fakeKinesis{}
			fake.shards.returns(&kinesis.ListShardsOutput{Shards: []types.Shard{tt.shard}}, tt.err)
			_, err := New(fake).ListShards(context.Background(), "s")
			if err == nil || (tt.wantErr != nil && !errors.Is(err, tt.wantErr)) {
				t.Errorf("err = %v, want an error wrapping %v", err, tt.wantErr)
			}
		})
	}
}

func TestSplitAndMergeAreMadeOnceAndClassified(t *testing.T) {
	key := big.NewInt(12345)
	tests := []struct {
		name     string
		err      error
		sentinel error
	}{
		{name: "accepted"},
		{name: "stream updating", err: &types.ResourceInUseException{Message: aws.String("updating")}, sentinel: policy.ErrStreamBusy},
		{name: "shard limit", err: &types.LimitExceededException{Message: aws.String("limit")}, sentinel: policy.ErrQuotaExceeded},
		{name: "no such shard", err: &types.ResourceNotFoundException{Message: aws.String("no")}, sentinel: policy.ErrStreamNotFound},
		{name: "key outside the shard", err: &types.InvalidArgumentException{Message: aws.String("bad")}, sentinel: policy.ErrInvalidTarget},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := &fakeKinesis{}
			fake.split.returns(&kinesis.SplitShardOutput{}, tt.err)
			fake.merge.returns(&kinesis.MergeShardsOutput{}, tt.err)
			k := New(fake)
			errSplit := k.SplitShard(context.Background(), "s", "shardId-000000000001", key)
			errMerge := k.MergeShards(context.Background(), "s", "shardId-000000000001", "shardId-000000000002")
			for op, err := range map[string]error{"split": errSplit, "merge": errMerge} {
				if (tt.err == nil) != (err == nil) || (tt.sentinel != nil && !errors.Is(err, tt.sentinel)) || (tt.err != nil && !errors.Is(err, tt.err)) {
					t.Errorf("%s: err = %v, want %v wrapping %v", op, err, tt.sentinel, tt.err)
				}
			}
			if got := fake.split.options[0].RetryMaxAttempts; got != 1 {
				t.Errorf("SplitShard RetryMaxAttempts = %d, want 1", got)
			}
			if got := fake.merge.options[0].RetryMaxAttempts; got != 1 {
				t.Errorf("MergeShards RetryMaxAttempts = %d, want 1", got)
			}
			in := fake.split.inputs[0]
			if aws.ToString(in.NewStartingHashKey) != "12345" || aws.ToString(in.ShardToSplit) != "shardId-000000000001" {
				t.Errorf("split input %+v", in)
			}
			m := fake.merge.inputs[0]
			if aws.ToString(m.ShardToMerge) != "shardId-000000000001" || aws.ToString(m.AdjacentShardToMerge) != "shardId-000000000002" {
				t.Errorf("merge input %+v", m)
			}
		})
	}
}

func TestSplitShardRefusesNonsenseKeys(t *testing.T) {
	for _, key := range []*big.Int{nil, big.NewInt(0), big.NewInt(-1), new(big.Int).Lsh(big.NewInt(1), 128)} {
		fake := &fakeKinesis{}
		if err := New(fake).SplitShard(context.Background(), "s", "shardId-000000000000", key); !errors.Is(err, policy.ErrInvalidTarget) {
			t.Errorf("key %v: err = %v, want ErrInvalidTarget", key, err)
		}
		if fake.split.calls() != 0 {
			t.Errorf("key %v: SplitShard called", key)
		}
	}
}

func TestEnableEnhancedMonitoringOnlyWhenOff(t *testing.T) {
	summary := func(metrics ...types.MetricsName) *kinesis.DescribeStreamSummaryOutput {
		return &kinesis.DescribeStreamSummaryOutput{StreamDescriptionSummary: &types.StreamDescriptionSummary{
			EnhancedMonitoring: []types.EnhancedMetrics{{ShardLevelMetrics: metrics}},
		}}
	}
	tests := []struct {
		name string
		on   []types.MetricsName
		want []types.MetricsName // asked for; nil: no call
	}{
		{name: "all off", want: ShardLevelMetrics},
		{name: "all three on", on: ShardLevelMetrics},
		{name: "ALL on", on: []types.MetricsName{types.MetricsNameAll}},
		{
			name: "one missing", on: []types.MetricsName{types.MetricsNameIncomingBytes, types.MetricsNameIncomingRecords, types.MetricsNameOutgoingBytes},
			want: []types.MetricsName{types.MetricsNameWriteProvisionedThroughputExceeded},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := &fakeKinesis{}
			fake.describe.returns(summary(tt.on...), nil)
			enabled, err := New(fake).EnableEnhancedMonitoring(context.Background(), "s")
			if err != nil {
				t.Fatal(err)
			}
			if enabled != (tt.want != nil) || fake.monitor.calls() != len(slices.DeleteFunc([]int{1}, func(int) bool { return tt.want == nil })) {
				t.Fatalf("enabled = %v after %d calls, want %v", enabled, fake.monitor.calls(), tt.want != nil)
			}
			if tt.want != nil && !slices.Equal(fake.monitor.inputs[0].ShardLevelMetrics, tt.want) {
				t.Errorf("asked for %v, want %v", fake.monitor.inputs[0].ShardLevelMetrics, tt.want)
			}
		})
	}
}

func TestShardHistoryTagsRoundTrip(t *testing.T) {
	now := time.Date(2026, 11, 25, 14, 0, 0, 0, time.UTC)
	h := policy.ShardLevelHistory{
		Calls:   []time.Time{now.Add(-23 * time.Hour), now.Add(-90 * time.Second), now},
		HotKeys: []policy.KeyRange{{Lo: 0.1, Hi: 0.30000000000000004}},
		Divided: []policy.KeyRange{{Lo: 0.5, Hi: 0.5}, {Lo: 0.25, Hi: 0.375}},
		Splits: []policy.SplitRecord{
			{Parent: "shardId-000000000000", Range: policy.KeyRange{Lo: 0, Hi: 1}, Kept: 0},
			{Parent: "shardId-000000000012", Range: policy.KeyRange{Lo: 0.25, Hi: 0.5}, Kept: 0.8125},
		},
	}
	tags := ShardHistoryTags(h)
	if tags[TagSplits] != "0:0:1:0.0000 12:0.25:0.5:0.8125" {
		t.Errorf("splits tag %q", tags[TagSplits])
	}
	got, problems := ParseShardHistory(tags, now)
	if len(problems) != 0 {
		t.Fatalf("problems: %v", problems)
	}
	// The call 90 s ago is read back rounded up to the minute after the
	// first call: counted a little longer, never shorter.
	wantCalls := []time.Time{now.Add(-23 * time.Hour), now.Add(-60 * time.Second), now}
	if !slices.EqualFunc(got.Calls, wantCalls, time.Time.Equal) {
		t.Errorf("calls %v, want %v", got.Calls, wantCalls)
	}
	if !slices.Equal(got.HotKeys, h.HotKeys) || !slices.Equal(got.Splits, h.Splits) || !slices.Equal(got.Divided, h.Divided) {
		t.Errorf("read back %+v, want %+v", got, h)
	}
	for k, v := range tags {
		if len(v) > maxTagValue {
			t.Errorf("tag %s is %d characters", k, len(v))
		}
	}
}

func TestShardHistoryTagsStayBounded(t *testing.T) {
	now := time.Date(2026, 11, 25, 14, 0, 0, 0, time.UTC)
	var h policy.ShardLevelHistory
	for i := range 200 {
		h.Calls = append(h.Calls, now.Add(-time.Duration(200-i)*7*time.Minute))
		f := float64(i) / 1000
		h.HotKeys = append(h.HotKeys, policy.KeyRange{Lo: f + 1.0/3e5, Hi: f + 2.0/3e5})
		h.Splits = append(h.Splits, policy.SplitRecord{Parent: "shardId-000000099999", Range: policy.KeyRange{Lo: f + 1.0/3e5, Hi: f + 2.0/3e5}, Kept: 0.5})
	}
	tags := ShardHistoryTags(h)
	for k, v := range tags {
		if len(v) > maxTagValue {
			t.Errorf("tag %s is %d characters: %q", k, len(v), v)
		}
	}
	got, problems := ParseShardHistory(tags, now)
	if len(problems) != 0 {
		t.Fatalf("problems: %v", problems)
	}
	if len(got.Calls) != MaxShardCalls || !got.Calls[len(got.Calls)-1].Equal(h.Calls[len(h.Calls)-1]) {
		t.Errorf("%d calls kept, newest %v; want the newest %d", len(got.Calls), got.Calls[len(got.Calls)-1], MaxShardCalls)
	}
	if len(got.HotKeys) == 0 || got.HotKeys[len(got.HotKeys)-1] != h.HotKeys[len(h.HotKeys)-1] {
		t.Errorf("hot keys kept %v: want the newest", got.HotKeys)
	}
	if len(got.Splits) == 0 || got.Splits[len(got.Splits)-1] != h.Splits[len(h.Splits)-1] {
		t.Errorf("splits kept %v: want the newest", got.Splits)
	}
}

func TestShardHistoryTagsAreStateTags(t *testing.T) {
	for _, k := range []string{TagShardCalls, TagHotKeys, TagSplits, TagDivided} {
		if !IsStateTag(k) {
			t.Errorf("%s is not a state tag: discovery would read it as a setting", k)
		}
	}
}

func TestParseShardHistoryRefusesNonsense(t *testing.T) {
	now := time.Date(2026, 11, 25, 14, 0, 0, 0, time.UTC)
	tags := map[string]string{
		TagShardCalls: "1795610000 5 x -3 9999",
		TagHotKeys:    "0.2:0.1 0.1:0.2 nonsense",
		TagSplits:     "3:0:0.5:1.5 4:0:0.5:0.5 :0:1:0",
	}
	got, problems := ParseShardHistory(tags, now)
	if len(problems) != 7 {
		t.Errorf("%d problems, want 7: %v", len(problems), problems)
	}
	if len(got.HotKeys) != 1 || len(got.Splits) != 1 || got.Splits[0].Parent != "shardId-000000000004" {
		t.Errorf("kept %+v", got)
	}
	first := time.Unix(1795610000, 0).UTC()
	if want := []time.Time{first, first.Add(5 * time.Minute)}; !slices.EqualFunc(got.Calls, want, time.Time.Equal) {
		t.Errorf("calls %v, want %v", got.Calls, want)
	}
}
