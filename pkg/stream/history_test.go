package stream

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/policy"
)

var now = time.Date(2026, 11, 25, 14, 0, 0, 0, time.UTC)

func at(minutesAgo int) time.Time { return now.Add(-time.Duration(minutesAgo) * time.Minute) }

func TestHistoryTags(t *testing.T) {
	tests := []struct {
		name string
		h    policy.History
		want map[string]string
	}{
		{name: "empty", want: map[string]string{}},
		{
			name: "action and calls",
			h: policy.History{
				LastAction: &policy.Action{At: now, From: 2, To: 4, Direction: policy.DirectionUp},
				Calls:      []time.Time{at(60), now},
			},
			want: map[string]string{
				TagLastAction: "up 2 4 2026-11-25T14:00:00Z",
				TagCalls:      "1795611600 1795615200",
				TagShards:     "4",
			},
		},
		{
			name: "calls older than the window of the newest are dropped, unsorted input sorted",
			h:    policy.History{Calls: []time.Time{now, at(25 * 60), at(30)}},
			want: map[string]string{TagCalls: "1795613400 1795615200"},
		},
		{
			name: "at most ten calls",
			h:    policy.History{Calls: []time.Time{at(11), at(10), at(9), at(8), at(7), at(6), at(5), at(4), at(3), at(2), at(1)}},
			want: map[string]string{TagCalls: "1795614600 1795614660 1795614720 1795614780 1795614840 1795614900 1795614960 1795615020 1795615080 1795615140"},
		},
		{
			name: "a shard count left by a later split",
			h: policy.History{LastAction: &policy.Action{At: at(30), From: 2, To: 4, Direction: policy.DirectionUp},
				Shards: 5},
			want: map[string]string{TagLastAction: "up 2 4 2026-11-25T13:30:00Z", TagShards: "5"},
		},
		{
			name: "times in other zones are written in UTC",
			h: policy.History{LastAction: &policy.Action{At: now.In(time.FixedZone("CET", 3600)), From: 8, To: 4,
				Direction: policy.DirectionDown}},
			want: map[string]string{TagLastAction: "down 8 4 2026-11-25T14:00:00Z", TagShards: "4"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := HistoryTags(tt.h)
			if !maps.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
			for k, v := range got {
				if len(v) > 256 || strings.Trim(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 _./=+-@:") != "" {
					t.Errorf("tag %s=%q is not a valid Kinesis tag value", k, v)
				}
			}
		})
	}
}

