package stream

import (
	"context"
	"errors"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/policy"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/testkit/emulator"
)

// These tests run the real SDK client against kinesis-mock, one per test
// binary. A reshard or a split lasts long enough to be refused while
// UPDATING.
var kinesisMock = emulator.SharedKinesis(emulator.KinesisOptions{
	UpdateShardCountDuration: 3 * time.Second, SplitShardDuration: 2 * time.Second, MergeShardsDuration: time.Second,
})

func TestMain(m *testing.M) {
	os.Exit(emulator.RunTests(m, kinesisMock))
}

func emulatorContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// createStream creates a provisioned stream and waits until it is ACTIVE.
func createStream(ctx context.Context, t *testing.T, client *kinesis.Client, k *Kinesis, shards int32) string {
	t.Helper()
	name := emulator.UniqueName(t.Name())
	_, err := client.CreateStream(ctx, &kinesis.CreateStreamInput{
		StreamName: aws.String(name), ShardCount: aws.Int32(shards),
		StreamModeDetails: &types.StreamModeDetails{StreamMode: types.StreamModeProvisioned},
	})
	if err != nil {
		t.Fatalf("create stream: %v", err)
	}
	waitActive(ctx, t, k, name)
	return name
}

// waitActive polls Describe, bounded by ctx, until the stream is ACTIVE.
func waitActive(ctx context.Context, t *testing.T, k *Kinesis, name string) policy.StreamState {
	t.Helper()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		st, err := k.Describe(ctx, name)
		if err != nil {
			t.Fatalf("describe %s: %v", name, err)
		}
		if st.Status == policy.StatusActive {
			return st
		}
		select {
		case <-ctx.Done():
			t.Fatalf("stream %s stayed %s", name, st.Status)
		case <-tick.C:
		}
	}
}

