package stream

import (
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/policy"
)

// The cache's calls through the real SDK against kinesis-mock.

// ListShards with the AT_LATEST filter counts the open shards of a stream
// that also has closed ones (the parents of a reshard).
func TestEmulatorCacheCountsOpenShards(t *testing.T) {
	t.Parallel()
	ctx := emulatorContext(t)
	client := kinesisMock.Get(t).Client()
	k := New(client)
	name := createStream(ctx, t, client, k, 2)
	if _, err := client.UpdateShardCount(ctx, &kinesis.UpdateShardCountInput{StreamName: aws.String(name),
		TargetShardCount: aws.Int32(3), ScalingType: "UNIFORM_SCALING"}); err != nil {
		t.Fatal(err)
	}
	waitActive(ctx, t, k, name)
	all, err := client.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	filtered, err := client.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String(name),
		ShardFilter: &types.ShardFilter{Type: types.ShardFilterTypeAtLatest}})
	if err != nil {
		t.Fatalf("ListShards with ShardFilter AT_LATEST: %v", err)
	}
	t.Logf("kinesis-mock ListShards: %d shards unfiltered, %d with AT_LATEST", len(all.Shards), len(filtered.Shards))
	c := NewCache(k, client)
	n, err := c.openShards(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Errorf("%d open shards, want 3 (of %d shards listed unfiltered)", n, len(all.Shards))
	}
	if _, err := c.openShards(ctx, name+"-missing"); !errors.Is(err, policy.ErrStreamNotFound) {
		t.Errorf("missing stream: %v, want ErrStreamNotFound", err)
	}
}

// A sweep, Describe and the describe-before-act check against kinesis-mock.
// kinesis-mock's ListStreams gives names without summaries, so the cache
// cannot tell status from it and describes every stream: slower, never
// staler.
func TestEmulatorCacheDescribeAndReshard(t *testing.T) {
	t.Parallel()
	ctx := emulatorContext(t)
	client := kinesisMock.Get(t).Client()
	k := New(client)
	name := createStream(ctx, t, client, k, 2)
	c := NewCache(k, client)
	if err := c.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	summaries := c.summaries
	_, listed := c.listed[name]
	c.mu.Unlock()
	t.Logf("kinesis-mock ListStreams: summaries %v, stream listed with status %v", summaries, listed)

	want := policy.StreamState{OpenShards: 2, Status: policy.StatusActive, Mode: policy.ModeProvisioned}
	for range 2 {
		if st, err := c.Describe(ctx, name); err != nil || st != want {
			t.Fatalf("describe: %+v, %v; want %+v", st, err, want)
		}
	}

	// Someone else reshards; then our decision, made on what Describe
	// returned before, is refused without a call.
	if _, err := client.UpdateShardCount(ctx, &kinesis.UpdateShardCountInput{StreamName: aws.String(name),
		TargetShardCount: aws.Int32(4), ScalingType: "UNIFORM_SCALING"}); err != nil {
		t.Fatal(err)
	}
	waitActive(ctx, t, k, name)
	if summaries {
		// With summaries the cache may still hold 2 shards; the check below
		// is what keeps that safe.
		t.Log("kinesis-mock gave summaries")
	}
	c.store(name, want, c.now()) // the state the decision saw
	if err := c.UpdateShardCount(ctx, name, 1); !errors.Is(err, policy.ErrStreamBusy) {
		t.Fatalf("reshard on a stale state: %v, want ErrStreamBusy", err)
	}
	if st, err := k.Describe(ctx, name); err != nil || st.OpenShards != 4 || st.Status != policy.StatusActive {
		t.Fatalf("after the refused reshard: %+v, %v; want 4 shards ACTIVE, untouched", st, err)
	}
	st, err := c.Describe(ctx, name)
	if err != nil || st.OpenShards != 4 {
		t.Fatalf("describe after the refusal: %+v, %v", st, err)
	}

	// On the fresh state the reshard is made, and the stream is described
	// UPDATING right after.
	if err := c.UpdateShardCount(ctx, name, 8); err != nil {
		t.Fatal(err)
	}
	if st, err := c.Describe(ctx, name); err != nil || st.Status != policy.StatusUpdating {
		t.Fatalf("right after our reshard: %+v, %v; want UPDATING", st, err)
	}
	waitActive(ctx, t, k, name)
	if st, err := c.Describe(ctx, name); err != nil || st.OpenShards != 8 || st.Status != policy.StatusActive {
		t.Fatalf("after our reshard: %+v, %v", st, err)
	}
}