func TestParseHistory(t *testing.T) {
	up := &policy.Action{At: at(30), From: 2, To: 4, Direction: policy.DirectionUp}
	tests := []struct {
		name     string
		tags     map[string]string
		want     policy.History
		problems int
	}{
		{name: "no tags", tags: map[string]string{"team": "data"}},
		{
			name: "valid",
			tags: map[string]string{TagLastAction: "up 2 4 2026-11-25T13:30:00Z", TagCalls: "1795613400"},
			want: policy.History{LastAction: up, Calls: []time.Time{at(30)}},
		},
		{
			name: "calls out of the window are dropped quietly, duplicates and order fixed",
			tags: map[string]string{TagCalls: "1795613400 1795436000 1795611600 1795613400"},
			want: policy.History{Calls: []time.Time{at(60), at(30)}},
		},
		{
			name: "a shard count after the last action",
			tags: map[string]string{TagLastAction: "up 2 4 2026-11-25T13:30:00Z", TagShards: "6"},
			want: policy.History{LastAction: up, Shards: 6},
		},
		{
			name: "a halving by merges",
			tags: map[string]string{TagLastAction: "down 8 4 2026-11-25T13:30:00Z merges"},
			want: policy.History{LastAction: &policy.Action{At: at(30), From: 8, To: 4, Direction: policy.DirectionDown, ByMerges: true}},
		},
		{name: "a halving by merges that is not a halving", tags: map[string]string{TagLastAction: "down 8 5 2026-11-25T13:30:00Z merges"}, problems: 1},
		{name: "a halving by merges up", tags: map[string]string{TagLastAction: "up 4 8 2026-11-25T13:30:00Z merges"}, problems: 1},
		{name: "an unknown fifth field", tags: map[string]string{TagLastAction: "down 8 4 2026-11-25T13:30:00Z splits"}, problems: 1},
		{name: "bad shard count", tags: map[string]string{TagShards: "many"}, problems: 1},
		{name: "zero shard count", tags: map[string]string{TagShards: "0"}, problems: 1},
		{name: "unknown direction", tags: map[string]string{TagLastAction: "sideways 2 4 2026-11-25T13:30:00Z"}, problems: 1},
		{name: "direction does not match counts", tags: map[string]string{TagLastAction: "up 4 2 2026-11-25T13:30:00Z"}, problems: 1},
		{name: "no change", tags: map[string]string{TagLastAction: "down 4 4 2026-11-25T13:30:00Z"}, problems: 1},
		{name: "zero shards", tags: map[string]string{TagLastAction: "down 2 0 2026-11-25T13:30:00Z"}, problems: 1},
		{name: "negative shards", tags: map[string]string{TagLastAction: "up -2 4 2026-11-25T13:30:00Z"}, problems: 1},
		{name: "absurd shards", tags: map[string]string{TagLastAction: "up 2 99999999999 2026-11-25T13:30:00Z"}, problems: 1},
		{name: "far future action", tags: map[string]string{TagLastAction: "up 2 4 2099-01-01T00:00:00Z"}, problems: 1},
		{name: "bad time", tags: map[string]string{TagLastAction: "up 2 4 yesterday"}, problems: 1},
		{name: "too few fields", tags: map[string]string{TagLastAction: "up 2 4"}, problems: 1},
		{name: "empty", tags: map[string]string{TagLastAction: "", TagCalls: ""}, problems: 1},
		{
			name:     "bad calls are skipped one by one",
			tags:     map[string]string{TagCalls: "1795613400 soon -5 0 99999999999 1795611600"},
			want:     policy.History{Calls: []time.Time{at(60), at(30)}},
			problems: 4,
		},
		{
			name: "a bad action keeps good calls",
			tags: map[string]string{TagLastAction: "up", TagCalls: "1795613400"},
			want: policy.History{Calls: []time.Time{at(30)}}, problems: 1,
		},
		{
			name:     "more than ten calls keeps the newest ten",
			tags:     map[string]string{TagCalls: "1795614540 1795614600 1795614660 1795614720 1795614780 1795614840 1795614900 1795614960 1795615020 1795615080 1795615140"},
			want:     policy.History{Calls: []time.Time{at(10), at(9), at(8), at(7), at(6), at(5), at(4), at(3), at(2), at(1)}},
			problems: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, problems := ParseHistory(tt.tags, now)
			if len(problems) != tt.problems {
				t.Errorf("problems %v, want %d", problems, tt.problems)
			}
			for _, p := range problems {
				var mt *MalformedTagError
				if !errors.As(p, &mt) || !strings.HasPrefix(mt.Key, TagPrefix) {
					t.Errorf("problem %v is not a MalformedTagError", p)
				}
			}
			if !historyEqual(got, tt.want) {
				t.Errorf("got %s, want %s", describe(got), describe(tt.want))
			}
		})
	}
}

func TestHistoryRoundTrip(t *testing.T) {
	h := policy.History{LastAction: &policy.Action{At: at(5), From: 4, To: 2, Direction: policy.DirectionDown}, Shards: 3}
	for i := 9; i >= 0; i-- {
		h.Calls = append(h.Calls, at(i*100+5))
	}
	got, problems := ParseHistory(HistoryTags(h), now)
	if len(problems) > 0 || !historyEqual(got, h) {
		t.Errorf("got %s (%v), want %s", describe(got), problems, describe(h))
	}
	// A halving by merges, under way: its target is the count it leaves, and
	// it is no call.
	h = policy.History{Calls: h.Calls}.Record(policy.Action{At: at(5), From: 8, To: 4, Direction: policy.DirectionDown, ByMerges: true})
	got, problems = ParseHistory(HistoryTags(h), now)
	if len(problems) > 0 || !historyEqual(got, h) || got.CallsUsed(now) != h.CallsUsed(now) {
		t.Errorf("halving: got %s (%v), want %s", describe(got), problems, describe(h))
	}
	if to, ok := got.Halving(6); !ok || to != 4 {
		t.Errorf("halving read back from the tags is not under way at 6 shards: %d, %v", to, ok)
	}
}

func TestLoadRecordPagesAndWarns(t *testing.T) {
	fake := &fakeKinesis{}
	tag := func(k, v string) types.Tag { return types.Tag{Key: aws.String(k), Value: aws.String(v)} }
	fake.listTags.
		returns(&kinesis.ListTagsForStreamOutput{HasMoreTags: aws.Bool(true), Tags: []types.Tag{tag("a", "1"), tag(TagCalls, "1795613400")}}, nil).
		returns(&kinesis.ListTagsForStreamOutput{HasMoreTags: aws.Bool(false), Tags: []types.Tag{tag(TagLastAction, "up 9 1 2026-11-25T13:30:00Z")}}, nil)
	var warned []string
	k := New(fake, WithClock(func() time.Time { return now }), WithTagWarnings(func(stream string, problem error) {
		warned = append(warned, stream+": "+problem.Error())
	}))
	rec, err := k.LoadRecord(context.Background(), "clicks")
	if err != nil {
		t.Fatal(err)
	}
	h := rec.History
	if !historyEqual(h, policy.History{Calls: []time.Time{at(30)}}) {
		t.Errorf("history %s", describe(h))
	}
	if len(warned) != 1 || !strings.HasPrefix(warned[0], "clicks: ignored tag "+TagLastAction) {
		t.Errorf("warnings %q", warned)
	}
	if n := fake.listTags.calls(); n != 2 {
		t.Fatalf("%d ListTagsForStream calls, want 2", n)
	}
	if first := fake.listTags.inputs[0].ExclusiveStartTagKey; first != nil {
		t.Errorf("first page starts after %q", *first)
	}
	if next := aws.ToString(fake.listTags.inputs[1].ExclusiveStartTagKey); next != TagCalls {
		t.Errorf("second page starts after %q, want the last key of the first", next)
	}
}