func TestEmulatorReshard(t *testing.T) {
	t.Parallel()
	ctx := emulatorContext(t)
	client := kinesisMock.Get(t).Client()
	k := New(client)
	name := createStream(ctx, t, client, k, 2)

	st, err := k.Describe(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	if want := (policy.StreamState{OpenShards: 2, Status: policy.StatusActive, Mode: policy.ModeProvisioned}); st != want {
		t.Fatalf("described %+v, want %+v", st, want)
	}

	if err := k.UpdateShardCount(ctx, name, 4); err != nil {
		t.Fatalf("2 -> 4: %v", err)
	}
	st, err = k.Describe(ctx, name)
	if err != nil || st.Status != policy.StatusUpdating {
		t.Fatalf("right after the reshard: %+v, %v", st, err)
	}
	err = k.UpdateShardCount(ctx, name, 8)
	var inUse *types.ResourceInUseException
	if !errors.Is(err, policy.ErrStreamBusy) || !errors.As(err, &inUse) {
		t.Fatalf("reshard while UPDATING: %v, want ErrStreamBusy wrapping ResourceInUseException", err)
	}

	if st := waitActive(ctx, t, k, name); st.OpenShards != 4 {
		t.Errorf("after the reshard: %+v, want 4 open shards", st)
	}

	err = k.UpdateShardCount(ctx, name, 9)
	var invalid *types.InvalidArgumentException
	if !errors.Is(err, policy.ErrInvalidTarget) || !errors.As(err, &invalid) {
		t.Errorf("4 -> 9 (beyond double): %v, want ErrInvalidTarget wrapping InvalidArgumentException", err)
	}
}

func TestEmulatorNotFound(t *testing.T) {
	t.Parallel()
	ctx := emulatorContext(t)
	k := New(kinesisMock.Get(t).Client())
	missing := emulator.UniqueName("missing")

	_, err := k.Describe(ctx, missing)
	if !errors.Is(err, policy.ErrStreamNotFound) {
		t.Errorf("Describe: %v", err)
	}
	if err := k.UpdateShardCount(ctx, missing, 2); !errors.Is(err, policy.ErrStreamNotFound) {
		t.Errorf("UpdateShardCount: %v", err)
	}
	if _, err := k.LoadRecord(ctx, missing); !errors.Is(err, policy.ErrStreamNotFound) {
		t.Errorf("LoadRecord: %v", err)
	}
}

func TestEmulatorHistory(t *testing.T) {
	t.Parallel()
	ctx := emulatorContext(t)
	client := kinesisMock.Get(t).Client()
	now := time.Now().UTC().Truncate(time.Second)
	var warnings []error
	k := New(client, WithClock(func() time.Time { return now }), WithTagWarnings(func(_ string, p error) { warnings = append(warnings, p) }))
	name := createStream(ctx, t, client, k, 1)

	// Tags of others are left alone.
	if _, err := client.AddTagsToStream(ctx, &kinesis.AddTagsToStreamInput{
		StreamName: aws.String(name), Tags: map[string]string{"team": "data"},
	}); err != nil {
		t.Fatal(err)
	}

	rec, err := k.LoadRecord(ctx, name)
	if h := rec.History; err != nil || h.LastAction != nil || len(h.Calls) != 0 || rec.Term != 0 || !rec.Paused.IsZero() {
		t.Fatalf("fresh stream: %+v, %v", rec, err)
	}

	want := policy.History{LastAction: &policy.Action{At: now.Add(-time.Minute), From: 1, To: 2, Direction: policy.DirectionUp}}
	for i := 9; i >= 0; i-- {
		want.Calls = append(want.Calls, now.Add(-time.Duration(i)*time.Hour-time.Minute))
	}
	shards := policy.ShardLevelHistory{
		Calls:   []time.Time{now.Add(-time.Hour)},
		HotKeys: []policy.KeyRange{{Lo: 0.25, Hi: 0.375}},
		Splits:  []policy.SplitRecord{{Parent: "shardId-000000000000", Range: policy.KeyRange{Lo: 0, Hi: 1}, Kept: 0.9}},
	}
	if err := k.SaveRecord(ctx, name, policy.Record{History: want, Shards: shards, Term: 42}); err != nil {
		t.Fatal(err)
	}
	rec, err = k.LoadRecord(ctx, name)
	if err != nil || !historyEqual(rec.History, want) || rec.Term != 42 || len(rec.Shards.HotKeys) != 1 ||
		rec.Shards.HotKeys[0] != shards.HotKeys[0] || len(rec.Shards.Splits) != 1 || rec.Shards.Splits[0] != shards.Splits[0] ||
		len(rec.Shards.Calls) != 1 {
		t.Fatalf("round trip: %s %+v (%v), want %s", describe(rec.History), rec, err, describe(want))
	}

	// A value edited by hand into nonsense is ignored with a warning.
	if _, err := client.AddTagsToStream(ctx, &kinesis.AddTagsToStreamInput{
		StreamName: aws.String(name), Tags: map[string]string{TagLastAction: "up 9 1 2026-11-25T13:30:00Z"},
	}); err != nil {
		t.Fatal(err)
	}
	rec, err = k.LoadRecord(ctx, name)
	if got := rec.History; err != nil || got.LastAction != nil || len(got.Calls) != 10 || len(warnings) != 1 {
		t.Errorf("malformed action: %s, %v, warnings %v", describe(got), err, warnings)
	}

	// A pause is kept by saving a record, and taken away by resuming.
	if err := k.SetPaused(ctx, name, now); err != nil {
		t.Fatal(err)
	}
	if err := k.SaveRecord(ctx, name, policy.Record{History: want}); err != nil {
		t.Fatal(err)
	}
	if rec, err = k.LoadRecord(ctx, name); err != nil || !rec.Paused.Equal(now) {
		t.Errorf("paused at %v (%v) after saving a record, want %v", rec.Paused, err, now)
	}
	if err := k.SetPaused(ctx, name, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if rec, err = k.LoadRecord(ctx, name); err != nil || !rec.Paused.IsZero() {
		t.Errorf("paused at %v (%v) after resuming", rec.Paused, err)
	}

	// An empty record empties our tags and keeps the others.
	if err := k.SaveRecord(ctx, name, policy.Record{}); err != nil {
		t.Fatal(err)
	}
	tags, err := k.ListTags(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	for key, v := range tags {
		if key != "team" && v != "" {
			t.Errorf("tag %s=%q after saving an empty record", key, v)
		}
	}
	if tags["team"] != "data" {
		t.Errorf("tags after saving an empty record: %v", tags)
	}
	if rec, err = k.LoadRecord(ctx, name); err != nil || rec.History.Expected() != 0 || !rec.Shards.Empty() || rec.Term != 0 {
		t.Errorf("empty record read back as %+v, %v", rec, err)
	}
}

// kinesis-mock pages ListStreams without a NextToken; small pages still list
// every stream exactly once.
func TestEmulatorListStreamNames(t *testing.T) {
	t.Parallel()
	ctx := emulatorContext(t)
	client := kinesisMock.Get(t).Client()
	k := New(client, WithRateLimit(opListStreams, 0))
	k.listPage = 2
	var created []string
	for range 5 {
		created = append(created, createStream(ctx, t, client, k, 1))
	}
	names, err := k.ListStreamNames(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range created {
		if n := countOf(names, c); n != 1 {
			t.Errorf("stream %s listed %d times in %v", c, n, names)
		}
	}
	if !slices.IsSorted(names) {
		t.Logf("names not sorted: %v", names)
	}
}

func countOf(names []string, name string) int {
	n := 0
	for _, x := range names {
		if x == name {
			n++
		}
	}
	return n
}