func TestLoadRecordErrors(t *testing.T) {
	fake := &fakeKinesis{}
	fake.listTags.returns(nil, &types.ResourceNotFoundException{})
	_, err := New(fake).LoadRecord(context.Background(), "gone")
	if !errors.Is(err, policy.ErrStreamNotFound) {
		t.Errorf("error %v", err)
	}
}

// A record is written with one AddTagsToStream that sets every record tag,
// empty for the parts it lacks, and never with RemoveTagsFromStream.
func TestSaveRecord(t *testing.T) {
	full := policy.History{LastAction: &policy.Action{At: now, From: 2, To: 4, Direction: policy.DirectionUp}, Calls: []time.Time{now}}
	tests := []struct {
		name string
		r    policy.Record
		set  []string
	}{
		{name: "full", r: policy.Record{History: full, Shards: policy.ShardLevelHistory{Calls: []time.Time{now}}, Term: 3},
			set: []string{TagCalls, TagLastAction, TagShardCalls, TagShards, TagTerm}},
		{name: "empty", r: policy.Record{}},
		{name: "calls only", r: policy.Record{History: policy.History{Calls: []time.Time{now}}}, set: []string{TagCalls}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := &fakeKinesis{}
			if err := New(fake).SaveRecord(context.Background(), "clicks", tt.r); err != nil {
				t.Fatal(err)
			}
			if fake.addTags.calls() != 1 || fake.rmTags.calls() != 0 {
				t.Fatalf("%d AddTagsToStream and %d RemoveTagsFromStream calls, want 1 and 0", fake.addTags.calls(), fake.rmTags.calls())
			}
			in := fake.addTags.inputs[0]
			if aws.ToString(in.StreamName) != "clicks" {
				t.Errorf("tagged %q", aws.ToString(in.StreamName))
			}
			if got := slices.Sorted(maps.Keys(in.Tags)); !slices.Equal(got, slices.Sorted(slices.Values(recordTags))) || len(got) > 10 {
				t.Errorf("tags %v, want every record tag (at most 10 a call)", got)
			}
			var set []string
			for key, v := range in.Tags {
				if v != "" {
					set = append(set, key)
				}
			}
			if slices.Sort(set); !slices.Equal(set, tt.set) {
				t.Errorf("tags with values %v, want %v", set, tt.set)
			}
			if _, ok := in.Tags[TagPaused]; ok {
				t.Errorf("the record wrote the pause tag")
			}
		})
	}
}

func TestSaveRecordError(t *testing.T) {
	fake := &fakeKinesis{}
	fake.addTags.returns(nil, &types.LimitExceededException{})
	err := New(fake).SaveRecord(context.Background(), "clicks", policy.Record{History: policy.History{Calls: []time.Time{now}}})
	if err == nil || errors.Is(err, policy.ErrQuotaExceeded) {
		t.Errorf("error %v: want an error that is not a spent reshard quota", err)
	}
}

func historyEqual(a, b policy.History) bool {
	if (a.LastAction == nil) != (b.LastAction == nil) {
		return false
	}
	if a.LastAction != nil && (!a.LastAction.At.Equal(b.LastAction.At) || a.LastAction.From != b.LastAction.From ||
		a.LastAction.To != b.LastAction.To || a.LastAction.Direction != b.LastAction.Direction || a.LastAction.ByMerges != b.LastAction.ByMerges) {
		return false
	}
	return a.Expected() == b.Expected() && slices.EqualFunc(a.Calls, b.Calls, time.Time.Equal)
}

func describe(h policy.History) string {
	var b strings.Builder
	if a := h.LastAction; a != nil {
		b.WriteString(HistoryTags(policy.History{LastAction: a})[TagLastAction])
	} else {
		b.WriteString("no action")
	}
	b.WriteString("; calls")
	for _, c := range h.Calls {
		b.WriteString(" " + c.UTC().Format(time.RFC3339))
	}
	return b.String()
}
